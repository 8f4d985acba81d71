/* Balancing algorithms on real pools and servers (no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "lb/balance.h"
#include "lb/server.h"

struct fixture {
	struct lb_pool pool;
	struct lb_worker worker;
};

static void make_pool(struct fixture *f, enum conf_balance algo, const int *weights, int n)
{
	memset(f, 0, sizeof(*f));
	conf_pool_init(&f->pool.conf, "p");
	f->pool.conf.balance = algo;
	pthread_mutex_init(&f->pool.rr_lock, NULL);
	ring_init(&f->pool.ring, RING_DEFAULT_VNODES);
	for (int i = 0; i < n; i++) {
		struct conf_server cs = { .weight = weights ? weights[i] : 1 };
		snprintf(cs.name, sizeof(cs.name), "s%d", i);
		f->pool.servers[i] = server_create("p", &cs);
		f->pool.nservers++;
	}
	assert_int_equal(balance_ring_build(&f->pool), 0);
	f->worker.rng = 12345;
}

static void free_pool(struct fixture *f)
{
	for (int i = 0; i < f->pool.nservers; i++)
		server_unref(f->pool.servers[i]);
	ring_free(&f->pool.ring);
	pthread_mutex_destroy(&f->pool.rr_lock);
}

static int index_of(struct fixture *f, struct lb_server *s)
{
	for (int i = 0; i < f->pool.nservers; i++)
		if (f->pool.servers[i] == s)
			return i;
	return -1;
}

static int pick(struct fixture *f, const struct sock_addr *client)
{
	static struct sock_addr any;
	uint64_t key = balance_addr_hash(client ? client : &any);
	return index_of(f, balance_pick(&f->pool, &f->worker, &key, NULL, 0));
}

static void test_roundrobin_equal_weights_cycles(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_ROUNDROBIN, NULL, 3);
	for (int i = 0; i < 30; i++)
		assert_int_equal(pick(&f, NULL), i % 3);
	free_pool(&f);
}

static void test_roundrobin_smooth_weights(void **state)
{
	(void)state;
	struct fixture f;
	int w[3] = { 5, 1, 1 };
	make_pool(&f, BALANCE_ROUNDROBIN, w, 3);
	/* nginx's smooth sequence for 5,1,1: a a b a c a a */
	int expect[7] = { 0, 0, 1, 0, 2, 0, 0 };
	for (int round = 0; round < 10; round++)
		for (int i = 0; i < 7; i++)
			assert_int_equal(pick(&f, NULL), expect[i]);
	free_pool(&f);
}

static void test_roundrobin_skips_down_servers(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_ROUNDROBIN, NULL, 3);
	atomic_store(&f.pool.servers[1]->up, false);
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(pick(&f, NULL), 1);
	atomic_store(&f.pool.servers[0]->up, false);
	atomic_store(&f.pool.servers[2]->up, false);
	assert_int_equal(pick(&f, NULL), -1);
	free_pool(&f);
}

static void test_tried_servers_are_excluded(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_LEASTCONN, NULL, 3);
	struct sock_addr any = { 0 };
	struct lb_server *tried[2] = { f.pool.servers[0], f.pool.servers[2] };
	uint64_t key = balance_addr_hash(&any);
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(balance_pick(&f.pool, &f.worker, &key, tried, 2), f.pool.servers[1]);
	free_pool(&f);
}

static void test_leastconn_prefers_idle_per_weight(void **state)
{
	(void)state;
	struct fixture f;
	int w[3] = { 1, 1, 3 };
	make_pool(&f, BALANCE_LEASTCONN, w, 3);
	atomic_store(&f.pool.servers[0]->active, 5);
	atomic_store(&f.pool.servers[1]->active, 1);  /* (1+1)/1 = 2 */
	atomic_store(&f.pool.servers[2]->active, 8);  /* (8+1)/3 = 3 */
	for (int i = 0; i < 20; i++)
		assert_int_equal(pick(&f, NULL), 1);
	atomic_store(&f.pool.servers[1]->active, 3);  /* 4 > 3 */
	for (int i = 0; i < 20; i++)
		assert_int_equal(pick(&f, NULL), 2);
	free_pool(&f);
}

static void test_leastconn_spreads_ties(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_LEASTCONN, NULL, 4);
	int seen[4] = { 0 };
	for (int i = 0; i < 400; i++)
		seen[pick(&f, NULL)]++;
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 50);
	free_pool(&f);
}

static void test_random2_never_picks_the_busier_of_two(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_RANDOM2, NULL, 3);
	atomic_store(&f.pool.servers[0]->active, 100);
	atomic_store(&f.pool.servers[1]->active, 0);
	atomic_store(&f.pool.servers[2]->active, 50);
	int seen[3] = { 0 };
	for (int i = 0; i < 3000; i++)
		seen[pick(&f, NULL)]++;
	assert_int_equal(seen[0], 0);        /* the busiest loses every pair */
	assert_true(seen[1] > seen[2]);      /* the idlest wins every pair it is in */
	free_pool(&f);
}

static void test_leasttime_prefers_fast_and_unmeasured(void **state)
{
	(void)state;
	struct fixture f;
	make_pool(&f, BALANCE_LEASTTIME, NULL, 3);
	server_observe_time(f.pool.servers[0], 5000);
	server_observe_time(f.pool.servers[1], 500);
	assert_int_equal(pick(&f, NULL), 2);          /* never measured: try it */
	server_observe_time(f.pool.servers[2], 20000);
	assert_int_equal(pick(&f, NULL), 1);
	atomic_store(&f.pool.servers[1]->active, 20); /* 500 x 21 > 5000 x 1 */
	assert_int_equal(pick(&f, NULL), 0);
	free_pool(&f);
}

static struct sock_addr client_ip(int i)
{
	struct sock_addr a = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)(1000 + i));   /* the port must not matter */
	in->sin_addr.s_addr = htonl(0x0A000000u + (uint32_t)i);
	return a;
}

static void test_source_is_sticky_and_moves_only_the_lost_clients(void **state)
{
	(void)state;
	enum { CLIENTS = 3000 };
	struct fixture f;
	make_pool(&f, BALANCE_SOURCE, NULL, 4);
	int before[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		before[i] = pick(&f, &c);
		assert_int_equal(pick(&f, &c), before[i]);
	}
	atomic_store(&f.pool.servers[3]->up, false);
	int moved = 0;
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		int now = pick(&f, &c);
		if (before[i] == 3) {
			assert_int_not_equal(now, 3);
			moved++;
		} else {
			assert_int_equal(now, before[i]);
		}
	}
	assert_in_range(moved, CLIENTS / 4 * 7 / 10, CLIENTS / 4 * 13 / 10);
	atomic_store(&f.pool.servers[3]->up, true);
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		assert_int_equal(pick(&f, &c), before[i]);
	}
	free_pool(&f);
}

static void test_source_with_bounded_loads_spills_only_from_full_servers(void **state)
{
	(void)state;
	enum { CLIENTS = 2000 };
	struct fixture f;
	make_pool(&f, BALANCE_SOURCE, NULL, 4);
	f.pool.conf.hash_balance_factor = 125;
	int before[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		before[i] = pick(&f, &c);   /* all idle: plain ring placement */
	}
	/* Server 0 holds 40 connections, the others 0: the cap is
	 * ceil(1.25 x 41 / 4) = 13, so server 0 is full. */
	atomic_store(&f.pool.servers[0]->active, 40);
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		int now = pick(&f, &c);
		if (before[i] == 0)
			assert_int_not_equal(now, 0);
		else
			assert_int_equal(now, before[i]);
	}
	/* Without the factor, server 0 keeps its clients whatever its load. */
	f.pool.conf.hash_balance_factor = 0;
	for (int i = 0; i < CLIENTS; i++) {
		struct sock_addr c = client_ip(i);
		assert_int_equal(pick(&f, &c), before[i]);
	}
	free_pool(&f);
}

static void test_health_state_machine(void **state)
{
	(void)state;
	struct conf_server cs = { .weight = 1, .name = "s" };
	struct lb_server *s = server_create("p", &cs);
	assert_true(server_is_up(s));
	server_report(s, false, 2, 3, "check", "refused");
	server_report(s, false, 2, 3, "check", "refused");
	assert_true(server_is_up(s));
	server_report(s, true, 2, 3, "check", "ok");       /* resets the fall count */
	server_report(s, false, 2, 3, "check", "refused");
	server_report(s, false, 2, 3, "check", "refused");
	assert_true(server_is_up(s));
	server_report(s, false, 2, 3, "check", "refused");
	assert_false(server_is_up(s));
	server_report(s, true, 2, 3, "check", "ok");
	assert_false(server_is_up(s));
	server_report(s, false, 2, 3, "check", "refused"); /* resets the rise count */
	server_report(s, true, 2, 3, "check", "ok");
	assert_false(server_is_up(s));
	server_report(s, true, 2, 3, "check", "ok");
	assert_true(server_is_up(s));
	assert_int_equal(atomic_load(&s->transitions), 2);
	server_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundrobin_equal_weights_cycles),
		cmocka_unit_test(test_roundrobin_smooth_weights),
		cmocka_unit_test(test_roundrobin_skips_down_servers),
		cmocka_unit_test(test_tried_servers_are_excluded),
		cmocka_unit_test(test_leastconn_prefers_idle_per_weight),
		cmocka_unit_test(test_leastconn_spreads_ties),
		cmocka_unit_test(test_random2_never_picks_the_busier_of_two),
		cmocka_unit_test(test_leasttime_prefers_fast_and_unmeasured),
		cmocka_unit_test(test_source_is_sticky_and_moves_only_the_lost_clients),
		cmocka_unit_test(test_source_with_bounded_loads_spills_only_from_full_servers),
		cmocka_unit_test(test_health_state_machine),
	};
	return cmocka_run_group_tests_name("balance", tests, NULL, NULL);
}
