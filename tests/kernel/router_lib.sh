# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# router_lib.sh: the border router's network, shared by router.sh (the
# router's table alone) and site.sh (the site controller on it).  SOURCED
# after lib.sh, never run (not executable).
#
#   A (dyt-PID-a) --\                                /-- IN (dyt-PID-in)
#                    +- ext0 [R (dyt-PID-r)] int0 --+     198.51.100.10
#   B (dyt-PID-b) --/  203.0.113.1   198.51.100.1        2001:db8:11::10
#   203.0.113.10/.11   2001:db8:ee::1  2001:db8:11::1
#   2001:db8:ee::10/11
#
# Forwarding is switched on in R's namespace only.

NS_R=dyt-$$-r
IN4=198.51.100.10 IN6=2001:db8:11::10 R_IN4=198.51.100.1 R_IN6=2001:db8:11::1
A4=203.0.113.10 A6=2001:db8:ee::10 R_EXT4=203.0.113.1 R_EXT6=2001:db8:ee::1
B4=203.0.113.11 B6=2001:db8:ee::11

# setup_router_network: the four namespaces and their links (lib.sh).
setup_router_network() {
	setup_border_network "$NS_R" ext0 "$R_EXT4" "$R_EXT6" "$R_IN4" "$R_IN6"
}
