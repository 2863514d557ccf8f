# SPDX-License-Identifier: GPL-2.0-or-later
"""capirca_check.py: the IOS and JunOS lines a device driver sent, checked
against an independent generator, Google's capirca (Debian's
python3-capirca), for tests/kernel/devices.sh.  Not executable: check.sh
leaves it alone.

  /usr/bin/python3 capirca_check.py ios|junos CMDS ACL ACL6 PINHOLE...
    CMDS     the lines the device received (devsim --log)
    PINHOLE  "tcp|udp REMOTE RPORT|* LOCAL LPORT"

For each pinhole capirca renders one accept term for that vendor and
family.  IOS: its "permit ..." line must be one the driver sent, after the
driver's sequence number.  JunOS: the driver's set lines for the term of
that pinhole, taken apart into single statements, must be exactly the
statements of capirca's term (its hierarchy flattened), counter included.
Prints "capirca: N of N pinholes agree" and exits 0, or says which does not.
Exit 77 when capirca cannot be imported.
"""

import ipaddress
import os
import re
import sys
import tempfile

try:
    from capirca.lib import cisco, juniper, naming, policy
except ImportError:
    print("capirca: not installed (apt-get install python3-capirca)")
    sys.exit(77)


def render(vendor, acl, fam6, term, src, dst, proto, sport, dport, count):
    """capirca's text for one term."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "def"))
        plen = 128 if fam6 else 32
        with open(os.path.join(d, "def", "NETWORK.net"), "w") as f:
            f.write("SRC = %s/%d\nDST = %s/%d\n" % (src, plen, dst, plen))
        with open(os.path.join(d, "def", "SERVICES.svc"), "w") as f:
            f.write("DPORT = %d/%s\n" % (dport, proto))
            if sport:
                f.write("SPORT = %d/%s\n" % (sport, proto))
        defs = naming.Naming(os.path.join(d, "def"))
        if vendor == "ios":
            target = "cisco %s %s" % (acl, "inet6" if fam6 else "extended")
        else:
            target = "juniper %s %s" % (acl, "inet6" if fam6 else "inet")
        text = "header {\n  target:: %s\n}\nterm %s {\n" % (target, term)
        text += "  source-address:: SRC\n  destination-address:: DST\n"
        text += "  protocol:: %s\n  destination-port:: DPORT\n" % proto
        if sport:
            text += "  source-port:: SPORT\n"
        if count:
            text += "  counter:: %s\n" % term
        text += "  action:: accept\n}\n"
        pol = policy.ParsePolicy(text, defs, optimize=False)
        gen = cisco.Cisco(pol, 2) if vendor == "ios" else juniper.Juniper(pol, 2)
        return str(gen)


def junos_flatten(text, term):
    """capirca's hierarchical JunOS text as single statements of @term."""
    stack, out, comment = [], set(), False
    for line in text.splitlines():
        s = line.strip()
        if comment or s.startswith("/*"):
            comment = not s.endswith("*/")
            continue
        if not s:
            continue
        if s.endswith("{"):
            stack.append(s[:-1].strip().replace("replace: ", ""))
        elif s == "}":
            stack.pop()
        elif s.endswith(";"):
            path = " ".join(stack)
            if " term %s" % term in path:
                out.add((path + " " + s[:-1]).split(" term %s " % term, 1)[1])
    return out


def driver_statements(cmds, fam, acl, term):
    """The driver's set lines for @term, one statement each."""
    prefix = "set firewall family %s filter %s term %s " % (fam, acl, term)
    out = set()
    for line in cmds:
        if not line.startswith(prefix):
            continue
        words = line[len(prefix):].split()
        if words[0] == "from":
            if (len(words) - 1) % 2:
                out.add("from ?odd: " + " ".join(words))
            for i in range(1, len(words), 2):
                out.add("from %s %s" % (words[i], words[i + 1]))
        else:
            out.add(" ".join(words))
    return out


def main():
    vendor, cmds_file, acl, acl6 = sys.argv[1:5]
    cmds = open(cmds_file).read().splitlines()
    bad, n = 0, 0
    for spec in sys.argv[5:]:
        proto, src, sport, dst, dport = spec.split()
        fam6 = ipaddress.ip_address(src).version == 6
        sport = 0 if sport == "*" else int(sport)
        dport = int(dport)
        name = acl6 if fam6 else acl
        n += 1
        if vendor == "ios":
            text = render("ios", name, fam6, "t", src, dst, proto, sport, dport, False)
            want = [l.strip() for l in text.splitlines() if l.strip().startswith("permit ")]
            seq = r"sequence \d+ " if fam6 else r"\d+ "
            ok = len(want) == 1 and any(re.fullmatch(seq + re.escape(want[0]), c)
                                        for c in cmds)
            if not ok:
                print("capirca: %s: capirca says %r; the driver sent no such line"
                      % (spec, want))
                bad += 1
            continue
        fam = "inet6" if fam6 else "inet"
        plen = 128 if fam6 else 32
        # the driver's term for this pinhole: the one whose from-line names it
        pat = re.compile(r"set firewall family %s filter %s term (dyper-\d+) from "
                         r"source-address %s/%d destination-address %s/%d "
                         % (fam, re.escape(name), re.escape(src), plen, re.escape(dst), plen))
        terms = [m.group(1) for m in map(pat.match, cmds) if m]
        if not terms:
            print("capirca: %s: the driver sent no term for it" % spec)
            bad += 1
            continue
        term = terms[-1]
        want = junos_flatten(render("junos", name, fam6, term, src, dst, proto, sport, dport,
                                    True), term)
        got = driver_statements(cmds, fam, name, term)
        if want != got:
            print("capirca: %s: capirca %s, the driver %s"
                  % (spec, sorted(want - got), sorted(got - want)))
            bad += 1
    print("capirca: %d of %d pinholes agree" % (n - bad, n))
    sys.exit(1 if bad else 0)


main()
