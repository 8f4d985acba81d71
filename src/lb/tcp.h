/*
 * tcp.h - the L4 proxy session: one client connection, one server
 * connection, bytes forwarded both ways.
 *
 * Each direction starts by copying through a 16 KiB buffer that it holds
 * only while bytes wait in it (small request/response exchanges cost one
 * recv and one send each, and an idle connection holds no memory); once a
 * read fills the buffer the direction is a bulk stream and switches to
 * splice(2) through a pipe, so bulk bytes never enter user space. Each
 * direction reads only when its pipe or buffer is empty, so a slow reader
 * stops the writer's side from being read: memory per connection is bounded
 * (one buffer or one 64 KiB pipe per direction) whatever the rates. A FIN is forwarded
 * once the direction is drained (half-close); the other direction keeps
 * flowing until it ends too. A reset or error on either side aborts both
 * (the other side gets a reset).
 *
 * Both sockets are registered edge-triggered for reading and writing once;
 * the session keeps readiness flags and clears one only on EAGAIN. A
 * session that used up its per-wake budget schedules itself again with a
 * zero-delay timer, so one fast stream cannot starve the others.
 */
#ifndef STRATA_LB_TCP_H
#define STRATA_LB_TCP_H

#include "lb/lb-t.h"

/*
 * tcp_session_start - take over accepted client socket `fd` from `peer` on
 * listener `a`, choose a server and connect. Never fails from the caller's
 * point of view: on any error the client socket is closed and the
 * listener's counters are settled.
 */
void tcp_session_start(struct lb_accept *a, int fd, const struct sock_addr *peer);

/* tcp_worker_release - close every session still open on the worker and its
 * cached pipes. Only once the worker thread has stopped (at exit). */
void tcp_worker_release(struct lb_worker *w);

#endif
