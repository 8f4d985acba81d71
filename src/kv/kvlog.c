#include "kv/kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/buf.h"
#include "core/err.h"

enum { REC_SET = 1, REC_DEL = 2, REC_DEL_ALL = 3 };

#define HEAD 8                        /* length, checksum */
#define BODY_HEAD 13                  /* type, key length, expiry */

struct kv_log {
	int fd, dir_fd;
	char path[4096];
	char tmp[4096 + 8];
	size_t size;                      /* bytes in the file */
	size_t unread;                    /* bytes after the last whole record replayed */
	char kept[4096 + 32];             /* where kvlog_keep put them */
	struct buf batch;
};

#define BATCH_KEEP (1u << 20)         /* a batch buffer larger than this is freed after use */

int kvlog_open(const char *dir, struct kv_log **out, char *err, size_t errlen)
{
	struct kv_log *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(l->path, sizeof(l->path), "%s/wal", dir);
	snprintf(l->tmp, sizeof(l->tmp), "%s.tmp", l->path);
	l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	l->fd = l->dir_fd < 0 ? -1 : open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct stat st;
	if (l->fd < 0 || fstat(l->fd, &st) < 0) {
		int rc = err_sys();
		snprintf(err, errlen, "cannot open %s: %s", l->path, err_str(rc));
		kvlog_close(l);
		return rc;
	}
	l->size = (size_t)st.st_size;
	*out = l;
	return 0;
}

void kvlog_close(struct kv_log *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	buf_free(&l->batch);
	free(l);
}

static int append(struct kv_log *l, int type, const void *key, size_t klen, int64_t expire,
		  const void *val, size_t vlen)
{
	if (klen + vlen > UINT32_MAX - BODY_HEAD)
		return -EFBIG;  /* the length would wrap */
	uint32_t len = (uint32_t)(BODY_HEAD + klen + vlen), k32 = (uint32_t)klen;
	size_t at = l->batch.len;
	uint8_t head[HEAD + BODY_HEAD];
	head[HEAD] = (uint8_t)type;
	memcpy(head + HEAD + 1, &k32, 4);
	memcpy(head + HEAD + 5, &expire, 8);
	memcpy(head, &len, 4);
	buf_append(&l->batch, head, sizeof(head));
	buf_append(&l->batch, key, klen);
	buf_append(&l->batch, val, vlen);
	if (l->batch.oom)
		return -ENOMEM;
	uint32_t sum = XXH32(l->batch.data + at + HEAD, len, 0);
	memcpy(l->batch.data + at + 4, &sum, 4);
	return 0;
}

int kvlog_set(struct kv_log *l, const struct kv_entry *e)
{
	return append(l, REC_SET, e->data, e->klen, e->expire_ms, e->data + e->klen, e->vlen);
}

int kvlog_del(struct kv_log *l, const void *key, size_t len)
{
	return append(l, REC_DEL, key, len, 0, NULL, 0);
}

int kvlog_del_all(struct kv_log *l)
{
	return append(l, REC_DEL_ALL, NULL, 0, 0, NULL, 0);
}

int kvlog_write(struct kv_log *l, bool sync)
{
	int rc = 0;
	size_t off = l->batch.off;
	while (rc == 0 && off < l->batch.len) {
		ssize_t n = write(l->fd, l->batch.data + off, l->batch.len - off);
		if (n < 0 && errno != EINTR)
			rc = err_sys();
		else if (n == 0)
			rc = -EIO;
		else if (n > 0)
			off += (size_t)n;
	}
	if (rc == 0 && sync && fdatasync(l->fd) < 0)
		rc = err_sys();
	if (rc == 0)
		l->size += l->batch.len - l->batch.off;
	else if (ftruncate(l->fd, (off_t)l->size) < 0)
		rc = err_sys();  /* still failing: the caller must not write here again before a reset */
	kvlog_discard(l);
	return rc;
}

void kvlog_discard(struct kv_log *l)
{
	if (l->batch.oom || l->batch.cap > BATCH_KEEP)
		buf_free(&l->batch);  /* a sticky out-of-memory flag, or a large value's room */
	else
		buf_reset(&l->batch);
}

size_t kvlog_unread(const struct kv_log *l)
{
	return l->unread;
}

const char *kvlog_keep(struct kv_log *l)
{
	snprintf(l->kept, sizeof(l->kept), "%s.damaged-%ld", l->path, (long)time(NULL));
	if (link(l->path, l->kept) < 0)
		snprintf(l->kept, sizeof(l->kept), "nothing (cannot link %s: %s)", l->path,
			 strerror(errno));
	return l->kept;
}

size_t kvlog_size(const struct kv_log *l)
{
	return l->size;
}

long kvlog_replay(struct kv_log *l, struct kv_store *s)
{
	char *data = l->size ? malloc(l->size) : NULL;
	if (l->size && !data)
		return -ENOMEM;
	size_t got = 0;
	while (got < l->size) {
		ssize_t n = pread(l->fd, data + got, l->size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? err_sys() : -EIO;
			free(data);
			return rc;
		}
		got += (size_t)n;
	}
	size_t used;
	long applied = kvlog_apply(data, got, s, &used);
	l->unread = got - used;
	free(data);
	return applied;
}

long kvlog_apply(const char *data, size_t size, struct kv_store *s, size_t *used)
{
	long applied = 0;
	int rc = 0;
	size_t at = 0;
	for (; rc == 0 && size - at >= HEAD + BODY_HEAD; applied++) {
		uint32_t len, sum, klen;
		int64_t expire;
		memcpy(&len, data + at, 4);
		memcpy(&sum, data + at + 4, 4);
		if (len < BODY_HEAD || len > size - at - HEAD || XXH32(data + at + HEAD, len, 0) != sum)
			break;  /* cut short or damaged: the rest was never acknowledged */
		const char *body = data + at + HEAD;
		memcpy(&klen, body + 1, 4);
		memcpy(&expire, body + 5, 8);
		if (klen > len - BODY_HEAD)
			break;
		const char *key = body + BODY_HEAD, *val = key + klen;
		size_t vlen = len - BODY_HEAD - klen;
		if (body[0] == REC_DEL_ALL)
			kvstore_flush(s);
		else if (body[0] == REC_DEL || (expire && expire <= s->now_ms))
			kvstore_del(s, key, klen);
		else if (body[0] == REC_SET)
			rc = kvstore_set(s, key, klen, val, vlen, expire, false, NULL);
		at += HEAD + len;
	}
	*used = at;
	return rc < 0 ? rc : applied;
}

int kvlog_reset(struct kv_log *l)
{
	int fd = open(l->tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys();
	if (fsync(fd) < 0 || rename(l->tmp, l->path) < 0 || fsync(l->dir_fd) < 0) {
		int rc = err_sys();
		close(fd);
		return rc;
	}
	close(l->fd);
	l->fd = fd;
	l->size = 0;
	buf_reset(&l->batch);
	return 0;
}
