#include "lb/access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

#define FLUSH_AT (32 * 1024)  /* write early when this much is queued */

int access_log_open(const char *where, int *fd, char *err, size_t errlen)
{
	if (strcmp(where, "off") == 0) {
		*fd = -1;
	} else if (strcmp(where, "stdout") == 0) {
		*fd = STDOUT_FILENO;
	} else if (strcmp(where, "stderr") == 0) {
		*fd = STDERR_FILENO;
	} else {
		*fd = open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (*fd < 0) {
			snprintf(err, errlen, "access-log: cannot open %s: %s", where, strerror(errno));
			return ERR_CONFIG;
		}
	}
	return 0;
}

void access_log_flush(struct lb_worker *w)
{
	struct buf *b = &w->access_buf;
	while (buf_pending(b)) {
		ssize_t n = write(w->lb->access_fd, b->data + b->off, buf_pending(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;  /* a full pipe or disk: lines are dropped, never waited for */
		buf_consume(b, (size_t)n);
	}
	buf_reset(b);
	b->oom = false;
}

static void flush_deferred(struct loop_deferred *d)
{
	struct lb_worker *w = container_of(d, struct lb_worker, access_flush);
	w->access_flush_armed = false;
	access_log_flush(w);
}

static void write_text(struct buf *b, const struct access_entry *e, const char *client)
{
	buf_printf(b, "%s \"%s %s HTTP/1.%d\" ", client, e->method, e->target, e->minor);
	if (e->status)
		buf_printf(b, "%d", e->status);
	else
		buf_puts(b, "-");
	buf_printf(b, " %llu %s/%s %llu.%03llums rid=%s\n", (unsigned long long)e->bytes,
		   e->pool ? e->pool : "-", e->server ? e->server : "-",
		   (unsigned long long)(e->duration_us / 1000),
		   (unsigned long long)(e->duration_us % 1000), e->request_id);
}

static void write_json(struct buf *b, const struct access_entry *e, const char *client)
{
	buf_printf(b, "{\"client\":\"%s\",\"method\":\"", client);
	buf_json_str(b, e->method);
	buf_puts(b, "\",\"target\":\"");
	buf_json_str(b, e->target);
	buf_printf(b, "\",\"version\":\"HTTP/1.%d\",\"status\":%d,\"bytes\":%llu,", e->minor,
		   e->status, (unsigned long long)e->bytes);
	if (e->pool)
		buf_printf(b, "\"pool\":\"%s\",\"server\":\"%s\",", e->pool, e->server);
	else
		buf_puts(b, "\"pool\":null,\"server\":null,");
	buf_printf(b, "\"duration_ms\":%llu.%03llu,\"request_id\":\"",
		   (unsigned long long)(e->duration_us / 1000),
		   (unsigned long long)(e->duration_us % 1000));
	buf_json_str(b, e->request_id);
	buf_puts(b, "\"}\n");
}

void access_log_write(struct lb_worker *w, const struct access_entry *e)
{
	if (w->lb->access_fd < 0)
		return;
	char client[SOCK_ADDR_STRLEN];
	sock_addr_str(e->client, client, sizeof(client));
	if (w->gen->conf->log_format == LOG_JSON)
		write_json(&w->access_buf, e, client);
	else
		write_text(&w->access_buf, e, client);
	if (buf_pending(&w->access_buf) >= FLUSH_AT) {
		access_log_flush(w);
	} else if (!w->access_flush_armed) {
		w->access_flush_armed = true;
		w->access_flush.fn = flush_deferred;
		loop_defer(w->loop, &w->access_flush);
	}
}
