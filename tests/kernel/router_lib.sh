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

# setup_router_network: the four namespaces and their links.
setup_router_network() {
	local ns host name addr4 addr6

	for ns in "$NS_A" "$NS_B" "$NS_R" "$NS_IN"; do
		run ip netns add "$ns"
		created_ns+=("$ns")
		run ip netns exec "$ns" sh -c '
			echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad &&
			echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'
		run ip -n "$ns" link set lo up
	done
	# the router: a bridge for the outside segment, a veth to the inside
	run ip -n "$NS_R" link add ext0 type bridge mcast_snooping 0
	run ip -n "$NS_R" link set ext0 up
	run ip -n "$NS_R" addr add "$R_EXT4/24" dev ext0
	run ip -n "$NS_R" addr add "$R_EXT6/64" dev ext0 nodad
	for host in "a $NS_A $A4 $A6" "b $NS_B $B4 $B6"; do
		read -r name ns addr4 addr6 <<<"$host"
		run ip -n "$NS_R" link add "p-$name" type veth peer name eth0 netns "$ns"
		run ip -n "$NS_R" link set "p-$name" master ext0 up
		run ip -n "$ns" addr add "$addr4/24" dev eth0
		run ip -n "$ns" addr add "$addr6/64" dev eth0 nodad
		run ip -n "$ns" link set eth0 up
		run ip -n "$ns" route add default via "$R_EXT4"
		run ip -n "$ns" -6 route add default via "$R_EXT6"
	done
	run ip -n "$NS_R" link add int0 type veth peer name eth0 netns "$NS_IN"
	run ip -n "$NS_R" addr add "$R_IN4/24" dev int0
	run ip -n "$NS_R" addr add "$R_IN6/64" dev int0 nodad
	run ip -n "$NS_R" link set int0 up
	run ip -n "$NS_IN" addr add "$IN4/24" dev eth0
	run ip -n "$NS_IN" addr add "$IN6/64" dev eth0 nodad
	run ip -n "$NS_IN" link set eth0 up
	run ip -n "$NS_IN" route add default via "$R_IN4"
	run ip -n "$NS_IN" -6 route add default via "$R_IN6"
	# forwarding in the router's namespace only (these sysctls are per netns)
	run ip netns exec "$NS_R" sh -c '
		echo 1 > /proc/sys/net/ipv4/ip_forward &&
		echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'
}

