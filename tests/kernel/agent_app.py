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
  udp-client HOST PORT           TFTP-like: the answer comes from a new server port
  udp-server PORT SECONDS        external server for udp-client
"""
import os
import selectors
import socket
import sys
import threading
import time

DATA = b"DATA-" + b"x" * 4000 + b"-END"


def serve_pasv(conn):
    """One control connection: read a command, open the auxiliary port."""
    cmd = conn.recv(100)
    if not cmd.startswith(b"PASV"):
        return
    aux = socket.socket(conn.family)
    aux.bind(("", 0))
    aux.listen(1)
    conn.sendall(b"%d\n" % aux.getsockname()[1])
    aux.settimeout(5)
    try:
        d, _ = aux.accept()
        d.sendall(DATA)
        d.close()
    except OSError:
        pass
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
                aux = socket.socket(c.family)
                aux.bind(("", 0))
                aux.listen(1)
                c.sendall(b"%d\n" % aux.getsockname()[1])
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
    aux.settimeout(5)
    try:
        d, _ = aux.accept()
        d.sendall(DATA)
        d.close()
    except OSError:
        pass
    aux.close()
    c.close()


def pasv(host, port, delay=0.0):
    c = socket.create_connection((host, port), timeout=5)
    time.sleep(delay)
    c.sendall(b"PASV\n")
    aux = int(c.recv(100))
    d = socket.create_connection((host, aux), timeout=3)
    got = b""
    while True:
        b = d.recv(65536)
        if not b:
            break
        got += b
    print("ok" if got == DATA else "bad", aux, flush=True)


def active_client(host, port):
    c = socket.create_connection((host, port), timeout=5)
    ls = socket.socket(c.family)
    ls.bind((c.getsockname()[0], 0))
    ls.listen(1)
    c.sendall(b"PORT %d\n" % ls.getsockname()[1])
    ls.settimeout(5)
    d, _ = ls.accept()
    got = b""
    while True:
        b = d.recv(65536)
        if not b:
            break
        got += b
    print("ok" if got == DATA else "bad", flush=True)


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


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(args[0], int(args[1]), float(args[2]))
    elif cmd == "pasv":
        pasv(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 0.0)
    elif cmd == "active-client":
        active_client(args[0], int(args[1]))
    elif cmd == "active-server":
        active_server(int(args[0]), float(args[1]))
    elif cmd == "udp-client":
        udp_client(args[0], int(args[1]))
    elif cmd == "udp-server":
        udp_server(int(args[0]), float(args[1]))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print("fail", e, flush=True)
        sys.exit(1)
