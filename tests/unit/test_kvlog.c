/* The lmdb engine's write-ahead log: records replayed in order (sets with
 * their TTLs, deletes, delete-all, keys expired by the replaying clock);
 * a record cut short or damaged ends the replay and nothing after it is
 * applied; a reset log replays nothing. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kv/kvlog.h"
#include "kv/kvstore.h"

#define NOW 1700000000000LL

struct fixture {
	char dir[64], wal[96];
	struct kv_store src;              /* where entries are built */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/strata-kvlog-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->wal, sizeof(f->wal), "%s/wal", f->dir);
	kvstore_init(&f->src, 1);
	kvstore_clock(&f->src, NOW);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kvstore_free(&f->src);
	unlink(f->wal);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct kv_log *open_log(struct fixture *f)
{
	char err[256];
	struct kv_log *l;
	assert_int_equal(kvlog_open(f->dir, &l, err, sizeof(err)), 0);
	return l;
}

/* Append "key = value" (expiring at `expire`, 0: never). */
static void log_set(struct fixture *f, struct kv_log *l, const char *key, const char *value,
		    int64_t expire)
{
	struct kv_entry *e;
	assert_int_equal(kvstore_set(&f->src, key, strlen(key), value, strlen(value), expire, false,
				     &e), 0);
	assert_int_equal(kvlog_set(l, e), 0);
}

static const char *get(struct kv_store *s, const char *key)
{
	static char v[64];
	struct kv_entry *e = kvstore_find(s, key, strlen(key), false);
	if (!e)
		return NULL;
	snprintf(v, sizeof(v), "%.*s", (int)e->vlen, kv_entry_value(e));
	return v;
}

/* A fresh store with the log replayed into it; the number applied. */
static long replay(struct fixture *f, struct kv_store *s)
{
	kvstore_init(s, 2);
	kvstore_clock(s, NOW + 10);
	struct kv_log *l = open_log(f);
	long n = kvlog_replay(l, s);
	kvlog_close(l);
	return n;
}

static void test_replays_in_order(void **state)
{
	struct fixture *f = *state;
	struct kv_log *l = open_log(f);
	log_set(f, l, "a", "1", 0);
	log_set(f, l, "b", "2", NOW + 60000);
	log_set(f, l, "gone", "x", NOW + 5);     /* expired when replayed */
	assert_int_equal(kvlog_write(l, true), 0);
	log_set(f, l, "a", "3", 0);
	assert_int_equal(kvlog_del(l, "b", 1), 0);
	log_set(f, l, "b", "4", NOW + 60000);
	assert_int_equal(kvlog_del(l, "nothing", 7), 0);
	assert_int_equal(kvlog_write(l, true), 0);
	kvlog_close(l);

	struct kv_store s;
	assert_int_equal(replay(f, &s), 7);
	assert_string_equal(get(&s, "a"), "3");
	assert_string_equal(get(&s, "b"), "4");
	assert_int_equal(kvstore_find(&s, "b", 1, false)->expire_ms, NOW + 60000);
	assert_null(get(&s, "gone"));
	assert_int_equal(kvstore_keys(&s), 2);
	kvstore_free(&s);

	/* Everything gone, then one key: only that key. */
	l = open_log(f);
	assert_int_equal(kvlog_del_all(l), 0);
	log_set(f, l, "c", "5", 0);
	assert_int_equal(kvlog_write(l, true), 0);
	kvlog_close(l);
	assert_int_equal(replay(f, &s), 9);
	assert_int_equal(kvstore_keys(&s), 1);
	assert_string_equal(get(&s, "c"), "5");
	kvstore_free(&s);
}

static void test_a_torn_or_damaged_record_ends_the_replay(void **state)
{
	struct fixture *f = *state;
	struct kv_log *l = open_log(f);
	log_set(f, l, "first", "1", 0);
	log_set(f, l, "second", "2", 0);
	log_set(f, l, "third", "3", 0);
	assert_int_equal(kvlog_write(l, true), 0);
	size_t size = kvlog_size(l);
	kvlog_close(l);
	struct stat st;
	assert_int_equal(stat(f->wal, &st), 0);
	assert_int_equal((size_t)st.st_size, size);

	/* The last record cut short by a crash: the two before it count. */
	assert_int_equal(truncate(f->wal, (off_t)size - 3), 0);
	struct kv_store s;
	assert_int_equal(replay(f, &s), 2);
	assert_null(get(&s, "third"));
	kvstore_free(&s);

	/* A byte of the second record's key changed: only the first. Records
	 * are 8 + 13 bytes of heads, then key and value. */
	off_t second_key = (8 + 13 + 5 + 1) + 8 + 13;
	int fd = open(f->wal, O_RDWR);
	char c;
	assert_int_equal(pread(fd, &c, 1, second_key), 1);
	assert_int_equal(c, 's');
	c = 'S';
	assert_int_equal(pwrite(fd, &c, 1, second_key), 1);
	close(fd);
	assert_int_equal(replay(f, &s), 1);
	assert_string_equal(get(&s, "first"), "1");
	assert_null(get(&s, "second"));
	kvstore_free(&s);
}

static void test_reset_empties_the_log(void **state)
{
	struct fixture *f = *state;
	struct kv_log *l = open_log(f);
	log_set(f, l, "a", "1", 0);
	assert_int_equal(kvlog_write(l, true), 0);
	assert_true(kvlog_size(l) > 0);
	assert_int_equal(kvlog_reset(l), 0);
	assert_int_equal(kvlog_size(l), 0);
	log_set(f, l, "b", "2", 0);   /* appended to the new file (unsynced: everysec) */
	assert_int_equal(kvlog_write(l, false), 0);
	kvlog_close(l);
	struct kv_store s;
	assert_int_equal(replay(f, &s), 1);
	assert_null(get(&s, "a"));
	assert_string_equal(get(&s, "b"), "2");
	kvstore_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replays_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_torn_or_damaged_record_ends_the_replay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_empties_the_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
