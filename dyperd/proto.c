// SPDX-License-Identifier: GPL-2.0-or-later
/* The agent channel's wire protocol: strict encoding and decoding.
 * Compiled into dyperd, the agent and the wrapper. */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "dyperd/proto.h"

int dyper_payload_size(uint16_t type)
{
	switch (type) {
	case DYPER_MSG_HELLO:
		return sizeof(struct dyper_hello);
	case DYPER_MSG_OPEN:
	case DYPER_MSG_CLOSE:
		return sizeof(struct dyper_pinhole_req);
	case DYPER_MSG_BYE:
	case DYPER_MSG_TICKET:
		return 0;
	case DYPER_MSG_RESUME:
	case DYPER_MSG_TICKET_REPLY:
		return sizeof(struct dyper_ticket);
	case DYPER_MSG_REPLY:
		return sizeof(struct dyper_reply);
	default:
		return -1;
	}
}

int dyper_resume_path(const char *agent_path, char *buf, size_t len)
{
	const char *slash = strrchr(agent_path, '/');
	size_t dir = slash ? (size_t)(slash - agent_path) + 1 : 0;

	if (!agent_path[0] || (slash && !slash[1]))
		return -EINVAL;
	if (dir + sizeof(DYPER_RESUME_NAME) > len)
		return -ENAMETOOLONG;
	memcpy(buf, agent_path, dir);
	memcpy(buf + dir, DYPER_RESUME_NAME, sizeof(DYPER_RESUME_NAME));
	return 0;
}

socklen_t dyper_resume_abstract(const char *agent_path, struct sockaddr_un *sa)
{
	static const char prefix[] = "dyper-resume:";
	size_t room = sizeof(sa->sun_path) - 1 - (sizeof(prefix) - 1), n = strlen(agent_path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, prefix, sizeof(prefix) - 1);
	if (n > room)
		n = room;
	memcpy(sa->sun_path + sizeof(prefix), agent_path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(prefix) + n);
}

int dyper_msg_encode(void *buf, size_t len, uint16_t type, uint16_t flags, uint32_t id,
		     const void *payload, size_t plen)
{
	struct dyper_hdr h = {
		.version = DYPER_PROTO_VERSION, .type = type, .flags = flags,
		.len = (uint16_t)plen, .id = id,
	};
	int want = dyper_payload_size(type);

	if (want < 0 || (size_t)want != plen || (flags & ~DYPER_F_REPLY_FD))
		return -EINVAL;
	if (len < sizeof(h) + plen)
		return -ENOSPC;
	memcpy(buf, &h, sizeof(h));
	if (plen)
		memcpy((char *)buf + sizeof(h), payload, plen);
	return (int)(sizeof(h) + plen);
}

int dyper_msg_decode(const void *buf, size_t len, struct dyper_hdr *hdr,
		     const void **payload)
{
	int want;

	if (len < sizeof(*hdr))
		return -EBADMSG;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->version != DYPER_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	want = dyper_payload_size(hdr->type);
	if (want < 0)
		return -EOPNOTSUPP;
	if (hdr->len != (size_t)want || len != sizeof(*hdr) + (size_t)want ||
	    (hdr->flags & ~DYPER_F_REPLY_FD))
		return -EBADMSG;
	*payload = (const char *)buf + sizeof(*hdr);
	return 0;
}

int dyper_req_validate(const struct dyper_pinhole_req *req)
{
	if (req->family != AF_INET && req->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (req->proto != IPPROTO_TCP && req->proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	if (req->local_port == 0 || (req->flags & ~DYPER_REQ_ONESHOT))
		return -EINVAL;
	if (req->family == AF_INET) {
		static const uint8_t zero[12];

		/* IPv4 lives in the first 4 bytes; the rest must be clean */
		if (memcmp(req->remote + 4, zero, 12) || memcmp(req->local + 4, zero, 12))
			return -EINVAL;
	}
	return 0;
}
