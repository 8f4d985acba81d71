#include "id/idstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/err.h"

struct idstore {
	int host_fd;                      /* the host-wide lock: an abstract socket */
	int lock_fd;
	int dir_fd;                       /* fsynced after a rename */
	char path[4096];                  /* the state file */
	char tmp[4096 + 8];
};

int idstore_open(const char *dir, uint64_t dc, uint64_t worker, struct idstore **out,
		 uint64_t *floor_ms, char *err, size_t errlen)
{
	struct idstore *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char lock[4096 + 32];
	snprintf(lock, sizeof(lock), "%s/id-%" PRIu64 "-%" PRIu64 ".lock", dir, dc, worker);
	snprintf(s->path, sizeof(s->path), "%s/id-%" PRIu64 "-%" PRIu64 ".state", dir, dc, worker);
	snprintf(s->tmp, sizeof(s->tmp), "%s.tmp", s->path);
	/* Host-wide, whatever the directory: a name in the abstract socket
	 * namespace, held while the process lives (however it ends). */
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int len = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
			   "strata-id/%" PRIu64 "/%" PRIu64, dc, worker);
	s->host_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->host_fd < 0 || bind(s->host_fd, (struct sockaddr *)&un,
				   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) < 0) {
		int rc = errno == EADDRINUSE ? -EEXIST : err_sys();
		if (rc == -EEXIST)
			snprintf(err, errlen, "datacenter %" PRIu64 " worker %" PRIu64 " is already "
				 "running on this host", dc, worker);
		else
			snprintf(err, errlen, "cannot take the host lock: %s", err_str(rc));
		if (s->host_fd >= 0)
			close(s->host_fd);
		free(s);
		return rc;
	}
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->lock_fd = s->dir_fd < 0 ? -1 : open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		int rc = err_sys();
		snprintf(err, errlen, "cannot open %s: %s", s->dir_fd < 0 ? dir : lock, err_str(rc));
		if (s->dir_fd >= 0)
			close(s->dir_fd);
		close(s->host_fd);
		free(s);
		return rc;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? -EEXIST : err_sys();
		if (rc == -EEXIST)
			snprintf(err, errlen, "datacenter %" PRIu64 " worker %" PRIu64 " is already "
				 "running on this host (%s is locked)", dc, worker, lock);
		else
			snprintf(err, errlen, "cannot lock %s: %s", lock, err_str(rc));
		close(s->lock_fd);
		close(s->dir_fd);
		close(s->host_fd);
		free(s);
		return rc;
	}
	*floor_ms = 0;
	FILE *f = fopen(s->path, "re");
	if (f) {
		uint64_t last;
		char how[16];
		int n = fscanf(f, "%" SCNu64 " %15s", &last, how);
		fclose(f);
		if (n != 2 || (strcmp(how, "clean") != 0 && strcmp(how, "running") != 0)) {
			snprintf(err, errlen, "%s is not a strata id state file", s->path);
			idstore_close(s);
			return ERR_PARSE;
		}
		*floor_ms = last;
	} else if (errno != ENOENT) {
		int rc = err_sys();
		snprintf(err, errlen, "cannot read %s: %s", s->path, err_str(rc));
		idstore_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void idstore_close(struct idstore *s)
{
	if (!s)
		return;
	close(s->lock_fd);  /* releases the flock */
	close(s->dir_fd);
	close(s->host_fd);
	free(s);
}

int idstore_save(struct idstore *s, uint64_t ms, bool clean)
{
	int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys();
	char line[64];
	int n = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", ms, clean ? "clean" : "running");
	ssize_t w = write(fd, line, (size_t)n);
	int rc = w < 0 ? err_sys() : w != n ? -EIO : fsync(fd) < 0 ? err_sys() : 0;
	close(fd);
	/* The rename is durable only once the directory is. */
	if (rc == 0 && (rename(s->tmp, s->path) < 0 || fsync(s->dir_fd) < 0))
		rc = err_sys();
	return rc;
}

const char *idstore_path(const struct idstore *s)
{
	return s->path;
}
