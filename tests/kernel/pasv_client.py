#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A passive (or active) FTP download in two halves, for tests/e2e/apps.sh,
tests/kernel/border.sh and the demos.

  pasv_client.py HOST PORTFILE GOFILE NAME OUT

Logs in to HOST port 21 (anonymously, or as FTP_USER with FTP_PASS from the
environment), sends PASV and prints the reply, then
writes the data port to PORTFILE (atomically, by rename) and stops: while
the server holds its passive port, the caller looks at the pinhole (or tries
the port from another host).  Once GOFILE exists (at most 10 s later) it
connects to the data port, retrieves NAME into OUT and prints the server's
final reply.  Exits nonzero, saying why, on any failure.
With FTP_ACTIVE=1 in the environment it is the active mode's client: it
listens on a port of its own (on the control connection's address) and
sends PORT instead of PASV, writes that port to PORTFILE and waits for
GOFILE; then RETR, and it accepts the server's data connection.
"""
import ftplib
import os
import socket
import sys
import time


def main():
    host, portfile, gofile, name, out = sys.argv[1:6]
    ftp = ftplib.FTP()
    ftp.connect(host, 21, timeout=20)
    ftp.login(os.environ.get("FTP_USER", ""), os.environ.get("FTP_PASS", ""))
    ftp.voidcmd("TYPE I")
    if os.environ.get("FTP_ACTIVE") == "1":
        active(ftp, portfile, gofile, name, out)
        return
    reply = ftp.sendcmd("PASV")
    print(reply, flush=True)
    h, p = ftplib.parse227(reply)
    halfway(portfile, gofile, p)
    data = socket.create_connection((h, p), timeout=20)
    print("connected to data port %d" % p, flush=True)
    retrieve(ftp, data, name, out)


def halfway(portfile, gofile, port):
    """Writes @port to @portfile, waits (at most 10 s) for @gofile."""
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(portfile + ".tmp", portfile)
    for _ in range(200):
        if os.path.exists(gofile):
            return
        time.sleep(0.05)
    sys.exit("no go within 10 s")


def active(ftp, portfile, gofile, name, out):
    """The active mode: PORT, then the server connects to us."""
    listener = ftp.makeport()
    p = listener.getsockname()[1]
    print("PORT %d" % p, flush=True)
    halfway(portfile, gofile, p)
    listener.settimeout(20)
    resp = ftp.sendcmd("RETR " + name)
    if not resp.startswith("1"):
        sys.exit("RETR: " + resp)
    print(resp, flush=True)
    data, peer = listener.accept()
    listener.close()
    print("accepted the data connection from %s port %d" % peer[:2], flush=True)
    retrieve(ftp, data, name, out, False)


def retrieve(ftp, data, name, out, send=True):
    """RETR @name (unless sent already) and read it from @data into @out."""
    if send:
        resp = ftp.sendcmd("RETR " + name)
        if not resp.startswith("1"):
            sys.exit("RETR: " + resp)
        print(resp, flush=True)
    with open(out, "wb") as f:
        while True:
            b = data.recv(1 << 16)
            if not b:
                break
            f.write(b)
    data.close()
    print(ftp.voidresp(), flush=True)
    ftp.quit()


if __name__ == "__main__":
    main()
