/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The agent channel's wire protocol: what the agent (preload/) and the
 * wrapper (wrap/) send dyperd over its AF_UNIX SOCK_SEQPACKET socket.  This
 * header is all of dyperd they may include.
 *
 * One message = one datagram: a fixed header, then the fixed payload of its
 * type; the total length must be exactly sizeof(hdr) + the payload size.
 * Fields are in the host's byte order (the channel never leaves the host);
 * ports are in host order, addresses in network order.
 *
 * Identity never comes from a message field: dyperd takes it from the
 * kernel (SO_PEERCRED at connect, SCM_CREDENTIALS on every message).
 *
 * Replies: a request may carry, as the LAST descriptor in its SCM_RIGHTS,
 * one end of a socketpair (flag DYPER_F_REPLY_FD); dyperd then writes the
 * reply there and closes it, so that after fork() or in a threaded program
 * the reply reaches exactly the process and thread that asked, even though
 * they all share one inherited channel.  Without the flag the reply comes
 * back on the channel itself.
 *
 * Resuming (a channel outliving dyperd: restart, upgrade, crash): the
 * agent asks for its channel's ticket (TICKET) and keeps it in memory.
 * When dyperd is gone and back, the agent connects to the resume socket
 * next to the agent socket, which every user may reach (the program no
 * longer holds the wrapper's group), sends RESUME with the ticket as its
 * first and only request, and on success uses that connection as its
 * channel, with the identity the old one had and nothing more
 * (dyperd/resume.c).
 */
#ifndef DYPER_PROTO_H
#define DYPER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define DYPER_PROTO_VERSION	1
#define DYPER_AGENT_SOCKET	"/run/dyper/agent.sock"
#define DYPER_CONTROL_SOCKET	"/run/dyper/control.sock"
/* The environment variable through which the wrapper tells the agent which
 * descriptor is its channel. */
#define DYPER_CHANNEL_ENV	"DYPER_CHANNEL_FD"

enum dyper_msg_type {
	DYPER_MSG_HELLO = 1,	/* struct dyper_hello */
	DYPER_MSG_OPEN = 2,	/* struct dyper_pinhole_req; SCM_RIGHTS: the socket */
	DYPER_MSG_CLOSE = 3,	/* struct dyper_pinhole_req */
	DYPER_MSG_BYE = 4,	/* no payload: this channel is done */
	DYPER_MSG_TICKET = 5,	/* no payload: the channel's resume ticket, please */
	DYPER_MSG_RESUME = 6,	/* struct dyper_ticket: on the resume socket only */
	DYPER_MSG_REPLY = 128,	/* struct dyper_reply */
	DYPER_MSG_TICKET_REPLY = 129,	/* struct dyper_ticket */
};

enum dyper_msg_flags {
	DYPER_F_REPLY_FD = 1u << 0,	/* last passed descriptor is the reply socket */
};

struct dyper_hdr {
	uint16_t version;	/* DYPER_PROTO_VERSION */
	uint16_t type;		/* enum dyper_msg_type */
	uint16_t flags;		/* enum dyper_msg_flags; unknown bits are refused */
	uint16_t len;		/* payload bytes after this header */
	uint32_t id;		/* chosen by the requester, echoed in the reply */
};

enum dyper_hello_flags {
	/* dyper-wrap's HELLO, the channel's first message: the first passed
	 * descriptor is the file the program it is about to exec will run as
	 * (none: no file could be told).  dyperd grants program= rules on
	 * this channel only to processes running that file. */
	DYPER_HELLO_PROGRAM = 1u << 0,
};

struct dyper_hello {
	uint32_t agent_version;	/* DYPER_PROTO_VERSION of the sender */
	uint32_t flags;		/* enum dyper_hello_flags; 0 from the agent */
};

enum dyper_req_flags {
	DYPER_REQ_ONESHOT = 1u << 0,	/* TCP: close once the connection is accepted */
};

struct dyper_pinhole_req {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t remote_port;	/* 0: any remote port */
	uint16_t local_port;
	uint16_t flags;		/* enum dyper_req_flags */
	uint8_t remote[16];	/* network order; IPv4 in the first 4 bytes */
	uint8_t local[16];
	uint32_t lifetime_ms;	/* wished lifetime, 0: the policy's; policy may shorten */
};

#define DYPER_REASON_LEN 96

struct dyper_reply {
	int32_t status;		/* 0 or -errno (EACCES: policy, EPERM: not verified, ...) */
	uint32_t pinhole_id;	/* dyperd's id of the pinhole, 0 if none */
	uint32_t lifetime_ms;	/* granted lifetime, 0: until closed */
	char reason[DYPER_REASON_LEN];	/* NUL-terminated, for logs */
};

#define DYPER_SECRET_LEN 32
#define DYPER_RESUME_NAME "resume.sock"	/* in the agent socket's directory */

/* Proves to a restarted dyperd that a connection is channel @channel_id:
 * the secret dyperd drew for it (getrandom), held in memory only. */
struct dyper_ticket {
	uint64_t channel_id;
	uint8_t secret[DYPER_SECRET_LEN];
};

#define DYPER_MSG_MAX (sizeof(struct dyper_hdr) + sizeof(struct dyper_pinhole_req))

/* Payload size of @type, or -1 for an unknown type. */
int dyper_payload_size(uint16_t type);

/*
 * Writes header and payload into @buf (@len bytes).  Returns the message
 * length, or -EINVAL (bad type or payload size) / -ENOSPC.
 */
int dyper_msg_encode(void *buf, size_t len, uint16_t type, uint16_t flags, uint32_t id,
		     const void *payload, size_t plen);

/*
 * Checks a received datagram of @len bytes: -EPROTONOSUPPORT for another
 * version, -EBADMSG for a short, long or inconsistent message or unknown
 * flags, -EOPNOTSUPP for an unknown type.  On 0, *@hdr is the header and
 * *@payload points into @buf.
 */
int dyper_msg_decode(const void *buf, size_t len, struct dyper_hdr *hdr,
		     const void **payload);

/* The resume socket's path for the agent socket @agent_path: the same
 * directory, DYPER_RESUME_NAME.  0 or -ENAMETOOLONG / -EINVAL. */
int dyper_resume_path(const char *agent_path, char *buf, size_t len);

/* The same resume socket in the abstract namespace of the network
 * namespace, for a process chrooted where the path is not (vsftpd's
 * sessions): "\0dyper-resume:" and @agent_path, cut to fit.  Anyone may
 * bind such a name, so the agent talks to it only when its peer has the
 * uid its channel's peer had.  Returns the address length. */
socklen_t dyper_resume_abstract(const char *agent_path, struct sockaddr_un *sa);

/* Checks the fields of a request: family, protocol, ports, flags. */
int dyper_req_validate(const struct dyper_pinhole_req *req);

#endif
