# TEST FIXTURE, not Dyper: stands in for the site controller (dyperd in site mode) behind dyper-remote's unix socket.
# SPDX-License-Identifier: GPL-2.0-or-later
"""
site_fixture.py SOCKET UID LOG [DELEGATE=ADDR ...]

Listens on the unix stream socket SOCKET (made 0666: the uid check below is
what admits a peer).  For each connection, as the real site controller
must: the peer's SO_PEERCRED uid must be UID, else "DYPER ERR" and close;
the first line must be "DELEGATE <name>" (from dyper-remote itself); then
"DYPER 1" is answered "DYPER 1 OK fixture-site".  Requests are answered
"<id> OK", except an OPEN or HOLD whose local address is not the
delegate's (DELEGATE=ADDR arguments): "<id> ERR EACCES ...".  An OPEN with
lease 99 is answered only after the next request's reply, to show that
replies travel out of order.  Every line received is appended to LOG as
"<delegate> <uid> <line>" (flushed), and every refusal as "REFUSED ...".
Exits on SIGTERM.  Only this test's stand-in: it checks the grammar
loosely, the real parser is remote/wire.c.
"""

import os
import selectors
import socket
import struct
import sys

path, want_uid, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
allowed = dict(a.split("=", 1) for a in sys.argv[4:])
log = open(logpath, "a", buffering=1)

try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)
srv.listen(16)
srv.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ, None)
print("ready", flush=True)


class Conn:
    def __init__(self, sock, uid):
        self.sock, self.uid = sock, uid
        self.buf = b""
        self.delegate = None
        self.held = None    # a reply kept back until the next one


def send(c, line):
    try:
        c.sock.sendall((line + "\n").encode())
    except OSError:
        pass


def close(c):
    sel.unregister(c.sock)
    c.sock.close()


def handle(c, line):
    log.write("%s %d %s\n" % (c.delegate or "-", c.uid, line))
    if c.delegate is None:
        f = line.split(" ")
        if len(f) != 2 or f[0] != "DELEGATE":
            log.write("REFUSED no DELEGATE line first\n")
            send(c, "DYPER ERR no delegate")
            return False
        c.delegate = f[1]
        return True
    if line.startswith("DYPER "):
        send(c, "DYPER 1 OK fixture-site" if line == "DYPER 1" else "DYPER ERR version")
        return True
    f = line.split(" ")
    rid, verb = f[0], f[1] if len(f) > 1 else ""
    reply = rid + " OK"
    if verb in ("OPEN", "HOLD") and len(f) == 8:
        local = f[5]
        if allowed.get(c.delegate) != local:
            reply = "%s ERR EACCES delegate %s may not open pinholes to %s" % (
                rid, c.delegate, local)
            log.write("REFUSED %s\n" % reply)
        elif verb == "OPEN" and f[7] == "99" and c.held is None:
            c.held = reply
            return True
    send(c, reply)
    if c.held is not None and c.held != reply:
        send(c, c.held)
        c.held = None
    return True


while True:
    for key, _ in sel.select():
        if key.data is None:
            s, _ = srv.accept()
            cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, gid = struct.unpack("3i", cred)
            if uid != want_uid:
                log.write("REFUSED uid %d (pid %d) is not the site account %d\n"
                          % (uid, pid, want_uid))
                s.sendall(b"DYPER ERR not the site account\n")
                s.close()
                continue
            c = Conn(s, uid)
            sel.register(s, selectors.EVENT_READ, c)
            continue
        c = key.data
        try:
            data = c.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            log.write("%s EOF\n" % (c.delegate or "-"))
            close(c)
            continue
        c.buf += data
        while b"\n" in c.buf:
            raw, c.buf = c.buf.split(b"\n", 1)
            if not handle(c, raw.decode("ascii", "replace")):
                close(c)
                break
