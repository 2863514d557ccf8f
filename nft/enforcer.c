// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The enforcer: one netlink socket, one table, atomic batch transactions.
 *
 * A batch is sent with one sendmsg().  nfnetlink processes it in the
 * sender's context, so when sendmsg() returns every error and ack is
 * already queued on the socket: the replies are drained without blocking
 * and each error is mapped back to its message through the sequence
 * number.  Each pinhole is its own message, so an error names its pinhole.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft/internal.h"

#define RBUF_LEN	(256 * 1024)
#define RCVBUF_LEN	(16 * 1024 * 1024)
#define BATCH_MAX	(64u * 1024 * 1024)	/* bytes in one transaction */
#define ECHO_ELEM_BYTES	512	/* receive buffer one echoed delete may take, generously */

struct nft_enforcer {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	struct nft_enforcer_config cfg;
	char table[NFT_TABLE_MAXNAMELEN];
	char log_prefix[128];
	uint32_t flags;			/* table flags in effect after setup */
	bool set_up;			/* setup ran through this handle */
	uint32_t expected_gen;		/* generation if nobody else committed */
	bool gen_known;
	int sndbuf;
	size_t echo_max;		/* deletes a batch may ask echoes of */
	struct nlbuf batch;
	char *rbuf;
	char err[512];
};

__attribute__((format(printf, 2, 3)))
static int fail(struct nft_enforcer *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return 0;
}

const char *nft_enforcer_error(const struct nft_enforcer *e)
{
	return e ? e->err : "out of memory";
}

bool nft_enforcer_owned(const struct nft_enforcer *e)
{
	return e->flags & NFT_TABLE_F_OWNER;
}

enum nft_mode nft_enforcer_mode(const struct nft_enforcer *e)
{
	return e->cfg.mode;
}

void nft_enforcer_config_init(struct nft_enforcer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->table = NFT_ENFORCER_TABLE_DEFAULT;
	cfg->max_pinholes = NFT_ENFORCER_MAX_PINHOLES;
	cfg->log_rate = 5;
	cfg->counters = true;
	cfg->owner = NFT_OWNER_AUTO;
}

void nft_enforcer_config_init_router(struct nft_enforcer_config *cfg)
{
	nft_enforcer_config_init(cfg);
	cfg->mode = NFT_MODE_ROUTER;
	cfg->table = NFT_ENFORCER_TABLE_ROUTER;
	cfg->log_prefix = NFT_LOG_PREFIX_ROUTER;
}

/* What @cfg's mode cannot use: 0, or -EINVAL / -E2BIG with the reason in @e. */
static int check_mode(struct nft_enforcer *e, const struct nft_enforcer_config *cfg)
{
	bool router = cfg->mode != NFT_MODE_HOST;
	const char *why = NULL;
	size_t i;

	if ((unsigned)cfg->mode > NFT_MODE_ROUTER_MARK)
		why = "unknown mode";
	else if (cfg->n_inside > NFT_ENFORCER_MAX_INSIDE || cfg->n_open > NFT_ENFORCER_MAX_OPEN) {
		fail(e, "at most %d inside interfaces and %d open ports", NFT_ENFORCER_MAX_INSIDE,
		     NFT_ENFORCER_MAX_OPEN);
		return -E2BIG;
	} else if (!router && (cfg->n_inside || cfg->n_open))
		why = "inside interfaces and open ports are for a router's table; a host opens "
		      "control ports";
	else if (router && (cfg->n_tcp_ports || cfg->n_udp_ports))
		why = "a router opens ports per internal host (open ports), not static control "
		      "ports to every host";
	else if (cfg->mode == NFT_MODE_ROUTER && !cfg->n_inside)
		why = "a router's table needs its inside interfaces: without them no internal "
		      "host could open a connection out";
	else if (cfg->mode == NFT_MODE_ROUTER_MARK && !cfg->mark)
		why = "mark mode needs a mark for the site's forward policy to accept";
	for (i = 0; !why && i < cfg->n_inside; i++) {
		size_t len = strnlen(cfg->inside[i], NFT_IFNAME_LEN);

		if (len == 0 || len == NFT_IFNAME_LEN || strchr(cfg->inside[i], '*'))
			why = "an inside interface: expected a name of 1 to 15 characters";
	}
	for (i = 0; !why && i < cfg->n_open; i++) {
		const struct nft_open_port *o = &cfg->open[i];
		struct pinhole ph = { .family = o->family, .proto = o->proto, .local_port = o->port,
				      .local = o->addr };

		/* an open port is a pinhole from anywhere: the same rules */
		if (pinhole_validate(&ph))
			why = "an open port: expected tcp or udp, a port and an internal host's "
			      "address";
	}
	if (!why)
		return 0;
	fail(e, "%s", why);
	return -EINVAL;
}

/* Advice for the errors an admin can do something about. */
static const char *hint(int err)
{
	switch (err) {
	case -EPERM:
		return "changing nftables needs CAP_NET_ADMIN: run as root or grant cap_net_admin";
	case -EOPNOTSUPP:
	case -EPROTONOSUPPORT:
	case -EAFNOSUPPORT:
		return "this kernel lacks an nf_tables feature Dyper needs "
		       "(nf_tables, nft_set_hash, nft_ct, nft_counter, nft_limit, nft_log; "
		       "Linux 5.13 or later): load the modules or update the kernel";
	case -ENFILE:
		return "the pinhole set is full: raise max_pinholes or close pinholes";
	case -ENOBUFS:
		return "the kernel dropped replies: the state is unknown, dump and reconcile";
	default:
		return NULL;
	}
}

/* --- socket ----------------------------------------------------------------- */

static int set_sndbuf(struct nft_enforcer *e, size_t len)
{
	int fd = mnl_socket_get_fd(e->nl), v = (int)len;

	if ((int)len <= e->sndbuf)
		return 0;
	/* The kernel doubles the value; the whole batch must fit in one skb. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)))
		return -errno;
	e->sndbuf = v;
	return 0;
}

static int gen_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) < 0) {
		nftnl_gen_free(g);
		return MNL_CB_ERROR;
	}
	*(uint32_t *)arg = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

/*
 * Sends one request and runs @cb on each reply until the ack or the end of
 * the dump.  If @cb fails, the rest is still read, so the socket stays in
 * step, and the first failure is returned.
 */
struct req_ctx {
	mnl_cb_t cb;
	void *arg;
	int cb_err;
	bool interrupted;
};

static int req_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *rc = data;
	int ret;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		rc->interrupted = true;
	if (rc->cb_err || !rc->cb)
		return MNL_CB_OK;
	ret = rc->cb(nlh, rc->arg);
	if (ret <= MNL_CB_STOP)
		rc->cb_err = ret == MNL_CB_STOP ? 1 : (errno ? -errno : -EINVAL);
	return MNL_CB_OK;
}

static int request(struct nft_enforcer *e, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	struct req_ctx rc = { .cb = cb, .arg = arg };
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(e->nl, e->rbuf, RBUF_LEN);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(e->rbuf, (size_t)n, seq, e->portid, req_cb, &rc);
		if (ret < 0)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			break;
	}
	if (rc.cb_err)
		return rc.cb_err;
	return rc.interrupted ? -EAGAIN : 0;
}

int nft_enforcer_generation(struct nft_enforcer *e, uint32_t *gen)
{
	char buf[256] = { 0 };
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, e->seq++);
	return request(e, nlh, gen_cb, gen);
}

int nft_enforcer_open(struct nft_enforcer **out, const struct nft_enforcer_config *cfg)
{
	struct nft_enforcer *e = calloc(1, sizeof(*e));
	const char *table = cfg->table ? cfg->table : NFT_ENFORCER_TABLE_DEFAULT;
	int one = 1, rcv = RCVBUF_LEN, err;
	socklen_t len = sizeof(rcv);
	uint32_t gen;

	*out = e;
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->seq = (uint32_t)time(NULL);
	if (strlen(table) == 0 || strlen(table) >= sizeof(e->table)) {
		fail(e, "table name \"%s\": expected 1 to %zu characters", table,
		     sizeof(e->table) - 1);
		return -EINVAL;
	}
	strcpy(e->table, table);
	e->cfg.table = e->table;
	if (cfg->log_prefix) {
		if (strlen(cfg->log_prefix) >= sizeof(e->log_prefix)) {
			fail(e, "log prefix is longer than %zu characters", sizeof(e->log_prefix) - 1);
			return -EINVAL;
		}
		strcpy(e->log_prefix, cfg->log_prefix);
		e->cfg.log_prefix = e->log_prefix;
	}
	if (cfg->n_tcp_ports > NFT_ENFORCER_MAX_PORTS || cfg->n_udp_ports > NFT_ENFORCER_MAX_PORTS) {
		fail(e, "at most %d static ports per protocol", NFT_ENFORCER_MAX_PORTS);
		return -E2BIG;
	}
	err = check_mode(e, cfg);
	if (err)
		return err;
	e->rbuf = malloc(RBUF_LEN);
	if (!e->rbuf) {
		fail(e, "out of memory");
		return -ENOMEM;
	}
	e->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!e->nl) {
		err = -errno;
		fail(e, "cannot open a netfilter netlink socket: %s; is nfnetlink in this kernel?",
		     strerror(-err));
		return err;
	}
	if (mnl_socket_bind(e->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		fail(e, "cannot bind the netlink socket: %s", strerror(-err));
		return err;
	}
	e->portid = mnl_socket_get_portid(e->nl);
	/* Errors without the request echoed back; with the kernel's message. */
	mnl_socket_setsockopt(e->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(e->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(e->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(mnl_socket_get_fd(e->nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* half of what we got for the echoes of deletes, the rest for acks */
	if (getsockopt(mnl_socket_get_fd(e->nl), SOL_SOCKET, SO_RCVBUF, &rcv, &len) || rcv < 0)
		rcv = 0;
	e->echo_max = (size_t)rcv / 2 / ECHO_ELEM_BYTES;

	/* Ask something harmless now, so missing rights or modules show here. */
	err = nft_enforcer_generation(e, &gen);
	if (err) {
		fail(e, "nftables is not usable here: %s; %s", strerror(-err),
		     hint(err) ? hint(err) : "check that nf_tables is available");
		return err;
	}
	e->err[0] = '\0';
	return 0;
}

void nft_enforcer_free(struct nft_enforcer *e)
{
	if (!e)
		return;
	if (e->nl)
		mnl_socket_close(e->nl);
	nlbuf_free(&e->batch);
	free(e->rbuf);
	free(e);
}

/* --- batches ---------------------------------------------------------------- */

static int batch_start(struct nft_enforcer *e)
{
	struct nlmsghdr *nlh;

	e->batch.len = 0;
	if (nlbuf_reserve(&e->batch, 64 * 1024))
		return -ENOMEM;
	nlh = nftnl_batch_begin(nlbuf_tail(&e->batch), e->seq++);
	e->batch.len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

int nft_parse_err(const struct nlmsghdr *nlh, uint32_t *seq, const char **msg)
{
	const struct nlmsgerr *me = mnl_nlmsg_get_payload(nlh);
	size_t hlen = sizeof(*me);

	*msg = NULL;
	*seq = me->msg.nlmsg_seq;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += me->msg.nlmsg_len - sizeof(me->msg);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS &&
	    nlh->nlmsg_len > NLMSG_HDRLEN + hlen) {
		const struct nlattr *a;

		mnl_attr_for_each(a, nlh, hlen) {
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				*msg = mnl_attr_get_str(a);
		}
	}
	return me->error;
}

/*
 * A delete's counters come with its transaction: the delete messages ask
 * for an echo (NLM_F_ECHO), and the kernel's delete notifications carry
 * each element's counters as the commit left them, after the generation
 * switch, so nothing the pinhole admitted is missed and no request is
 * added.  The echoes wait in the receive buffer until the batch's replies
 * are read: a batch asks for at most echo_max of them, since a lost echo is
 * only a missing count but a lost ack would fail a committed batch.
 */
struct echo_ctx {
	struct pinhole_op *ops;
	size_t n;
	size_t next;		/* where the next echo should be: they come in order */
};

static void echo_read(const struct nlmsghdr *nlh, struct echo_ctx *ec);

struct batch_result {
	int first_err;		/* first error in message order */
	uint32_t first_idx;	/* its message index, or UINT32_MAX if batch-level */
	char kmsg[160];		/* kernel's extended ack for it */
	bool acked;		/* the last message was acknowledged */
	bool lost;		/* replies were dropped (ENOBUFS) */
};

/*
 * Ends the batch, sends it, and collects the replies.  Messages
 * [@first, @first + @n) are ours; @errs[i] gets message i's error; the
 * echoes of deletes go to @echo (NULL: none asked for).
 */
static int batch_send_mode(struct nft_enforcer *e, uint32_t first, uint32_t n, int *errs,
			   struct batch_result *res, bool validate_only, struct echo_ctx *echo)
{
	int fd = mnl_socket_get_fd(e->nl), err;
	uint32_t last = first + n - 1;
	struct nlmsghdr *nlh;
	ssize_t len;

	memset(res, 0, sizeof(*res));
	res->first_idx = UINT32_MAX;
	/* Without the end marker the kernel checks every message, reports
	 * the errors, and aborts: nothing changes (nft --check does this). */
	if (!validate_only) {
		if (nlbuf_reserve(&e->batch, 64))
			return -ENOMEM;
		nlh = nftnl_batch_end(nlbuf_tail(&e->batch), e->seq++);
		e->batch.len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	if (e->batch.len > BATCH_MAX)
		return -E2BIG;
	err = set_sndbuf(e, e->batch.len);
	if (err)
		return err;
	do
		len = send(fd, e->batch.data, e->batch.len, 0);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;

	for (;;) {
		len = recv(fd, e->rbuf, RBUF_LEN, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				res->lost = true;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		for (nlh = (struct nlmsghdr *)e->rbuf; mnl_nlmsg_ok(nlh, (int)len);
		     nlh = mnl_nlmsg_next(nlh, (int *)&len)) {
			const char *kmsg;
			uint32_t seq, idx;
			int merr;

			if (echo && nlh->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELSETELEM)) {
				echo_read(nlh, echo);
				continue;
			}
			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != e->portid)
				continue;
			merr = nft_parse_err(nlh, &seq, &kmsg);
			if (merr == 0) {
				if (seq == last)
					res->acked = true;
				continue;
			}
			idx = seq - first;
			if (idx < n && errs)
				errs[idx] = merr;
			if (!res->first_err || (idx < res->first_idx)) {
				res->first_err = merr;
				res->first_idx = idx < n ? idx : UINT32_MAX;
				snprintf(res->kmsg, sizeof(res->kmsg), "%s", kmsg ? kmsg : "");
			}
		}
	}
	if (res->first_err)
		return res->first_err;
	/* the acks come after the echoes: with the last one here, what was
	 * lost was echoes, and the batch stands */
	if (res->lost && !(echo && res->acked))
		return -ENOBUFS;
	if (validate_only)
		return 0;
	if (!res->acked)
		return -EPROTO;
	if (e->gen_known)
		e->expected_gen++;
	return 0;
}

static int batch_send(struct nft_enforcer *e, uint32_t first, uint32_t n, int *errs,
		      struct batch_result *res)
{
	return batch_send_mode(e, first, n, errs, res, false, NULL);
}

/* --- table ------------------------------------------------------------------- */

struct table_info {
	bool exists;
	bool ours;		/* carries our comment */
	uint32_t flags;
	uint32_t owner;		/* netlink port id of the owner, if any */
};

static int table_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct table_info *ti = arg;
	struct nftnl_table *t = nftnl_table_alloc();
	const void *ud;
	uint32_t len;

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0) {
		nftnl_table_free(t);
		return MNL_CB_ERROR;
	}
	ti->exists = true;
	ti->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
		ti->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
	ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
	/* TLV: type 0 (comment), length, the string with its NUL */
	ti->ours = ud && len == strlen(NFT_TABLE_COMMENT) + 3 &&
		   ((const uint8_t *)ud)[0] == NFTNL_UDATA_TABLE_COMMENT &&
		   !memcmp((const char *)ud + 2, NFT_TABLE_COMMENT, len - 2);
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int get_table(struct nft_enforcer *e, struct table_info *ti)
{
	char buf[512] = { 0 };	/* padding libmnl leaves unwritten */
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int err;

	memset(ti, 0, sizeof(*ti));
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, e->table);
	nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, e->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	err = request(e, nlh, table_cb, ti);
	return err == -ENOENT ? 0 : err;
}

struct chain_info {
	bool found;
	uint32_t hook, policy;
	int32_t prio;
};

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct chain_info *ci = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0) {
		ci->found = true;
		ci->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		ci->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		ci->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* Chain @name of our table into @ci (->found false if there is none). */
static int get_chain(struct nft_enforcer *e, const char *name, struct chain_info *ci)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	char buf[1024] = { 0 };	/* padding libmnl leaves unwritten */
	int err;

	memset(ci, 0, sizeof(*ci));
	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, e->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_ACK, e->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	err = request(e, nlh, chain_cb, ci);
	return err == -ENOENT ? 0 : err;
}

static int send_setup(struct nft_enforcer *e, uint32_t flags)
{
	struct batch_result res;
	uint32_t first;
	int err;

	err = batch_start(e);
	if (err)
		return err;
	first = e->seq;
	err = nft_build_setup(&e->batch, &e->cfg, flags, &e->seq);
	if (err)
		return err;
	err = batch_send(e, first, e->seq - first, NULL, &res);
	if (err && res.kmsg[0])
		fail(e, "%s", res.kmsg);
	else
		e->err[0] = '\0';
	return err;
}

int nft_enforcer_setup(struct nft_enforcer *e)
{
	const uint32_t owned = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	char kmsg[sizeof(e->err)];
	struct table_info ti;
	uint32_t want;
	int err;

	err = get_table(e, &ti);
	if (err) {
		fail(e, "cannot read table inet %s: %s", e->table, strerror(-err));
		return err;
	}
	if (ti.exists && !ti.ours) {
		fail(e, "table inet %s exists but was not made by Dyper: choose another "
		     "table name in dyper.conf, or delete it (nft delete table inet %s)",
		     e->table, e->table);
		return -EEXIST;
	}
	if (ti.exists) {
		struct chain_info ci;

		/* a host's table is not a router's: converging one into the
		 * other would leave the old hook's chain and its policy behind */
		err = get_chain(e, nft_chain_other(&e->cfg), &ci);
		if (err) {
			fail(e, "cannot read table inet %s: %s", e->table, strerror(-err));
			return err;
		}
		if (ci.found) {
			fail(e, "table inet %s was made for a %s (it has chain %s): choose another "
			     "table name, or delete it (nft delete table inet %s)", e->table,
			     e->cfg.mode == NFT_MODE_HOST ? "router" : "host",
			     nft_chain_other(&e->cfg), e->table);
			return -EEXIST;
		}
	}
	if (ti.exists && (ti.flags & NFT_TABLE_F_OWNER) && ti.owner != e->portid) {
		fail(e, "table inet %s is owned by another process (netlink port %u, "
		     "usually its pid): is another dyperd running in this namespace?",
		     e->table, ti.owner);
		return -EBUSY;
	}

	/*
	 * Owner flag only together with persist: an owned table without
	 * persist vanishes with its owner, and a crashed dyperd would take the
	 * host's least-privilege policy with it.  persist cannot be toggled on
	 * an existing table, and an orphaned persist table is taken over by
	 * setting owner again.
	 */
	if (ti.exists)
		want = (ti.flags & NFT_TABLE_F_PERSIST) && e->cfg.owner != NFT_OWNER_OFF ?
		       owned : ti.flags & NFT_TABLE_F_PERSIST;
	else
		want = e->cfg.owner == NFT_OWNER_OFF ? 0 : owned;
	if (e->cfg.owner == NFT_OWNER_ON && want != owned) {
		fail(e, "owner mode requested, but table inet %s was created without the "
		     "persist flag: delete it once to let Dyper recreate it", e->table);
		return -EOPNOTSUPP;
	}

	err = nft_enforcer_generation(e, &e->expected_gen);
	e->gen_known = !err;
	err = send_setup(e, want);
	if ((err == -EOPNOTSUPP || err == -EINVAL) && !ti.exists && want &&
	    e->cfg.owner == NFT_OWNER_AUTO) {
		/* Kernel without persist (before 6.9): no owner flag, see above. */
		want = 0;
		err = send_setup(e, want);
	}
	if (err) {
		snprintf(kmsg, sizeof(kmsg), "%s", e->err);
		fail(e, "cannot set up table inet %s: %s%s%s%s%s", e->table, strerror(-err),
		     kmsg[0] ? " (" : "", kmsg, kmsg[0] ? ")" : "",
		     hint(err) ? "; " : "");
		if (hint(err))
			strncat(e->err, hint(err), sizeof(e->err) - strlen(e->err) - 1);
		if (err == -EEXIST || err == -EBUSY)
			strncat(e->err, "; the existing table differs in a way that cannot be "
				"changed in place (set sizes or hook priority): delete it once",
				sizeof(e->err) - strlen(e->err) - 1);
		return err;
	}
	e->flags = want;
	e->set_up = true;
	return 0;
}

/*
 * What a running table cannot take in place, and why: the table's name
 * and hook are another table; the kernel refuses to change a base chain's
 * priority, a set's size or its per-element expressions (counters), and
 * the owner and persist flags of an existing table (EEXIST, EBUSY,
 * EOPNOTSUPP).  Named in @e's error, or NULL.
 */
static const char *fixed_setting(const struct nft_enforcer_config *o,
				 const struct nft_enforcer_config *n)
{
	const char *table = n->table ? n->table : NFT_ENFORCER_TABLE_DEFAULT;

	if (strcmp(o->table, table))
		return "table";
	if (o->mode != n->mode)
		return "mode";
	if (o->priority != n->priority)
		return "priority";
	if (o->counters != n->counters)
		return "counters";
	if (o->owner != n->owner)
		return "owner";
	if ((o->log_prefix ? strcmp(o->log_prefix, n->log_prefix ? n->log_prefix : "") :
	     n->log_prefix != NULL))
		return "log prefix";
	return NULL;
}

int nft_enforcer_reconfigure(struct nft_enforcer *e, const struct nft_enforcer_config *cfg)
{
	struct nft_enforcer_config old = e->cfg;
	const char *fixed = fixed_setting(&e->cfg, cfg);
	int err;

	if (fixed) {
		fail(e, "%s cannot be changed on a running table: it needs a new table", fixed);
		return -EOPNOTSUPP;
	}
	if (cfg->n_tcp_ports > NFT_ENFORCER_MAX_PORTS || cfg->n_udp_ports > NFT_ENFORCER_MAX_PORTS) {
		fail(e, "at most %d static ports per protocol", NFT_ENFORCER_MAX_PORTS);
		return -E2BIG;
	}
	err = check_mode(e, cfg);
	if (err)
		return err;
	/* the names stay ours: they are equal (fixed_setting) */
	e->cfg = *cfg;
	e->cfg.table = e->table;
	e->cfg.log_prefix = old.log_prefix;
	/* setup converges in one transaction: no moment without the policy */
	err = nft_enforcer_setup(e);
	if (err)
		e->cfg = old;	/* the transaction failed whole: the old table stands */
	return err;
}

/* --- pinholes ------------------------------------------------------------------- */

/*
 * Packs runs of ops of the same kind and set into one message each; @msg
 * gets each message's first op.  Deletes ask for their echo (their
 * counters) while the budget lasts.  Returns the number of messages.
 */
static int build_packed(struct nft_enforcer *e, const struct pinhole_op *ops, size_t n,
			uint32_t *msg)
{
	size_t i = 0, echoes = 0;
	uint32_t nmsg = 0;

	while (i < n) {
		enum pinhole_op_type type = ops[i].type;
		struct nlmsghdr *nlh;
		struct nlattr *list;
		const char *set;
		uint8_t key[64];
		uint16_t fl = type == PINHOLE_ADD ? NLM_F_CREATE | NLM_F_EXCL : 0;
		size_t j;

		pinhole_key(&ops[i].ph, key, &set);
		/* only the last message asks for an ack: it proves the kernel
		 * read the batch to its end */
		for (j = i + 1; j < n && ops[j].type == type &&
		     pinhole_set_name(ops[j].ph.family, !ops[j].ph.remote_port) == set; j++)
			;
		if (type == PINHOLE_DEL && e->cfg.counters && echoes < e->echo_max)
			fl |= NLM_F_ECHO;
		nlh = nft_elems_begin(&e->batch, e->table, set, type, fl, e->seq++, &list);
		if (!nlh)
			return -ENOMEM;
		msg[nmsg++] = (uint32_t)i;
		if (fl & NLM_F_ECHO)
			echoes += j - i;	/* at most NFT_ELEM_MAX over: the margin covers it */
		for (; i < j; i++) {
			int err = nft_elems_put(nlh, &ops[i]);

			if (err)
				return err;
			if (nft_elems_full(nlh) && i + 1 < j) {
				i++;
				break;
			}
		}
		if (i == n)
			nlh->nlmsg_flags |= NLM_F_ACK;
		nft_elems_end(&e->batch, nlh, list);
	}
	return (int)nmsg;
}

/*
 * A packed batch failed: the kernel named a message, not a pinhole.  Send
 * the same ops again, one per message, for validation only (nothing is
 * applied), to learn each op's own error.
 */
static void diagnose(struct nft_enforcer *e, const struct pinhole_op *ops, size_t n,
		     int *errs, struct batch_result *res)
{
	uint32_t first;

	if (batch_start(e))
		return;
	first = e->seq;
	for (size_t i = 0; i < n; i++) {
		uint16_t fl = ops[i].type == PINHOLE_ADD ? NLM_F_CREATE | NLM_F_EXCL : 0;

		if (nft_build_pinhole(&e->batch, e->table, &ops[i], fl, e->seq++))
			return;
	}
	batch_send_mode(e, first, (uint32_t)n, errs, res, true, NULL);
}

int nft_enforcer_commit(struct nft_enforcer *e, struct pinhole_op *ops, size_t n)
{
	struct echo_ctx echo = { ops, n, 0 };
	struct batch_result res;
	char what[PINHOLE_STR_LEN];
	uint32_t first, *msg = NULL;
	int err, nmsg, *errs = NULL;
	size_t i, nfail = 0, bad = SIZE_MAX;

	for (i = 0; i < n; i++) {
		ops[i].counted = false;
		ops[i].err = pinhole_validate(&ops[i].ph);
		if (ops[i].err) {
			pinhole_format(&ops[i].ph, what, sizeof(what));
			fail(e, "invalid pinhole %s: %s", what, strerror(-ops[i].err));
			return ops[i].err;
		}
	}
	if (n == 0)
		return 0;
	if (n > BATCH_MAX / NFT_ELEM_MAX) {
		fail(e, "%zu pinholes in one transaction: at most %u", n, BATCH_MAX / NFT_ELEM_MAX);
		return -E2BIG;
	}
	msg = malloc(n * sizeof(*msg));
	errs = calloc(n, sizeof(*errs));
	if (!msg || !errs) {
		err = -ENOMEM;
		goto out;
	}
	err = batch_start(e);
	if (err)
		goto out;
	first = e->seq;
	nmsg = build_packed(e, ops, n, msg);
	if (nmsg < 0) {
		err = nmsg;
		goto out;
	}
	/* message errors land in errs[0..nmsg) */
	err = batch_send_mode(e, first, (uint32_t)nmsg, errs, &res, false, &echo);
	if (!err) {
		e->err[0] = '\0';
		goto out;
	}
	for (i = 0; i < n; i++)
		ops[i].counted = false;	/* nothing was deleted */
	if (res.first_idx != UINT32_MAX) {
		int merr = errs[res.first_idx];
		uint32_t m = res.first_idx;
		size_t end = m + 1 < (uint32_t)nmsg ? msg[m + 1] : n;

		memset(errs, 0, n * sizeof(*errs));
		if (end - msg[m] > 1) {
			diagnose(e, ops, n, errs, &res);
			err = res.first_err ? res.first_err : merr;
		}
		for (i = 0; i < n; i++)
			nfail += errs[i] != 0;
		if (!nfail) {
			/* not reproduced op by op: blame the whole message */
			for (i = msg[m]; i < end; i++)
				errs[i] = merr;
			nfail = end - msg[m];
			err = merr;
		}
		for (i = 0; i < n; i++) {
			ops[i].err = errs[i];
			if (errs[i] && bad == SIZE_MAX)
				bad = i;
		}
	}
	if (bad != SIZE_MAX) {
		const struct pinhole_op *op = &ops[bad];
		const char *why = err == -EEXIST ? "already open" :
				  err == -ENOENT && op->type == PINHOLE_DEL ?
				  "no such pinhole (or the table is gone)" :
				  err == -ENOENT ? "the table or its sets are missing: run setup" :
				  hint(err) ? hint(err) : res.kmsg;

		err = op->err;
		pinhole_format(&op->ph, what, sizeof(what));
		fail(e, "%s pinhole %s: %s (%s); %zu of %zu operations refused, none applied",
		     op->type == PINHOLE_ADD ? "adding" : "deleting", what,
		     strerror(-err), why, nfail, n);
	} else {
		fail(e, "transaction of %zu pinhole operations failed: %s%s%s; none applied",
		     n, strerror(-err), hint(err) ? ": " : "", hint(err) ? hint(err) : "");
	}
out:
	free(errs);
	free(msg);
	if (err == -ENOMEM)
		fail(e, "out of memory");
	return err;
}

/* --- dumps ---------------------------------------------------------------------- */

struct elem_attrs {
	const void *key;
	uint16_t key_len;
	uint64_t expires_ms, timeout_ms, packets, bytes;
	bool counted;			/* it has a counter */
	const char *comment;
	size_t comment_len;
};

typedef int (*elem_fn)(const char *set, const struct elem_attrs *ea, void *arg);

static void parse_counter(const struct nlattr *expr, struct elem_attrs *ea)
{
	const struct nlattr *a, *data = NULL;
	bool counter = false;

	mnl_attr_for_each_nested(a, expr) {
		if (mnl_attr_get_type(a) == NFTA_EXPR_NAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			counter = !strcmp(mnl_attr_get_str(a), "counter");
		else if (mnl_attr_get_type(a) == NFTA_EXPR_DATA)
			data = a;
	}
	if (!counter || !data)
		return;
	ea->counted = true;
	mnl_attr_for_each_nested(a, data) {
		if (mnl_attr_validate(a, MNL_TYPE_U64))
			continue;
		if (mnl_attr_get_type(a) == NFTA_COUNTER_PACKETS)
			ea->packets = be64toh(mnl_attr_get_u64(a));
		else if (mnl_attr_get_type(a) == NFTA_COUNTER_BYTES)
			ea->bytes = be64toh(mnl_attr_get_u64(a));
	}
}

static int parse_elem(const struct nlattr *elem, struct elem_attrs *ea)
{
	const struct nlattr *a, *b;

	memset(ea, 0, sizeof(*ea));
	mnl_attr_for_each_nested(a, elem) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY:
			mnl_attr_for_each_nested(b, a) {
				if (mnl_attr_get_type(b) == NFTA_DATA_VALUE) {
					ea->key = mnl_attr_get_payload(b);
					ea->key_len = mnl_attr_get_payload_len(b);
				}
			}
			break;
		case NFTA_SET_ELEM_TIMEOUT:
			if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
				ea->timeout_ms = be64toh(mnl_attr_get_u64(a));
			break;
		case NFTA_SET_ELEM_EXPIRATION:
			if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
				ea->expires_ms = be64toh(mnl_attr_get_u64(a));
			break;
		case NFTA_SET_ELEM_USERDATA: {
			const uint8_t *ud = mnl_attr_get_payload(a);
			uint16_t len = mnl_attr_get_payload_len(a), off = 0;

			while (off + 2 <= len && off + 2 + ud[off + 1] <= len) {
				if (ud[off] == NFTNL_UDATA_SET_ELEM_COMMENT && ud[off + 1] > 0) {
					ea->comment = (const char *)ud + off + 2;
					ea->comment_len = strnlen(ea->comment, ud[off + 1]);
				}
				off += 2 + ud[off + 1];
			}
			break;
		}
		case NFTA_SET_ELEM_EXPR:
			parse_counter(a, ea);
			break;
		case NFTA_SET_ELEM_EXPRESSIONS:
			mnl_attr_for_each_nested(b, a)
				parse_counter(b, ea);
			break;
		}
	}
	return ea->key ? 0 : -EINVAL;
}

struct dump_ctx {
	const char *set;
	elem_fn fn;
	void *arg;
};

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *dc = data;
	const struct nlattr *a, *el;
	struct elem_attrs ea;
	int ret;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, a) {
			if (parse_elem(el, &ea))
				continue;
			ret = dc->fn(dc->set, &ea, dc->arg);
			if (ret) {
				errno = ret < 0 ? -ret : 0;
				return ret < 0 ? MNL_CB_ERROR : MNL_CB_STOP;
			}
		}
	}
	return MNL_CB_OK;
}

static int dump_set(struct nft_enforcer *e, const char *set, elem_fn fn, void *arg)
{
	char buf[512] = { 0 };	/* padding libmnl leaves unwritten */
	struct dump_ctx dc = { set, fn, arg };
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
				    NLM_F_DUMP | NLM_F_ACK, e->seq++);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, e->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return request(e, nlh, elems_cb, &dc);
}

struct pinhole_dump {
	int (*cb)(const struct pinhole_entry *pe, void *arg);
	void *arg;
	int ret;
};

static int pinhole_elem(const char *set, const struct elem_attrs *ea, void *arg)
{
	struct pinhole_dump *pd = arg;
	struct pinhole_entry pe;

	memset(&pe, 0, sizeof(pe));
	if (pinhole_from_key(set, ea->key, ea->key_len, &pe.ph))
		return 0;	/* not a key we write: nothing to report */
	pe.ph.timeout_ms = (uint32_t)(ea->timeout_ms > UINT32_MAX ? UINT32_MAX : ea->timeout_ms);
	pe.expires_ms = ea->expires_ms;
	pe.packets = ea->packets;
	pe.bytes = ea->bytes;
	if (ea->comment)
		pe.owner_known = !pinhole_owner_parse(ea->comment, ea->comment_len, &pe.ph.owner);
	pd->ret = pd->cb(&pe, pd->arg);
	return pd->ret ? 1 : 0;
}

/* An echoed delete: the counters of the op it answers (next in order). */
static int echo_elem(const char *set, const struct elem_attrs *ea, void *arg)
{
	struct echo_ctx *ec = arg;
	uint8_t key[64];

	if (!ea->counted)
		return 0;
	for (size_t k = 0; k < ec->n; k++) {
		size_t i = (ec->next + k) % ec->n;
		struct pinhole_op *op = &ec->ops[i];
		const char *opset;
		size_t len;

		if (op->type != PINHOLE_DEL || op->counted)
			continue;
		len = pinhole_key(&op->ph, key, &opset);
		if (strcmp(opset, set) || len != ea->key_len || memcmp(key, ea->key, len))
			continue;
		op->counted = true;
		op->packets = ea->packets;
		op->bytes = ea->bytes;
		ec->next = i + 1;
		break;
	}
	return 0;
}

static void echo_read(const struct nlmsghdr *nlh, struct echo_ctx *ec)
{
	struct dump_ctx dc = { NULL, echo_elem, ec };
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			dc.set = mnl_attr_get_str(a);
	if (dc.set)
		elems_cb(nlh, &dc);
}

static const char *const pinhole_sets[] = {
	NFT_SET_PH4, NFT_SET_PH4_ANY, NFT_SET_PH6, NFT_SET_PH6_ANY,
};

int nft_enforcer_dump(struct nft_enforcer *e,
		      int (*cb)(const struct pinhole_entry *pe, void *arg), void *arg)
{
	struct pinhole_dump pd = { cb, arg, 0 };
	int err;

	for (size_t i = 0; i < 4; i++) {
		err = dump_set(e, pinhole_sets[i], pinhole_elem, &pd);
		if (err == 1)
			return pd.ret;
		if (err) {
			fail(e, "cannot dump set %s of table inet %s: %s%s", pinhole_sets[i],
			     e->table, strerror(-err),
			     err == -ENOENT ? " (the table is missing: run setup)" :
			     err == -EAGAIN ? " (changed during the dump: retry)" : "");
			return err;
		}
	}
	return 0;
}

int nft_enforcer_flush(struct nft_enforcer *e)
{
	struct batch_result res;
	struct nlmsghdr *nlh;
	uint32_t first;
	int err = batch_start(e);

	if (err)
		return err;
	first = e->seq;
	for (size_t i = 0; i < 4; i++) {
		nlh = nftnl_nlmsg_build_hdr(nlbuf_tail(&e->batch), NFT_MSG_DELSETELEM,
					    NFPROTO_INET, NLM_F_ACK, e->seq++);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, e->table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, pinhole_sets[i]);
		e->batch.len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	err = batch_send(e, first, 4, NULL, &res);
	if (err)
		fail(e, "cannot flush the pinholes of table inet %s: %s%s", e->table,
		     strerror(-err), err == -ENOENT ? " (the table is missing)" : "");
	return err;
}

int nft_enforcer_destroy(struct nft_enforcer *e)
{
	struct batch_result res;
	struct table_info ti;
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	uint32_t first;
	int err;

	/* by name only a table Dyper made: never an admin's of the same name */
	err = get_table(e, &ti);
	if (err) {
		fail(e, "cannot read table inet %s: %s", e->table, strerror(-err));
		return err;
	}
	if (!ti.exists) {
		fail(e, "there is no table inet %s", e->table);
		return -ENOENT;
	}
	if (!ti.ours) {
		fail(e, "table inet %s was not made by Dyper: left alone", e->table);
		return -EEXIST;
	}
	t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	err = batch_start(e);
	if (err) {
		nftnl_table_free(t);
		return err;
	}
	first = e->seq;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, e->table);
	nlh = nftnl_table_nlmsg_build_hdr(nlbuf_tail(&e->batch), NFT_MSG_DELTABLE,
					  NFPROTO_INET, NLM_F_ACK, e->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	e->batch.len += NLMSG_ALIGN(nlh->nlmsg_len);
	nftnl_table_free(t);
	err = batch_send(e, first, 1, NULL, &res);
	if (err)
		fail(e, "cannot delete table inet %s: %s%s", e->table, strerror(-err),
		     err == -EPERM ? " (owned by another process?)" : "");
	else
		e->flags = 0;
	return err;
}

/* --- integrity -------------------------------------------------------------------- */

struct rules_ctx {
	char **want;
	int n_want;
	int n_seen;
	int first_diff;		/* -1: none */
};

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rules_ctx *rc = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	char *text;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	text = nft_rule_text(r);
	nftnl_rule_free(r);
	if (!text)
		return MNL_CB_ERROR;
	if (rc->first_diff < 0 &&
	    (rc->n_seen >= rc->n_want || strcmp(text, rc->want[rc->n_seen])))
		rc->first_diff = rc->n_seen;
	rc->n_seen++;
	free(text);
	return MNL_CB_OK;
}

static int get_set(struct nft_enforcer *e, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	char buf[512] = { 0 };	/* padding libmnl leaves unwritten */

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, e->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, e->seq++);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return request(e, nlh, NULL, NULL);
}

struct keys_ctx {
	const uint8_t *want;	/* n keys of len bytes each */
	size_t n, len, seen;
	bool extra;
};

static int match_key(const char *set, const struct elem_attrs *ea, void *arg)
{
	struct keys_ctx *kc = arg;

	kc->seen++;
	for (size_t i = 0; i < kc->n; i++)
		if (ea->key_len == kc->len && !memcmp(ea->key, kc->want + i * kc->len, kc->len))
			return 0;
	kc->extra = true;
	return 0;
}

/* Does @set hold exactly the @n keys of @klen bytes at @keys (distinct)? */
static int check_static(struct nft_enforcer *e, const char *set, const uint8_t *keys,
			size_t klen, size_t n, bool *ok)
{
	struct keys_ctx kc = { keys, n, klen, 0, false };
	int err = dump_set(e, set, match_key, &kc);

	if (err)
		return err;
	*ok = !kc.extra && kc.seen == n;
	return 0;
}

int nft_enforcer_check(struct nft_enforcer *e, bool *intact)
{
	struct rules_ctx rc = { .first_diff = -1 };
	const char *chain = nft_chain_name(&e->cfg), *sets[NFT_MAX_SETS + 1];
	struct chain_info ci = { 0 };
	struct table_info ti;
	struct nftnl_rule *r = NULL;
	struct nlmsghdr *nlh;
	uint8_t *keys = NULL;
	char buf[1024] = { 0 };	/* padding libmnl leaves unwritten */
	size_t klen;
	bool ok;
	int err, n;

	*intact = false;
	err = get_table(e, &ti);
	if (err)
		goto out;
	if (!ti.exists) {
		fail(e, "table inet %s is gone", e->table);
		return 0;
	}
	/* Without our own setup, any owner state of a Dyper table is fine. */
	if (!ti.ours || (ti.flags & NFT_TABLE_F_DORMANT) ||
	    (e->set_up ? ti.flags != e->flags :
			 (ti.flags & ~(NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)) != 0)) {
		fail(e, "table inet %s was changed: flags 0x%x, expected 0x%x%s", e->table,
		     ti.flags, e->flags, ti.ours ? "" : ", comment replaced");
		return 0;
	}

	err = get_chain(e, chain, &ci);
	if (err)
		goto out;
	if (!ci.found || ci.hook != nft_chain_hook(&e->cfg) || ci.prio != e->cfg.priority ||
	    ci.policy != nft_chain_policy(&e->cfg)) {
		fail(e, "chain %s of table inet %s is %s", chain, e->table,
		     ci.found ? "changed (hook, priority or policy)" : "gone");
		goto out;
	}

	rc.n_want = nft_expected_rules(&e->cfg, &rc.want);
	if (rc.n_want < 0) {
		err = rc.n_want;
		goto out;
	}
	r = nftnl_rule_alloc();
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, e->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
					 NLM_F_DUMP | NLM_F_ACK, e->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	err = request(e, nlh, rule_cb, &rc);
	if (err)
		goto out;
	if (rc.first_diff >= 0 || rc.n_seen != rc.n_want) {
		fail(e, "the rules of chain %s in table inet %s were changed (%d rules, "
		     "expected %d; first difference at rule %d)", chain, e->table, rc.n_seen,
		     rc.n_want, rc.first_diff >= 0 ? rc.first_diff + 1 :
		     (rc.n_seen < rc.n_want ? rc.n_seen : rc.n_want) + 1);
		goto out;
	}

	nft_mode_sets(&e->cfg, sets);
	for (size_t i = 0; sets[i]; i++) {
		/* one GETSET each: dumping a big set only to see that it exists
		 * would stall the caller (the kernel's hash walk restarts for
		 * every dump message) */
		err = get_set(e, sets[i]);
		if (err == -ENOENT) {
			fail(e, "set %s of table inet %s is gone", sets[i], e->table);
			err = 0;
			goto out;
		}
		if (err)
			goto out;
	}
	keys = malloc(NFT_STATIC_KEYS_MAX);
	if (!keys) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; sets[i]; i++) {
		n = nft_static_keys(&e->cfg, sets[i], keys, &klen);
		if (n == -ENOENT)
			continue;	/* a pinhole set */
		err = n < 0 ? n : check_static(e, sets[i], keys, klen, (size_t)n, &ok);
		if (err)
			goto out;
		if (!ok) {
			fail(e, "%s of table inet %s (set %s) were changed", nft_static_what(sets[i]),
			     e->table, sets[i]);
			goto out;
		}
	}
	*intact = true;
	e->err[0] = '\0';
out:
	free(keys);
	if (rc.want)
		nft_free_lines(rc.want, rc.n_want);
	if (r)
		nftnl_rule_free(r);
	if (err)
		fail(e, "cannot read table inet %s: %s", e->table, strerror(-err));
	return err;
}

int nft_enforcer_foreign_change(struct nft_enforcer *e, bool *changed)
{
	uint32_t gen;
	int err = nft_enforcer_generation(e, &gen);

	if (err)
		return err;
	*changed = !e->gen_known || gen != e->expected_gen;
	e->expected_gen = gen;
	e->gen_known = true;
	return 0;
}
