#include "tools/rltool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include "core/cli.h"
#include "core/loop.h"
#include "ratelimit/rlserver.h"
#include "ratelimit/rlstore.h"
#include "tools/rlcompare.h"

static const char usage[] =
	"usage: strata ratelimit serve --listen ADDR:PORT [--max-keys N]   (see serve --help)\n"
	"       strata ratelimit compare [--limit N] [--json] [--plot FILE.png] (see compare --help)\n"
	"       strata ratelimit bench [--algo ALGO|all] [--keys N] [--decisions N] [--json]\n"
	"       strata ratelimit script [--sha]\n"
	"\n"
	"serve: a Redis-protocol service answering CL.THROTTLE like redis-cell.\n"
	"\n"
	"script: the Lua script shared rules run in the store (strata lb --rate-limit-store),\n"
	"or with --sha its SHA1 (the name EVALSHA calls it by).\n"
	"\n"
	"bench: "
	"Decisions per second of each rate-limit algorithm, on one thread, in-process:\n"
	"  single   rl_decide on one key's state (the algorithm alone)\n"
	"  table    rl_table_decide over N keys (hash, stripe lock, LRU: what strata lb pays)\n"
	"The policy is 1000 per second with a burst of 1000; the clock advances 1 us per\n"
	"decision, so both outcomes occur.\n"
	"\n"
	"  -a, --algo ALGO      token, leaky, fixed, log, sliding, gcra or all (default)\n"
	"  -k, --keys N         distinct keys for the table run (default 10000)\n"
	"  -n, --decisions N    decisions per run (default 10000000)\n"
	"      --json           one JSON object per algorithm, one per line\n"
	"  -h, --help           this help\n";

struct bench {
	double single_per_s, table_per_s;
	double allowed_share;
};

static void run(enum rl_algo algo, long keys, long decisions, struct bench *b)
{
	struct rl_policy p = { algo, 1000, 1000000000ULL, 1000 };
	struct rl_state st = { 0 };
	struct rl_result r;
	uint64_t now = 1000000000ULL, allowed = 0;
	uint64_t t0 = loop_clock_ns();
	for (long i = 0; i < decisions; i++, now += 1000) {
		rl_decide(&p, &st, now, 1, &r);
		allowed += r.allowed;
	}
	uint64_t t1 = loop_clock_ns();
	rl_state_free(&st);
	b->single_per_s = (double)decisions * 1e9 / (double)(t1 - t0 ? t1 - t0 : 1);
	b->allowed_share = (double)allowed / (double)decisions;

	struct rl_table *t;
	if (rl_table_create(&p, (size_t)keys, &t) < 0)
		cli_fail("ratelimit", "out of memory");
	uint32_t key = 0;
	t0 = loop_clock_ns();
	for (long i = 0; i < decisions; i++, now += 1000) {
		key = (uint32_t)(i % keys);
		rl_table_decide(t, &key, sizeof(key), now, 1, &r);
	}
	t1 = loop_clock_ns();
	rl_table_unref(t);
	b->table_per_s = (double)decisions * 1e9 / (double)(t1 - t0 ? t1 - t0 : 1);
}

int rltool_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "algo", required_argument, NULL, 'a' },
		{ "keys", required_argument, NULL, 'k' },
		{ "decisions", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return rlserver_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "compare") == 0)
		return rlcompare_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "script") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--sha") != 0))
			cli_fail("ratelimit", "script takes only --sha");
		if (argc == 3)
			printf("%s\n", rlstore_sha());
		else
			fputs(rlstore_script, stdout);
		return 0;
	}
	if (strcmp(argv[1], "bench") != 0)
		cli_fail("ratelimit", "unknown subcommand '%s' (serve, compare, bench, script)", argv[1]);
	int first = RL_TOKEN, last = RL_GCRA, ch;
	long keys = 10000, decisions = 10000000;
	bool json = false;
	opterr = 0;
	optind = 2;
	while ((ch = getopt_long(argc, argv, ":a:k:n:h", longopts, NULL)) != -1) {
		enum rl_algo a;
		switch (ch) {
		case 'a':
			if (strcmp(optarg, "all") == 0)
				break;
			if (rl_algo_parse(optarg, &a) < 0)
				cli_fail("ratelimit", "--algo: '%s' is not token, leaky, fixed, log, sliding, "
					 "gcra or all", optarg);
			first = last = (int)a;
			break;
		case 'k':
			if (cli_parse_long(optarg, 1, 100000000, &keys) < 0)
				cli_fail("ratelimit", "--keys: '%s' is not a number from 1 to 100000000", optarg);
			break;
		case 'n':
			if (cli_parse_long(optarg, 1000, 2000000000, &decisions) < 0)
				cli_fail("ratelimit", "--decisions: '%s' is not a number from 1000 to 2000000000",
					 optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_option_fail("ratelimit", "ratelimit", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("ratelimit", "unexpected argument '%s'", argv[optind]);
	if (!json)
		printf("%-8s %16s %16s %15s\n", "algo", "single/s", "table/s", "allowed(1 key)");
	for (int a = first; a <= last; a++) {
		struct bench b;
		run((enum rl_algo)a, keys, decisions, &b);
		if (json)
			printf("{\"algo\":\"%s\",\"keys\":%ld,\"decisions\":%ld,\"single_per_s\":%.0f,"
			       "\"table_per_s\":%.0f,\"allowed_share\":%.4f}\n",
			       rl_algo_name((enum rl_algo)a), keys, decisions, b.single_per_s,
			       b.table_per_s, b.allowed_share);
		else
			printf("%-8s %16.0f %16.0f %14.1f%%\n", rl_algo_name((enum rl_algo)a),
			       b.single_per_s, b.table_per_s, 100 * b.allowed_share);
		fflush(stdout);
	}
	return 0;
}
