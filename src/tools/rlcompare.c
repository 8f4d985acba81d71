#include "tools/rlcompare.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include "core/cli.h"
#include "core/rng.h"

#define MS 1000000ULL
#define S  1000000000ULL

static const char usage[] =
	"usage: strata ratelimit compare [--limit N] [--seed S] [--json] [--plot FILE.png]\n"
	"\n"
	"Replays synthetic traces through every algorithm with the same policy (N per second,\n"
	"burst N) and judges each decision against the exact rule - at most N in any window of\n"
	"one second - applied to what that algorithm had let through: a false allow exceeds\n"
	"the rule, a false deny refuses what it allowed. The sliding log is the rule itself.\n"
	"Traces: steady (one client at 1.5x the limit), bursty (bursts of 2x the limit in\n"
	"50 ms every 2 s over a 0.3x background), many-keys (500 clients, 95% at 0.1x to 0.9x\n"
	"of the limit, 5% at 2x to 3x),\n"
	"window-edge (the limit at the end of a window and again at the start of the next).\n"
	"\n"
	"  -n, --limit N        requests per second per client (default 100; 1..4096)\n"
	"  -s, --seed S         random seed (default 1)\n"
	"      --json           one JSON object per trace and algorithm, one per line\n"
	"      --plot FILE.png  draw the wrong decisions per trace and algorithm (gnuplot)\n"
	"  -h, --help           this help\n";

struct event {
	uint64_t t;
	uint32_t key;
};

struct trace {
	const char *name;
	struct event *ev;
	size_t n, cap;
};

static uint64_t rng;

static uint64_t next_random(void)
{
	return rng_next(&rng);
}

static void add(struct trace *tr, uint64_t t, uint32_t key)
{
	if (tr->n == tr->cap) {
		tr->cap = tr->cap ? tr->cap * 2 : 4096;
		tr->ev = realloc(tr->ev, tr->cap * sizeof(*tr->ev));
		if (!tr->ev)
			cli_fail("ratelimit", "out of memory");
	}
	tr->ev[tr->n].t = t;
	tr->ev[tr->n++].key = key;
}

/* `count` arrivals of `key` spread uniformly at random over [from, from+span). */
static void spread(struct trace *tr, uint32_t key, uint64_t from, uint64_t span, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		add(tr, from + next_random() % span, key);
}

static int by_time(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t ? 1 : (x->key > y->key) - (x->key < y->key);
}

static void build(struct trace *tr, int which, uint64_t L)
{
	static const char *const names[] = { "steady", "bursty", "many-keys", "window-edge" };
	memset(tr, 0, sizeof(*tr));
	tr->name = names[which];
	uint64_t start = 1000 * S;
	switch (which) {
	case 0:
		spread(tr, 0, start, 60 * S, 60 * L * 3 / 2);
		break;
	case 1:
		spread(tr, 0, start, 60 * S, 60 * L * 3 / 10);
		for (uint64_t b = 0; b < 30; b++)
			spread(tr, 0, start + b * 2 * S + 700 * MS, 50 * MS, 2 * L);
		break;
	case 2:
		/* Most clients under the limit, one in twenty well over it. */
		for (uint32_t k = 0; k < 500; k++) {
			uint64_t per_10s = k % 20 == 0 ? 20 * L + next_random() % (10 * L + 1)
						       : L + next_random() % (8 * L + 1);
			spread(tr, k, start, 10 * S, per_10s);
		}
		break;
	case 3:
		for (uint64_t w = 0; w < 30; w++) {
			uint64_t edge = start + (2 * w + 1) * S;
			spread(tr, 0, edge - 10 * MS, 10 * MS, L);
			spread(tr, 0, edge, 10 * MS, L);
		}
		break;
	}
	qsort(tr->ev, tr->n, sizeof(*tr->ev), by_time);
}

struct score {
	uint64_t allowed, denied, false_allow, false_deny;
};

/*
 * Each algorithm is judged on its own history: a decision is wrong when
 * the exact rule - at most `limit` allowed in any window of one period -
 * would have decided otherwise given what this algorithm had let through.
 * (Comparing with the log's own decisions request by request would count
 * every later difference once two histories part.) hist[key] keeps the
 * key's last `limit` allowed times.
 */
struct history {
	uint64_t *t;
	uint32_t head, len;
};

static void replay(const struct trace *tr, uint64_t L, uint32_t nkeys, struct score *scores)
{
	memset(scores, 0, sizeof(*scores) * (RL_GCRA + 1));
	for (int a = RL_TOKEN; a <= RL_GCRA; a++) {
		struct rl_policy p = { (enum rl_algo)a, L, S, L };
		struct rl_table *table;
		struct history *hist = calloc(nkeys, sizeof(*hist));
		uint64_t *times = calloc((size_t)nkeys * L, sizeof(*times));
		if (!hist || !times || rl_table_create(&p, 100000, &table) < 0)
			cli_fail("ratelimit", "out of memory");
		for (uint32_t k = 0; k < nkeys; k++)
			hist[k].t = times + (size_t)k * L;
		struct score *s = &scores[a];
		for (size_t i = 0; i < tr->n; i++) {
			const struct event *e = &tr->ev[i];
			struct history *h = &hist[e->key];
			bool full = h->len == L && e->t - h->t[h->head] < S;
			struct rl_result r;
			rl_table_decide(table, &e->key, sizeof(e->key), e->t, 1, &r);
			if (r.allowed) {
				s->allowed++;
				s->false_allow += full;
				if (h->len == L)
					h->head = (h->head + 1) % (uint32_t)L;
				else
					h->len++;
				h->t[(h->head + h->len - 1) % (uint32_t)L] = e->t;
			} else {
				s->denied++;
				s->false_deny += !full;
			}
		}
		rl_table_unref(table);
		free(times);
		free(hist);
	}
}

static double wrong_pct(const struct score *s, size_t n)
{
	return n ? 100.0 * (double)(s->false_allow + s->false_deny) / (double)n : 0;
}

static void plot(const char *file, struct score (*scores)[RL_GCRA + 1], struct trace *tr)
{
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "strata ratelimit: gnuplot is not installed (apt-get install "
			"gnuplot-nox); no chart drawn\n");
		return;
	}
	char data[] = "/tmp/strata-rlcompare-XXXXXX";
	int fd = mkstemp(data);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		cli_fail("ratelimit", "--plot: cannot write a temporary file");
	fprintf(f, "trace");
	for (int a = RL_TOKEN; a <= RL_GCRA; a++)
		fprintf(f, " %s", rl_algo_name((enum rl_algo)a));
	fprintf(f, "\n");
	for (int t = 0; t < 4; t++) {
		fprintf(f, "%s", tr[t].name);
		for (int a = RL_TOKEN; a <= RL_GCRA; a++)
			fprintf(f, " %.4f", wrong_pct(&scores[t][a], tr[t].n));
		fprintf(f, "\n");
	}
	fclose(f);
	FILE *g = popen("gnuplot", "w");
	if (!g) {
		unlink(data);
		cli_fail("ratelimit", "--plot: cannot run gnuplot");
	}
	fprintf(g, "set terminal pngcairo size 1000,500\nset output '%s'\n"
		"set title 'decisions the exact rule (at most N in any window of one period) makes otherwise, %% of requests'\n"
		"set style data histograms\nset style histogram clustered gap 1\n"
		"set style fill solid 0.7\nset yrange [0:*]\nset ylabel '%% wrong'\n"
		"set key top left\nset grid ytics\n"
		"plot for [i=2:7] '%s' using i:xtic(1) title columnheader(i)\n", file, data);
	int rc = pclose(g);
	unlink(data);
	if (rc != 0)
		cli_fail("ratelimit", "--plot: gnuplot failed to draw '%s'", file);
}

int rlcompare_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long limit = 100, seed = 1;
	bool json = false;
	const char *plot_file = NULL;
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":n:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (cli_parse_long(optarg, 1, RL_LOG_MAX, &limit) < 0)
				cli_fail("ratelimit", "--limit: '%s' is not a number from 1 to %d", optarg,
					 RL_LOG_MAX);
			break;
		case 's':
			if (cli_parse_long(optarg, 1, 2147483647, &seed) < 0)
				cli_fail("ratelimit", "--seed: '%s' is not a positive number", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			plot_file = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_option_fail("ratelimit", "ratelimit compare", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("ratelimit", "unexpected argument '%s'", argv[optind]);
	rng = 0x9E3779B97F4A7C15ULL * (uint64_t)seed;
	struct trace tr[4];
	struct score scores[4][RL_GCRA + 1];
	if (!json)
		printf("%-12s %-8s %9s %9s %9s %12s %11s %9s\n", "trace", "algo", "requests", "allowed",
		       "denied", "false-allow", "false-deny", "wrong%");
	for (int t = 0; t < 4; t++) {
		build(&tr[t], t, (uint64_t)limit);
		replay(&tr[t], (uint64_t)limit, t == 2 ? 500 : 1, scores[t]);
		for (int a = RL_TOKEN; a <= RL_GCRA; a++) {
			const struct score *s = &scores[t][a];
			if (json)
				printf("{\"trace\":\"%s\",\"algo\":\"%s\",\"limit\":%ld,\"requests\":%zu,"
				       "\"allowed\":%llu,\"denied\":%llu,\"false_allow\":%llu,"
				       "\"false_deny\":%llu,\"wrong_pct\":%.4f}\n",
				       tr[t].name, rl_algo_name((enum rl_algo)a), limit, tr[t].n,
				       (unsigned long long)s->allowed, (unsigned long long)s->denied,
				       (unsigned long long)s->false_allow, (unsigned long long)s->false_deny,
				       wrong_pct(s, tr[t].n));
			else
				printf("%-12s %-8s %9zu %9llu %9llu %12llu %11llu %8.3f%%\n", tr[t].name,
				       rl_algo_name((enum rl_algo)a), tr[t].n, (unsigned long long)s->allowed,
				       (unsigned long long)s->denied, (unsigned long long)s->false_allow,
				       (unsigned long long)s->false_deny, wrong_pct(s, tr[t].n));
		}
		fflush(stdout);
	}
	if (plot_file)
		plot(plot_file, scores, tr);
	for (int t = 0; t < 4; t++)
		free(tr[t].ev);
	return 0;
}
