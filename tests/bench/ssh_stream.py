#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ssh_stream.py: pinholes per second from a host to the router's table
through SSH and the site controller, without the host's dyperd in the path.

    ssh_stream.py N REMOTE-CLIENT [REMOTE-CLIENT OPTION...]

Runs tests/tools/remote-client (remote/ssh.c: the host side's session) and
streams N OPEN lines through it (sshd's forced command dyper-remote, the
site controller, its router table), then N CLOSE lines; remote-client sends
each as soon as it has it, so every line is in flight at once and the
site's [site] batch decides the router's transactions.  The site answers
"<id> OK" only once the router's table holds (or no longer holds) the
pinhole.  The clock starts at "ready" (the session is made: the SSH
handshake is not counted) and stops at the N-th OK of each phase.  Prints
"ssh_stream: N opens in X ms (R/s), N closes in Y ms (R/s)"; exits 1 when a
reply is not OK or the session ends early.  Bounded: N <= 60000 pinholes
(203.0.113.1-250, ports 1024 on), remote-client's own --max-ms.
"""

import subprocess
import sys
import threading
import time


def line(i, opening):
    remote, port = 1 + i % 250, 1024 + i // 250
    if opening:
        return "%d OPEN tcp 203.0.113.%d * 198.51.100.10 %d 3600\n" % (i + 1, remote, port)
    return "%d CLOSE tcp 203.0.113.%d * 198.51.100.10 %d\n" % (i + 1, remote, port)


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit() or not 1 <= int(sys.argv[1]) <= 60000:
        sys.stderr.write("usage: ssh_stream.py N(1-60000) REMOTE-CLIENT [OPTION...]\n")
        return 2
    n = int(sys.argv[1])
    proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1 << 20)
    closes_go = threading.Event()

    # the CLOSEs wait until every OPEN was answered: a CLOSE must not pass
    # its OPEN, and the phases are timed apart
    def feed():
        try:
            proc.stdin.write("".join(line(i, True) for i in range(n)))
            proc.stdin.flush()
            closes_go.wait(120)
            proc.stdin.write("".join(line(i, False) for i in range(n)))
            proc.stdin.close()
        except BrokenPipeError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    t_ready = t_open = t_close = None
    oks = 0
    for out in proc.stdout:
        out = out.rstrip("\n")
        if out.startswith("ready "):
            t_ready = time.monotonic()
            continue
        fields = out.split(" ", 2)
        if len(fields) < 2 or not fields[0].isdigit() or fields[1] != "OK":
            sys.stderr.write("ssh_stream: unexpected: %s\n" % out)
            proc.kill()
            proc.wait()
            return 1
        oks += 1
        if oks == n:
            t_open = time.monotonic()
            closes_go.set()
        elif oks == 2 * n:
            t_close = time.monotonic()
            break
    proc.stdout.close()
    rc = proc.wait()
    if t_ready is None or t_close is None:
        sys.stderr.write("ssh_stream: %d of %d replies (remote-client exit %d)\n" % (oks, 2 * n, rc))
        return 1
    o_ms = (t_open - t_ready) * 1000
    c_ms = (t_close - t_open) * 1000
    print("ssh_stream: %d opens in %.0f ms (%.0f/s), %d closes in %.0f ms (%.0f/s)" %
          (n, o_ms, n * 1000 / o_ms, n, c_ms, n * 1000 / c_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
