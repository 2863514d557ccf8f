#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A tiny multiport protocol for tests/kernel/agent.sh, in the shape of FTP.

The client connects to the control port and sends "PASV"; the server binds
an auxiliary port, answers its number, and serves DATA on it once.  "PORT n"
makes the server connect back (active mode).  Every concurrency model of the
paper (fig. 3 and 4) and the client model are here, so that the agent's
inference is tested against real sockets:

  server MODEL PORT SECONDS     MODEL: fork, thread, select
  pasv HOST PORT [DELAY]         client of a passive server, prints what it got
  active-client HOST PORT        internal client; the external server connects back
  active-server PORT SECONDS     external server for active-client
  dual-client HOST PORT          iperf's dual test: listens on PORT first, then
                                 connects to HOST:PORT, which connects back
  udp-client HOST PORT           TFTP-like: the answer comes from a new server port
  udp-server PORT SECONDS        external server for udp-client
  lookup-server tcp|udp PORT LHOST LPORT SECONDS
                                 a server that, before its first client, looks
                                 something up at LHOST:LPORT the ways resolvers
                                 and directory clients do (an echo answers), then
                                 serves PASV over its TCP or UDP control port
  udp-pasv HOST PORT             client of a lookup-server on a UDP control port
  p2p-client HOST PORT           SIP-like: binds its signalling and media ports
                                 first, then calls HOST:PORT from the signalling
                                 port; the media comes from another port of HOST
  p2p-server PORT SECONDS        external peer for p2p-client
  rebind HOST PORT DENIED ALLOWED tcp|udp HOLD
                                 a client (connected to HOST:PORT) binds DENIED,
                                 which the policy refuses, then the same socket
                                 to ALLOWED, and holds it HOLD seconds
"""
import os
import selectors
import socket
import sys
import threading
import time

DATA = b"DATA-" + b"x" * 4000 + b"-END"


def open_aux(family, announce):
    """Binds an auxiliary port and announces its number."""
    aux = socket.socket(family)
    aux.bind(("", 0))
    aux.listen(1)
    announce(b"%d\n" % aux.getsockname()[1])
    return aux


def serve_once(aux):
    """Serves DATA on the auxiliary port once."""
    aux.settimeout(5)
    try:
        d, _ = aux.accept()
        d.sendall(DATA)
        d.close()
    except OSError:
        pass


def serve_pasv(conn):
    """One control connection: read a command, open the auxiliary port."""
    cmd = conn.recv(100)
    if not cmd.startswith(b"PASV"):
        return
    aux = open_aux(conn.family, conn.sendall)
    serve_once(aux)
    # HOLD_AUX: keep the listener a while after serving (one-shot test)
    time.sleep(float(os.environ.get("HOLD_AUX", "0")))
    aux.close()


def server(model, port, seconds):
    # daemons close what they did not open, or overwrite descriptors: the
    # agent's channel must survive both
    if os.environ.get("CLOSEALL"):
        os.closerange(3, 65536)
    if os.environ.get("CLOBBER") and os.environ.get("DYPER_CHANNEL_FD"):
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, int(os.environ["DYPER_CHANNEL_FD"]))
        os.close(null)
    fam = socket.AF_INET6 if os.environ.get("IPV6") else socket.AF_INET
    ls = socket.socket(fam)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen(16)
    ls.settimeout(seconds)
    end = time.time() + seconds
    print("ready", flush=True)
    if model == "select":
        # one thread; a round may find both clients' commands ready (the
        # paper's hard case): each is handled right after it is read, as
        # event-driven servers do, and the agent must pick the right peer
        sel = selectors.DefaultSelector()
        sel.register(ls, selectors.EVENT_READ)
        while time.time() < end:
            for key, _ in sel.select(timeout=0.2):
                if key.fileobj is ls:
                    c, _ = ls.accept()
                    sel.register(c, selectors.EVENT_READ)
                    continue
                c = key.fileobj
                cmd = c.recv(100)
                sel.unregister(c)
                if not cmd.startswith(b"PASV"):
                    c.close()
                    continue
                aux = open_aux(c.family, c.sendall)
                threading.Thread(target=finish, args=(aux, c), daemon=True).start()
        return
    while time.time() < end:
        try:
            c, _ = ls.accept()
        except OSError:
            break
        if model == "fork":
            if os.fork() == 0:
                ls.close()
                serve_pasv(c)
                os._exit(0)
            c.close()
        else:
            threading.Thread(target=serve_pasv, args=(c,), daemon=True).start()


def finish(aux, c):
    serve_once(aux)
    aux.close()
    c.close()


def read_all(d):
    got = b""
    while True:
        b = d.recv(65536)
        if not b:
            return got
        got += b


def fetch(host, aux):
    """The data connection to a passive port: prints ok if DATA came."""
    d = socket.create_connection((host, aux), timeout=3)
    print("ok" if read_all(d) == DATA else "bad", aux, flush=True)


def pasv(host, port, delay=0.0):
    c = socket.create_connection((host, port), timeout=5)
    time.sleep(delay)
    c.sendall(b"PASV\n")
    fetch(host, int(c.recv(100)))


def active_client(host, port):
    c = socket.create_connection((host, port), timeout=5)
    ls = socket.socket(c.family)
    ls.bind((c.getsockname()[0], 0))
    ls.listen(1)
    c.sendall(b"PORT %d\n" % ls.getsockname()[1])
    connected_back(ls)


def connected_back(ls):
    """The external server connects back to the listener @ls with DATA."""
    ls.settimeout(5)
    d, _ = ls.accept()
    print("ok" if read_all(d) == DATA else "bad", flush=True)


def dual_client(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam)
    ls.bind(("", port))
    ls.listen(1)
    c = socket.create_connection((host, port), timeout=5)
    c.sendall(b"PORT %d\n" % port)
    connected_back(ls)


def active_server(port, seconds):
    fam = socket.AF_INET6 if os.environ.get("IPV6") else socket.AF_INET
    ls = socket.socket(fam)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen(4)
    ls.settimeout(seconds)
    print("ready", flush=True)
    c, peer = ls.accept()
    p = int(c.recv(100).split()[1])
    try:
        d = socket.create_connection((peer[0], p), timeout=3)
        d.sendall(DATA)
        d.close()
    except OSError:
        pass


def udp_client(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"RRQ", (host, port))
    try:
        data, src = s.recvfrom(65536)
        print("ok" if data == b"ANSWER" and src[1] != port else "bad", flush=True)
    except socket.timeout:
        print("timeout", flush=True)


def udp_server(port, seconds):
    s = socket.socket(socket.AF_INET6 if os.environ.get("IPV6") else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind(("", port))
    s.settimeout(seconds)
    print("ready", flush=True)
    _, peer = s.recvfrom(100)
    # like a TFTP server: answer from a new port
    t = socket.socket(s.family, socket.SOCK_DGRAM)
    t.sendto(b"ANSWER", peer)


def lookups(host, port):
    """What a server's libraries do behind its back: a directory client's TCP
    connection, a resolver's query from a new unconnected socket, glibc's
    connected UDP socket, musl's socket bound to port 0.  Returns how many
    answers came back."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    got = 0
    for how in ("tcp", "sendto", "connect", "bind0"):
        try:
            if how == "tcp":
                s = socket.create_connection((host, port), timeout=2)
                s.sendall(b"LOOKUP")
                got += s.recv(100) == b"LOOKUP"
            else:
                s = socket.socket(fam, socket.SOCK_DGRAM)
                s.settimeout(2)
                if how == "bind0":
                    s.bind(("", 0))
                if how == "connect":
                    s.connect((host, port))
                    s.send(b"LOOKUP")
                else:
                    s.sendto(b"LOOKUP", (host, port))
                got += s.recv(100) == b"LOOKUP"
            s.close()
        except OSError:
            pass
    return got


def serve_aux(announce, family):
    aux = open_aux(family, announce)
    serve_once(aux)
    aux.close()


def lookup_server(proto, port, lhost, lport, seconds):
    fam = socket.AF_INET6 if os.environ.get("IPV6") else socket.AF_INET
    if proto == "tcp":
        ls = socket.socket(fam)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("", port))
        ls.listen(4)
    else:
        ls = socket.socket(fam, socket.SOCK_DGRAM)
        ls.bind(("", port))
    ls.settimeout(seconds)
    print("looked-up", lookups(lhost, lport), flush=True)
    print("ready", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        try:
            if proto == "tcp":
                c, _ = ls.accept()
                if c.recv(100).startswith(b"PASV"):
                    serve_aux(c.sendall, c.family)
                c.close()
            else:
                cmd, peer = ls.recvfrom(100)
                if cmd.startswith(b"PASV"):
                    serve_aux(lambda b: ls.sendto(b, peer), ls.family)
        except OSError:
            break


def udp_pasv(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"PASV", (host, port))
    fetch(host, int(s.recv(100)))


def p2p_client(host, port):
    """A SIP user agent's shape: the signalling port and the media port are
    bound at start, the call goes out from the signalling port, the media
    comes in from another port of the peer, and the agent never sends on
    the media port first."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sig = socket.socket(fam, socket.SOCK_DGRAM)
    sig.bind(("", port + 2))
    media = socket.socket(fam, socket.SOCK_DGRAM)
    media.bind(("", 0))
    media.settimeout(3)
    sig.settimeout(3)
    sig.sendto(b"INVITE %d" % media.getsockname()[1], (host, port))
    if sig.recv(100) != b"OK":
        print("bad answer", flush=True)
        return
    try:
        data, src = media.recvfrom(100)
        print("ok" if data == b"RTP" and src[1] != port else "bad", flush=True)
    except socket.timeout:
        print("timeout", flush=True)


def p2p_server(port, seconds):
    fam = socket.AF_INET6 if os.environ.get("IPV6") else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(("", port))
    s.settimeout(seconds)
    print("ready", flush=True)
    cmd, peer = s.recvfrom(100)
    s.sendto(b"OK", peer)
    media = int(cmd.split()[1])
    m = socket.socket(fam, socket.SOCK_DGRAM)
    for _ in range(10):
        m.sendto(b"RTP", (peer[0], media))
        time.sleep(0.1)


def rebind(host, port, denied, allowed, proto, hold):
    """EACCES from bind() must mean what it means without Dyper: the socket
    is still unbound, with the options the program set, and the port free."""
    c = socket.create_connection((host, port), timeout=3)
    typ = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(c.family, typ)
    fd = s.fileno()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    rcvbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    s.setblocking(False)
    try:
        s.bind(("", denied))
        print("fail: the denied bind succeeded", flush=True)
        return
    except PermissionError:
        pass
    kept = (s.fileno() == fd and s.getsockname()[1] == 0 and
            s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1 and
            s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == rcvbuf and
            not s.getblocking() and
            not os.get_inheritable(fd))
    try:
        s.bind(("", allowed))
        if proto == "tcp":
            s.listen(1)
        print("ok" if kept else "bad: the socket changed", s.getsockname()[1], flush=True)
    except OSError as e:
        print("fail: the same socket cannot bind again:", e, flush=True)
    time.sleep(hold)
    c.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(args[0], int(args[1]), float(args[2]))
    elif cmd == "pasv":
        pasv(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 0.0)
    elif cmd == "active-client":
        active_client(args[0], int(args[1]))
    elif cmd == "dual-client":
        dual_client(args[0], int(args[1]))
    elif cmd == "active-server":
        active_server(int(args[0]), float(args[1]))
    elif cmd == "udp-client":
        udp_client(args[0], int(args[1]))
    elif cmd == "udp-server":
        udp_server(int(args[0]), float(args[1]))
    elif cmd == "lookup-server":
        lookup_server(args[0], int(args[1]), args[2], int(args[3]), float(args[4]))
    elif cmd == "udp-pasv":
        udp_pasv(args[0], int(args[1]))
    elif cmd == "p2p-client":
        p2p_client(args[0], int(args[1]))
    elif cmd == "p2p-server":
        p2p_server(int(args[0]), float(args[1]))
    elif cmd == "rebind":
        rebind(args[0], int(args[1]), int(args[2]), int(args[3]), args[4], float(args[5]))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print("fail", e, flush=True)
        sys.exit(1)
