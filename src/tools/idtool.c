#include "tools/idtool.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/snowflake.h"
#include "algo/timeid.h"
#include "core/cli.h"
#include "core/loop.h"

static const char usage[] =
	"usage: strata id bench [--seconds S] [--threads N] [--json]\n"
	"\n"
	"IDs per second in-process: one Snowflake generator (41/5/5/12 bits) shared by N\n"
	"threads for S seconds, as a share of the layout's limit (4096 per millisecond);\n"
	"then a UUIDv7 and a ULID generator. Progress goes to stderr.\n"
	"\n"
	"  -s, --seconds S    per generator (default 3)\n"
	"  -t, --threads N    threads sharing each generator (default 1)\n"
	"      --json         one JSON object per generator, one per line\n"
	"  -h, --help         this help\n";

struct run {
	struct sf_gen *sf;
	struct tid_gen *tid;
	uint64_t until_ns;
	_Atomic uint64_t made, failed;
};

static void *work(void *arg)
{
	struct run *r = arg;
	uint64_t made = 0, failed = 0;
	while (loop_clock_ns() < r->until_ns) {
		/* Check the time every 1024 IDs: the clock read is most of an ID's cost. */
		for (int i = 0; i < 1024; i++) {
			uint64_t id;
			uint8_t t[16];
			int rc = r->sf ? sf_next(r->sf, &id) : tid_next(r->tid, t);
			if (rc == 0)
				made++;
			else
				failed++;
		}
	}
	atomic_fetch_add(&r->made, made);
	atomic_fetch_add(&r->failed, failed);
	return NULL;
}

static double measure(struct run *r, long threads, long seconds, const char *name)
{
	fprintf(stderr, "id bench: %s, %ld thread%s, %ld s...\n", name, threads,
		threads == 1 ? "" : "s", seconds);
	pthread_t t[64];
	uint64_t t0 = loop_clock_ns();
	r->until_ns = t0 + (uint64_t)seconds * 1000000000ULL;
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, work, r);
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	uint64_t t1 = loop_clock_ns();
	if (atomic_load(&r->failed))
		fprintf(stderr, "id bench: %s: %llu refused (the clock went back)\n", name,
			(unsigned long long)atomic_load(&r->failed));
	return (double)atomic_load(&r->made) * 1e9 / (double)(t1 - t0);
}

int idtool_bench_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long seconds = 3, threads = 1;
	bool json = false;
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":s:t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (cli_parse_long(optarg, 1, 600, &seconds) < 0)
				cli_fail("id", "--seconds: '%s' is not a number from 1 to 600", optarg);
			break;
		case 't':
			if (cli_parse_long(optarg, 1, 64, &threads) < 0)
				cli_fail("id", "--threads: '%s' is not a number from 1 to 64", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_option_fail("id", "id bench", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("id", "unexpected argument '%s'", argv[optind]);

	struct sf_config c = { SF_LAYOUT_DEFAULT, 0, 0, 5, 0, NULL, NULL, NULL };
	double limit = (double)sf_max_per_ms(&c.layout) * 1000.0;
	struct run runs[3] = { 0 };
	const char *names[3] = { "snowflake", "uuid7", "ulid" };
	if (sf_create(&c, &runs[0].sf) < 0 || tid_create(TID_UUID7, NULL, NULL, &runs[1].tid) < 0 ||
	    tid_create(TID_ULID, NULL, NULL, &runs[2].tid) < 0)
		cli_fail("id", "out of memory");
	if (!json)
		printf("%-10s %8s %16s %14s\n", "kind", "threads", "ids/s", "of the limit");
	for (int k = 0; k < 3; k++) {
		double rate = measure(&runs[k], threads, seconds, names[k]);
		if (json) {
			printf("{\"kind\":\"%s\",\"threads\":%ld,\"seconds\":%ld,\"ids_per_s\":%.0f",
			       names[k], threads, seconds, rate);
			if (k == 0)
				printf(",\"limit_per_s\":%.0f,\"share_of_limit\":%.4f", limit, rate / limit);
			printf("}\n");
		} else if (k == 0) {
			printf("%-10s %8ld %16.0f %13.1f%%\n", names[k], threads, rate, 100 * rate / limit);
		} else {
			printf("%-10s %8ld %16.0f %14s\n", names[k], threads, rate, "-");
		}
		fflush(stdout);
	}
	sf_destroy(runs[0].sf);
	tid_destroy(runs[1].tid);
	tid_destroy(runs[2].tid);
	return 0;
}
