#include "kv/kvdisk.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "kv/kvlog.h"

#define MAP_START (16ULL * 1024 * 1024)  /* doubled when full */
#define LOG_MAX (64u * 1024 * 1024)       /* a longer write-ahead log is applied at once */

struct kv_disk {
	MDB_env *env;
	MDB_dbi dbi;
	enum kv_fsync mode;
	struct kv_store *store;
	size_t map_size;
	struct buf noted;                 /* keys to write: size_t length, bytes */
	bool flushed;                     /* every key went away first */
	bool rewrite;                     /* noting ran out of memory: write every key */
	/* --fsync always and everysec: batches go to the write-ahead log,
	 * and to LMDB at the next checkpoint */
	struct kv_log *log;
	struct buf logged;                /* keys in the log, not yet in LMDB */
	bool logged_flushed;              /* the log holds a FLUSHALL LMDB has not seen */
	uint64_t commits;
	uint64_t failures;                /* times the store went from working to failing */
	char error[160];
};

static int checkpoint(struct kv_disk *d);

/* LMDB's codes are positive, the log's negative errnos. */
static const char *lmdb_str(int rc)
{
	return rc < 0 ? err_str(rc) : mdb_strerror(rc);
}

static const char *const fsync_names[] = { "always", "everysec", "no" };

int kvdisk_fsync_parse(const char *name, enum kv_fsync *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, fsync_names[i]) == 0) {
			*out = (enum kv_fsync)i;
			return 0;
		}
	return -1;
}

const char *kvdisk_fsync_name(enum kv_fsync f)
{
	return fsync_names[f];
}

static void note(void *arg, const void *key, size_t len)
{
	struct kv_disk *d = arg;
	if (!key) {
		d->flushed = true;
		buf_reset(&d->noted);
		return;
	}
	if (d->rewrite)
		return;
	buf_append(&d->noted, &len, sizeof(len));
	buf_append(&d->noted, key, len);
	if (d->noted.oom) {
		/* The list is lost: the next commit writes the whole store. */
		buf_free(&d->noted);
		d->rewrite = true;
	}
}

/* fn for each key of a list built by note(), with its live entry (NULL:
 * it is gone), until fn fails. Returns fn's failure or 0. */
static int each_key(struct kv_disk *d, const struct buf *keys,
		    int (*fn)(void *arg, const char *key, size_t len, struct kv_entry *live),
		    void *arg)
{
	int rc = 0;
	for (size_t off = keys->off; rc == 0 && off < keys->len;) {
		size_t len;
		memcpy(&len, keys->data + off, sizeof(len));
		const char *key = keys->data + off + sizeof(len);
		off += sizeof(len) + len;
		struct kv_entry *e = kvstore_peek(d->store, key, len);
		rc = fn(arg, key, len, e && !kvstore_expired(d->store, e) ? e : NULL);
	}
	return rc;
}

struct lmdb_write {
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;
};

static int put(MDB_txn *txn, MDB_dbi dbi, struct kv_entry *e)
{
	MDB_val k = { e->klen, e->data }, v = { sizeof(int64_t) + e->vlen, NULL };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
	if (rc == 0) {
		memcpy(v.mv_data, &e->expire_ms, sizeof(int64_t));
		memcpy((char *)v.mv_data + sizeof(int64_t), kv_entry_value(e), e->vlen);
	}
	return rc;
}

static void put_entry(struct kv_entry *e, void *arg)
{
	struct lmdb_write *w = arg;
	if (w->rc == 0)
		w->rc = put(w->txn, w->dbi, e);
}

/* Load every live record; expired ones are deleted. */
static int load(struct kv_disk *d, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_cursor_open(txn, d->dbi, &cur);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the store: %s", mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		return ERR_CONFIG;
	}
	size_t dropped = 0;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		int64_t expire;
		if (v.mv_size < sizeof(expire)) {
			mdb_cursor_del(cur, 0);
			continue;
		}
		memcpy(&expire, v.mv_data, sizeof(expire));
		if (expire && expire <= d->store->now_ms) {
			mdb_cursor_del(cur, 0);
			dropped++;
			continue;
		}
		if (kvstore_set(d->store, k.mv_data, k.mv_size, (char *)v.mv_data + sizeof(expire),
				v.mv_size - sizeof(expire), expire, false, NULL) < 0) {
			snprintf(err, errlen, "out of memory loading the store");
			mdb_cursor_close(cur);
			mdb_txn_abort(txn);
			return -ENOMEM;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		snprintf(err, errlen, "cannot read the store: %s", mdb_strerror(rc));
		mdb_txn_abort(txn);
		return ERR_CONFIG;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		snprintf(err, errlen, "cannot update the store: %s", mdb_strerror(rc));
		return ERR_CONFIG;
	}
	if (dropped)
		log_info("kv: %zu keys had expired while the server was down", dropped);
	return 0;
}

/* Close without writing anything. */
static void destroy(struct kv_disk *d)
{
	d->store->changed = NULL;
	mdb_env_close(d->env);
	kvlog_close(d->log);
	buf_free(&d->noted);
	buf_free(&d->logged);
	free(d);
}

int kvdisk_open(const char *dir, enum kv_fsync mode, struct kv_store *s, struct kv_disk **out,
		char *err, size_t errlen)
{
	struct kv_disk *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->mode = mode;
	d->store = s;
	d->map_size = MAP_START;
	mkdir(dir, 0755);
	/* LMDB is written only at checkpoints: synced with always and
	 * everysec (see checkpoint), left to the OS with no. Not MDB_WRITEMAP:
	 * unsynced, the OS may write a written map's meta page before its data,
	 * and a host crash would corrupt the store instead of losing writes. */
	unsigned flags = MDB_NOTLS | (mode == KV_FSYNC_ALWAYS ? 0 : MDB_NOSYNC);
	MDB_txn *txn = NULL;
	int rc = mdb_env_create(&d->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(d->env, d->map_size);
	if (rc == 0)
		rc = mdb_env_open(d->env, dir, flags, 0644);
	if (rc == 0) {
		/* The map is at least as large as the store already is. */
		MDB_envinfo info;
		mdb_env_info(d->env, &info);
		d->map_size = info.me_mapsize;
		rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	}
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &d->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the lmdb store in %s: %s", dir, mdb_strerror(rc));
		mdb_env_close(d->env);
		free(d);
		return ERR_CONFIG;
	}
	rc = load(d, err, errlen);
	if (rc < 0) {
		mdb_env_close(d->env);
		free(d);
		return rc;
	}
	s->changed = note;
	s->changed_arg = d;
	/* What the log adds to LMDB (noted as it is replayed) goes into LMDB
	 * at once, and the log starts empty. */
	long n = 0;
	rc = kvlog_open(dir, &d->log, err, errlen);
	if (rc == 0 && (n = kvlog_replay(d->log, s)) < 0) {
		rc = (int)n;
		snprintf(err, errlen, "cannot replay %s/wal: %s", dir, err_str(rc));
	}
	if (rc == 0 && kvlog_unread(d->log))
		log_warn("kv: the write-ahead log ends with %zu bytes that are not whole records "
			 "(a write cut short by a crash): kept in %s", kvlog_unread(d->log),
			 kvlog_keep(d->log));
	if (rc == 0 && (rc = checkpoint(d)) != 0) {
		snprintf(err, errlen, "cannot apply %s/wal to the lmdb store: %s", dir, lmdb_str(rc));
		rc = ERR_CONFIG;
	}
	if (rc < 0) {
		destroy(d);
		return rc;
	}
	if (n)
		log_info("kv: %ld records of the write-ahead log replayed", n);
	*out = d;
	return 0;
}

size_t kvdisk_max_key(const struct kv_disk *d)
{
	return (size_t)mdb_env_get_maxkeysize(d->env);
}

static int put_key(void *arg, const char *key, size_t len, struct kv_entry *live)
{
	struct lmdb_write *w = arg;
	if (live)
		return put(w->txn, w->dbi, live);
	MDB_val k = { len, (void *)key };
	int rc = mdb_del(w->txn, w->dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One transaction with the state of every key listed in `keys` (after
 * deleting all, with `drop`); MDB_MAP_FULL is reported so the caller can
 * grow the map and try again. */
static int write_keys(struct kv_disk *d, const struct buf *keys, bool drop)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	if (drop || d->rewrite)
		rc = mdb_drop(txn, d->dbi, 0);
	if (rc == 0 && d->rewrite) {
		struct lmdb_write w = { txn, d->dbi, 0 };
		uint64_t cursor = 0;
		do
			cursor = kvdict_scan(&d->store->dict, cursor, put_entry, &w);
		while (cursor && w.rc == 0);
		rc = w.rc;
	}
	if (rc == 0 && !d->rewrite) {
		struct lmdb_write w = { txn, d->dbi, 0 };
		rc = each_key(d, keys, put_key, &w);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);  /* synced unless MDB_NOSYNC is set (see checkpoint) */
}

/* write_keys, growing the map while it is full. 0 or an LMDB/errno code. */
static int write_lmdb(struct kv_disk *d, const struct buf *keys, bool drop)
{
	int rc = write_keys(d, keys, drop);
	while (rc == MDB_MAP_FULL) {
		size_t old = d->map_size;
		d->map_size *= 2;
		log_info("kv: the lmdb map is full: growing it to %zu MB", d->map_size >> 20);
		rc = mdb_env_set_mapsize(d->env, d->map_size);
		if (rc != 0)
			d->map_size = old;
		else
			rc = write_keys(d, keys, drop);
	}
	return rc;
}

/* The noted keys join the logged ones. */
static void move_noted(struct kv_disk *d)
{
	buf_append(&d->logged, d->noted.data + d->noted.off, d->noted.len - d->noted.off);
	if (d->logged.oom) {
		buf_free(&d->logged);
		d->rewrite = true;
	}
	d->logged_flushed |= d->flushed;
	buf_reset(&d->noted);
	d->flushed = false;
}

static int log_key(void *arg, const char *key, size_t len, struct kv_entry *live)
{
	return live ? kvlog_set(arg, live) : kvlog_del(arg, key, len);
}

/* The noted keys' states appended to the log (and synced with always). */
static int log_noted(struct kv_disk *d)
{
	int rc = d->flushed ? kvlog_del_all(d->log) : 0;
	if (rc == 0)
		rc = each_key(d, &d->noted, log_key, d->log);
	if (rc == 0)
		rc = kvlog_write(d->log, d->mode == KV_FSYNC_ALWAYS);
	else
		kvlog_discard(d->log);
	if (rc == 0)
		move_noted(d);
	return rc;
}

/* What the log holds into LMDB, one transaction, synced, then an empty
 * log. */
static int checkpoint(struct kv_disk *d)
{
	move_noted(d);
	/* everysec syncs this transaction (LMDB then writes the meta page only
	 * after the data is on disk); the log may go once it is. */
	if (d->mode == KV_FSYNC_EVERYSEC)
		mdb_env_set_flags(d->env, MDB_NOSYNC, 0);
	int rc = write_lmdb(d, &d->logged, d->logged_flushed);
	if (d->mode == KV_FSYNC_EVERYSEC)
		mdb_env_set_flags(d->env, MDB_NOSYNC, 1);
	if (rc == 0 && (rc = kvlog_reset(d->log)) == 0) {
		buf_reset(&d->logged);
		d->logged_flushed = d->rewrite = false;
	}
	return rc;
}

static int failed(struct kv_disk *d, int rc)
{
	if (!d->error[0])
		d->failures++;
	snprintf(d->error, sizeof(d->error), "%s", lmdb_str(rc));
	log_error("kv: cannot write to the lmdb store: %s", d->error);
	return ERR_CONFIG;
}

static void succeeded(struct kv_disk *d)
{
	d->error[0] = '\0';
	d->commits++;
}

int kvdisk_commit(struct kv_disk *d)
{
	if (d->noted.len == d->noted.off && !d->flushed && !d->rewrite && !d->error[0])
		return 0;
	int rc;
	if (!d->rewrite && !d->error[0]) {
		if ((rc = log_noted(d)) != 0)
			return failed(d, rc);
		succeeded(d);
		/* The batch is durable: a checkpoint that fails now is retried. */
		if (kvlog_size(d->log) > LOG_MAX && (rc = checkpoint(d)) != 0)
			failed(d, rc);
		return 0;
	}
	rc = checkpoint(d);
	if (rc != 0)
		return failed(d, rc);
	succeeded(d);
	return 0;
}

void kvdisk_tick(struct kv_disk *d)
{
	if (!d->error[0] && (d->logged.len > d->logged.off || d->logged_flushed)) {
		int rc = checkpoint(d);
		if (rc != 0)
			failed(d, rc);
	}
}

bool kvdisk_failed(const struct kv_disk *d)
{
	return d->error[0] != '\0';
}

const char *kvdisk_error(const struct kv_disk *d)
{
	return d->error;
}

uint64_t kvdisk_commits(const struct kv_disk *d)
{
	return d->commits;
}

uint64_t kvdisk_failures(const struct kv_disk *d)
{
	return d->failures;
}

void kvdisk_close(struct kv_disk *d)
{
	if (!d)
		return;
	kvdisk_commit(d);
	if (!d->error[0])
		checkpoint(d);
	mdb_env_sync(d->env, 1);
	destroy(d);
}
