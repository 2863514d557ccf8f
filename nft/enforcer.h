/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft/ — Dyper's enforcer on this host: one nftables table, driven over
 * netlink with libnftnl + libmnl.  This header is the whole interface; it
 * knows pinholes and nftables, nothing of policy, agents or users.
 *
 * Conventions: functions return 0 or -errno; after a failure
 * nft_enforcer_error() says in words what happened and what to do.
 *
 * Layout of the table (name configurable, family inet):
 *   chain input   filter hook input, policy drop:
 *     ct state established,related accept; ct state invalid drop;
 *     iif lo accept; essential ICMP / ICMPv6 (@icmp_ok, @icmpv6_ok);
 *     static control ports (@control_tcp, @control_udp);
 *     the four pinhole sets; rate-limited log; counter drop.
 *   set pinholes4        ip saddr . l4proto . th sport . ip daddr . th dport
 *   set pinholes4_any    ip saddr . l4proto . ip daddr . th dport
 *   set pinholes6        (the same for IPv6)
 *   set pinholes6_any
 * Pinhole sets are hash sets on exact concatenations (constant-time lookup
 * and update at any size), with per-element timeouts and counters; the owner
 * of each pinhole travels in the element's comment, so that the kernel
 * itself records what is open and a restarted dyperd can recover it.
 *
 * The same table on a Linux border router (mode NFT_MODE_ROUTER, for the
 * site controller): the pinholes are remote host -> internal host:port, so
 * the same four sets and keys serve (the "local" address of a pinhole is
 * the internal host's), only the chain differs:
 *   chain forward  filter hook forward, policy drop:
 *     ct state established,related accept; ct state invalid drop;
 *     iifname @inside accept (the site's own hosts go out freely);
 *     essential ICMP / ICMPv6 (@icmp_ok, @icmpv6_ok);
 *     always-open ports of given internal hosts (@open4, @open6:
 *       ip daddr . l4proto . th dport);
 *     the four pinhole sets; rate-limited log; counter drop.
 * Each element's comment names the delegate (the host that asked):
 * "dlg host1 t 1763800000".
 *
 * Which mode a site uses.  nftables runs every base chain registered on a
 * hook, in priority order; a drop in any of them is final, while an accept
 * only ends that one chain and the packet goes on to the next.  So an
 * accept in Dyper's table cannot override a drop in another table's chain
 * on the forward hook, and another table's accept cannot get past ours.
 *   NFT_MODE_ROUTER (the default for a site): Dyper's table is the forward
 *     policy.  Fail-closed on its own: with no other ruleset on the hook,
 *     or only ones that do not drop, it alone decides, and a crashed
 *     controller leaves the policy standing (owner+persist).
 *   NFT_MODE_ROUTER_MARK: the site keeps its own forward policy (policy
 *     drop in its own table); Dyper's chain, policy accept and no drop of
 *     its own, only ORs @mark into what a pinhole or open port admits, and
 *     the site's chain must accept it ("meta mark & M == M accept").  Our
 *     chain must run first: give it a priority below the site's chain.
 *     Alone on the hook this mode lets everything through: use it only
 *     beside a ruleset that drops.
 */
#ifndef DYPER_NFT_ENFORCER_H
#define DYPER_NFT_ENFORCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define NFT_ENFORCER_TABLE_DEFAULT	"dyper"
#define NFT_ENFORCER_MAX_PINHOLES	65536	/* per set, default */
#define NFT_ENFORCER_MAX_PORTS		64	/* static control ports per protocol */
#define PINHOLE_PROGRAM_LEN		16	/* like the kernel's comm */
#define PINHOLE_STR_LEN			128	/* enough for pinhole_format() */
#define PINHOLE_DELEGATE_LEN		64	/* a site pinhole's delegate, with NUL */
#define NFT_ENFORCER_TABLE_ROUTER	"dyper_site"
#define NFT_ENFORCER_MAX_INSIDE		16	/* inside interfaces of a router */
#define NFT_ENFORCER_MAX_OPEN		64	/* always-open internal host ports */
#define NFT_IFNAME_LEN			16	/* IFNAMSIZ */

union pinhole_addr {
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t raw[16];
};

/*
 * Who holds a pinhole.  Stored in the kernel as the element comment.  On a
 * host: the process (uid, pid, socket, program).  At a site: the delegate
 * alone, the host that asked (then uid, pid, socket and program are 0).
 */
struct pinhole_owner {
	uint32_t uid;
	uint32_t pid;
	uint64_t sock_ino;		/* inode of the socket served, 0 if unknown */
	uint64_t sock_cookie;		/* its SO_COOKIE, as sock_diag reports it */
	uint64_t created;		/* unix time in seconds */
	char program[PINHOLE_PROGRAM_LEN];
	char delegate[PINHOLE_DELEGATE_LEN];	/* "" on a host; else 1 to 63 of
						 * A-Z a-z 0-9 . _ - @ */
};

/*
 * One pinhole: from one remote host (and port, or any port) to one local
 * address and port, one protocol.  Ports are in host byte order.
 */
struct pinhole {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t remote_port;		/* 0: any remote port */
	uint16_t local_port;		/* never 0 */
	union pinhole_addr remote;
	union pinhole_addr local;
	uint32_t timeout_ms;		/* 0: no timeout */
	struct pinhole_owner owner;
};

/* A pinhole as the kernel reports it. */
struct pinhole_entry {
	struct pinhole ph;
	bool owner_known;		/* the comment parsed as ours */
	bool owner_unrecorded;		/* ours, where owners cannot be recorded (a
					 * border device's ACL): owner unknown */
	uint64_t expires_ms;		/* time left, 0 if no timeout */
	uint64_t packets;
	uint64_t bytes;
};

enum pinhole_op_type {
	PINHOLE_ADD,
	PINHOLE_DEL,
};

struct pinhole_op {
	enum pinhole_op_type type;
	struct pinhole ph;
	int err;			/* out: 0, or -errno of this op */
	/* out, PINHOLE_DEL only: the element's counters as its delete
	 * left them, where the enforcer learnt them (counted) */
	bool counted;
	uint64_t packets, bytes;
};

enum nft_owner_mode {
	NFT_OWNER_AUTO,		/* owner+persist where the kernel has persist */
	NFT_OWNER_ON,		/* require owner+persist, fail otherwise */
	NFT_OWNER_OFF,		/* never set the owner flag */
};

enum nft_mode {
	NFT_MODE_HOST,		/* hook input: this host's least-privilege policy */
	NFT_MODE_ROUTER,	/* hook forward: the site's forward policy (drop) */
	NFT_MODE_ROUTER_MARK,	/* hook forward, policy accept: only marks what a
				 * pinhole or open port admits, for the site's
				 * own forward policy to accept */
};

/* A port of an internal host that a router's table always lets in. */
struct nft_open_port {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;			/* host byte order, never 0 */
	union pinhole_addr addr;	/* the internal host */
};

struct nft_enforcer_config {
	const char *table;		/* NULL: NFT_ENFORCER_TABLE_DEFAULT */
	int32_t priority;		/* hook priority, 0 = filter */
	uint16_t tcp_ports[NFT_ENFORCER_MAX_PORTS];
	size_t n_tcp_ports;
	uint16_t udp_ports[NFT_ENFORCER_MAX_PORTS];
	size_t n_udp_ports;
	bool allow_ping;		/* accept ICMP/ICMPv6 echo requests */
	bool counters;			/* per-pinhole packet/byte counters (default
					 * on; they cost ~half the add rate) */
	uint32_t max_pinholes;		/* per set; 0: NFT_ENFORCER_MAX_PINHOLES */
	uint32_t log_rate;		/* logged drops per second; 0: no log */
	const char *log_prefix;		/* NULL: "dyper drop: " */
	enum nft_owner_mode owner;
	uint32_t mark;			/* 0: none; else OR-ed into the packet mark
					 * of what a pinhole or control port
					 * accepts, for other rulesets to accept */
	enum nft_mode mode;		/* NFT_MODE_HOST unless set */
	/* routers only (host mode refuses them, and routers refuse the
	 * static control ports above: a router opens ports per host) */
	char inside[NFT_ENFORCER_MAX_INSIDE][NFT_IFNAME_LEN];	/* ROUTER: at least one */
	size_t n_inside;
	struct nft_open_port open[NFT_ENFORCER_MAX_OPEN];
	size_t n_open;
};

struct nft_enforcer;

/* --- pure helpers (no kernel) ------------------------------------------- */

/* 0 if @ph can become a set element; -EAFNOSUPPORT, -EPROTONOSUPPORT,
 * -EINVAL (port 0, unspecified local address, program not terminated, a
 * delegate with other characters than A-Z a-z 0-9 . _ - @ or beside
 * process fields). */
int pinhole_validate(const struct pinhole *ph);

/* "tcp 192.0.2.1:* -> 198.51.100.7:40000" (remote -> local). */
void pinhole_format(const struct pinhole *ph, char *buf, size_t len);

/* Same key (family, proto, addresses, ports), whatever owner and timeout. */
bool pinhole_same_key(const struct pinhole *a, const struct pinhole *b);

/* Element comment: "uid 1000 pid 4242 ino 123 ck 9 t 1763800000 vsftpd",
 * or for a delegate's pinhole "dlg host1 t 1763800000".  Returns the
 * length written, -ENOSPC, or -EINVAL for a delegate pinhole_validate()
 * refuses. */
int pinhole_owner_format(const struct pinhole_owner *o, char *buf, size_t len);
/* Parses either form; -EINVAL when @s is not one of ours. */
int pinhole_owner_parse(const char *s, size_t len, struct pinhole_owner *o);

/* Set element key of @ph into @key (64 bytes); returns its length and
 * the name of the set it belongs to through @set. */
size_t pinhole_key(const struct pinhole *ph, uint8_t key[64], const char **set);
/* Inverse of pinhole_key() for the set named @set; -EINVAL on a bad key. */
int pinhole_from_key(const char *set, const uint8_t *key, size_t len,
		     struct pinhole *ph);

/* Fills @cfg with defaults (table "dyper", no control ports, owner auto). */
void nft_enforcer_config_init(struct nft_enforcer_config *cfg);
/* The same for a border router: mode NFT_MODE_ROUTER, table "dyper_site",
 * log prefix "dyper site drop: "; the caller adds the inside interfaces. */
void nft_enforcer_config_init_router(struct nft_enforcer_config *cfg);

/* --- the enforcer ------------------------------------------------------- */

/*
 * Opens a netlink socket in the current network namespace.  Changes
 * nothing in the kernel.  @cfg is copied.  -EPERM without CAP_NET_ADMIN,
 * -EPROTONOSUPPORT without nf_tables; -EINVAL for a config its mode
 * cannot use (a router without inside interfaces, mark mode without a
 * mark, control ports on a router, open ports on a host, a bad interface
 * name or open port); on failure *@out is an enforcer holding only the
 * error text (nft_enforcer_error), or NULL on -ENOMEM.
 */
int nft_enforcer_open(struct nft_enforcer **out,
		      const struct nft_enforcer_config *cfg);
/* Closes the socket.  The table stays (see owner mode).  NULL is fine. */
void nft_enforcer_free(struct nft_enforcer *e);

/* Text for the last failure: what failed and what to do. */
const char *nft_enforcer_error(const struct nft_enforcer *e);

/*
 * Creates the table, or converges an existing one of ours to @cfg, in one
 * transaction: rules and static sets are rebuilt, pinholes are kept.
 * -EEXIST if a table of that name exists that Dyper did not make, or
 * that Dyper made for the other hook (a host table opened as a router's,
 * or the reverse), -EPERM if another process owns it (owner flag).
 */
int nft_enforcer_setup(struct nft_enforcer *e);

/*
 * Converges the table to @cfg at runtime (control ports, ping, log rate,
 * mark, set sizes, a router's inside interfaces and open ports), in one transaction
 * as nft_enforcer_setup() does: the old rules and static sets stand until
 * the new ones replace them, pinholes are kept.  @cfg is copied.
 * -EOPNOTSUPP, with the setting named in the error, when @cfg differs in
 * what a running table cannot change (table, mode, priority, counters,
 * owner, log prefix); -EINVAL for a config the mode cannot
 * use; a setup error.  On any error the old config and table stay.
 */
int nft_enforcer_reconfigure(struct nft_enforcer *e, const struct nft_enforcer_config *cfg);

/* True when the table carries the owner flag for this socket. */
bool nft_enforcer_owned(const struct nft_enforcer *e);

/* The mode it was opened with. */
enum nft_mode nft_enforcer_mode(const struct nft_enforcer *e);

/*
 * Applies @n adds/deletes in one atomic transaction.  On success every op
 * took effect; on failure none did, the return value is the first op's
 * error and each failed op has its own ->err (ops the kernel did not
 * complain about keep 0).  Add of an existing pinhole: -EEXIST; delete of
 * a missing one: -ENOENT; full set: -ENFILE.  -E2BIG if the batch would
 * exceed the transaction size limit (split it).
 * With per-element counters, a successful delete also gets its pinhole's
 * ->packets and ->bytes, read by the kernel in the commit itself (the
 * delete's echo): nothing it counted is missed and no request is added.
 * An op whose echo did not come (a batch of more deletes than the receive
 * buffer holds echoes of) stays !->counted.
 */
int nft_enforcer_commit(struct nft_enforcer *e, struct pinhole_op *ops,
			size_t n);

/* Calls @cb for every pinhole in the kernel; a nonzero return from @cb
 * stops the walk and is returned. */
int nft_enforcer_dump(struct nft_enforcer *e,
		      int (*cb)(const struct pinhole_entry *pe, void *arg),
		      void *arg);

/* Removes every pinhole, keeps the table, in one transaction. */
int nft_enforcer_flush(struct nft_enforcer *e);

/* Deletes the table.  -ENOENT if there is none, -EEXIST (left alone) if
 * Dyper did not make it, -EPERM if another process owns it. */
int nft_enforcer_destroy(struct nft_enforcer *e);

/*
 * Compares the kernel's table with what setup builds: table flags, chain,
 * every rule's expressions and the sets.  *@intact is false, with the
 * difference in nft_enforcer_error(), when anything differs or is gone.
 * Pinhole elements are not compared (dump them for that).
 */
int nft_enforcer_check(struct nft_enforcer *e, bool *intact);

/* The netns ruleset generation. */
int nft_enforcer_generation(struct nft_enforcer *e, uint32_t *gen);

/*
 * True when someone else committed to nftables in this namespace since our
 * last own commit or the last call (each own commit advances the
 * generation by exactly one).  Cheap: one netlink round trip.  A foreign
 * commit may concern another table: follow with nft_enforcer_check().
 */
int nft_enforcer_foreign_change(struct nft_enforcer *e, bool *changed);

#endif
