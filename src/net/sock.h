/*
 * sock.h - addresses and non-blocking TCP sockets.
 *
 * Every descriptor returned here is non-blocking and close-on-exec, and is
 * the caller's to close.
 */
#ifndef STRATA_SOCK_H
#define STRATA_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct sock_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Longest text sock_addr_str writes, with its NUL: "[v6]:65535". */
#define SOCK_ADDR_STRLEN 56

/*
 * sock_addr_parse - parse "HOST:PORT" or "[IPV6]:PORT". HOST is an IP
 * address or a name resolved once, now (blocking), to its first address.
 * Returns 0, or ERR_PARSE when the text is malformed, the port is not in
 * 1..65535 or the name does not resolve.
 */
int sock_addr_parse(const char *text, struct sock_addr *out);

/*
 * sock_resolve_names - whether sock_addr_parse may resolve host names
 * (default: yes). Fuzzers turn it off so random input never reaches DNS.
 */
void sock_resolve_names(bool allow);

/* sock_addr_str - "1.2.3.4:80" or "[::1]:80" into out (SOCK_ADDR_STRLEN). */
void sock_addr_str(const struct sock_addr *a, char *out, size_t n);

/* sock_addr_host - the address alone, "1.2.3.4" or "::1" (no port, no
 * brackets), into out (SOCK_ADDR_STRLEN). */
void sock_addr_host(const struct sock_addr *a, char *out, size_t n);

/* sock_addr_bytes - the raw address (4 or 16 bytes, no port), pointing into
 * `a`; its length goes to *len. The identity of a client, for hashing. */
const void *sock_addr_bytes(const struct sock_addr *a, size_t *len);

/* sock_addr_is_loopback - 127.0.0.0/8 or ::1 (or an IPv4-mapped 127.x). */
bool sock_addr_is_loopback(const struct sock_addr *a);

/* sock_addr_equal - same family, address and port. */
bool sock_addr_equal(const struct sock_addr *a, const struct sock_addr *b);

/*
 * sock_listen - a listening TCP socket bound to `a` (SO_REUSEADDR).
 * Returns the descriptor or a negative errno.
 */
int sock_listen(const struct sock_addr *a, int backlog);

/*
 * sock_accept - accept one connection (non-blocking, TCP_NODELAY set).
 * Returns the descriptor, ERR_AGAIN when none is pending, or a negative
 * errno. `peer` may be NULL.
 */
int sock_accept(int listen_fd, struct sock_addr *peer);

/*
 * sock_connect - start a non-blocking connect to `a` (TCP_NODELAY set).
 * Returns the descriptor, with the connect completed or in progress (wait
 * for writability, then read sock_error), or a negative errno.
 */
int sock_connect(const struct sock_addr *a);

/* sock_error - the socket's pending error as a negative errno, or 0. */
int sock_error(int fd);

#endif
