#include "net/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

static bool resolve_names = true;

void sock_resolve_names(bool allow)
{
	resolve_names = allow;
}

int sock_addr_parse(const char *text, struct sock_addr *out)
{
	char host[256];
	const char *port;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
			return ERR_PARSE;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
			return ERR_PARSE;
		if (memchr(text, ':', (size_t)(colon - text)))
			return ERR_PARSE;  /* bare IPv6 needs brackets */
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = colon + 1;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return ERR_PARSE;
	long p = strtol(port, NULL, 10);
	if (p < 1 || p > 65535)
		return ERR_PARSE;

	/* getaddrinfo takes inet_aton's shorthands ("1.2.3", "0x7f.1"); an
	 * address written in digits and dots must be a full dotted quad. */
	if (strspn(host, "0123456789.") == strlen(host)) {
		struct in_addr in4;
		if (inet_pton(AF_INET, host, &in4) != 1)
			return ERR_PARSE;
	}
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = resolve_names ? 0 : AI_NUMERICHOST,
	};
	struct addrinfo *res;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return ERR_PARSE;
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const void *sock_addr_bytes(const struct sock_addr *a, size_t *len)
{
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		*len = sizeof(s->sin6_addr);
		return &s->sin6_addr;
	}
	const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
	*len = sizeof(s->sin_addr);
	return &s->sin_addr;
}

void sock_addr_host(const struct sock_addr *a, char *out, size_t n)
{
	size_t len;
	const void *bytes = sock_addr_bytes(a, &len);
	if (!inet_ntop(a->ss.ss_family, bytes, out, (socklen_t)n))
		snprintf(out, n, "?");
}

void sock_addr_str(const struct sock_addr *a, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

bool sock_addr_equal(const struct sock_addr *a, const struct sock_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

bool sock_addr_is_loopback(const struct sock_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(in6) ||
		       (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
	}
	return false;
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int sock_listen(const struct sock_addr *a, int backlog)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys();
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, backlog) < 0) {
		int rc = err_sys();
		close(fd);
		return rc;
	}
	return fd;
}

int sock_accept(int listen_fd, struct sock_addr *peer)
{
	struct sock_addr tmp;
	struct sock_addr *p = peer ? peer : &tmp;
	p->len = sizeof(p->ss);
	int fd = accept4(listen_fd, (struct sockaddr *)&p->ss, &p->len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? ERR_AGAIN : err_sys();
	set_nodelay(fd);
	return fd;
}

int sock_connect(const struct sock_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys();
	set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
		int rc = err_sys();
		close(fd);
		return rc;
	}
	return fd;
}

int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return err_sys();
	return -err;
}
