/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conf/ — dyperd's configuration file, /etc/dyper/dyper.conf: INI read
 * with inih into one plain struct.  A leaf: it knows the file format and
 * nothing of what dyperd or the enforcer do with the values; dyperd
 * converts the [enforcer] part into nft/'s own struct (dyperd/nftconf.h).
 *
 * The parser is strict: unknown sections or keys, a key given twice, a
 * value out of range or with trailing junk, a string too long for its
 * buffer are errors, reported as "FILE:LINE: what was expected, what was
 * found" with the bad token quoted.  Keys left out keep their defaults, so
 * an empty file is a valid configuration.
 *
 * Value syntax: numbers are decimal; durations are a number with a unit
 * ms, s, m, h or d (a plain number means seconds); booleans are yes/no,
 * true/false, on/off or 1/0; lists are comma-separated; a line starting
 * with `;` or `#`, or `;` after a blank, starts a comment.  A line holds
 * at most 197 characters (inih's line buffer, 200 bytes as built by
 * Debian); a longer one is an error, never split.
 */
#ifndef DYPER_CONF_CONFIG_H
#define DYPER_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DYPER_CONFIG_PATH	"/etc/dyper/dyper.conf"

#define DYPER_CONFIG_NAME_LEN	64	/* user and group names */
#define DYPER_CONFIG_SOCKET_LEN	108	/* sizeof(sockaddr_un.sun_path) */
#define DYPER_CONFIG_PATH_LEN	4096	/* PATH_MAX */
#define DYPER_CONFIG_TABLE_LEN	256	/* NFT_NAME_MAXLEN */
#define DYPER_CONFIG_TABLE_DEFAULT	"dyper"
#define DYPER_CONFIG_MAX_PINHOLES	65536	/* per set, default */
#define DYPER_CONFIG_MAX_PORTS		64	/* static control ports per protocol */
#define DYPER_CONFIG_ADDR_LEN		46	/* INET6_ADDRSTRLEN */

enum dyper_on_exit {
	DYPER_ON_EXIT_KEEP,	/* leave the table and its pinholes */
	DYPER_ON_EXIT_FLUSH,	/* remove every pinhole, keep the table */
};

/* owner = auto | yes | no */
enum dyper_owner_mode {
	DYPER_OWNER_AUTO,	/* owner+persist where the kernel has persist */
	DYPER_OWNER_ON,		/* require owner+persist, fail otherwise */
	DYPER_OWNER_OFF,	/* never set the owner flag */
};

/* The [enforcer] section but its table name (see enforcer_table). */
struct dyper_enforcer_conf {
	int32_t priority;		/* input hook priority, 0 = filter */
	uint16_t tcp_ports[DYPER_CONFIG_MAX_PORTS];	/* static control ports */
	size_t n_tcp_ports;
	uint16_t udp_ports[DYPER_CONFIG_MAX_PORTS];
	size_t n_udp_ports;
	bool allow_ping;		/* accept ICMP/ICMPv6 echo requests */
	bool counters;			/* per-pinhole packet/byte counters */
	uint32_t max_pinholes;		/* per set */
	uint32_t log_rate;		/* logged drops per second; 0: no log */
	enum dyper_owner_mode owner;
	uint32_t mark;			/* 0: none; else OR-ed into the packet mark */
};

/* on_unreachable = fail | local ([remote]) */
enum dyper_on_unreachable {
	DYPER_UNREACHABLE_FAIL,	/* refuse binds while the site cannot be reached */
	DYPER_UNREACHABLE_LOCAL,	/* open locally, announce to the site later */
};

/* The [remote] section: border mode's site controller (dyperd(8)). */
struct dyper_remote_conf {
	char host[DYPER_CONFIG_ADDR_LEN];	/* an IPv4/IPv6 address; "": no border mode */
	uint32_t port;				/* of the site's sshd */
	char user[DYPER_CONFIG_NAME_LEN];	/* the site account: the remote delegate */
	char key[DYPER_CONFIG_PATH_LEN];	/* private key, ours, mode 0600 */
	char known_hosts[DYPER_CONFIG_PATH_LEN];	/* the site's pinned host key */
	uint32_t connect_timeout_ms;		/* TCP to a ready session */
	uint32_t request_timeout_ms;		/* how long a bind waits for the site */
	uint32_t keepalive_ms;			/* idle time before a PING */
	uint32_t lease_ms;			/* whole seconds; renewed at a third */
	enum dyper_on_unreachable on_unreachable;
};

/* [site]: dyperd as a site controller (border mode's far end). */
#define DYPER_SITE_NAME_LEN	65	/* the wire grammar's name, with NUL */
#define DYPER_SITE_MAX_INSIDE	16	/* inside interfaces of the router */
#define DYPER_SITE_MAX_OPEN	64	/* always-open ports of internal hosts */
#define DYPER_IFNAME_LEN	16	/* IFNAMSIZ */

enum dyper_site_mode {
	DYPER_SITE_POLICY,	/* the router table is the forward policy (drop) */
	DYPER_SITE_MARK,	/* it only marks; the site's own policy accepts the mark */
};

/* An internal host's port the router always lets in ("tcp/198.51.100.10/22"). */
struct dyper_open_port {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	uint8_t addr[16];		/* network order; IPv4 in the first 4 bytes */
};

/* [site] router = auto | yes | no: does the site also drive this Linux
 * box's own nftables router table (table, inside, mode, ...)?  auto: yes
 * when there is no [device NAME] section, no otherwise.  With the router
 * off, inside and the other router-only keys are not required. */
enum dyper_site_router {
	DYPER_SITE_ROUTER_AUTO,
	DYPER_SITE_ROUTER_YES,
	DYPER_SITE_ROUTER_NO,
};

struct dyper_site_conf {
	bool enable;
	enum dyper_site_router router;				/* dyperd runs as the site controller */
	char name[DYPER_SITE_NAME_LEN];		/* sent in "DYPER 1 OK <name>" */
	char socket[DYPER_CONFIG_SOCKET_LEN];	/* dyper-remote connects here */
	char account[DYPER_CONFIG_NAME_LEN];	/* dyper-remote's user: name or uid */
	char policy[DYPER_CONFIG_PATH_LEN];	/* the site policy (delegates) */
	uint32_t max_per_delegate;		/* pinholes one host may hold */
	uint32_t max_lease_ms;			/* longest lease granted */
	uint32_t audit_ms;			/* devices: check and read back this often */
	uint32_t batch;				/* pinhole ops per router transaction */
	uint32_t max_connections;		/* dyper-remote connections at once */
	uint32_t rate;				/* requests per second per connection */
	uint32_t burst;
	char table[DYPER_CONFIG_TABLE_LEN];	/* the router's table */
	int32_t priority;			/* forward hook priority */
	enum dyper_site_mode mode;
	uint32_t mark;				/* mark mode: OR-ed into what passes */
	char inside[DYPER_SITE_MAX_INSIDE][DYPER_IFNAME_LEN];	/* at least one */
	size_t n_inside;
	struct dyper_open_port open[DYPER_SITE_MAX_OPEN];
	size_t n_open;
};

/* [device NAME]: a border router or switch the site drives over SSH
 * (dyperd/devconf.h hands it to remote/device.h). */
#define DYPER_MAX_DEVICES	16
#define DYPER_DEVICE_NAME_LEN	32	/* with NUL; [A-Za-z0-9_.-], alnum first */
#define DYPER_DEVICE_MAX_GUARDS	16
#define DYPER_DEVICE_IDENT_LEN	32	/* ACL, filter and term names, with NUL */

/* An address prefix: network order, IPv4 in the first 4 bytes, host bits 0. */
struct dyper_prefix {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t len;
	uint8_t addr[16];
};

enum dyper_device_type {
	DYPER_DEVICE_IOS,
	DYPER_DEVICE_FTOS,
	DYPER_DEVICE_IRONWARE,
	DYPER_DEVICE_JUNOS,
};

struct dyper_device_conf {
	char name[DYPER_DEVICE_NAME_LEN];	/* from the header [device edge1] */
	enum dyper_device_type type;		/* required */
	char address[DYPER_CONFIG_ADDR_LEN];	/* IPv4/IPv6 literal, required */
	uint32_t port;				/* 22 */
	char user[DYPER_CONFIG_NAME_LEN];	/* required */
	char key[DYPER_CONFIG_PATH_LEN];	/* key or password_file required */
	char password_file[DYPER_CONFIG_PATH_LEN];	/* root-only, one line */
	char known_hosts[DYPER_CONFIG_PATH_LEN];	/* the pinned host key, required */
	char acl[DYPER_DEVICE_IDENT_LEN];	/* required */
	char acl6[DYPER_DEVICE_IDENT_LEN];	/* acl when not given */
	char final_term[DYPER_DEVICE_IDENT_LEN];	/* JunOS only: "deny"; else "" */
	uint32_t first_id, last_id;		/* 0: the driver's (1, 999999) */
	uint32_t batch;				/* 0: the type's */
	uint32_t save_interval_ms;		/* 0: never; whole seconds */
	uint32_t timeout_ms;			/* 0: the driver's */
	uint32_t keepalive_ms;			/* 0: the driver's (60 s) */
	uint32_t confirm_minutes;		/* JunOS only; 0: 1 */
	uint32_t lag_ms;			/* wait for a slow device; 5 s */
	struct dyper_prefix guards[DYPER_DEVICE_MAX_GUARDS];	/* none: every address */
	size_t n_guards;
};

/* A plain struct: `=` copies it (dyper_config_copy() is kept for callers). */
struct dyper_config {
	/* [daemon] */
	char user[DYPER_CONFIG_NAME_LEN];	/* unprivileged user dyperd runs as */
	char group[DYPER_CONFIG_NAME_LEN];	/* may connect to the agent socket */
	char agent_socket[DYPER_CONFIG_SOCKET_LEN];
	char control_socket[DYPER_CONFIG_SOCKET_LEN];
	char policy[DYPER_CONFIG_PATH_LEN];
	enum dyper_on_exit on_exit;
	int log_level;				/* LOG_ERR .. LOG_DEBUG */
	char event_log[DYPER_CONFIG_PATH_LEN];	/* JSON event lines; "": none */

	/* [enforcer] */
	char enforcer_table[DYPER_CONFIG_TABLE_LEN];
	struct dyper_enforcer_conf enforcer;
	uint32_t reconcile_ms;			/* kernel vs. own table */
	uint32_t tamper_check_ms;		/* ruleset generation poll */

	/* [limits] */
	uint32_t capacity;			/* open pinholes, all users */
	uint32_t max_per_user;
	uint32_t queue_max;			/* requests waiting while full */
	uint32_t queue_timeout_ms;
	uint32_t rate;				/* requests per second per channel */
	uint32_t burst;
	uint32_t batch_max;			/* operations per netlink transaction */
	uint32_t default_lifetime_ms;		/* 0: until closed */
	uint32_t max_channels;			/* agent connections, all users */
	uint32_t max_channels_per_user;		/* by the connecting process's uid */

	/* [remote] */
	struct dyper_remote_conf remote;
	/* [site] */
	struct dyper_site_conf site;
	/* [device NAME], in the file's order */
	struct dyper_device_conf device[DYPER_MAX_DEVICES];
	size_t n_devices;
};

/* Fills @c with the defaults (those of the shipped conf/dyper.conf). */
void dyper_config_defaults(struct dyper_config *c);

/*
 * Reads the file at @path into @c, starting from the defaults.  Returns 0;
 * -ENOENT if the file does not exist, unless @missing_ok, in which case @c
 * gets the defaults and 0 is returned; -EINVAL for a configuration error;
 * -EPERM if the file is writable by others than its owner or owned by
 * someone other than root or the caller; other -errno from reading.  On
 * failure @c is unchanged and @err (if not NULL) holds one line saying
 * "PATH:LINE: ..." or "PATH: ...".
 */
int dyper_config_load(struct dyper_config *c, const char *path, bool missing_ok,
		      char *err, size_t errlen);

/*
 * The same from the NUL-terminated @text; @name stands for the file name
 * in messages (NULL: "<string>").  0, -EINVAL or -ENOMEM; @c unchanged on
 * failure.
 */
int dyper_config_parse(struct dyper_config *c, const char *text, const char *name,
		       char *err, size_t errlen);

/* Whether the site drives its own nftables router table: [site] router,
 * auto resolved (yes without [device NAME] sections). */
bool dyper_config_site_router(const struct dyper_config *c);

/* Copies @src to @dst. */
void dyper_config_copy(struct dyper_config *dst, const struct dyper_config *src);

/*
 * Writes @c as a complete dyper.conf that parses back to the same values
 * (for `dyperd --check-config` and tests).  0, or -EIO.
 */
int dyper_config_write(const struct dyper_config *c, FILE *f);

#endif
