#include "tools/ringtool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "algo/chash.h"
#include "core/cli.h"

static const char usage[] =
	"usage: strata ring --algo ring|jump|maglev|rendezvous|bounded --nodes N --keys K\n"
	"                   [--vnodes V] [--weights w1,w2,...] [--epsilon E] [--maglev-size M]\n"
	"                   [--add M | --remove M] [--json] [--csv FILE] [--plot FILE.png]\n"
	"\n"
	"Places K keys (\"key-0\", \"key-1\", ... hashed with XXH64) on N nodes and reports the\n"
	"per-node load (min, mean, max, standard deviation, peak-to-mean), the keys moved by\n"
	"adding or removing M nodes against the ideal (K*M/(N+M) on add, K*M/N on remove),\n"
	"the mean lookup time and the memory used.\n"
	"\n"
	"  -a, --algo A          ring (vnodes), bounded (ring with bounded loads), jump,\n"
	"                        maglev, rendezvous\n"
	"  -n, --nodes N         nodes, named node-0 .. node-N-1 (1..100000)\n"
	"  -k, --keys K          keys to place (1..100000000)\n"
	"  -v, --vnodes V        points per unit of weight on the ring (default 160)\n"
	"  -w, --weights LIST    one weight per node (1..1024); loads are then per unit of weight\n"
	"  -e, --epsilon E       bounded: no node above ceil((1+E) x K / N) keys (default 0.25)\n"
	"      --maglev-size M   maglev table size, a prime (default 65537)\n"
	"      --add M           add M nodes and count the keys that move\n"
	"      --remove M        remove the last M nodes and count the keys that move\n"
	"      --json            one JSON object instead of the table\n"
	"      --csv FILE        per-node loads as CSV (node,weight,load[,load_after])\n"
	"      --plot FILE.png   draw the per-node loads (and, for a small ring, the ring\n"
	"                        itself) with gnuplot\n"
	"  -h, --help            this help\n";

struct opts {
	enum chash_algo algo;
	bool has_algo;
	long nodes, keys, vnodes, add, remove;
	double epsilon;
	long maglev_size;
	int *weights;
	bool json;
	const char *csv, *plot;
};

struct result {
	double min, max, mean, stddev, peak_to_mean;
	uint64_t moved;
	double ideal_moved;
	double lookup_ns;
	size_t memory;
};

static void parse_weights(struct opts *o, const char *list)
{
	long count = 1;
	for (const char *p = list; *p; p++)
		count += *p == ',';
	o->weights = calloc((size_t)count, sizeof(*o->weights));
	char *copy = strdup(list), *save = NULL;
	if (!o->weights || !copy)
		cli_fail("ring", "out of memory");
	long i = 0;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		long v;
		if (cli_parse_long(w, 1, 1024, &v) < 0)
			cli_fail("ring", "--weights: '%s' is not a weight from 1 to 1024", w);
		o->weights[i++] = (int)v;
	}
	if (i != count)
		cli_fail("ring", "--weights: empty weight in '%s'", list);
	o->nodes = o->nodes ? o->nodes : count;
	if (count != o->nodes)
		cli_fail("ring", "--weights: %ld weights for %ld nodes", count, o->nodes);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_MAGLEV = 256, OPT_ADD, OPT_REMOVE, OPT_JSON, OPT_CSV, OPT_PLOT };
	static const struct option longopts[] = {
		{ "algo", required_argument, NULL, 'a' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "keys", required_argument, NULL, 'k' },
		{ "vnodes", required_argument, NULL, 'v' },
		{ "weights", required_argument, NULL, 'w' },
		{ "epsilon", required_argument, NULL, 'e' },
		{ "maglev-size", required_argument, NULL, OPT_MAGLEV },
		{ "add", required_argument, NULL, OPT_ADD },
		{ "remove", required_argument, NULL, OPT_REMOVE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *weights = NULL;
	int ch;
	o->epsilon = 0.25;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":a:n:k:v:w:e:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (chash_parse_algo(optarg, &o->algo) < 0)
				cli_fail("ring", "--algo: '%s' is not ring, jump, maglev, rendezvous or bounded",
					 optarg);
			o->has_algo = true;
			break;
		case 'n':
			if (cli_parse_long(optarg, 1, 100000, &o->nodes) < 0)
				cli_fail("ring", "--nodes: '%s' is not a number from 1 to 100000", optarg);
			break;
		case 'k':
			if (cli_parse_long(optarg, 1, 100000000, &o->keys) < 0)
				cli_fail("ring", "--keys: '%s' is not a number from 1 to 100000000", optarg);
			break;
		case 'v':
			if (cli_parse_long(optarg, 1, 10000, &o->vnodes) < 0)
				cli_fail("ring", "--vnodes: '%s' is not a number from 1 to 10000", optarg);
			break;
		case 'w': weights = optarg; break;
		case 'e': {
			char *end;
			o->epsilon = strtod(optarg, &end);
			if (*end || end == optarg || !(o->epsilon > 0 && o->epsilon <= 10))
				cli_fail("ring", "--epsilon: '%s' is not a number above 0 and at most 10", optarg);
			break;
		}
		case OPT_MAGLEV:
			if (cli_parse_long(optarg, 2, 100000007, &o->maglev_size) < 0 ||
			    !maglev_is_prime((uint32_t)o->maglev_size))
				cli_fail("ring", "--maglev-size: '%s' is not a prime up to 100000007", optarg);
			break;
		case OPT_ADD:
			if (cli_parse_long(optarg, 1, 100000, &o->add) < 0)
				cli_fail("ring", "--add: '%s' is not a number from 1 to 100000", optarg);
			break;
		case OPT_REMOVE:
			if (cli_parse_long(optarg, 1, 100000, &o->remove) < 0)
				cli_fail("ring", "--remove: '%s' is not a number from 1 to 100000", optarg);
			break;
		case OPT_JSON: o->json = true; break;
		case OPT_CSV: o->csv = optarg; break;
		case OPT_PLOT: o->plot = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: cli_option_fail("ring", "ring", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("ring", "unexpected argument '%s'", argv[optind]);
	if (!o->has_algo)
		cli_fail("ring", "--algo is required (ring, jump, maglev, rendezvous or bounded)");
	if (weights)
		parse_weights(o, weights);
	if (!o->nodes)
		cli_fail("ring", "--nodes N is required");
	if (!o->keys)
		cli_fail("ring", "--keys K is required");
	if (o->add && o->remove)
		cli_fail("ring", "--add and --remove cannot be combined");
	if (o->remove >= o->nodes)
		cli_fail("ring", "--remove: %ld of %ld nodes would leave none", o->remove, o->nodes);
	if (o->weights && (o->algo == CHASH_JUMP || o->algo == CHASH_BOUNDED))
		cli_fail("ring", "--weights: %s places equal nodes only", chash_algo_name(o->algo));
	if (o->add + o->nodes > 100000)
		cli_fail("ring", "--add: at most 100000 nodes in all");
}

/* Bounded loads' capacity, ceil((1+eps) x keys / nodes), without letting
 * floating-point error push an exact bound up by one. */
static uint64_t capacity(double epsilon, long keys, int nodes)
{
	double x = (1 + epsilon) * (double)keys / nodes;
	return (uint64_t)ceil(x - x * 1e-12);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int weight_of(const struct opts *o, long i)
{
	return o->weights && i < o->nodes ? o->weights[i] : 1;
}

static void add_nodes(struct chash *c, const struct opts *o, long from, long to)
{
	char name[32];
	for (long i = from; i < to; i++) {
		snprintf(name, sizeof(name), "node-%ld", i);
		if (chash_add(c, name, weight_of(o, i)) < 0)
			cli_fail("ring", "cannot add %s (out of memory)", name);
	}
}

/* Place every key; owner[k] gets its node. Returns the mean ns per placement. */
static double place(struct chash *c, const struct opts *o, const uint64_t *keys, int32_t *owner)
{
	chash_reset_loads(c);
	uint64_t cap = capacity(o->epsilon, o->keys, c->live);
	double t0 = now_ns();
	for (long k = 0; k < o->keys; k++)
		owner[k] = c->algo == CHASH_BOUNDED ? chash_assign(c, keys[k], cap)
						    : chash_lookup(c, keys[k]);
	double ns = (now_ns() - t0) / (double)o->keys;
	if (c->algo != CHASH_BOUNDED)
		for (long k = 0; k < o->keys; k++)
			c->nodes[owner[k]].load++;
	return ns;
}

/* Load statistics over the live nodes, per unit of weight when weighted. */
static void summarize(const struct chash *c, struct result *r)
{
	double sum = 0, sumsq = 0, wsum = 0;
	int n = 0;
	r->min = INFINITY;
	r->max = 0;
	for (int i = 0; i < c->nnodes; i++)
		if (c->nodes[i].live)
			wsum += c->nodes[i].weight;
	for (int i = 0; i < c->nnodes; i++) {
		const struct chash_node *nd = &c->nodes[i];
		if (!nd->live)
			continue;
		double v = (double)nd->load * (wsum / c->live) / nd->weight;
		sum += v;
		sumsq += v * v;
		r->min = v < r->min ? v : r->min;
		r->max = v > r->max ? v : r->max;
		n++;
	}
	r->mean = sum / n;
	r->stddev = sqrt(fmax(0, sumsq / n - r->mean * r->mean));
	r->peak_to_mean = r->max / r->mean;
}

static void write_csv(const struct opts *o, const struct chash *c, const uint64_t *before, int nbefore)
{
	FILE *f = fopen(o->csv, "w");
	if (!f)
		cli_fail("ring", "--csv: cannot write '%s': %m", o->csv);
	fprintf(f, "node,weight,load%s\n", (o->add || o->remove) ? ",load_after" : "");
	int n = nbefore > c->nnodes ? nbefore : c->nnodes;
	for (int i = 0; i < n; i++) {
		const struct chash_node *nd = i < c->nnodes ? &c->nodes[i] : NULL;
		fprintf(f, "node-%d,%d,%llu", i, weight_of(o, i),
			(unsigned long long)(i < nbefore ? before[i] : 0));
		if (o->add || o->remove)
			fprintf(f, ",%llu", (unsigned long long)(nd && nd->live ? nd->load : 0));
		fputc('\n', f);
	}
	fclose(f);
}

/* Write `fill(f, arg)` to a fresh temporary file; its name goes to path. */
static void temp_data(char *path, void (*fill)(FILE *f, const void *arg), const void *arg)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		cli_fail("ring", "--plot: cannot write a temporary file: %m");
	fill(f, arg);
	fclose(f);
}

struct loads {
	const uint64_t *v;
	int n;
};

static void fill_loads(FILE *f, const void *arg)
{
	const struct loads *l = arg;
	for (int i = 0; i < l->n; i++)
		fprintf(f, "%d %llu\n", i, (unsigned long long)l->v[i]);
}

/* Every point of the ring on a unit circle, coloured by node. */
static void fill_points(FILE *f, const void *arg)
{
	const struct ring *r = arg;
	for (size_t i = 0; i < r->npoints; i++) {
		double angle = 2 * M_PI * ((double)r->points[i].hash / 18446744073709551616.0);
		fprintf(f, "%f %f %u\n", sin(angle), cos(angle), r->points[i].node);
	}
}

/* Small rings are also drawn as rings: the picture of chapter 5. */
#define PLOT_RING_MAX_POINTS 4096

static int plot(const struct opts *o, const struct chash *c, const uint64_t *loads, int n,
		double mean)
{
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "strata ring: gnuplot is not installed (apt-get install gnuplot-nox); "
			"no chart drawn\n");
		return 1;
	}
	bool draw_ring = (c->algo == CHASH_RING || c->algo == CHASH_BOUNDED) && n <= 32 &&
			 c->ring.npoints <= PLOT_RING_MAX_POINTS;
	char data[] = "/tmp/strata-ring-XXXXXX", points[] = "/tmp/strata-ring-XXXXXX";
	struct loads l = { loads, n };
	temp_data(data, fill_loads, &l);
	if (draw_ring)
		temp_data(points, fill_points, &c->ring);
	FILE *g = popen("gnuplot", "w");
	if (!g) {
		unlink(data);
		if (draw_ring)
			unlink(points);
		cli_fail("ring", "--plot: cannot run gnuplot");
	}
	fprintf(g, "set terminal pngcairo size %d,500\nset output '%s'\n", draw_ring ? 1400 : 1000,
		o->plot);
	if (draw_ring)
		fprintf(g, "set multiplot layout 1,2\n");
	fprintf(g, "set title 'strata ring: %s, %ld nodes, %ld keys'\n", chash_algo_name(o->algo),
		o->nodes, o->keys);
	fprintf(g, "set xlabel 'node'\nset ylabel 'keys'\nset style fill solid 0.6\n"
		"set boxwidth 0.8\nset yrange [0:*]\nset key top right\n");
	fprintf(g, "plot '%s' using 1:2 with boxes title 'keys per node', %f with lines lw 2 "
		"title 'mean'\n", data, mean);
	if (draw_ring) {
		fprintf(g, "set title 'the ring: %zu points (%d per unit of weight), colour = node'\n"
			"unset xlabel\nunset ylabel\nset size ratio -1\nset xrange [-1.2:1.2]\n"
			"set yrange [-1.2:1.2]\nunset xtics\nunset ytics\nunset key\n"
			"set palette defined (0 'blue', 1 'green', 2 'orange', 3 'red', 4 'purple')\n"
			"unset colorbox\nset object 1 circle at 0,0 size 1 fs empty border lc 'grey'\n"
			"plot '%s' using 1:2:3 with points pt 7 ps 0.6 lc palette\n"
			"unset multiplot\n", c->ring.npoints, c->vnodes, points);
	}
	int rc = pclose(g);
	unlink(data);
	if (draw_ring)
		unlink(points);
	if (rc != 0)
		cli_fail("ring", "--plot: gnuplot failed to draw '%s'", o->plot);
	return 0;
}

int ringtool_main(int argc, char **argv)
{
	struct opts o = { 0 };
	optind = 1;
	parse_args(argc, argv, &o);

	struct chash c;
	if (chash_init(&c, o.algo, (int)o.vnodes, (uint32_t)o.maglev_size) < 0)
		cli_fail("ring", "invalid settings");
	uint64_t *keys = malloc((size_t)o.keys * sizeof(*keys));
	int32_t *owner = malloc((size_t)o.keys * sizeof(*owner));
	int32_t *after = (o.add || o.remove) ? malloc((size_t)o.keys * sizeof(*after)) : NULL;
	if (!keys || !owner || ((o.add || o.remove) && !after))
		cli_fail("ring", "out of memory for %ld keys", o.keys);
	char buf[32];
	for (long k = 0; k < o.keys; k++)
		keys[k] = ring_hash(buf, (size_t)snprintf(buf, sizeof(buf), "key-%ld", k));

	add_nodes(&c, &o, 0, o.nodes);
	struct result r = { 0 };
	r.memory = chash_memory(&c);
	r.lookup_ns = place(&c, &o, keys, owner);
	summarize(&c, &r);
	int nbefore = c.nnodes;
	uint64_t *before = malloc((size_t)nbefore * sizeof(*before));
	if (!before)
		cli_fail("ring", "out of memory");
	for (int i = 0; i < nbefore; i++)
		before[i] = c.nodes[i].load;

	if (o.add || o.remove) {
		if (o.add) {
			add_nodes(&c, &o, o.nodes, o.nodes + o.add);
			r.ideal_moved = (double)o.keys * o.add / (o.nodes + o.add);
		} else {
			for (long i = o.nodes - 1; i >= o.nodes - o.remove; i--)
				chash_remove(&c, (int)i);
			r.ideal_moved = (double)o.keys * o.remove / o.nodes;
		}
		place(&c, &o, keys, after);
		for (long k = 0; k < o.keys; k++)
			r.moved += owner[k] != after[k];
	}

	if (o.json) {
		printf("{\"algo\":\"%s\",\"nodes\":%ld,\"vnodes\":%ld,\"keys\":%ld,\"min\":%.0f,"
		       "\"max\":%.0f,\"mean\":%.2f,\"stddev\":%.2f,\"peak_to_mean\":%.4f,"
		       "\"moved\":%llu,\"ideal_moved\":%.0f,\"lookup_ns\":%.1f,\"memory_bytes\":%zu}\n",
		       chash_algo_name(o.algo), o.nodes,
		       o.algo == CHASH_RING || o.algo == CHASH_BOUNDED ? (long)c.vnodes : 0L,
		       o.keys, r.min, r.max, r.mean, r.stddev, r.peak_to_mean,
		       (unsigned long long)r.moved, r.ideal_moved, r.lookup_ns, r.memory);
	} else {
		printf("algorithm     %s", chash_algo_name(o.algo));
		if (o.algo == CHASH_RING || o.algo == CHASH_BOUNDED)
			printf(" (%d points per unit of weight)", c.vnodes);
		if (o.algo == CHASH_MAGLEV)
			printf(" (table of %u slots)", c.maglev_size);
		if (o.algo == CHASH_BOUNDED)
			printf(", epsilon %.2f: capacity %llu keys", o.epsilon,
			       (unsigned long long)capacity(o.epsilon, o.keys, (int)o.nodes));
		printf("\nnodes, keys   %ld, %ld%s\n\n", o.nodes, o.keys,
		       o.weights ? " (weighted: loads per unit of weight)" : "");
		printf("load per node   min %.0f   mean %.1f   max %.0f   stddev %.1f   peak/mean %.4f\n",
		       r.min, r.mean, r.max, r.stddev, r.peak_to_mean);
		if (o.add || o.remove)
			printf("%s %ld node%s  moved %llu keys, ideal %.0f (%.3fx)\n",
			       o.add ? "add" : "remove", o.add ? o.add : o.remove,
			       (o.add ? o.add : o.remove) > 1 ? "s" : "", (unsigned long long)r.moved,
			       r.ideal_moved, r.ideal_moved > 0 ? (double)r.moved / r.ideal_moved : 0);
		printf("lookup          %.1f ns per key\n", r.lookup_ns);
		printf("memory          %zu bytes\n", r.memory);
		if (o.nodes <= 20) {
			printf("\nnode        weight        keys\n");
			for (int i = 0; i < nbefore; i++)
				printf("node-%-6d %6d %11llu\n", i, weight_of(&o, i),
				       (unsigned long long)before[i]);
		}
	}
	int rc = 0;
	if (o.csv)
		write_csv(&o, &c, before, nbefore);
	if (o.plot)
		rc = plot(&o, &c, before, nbefore, (double)o.keys / o.nodes);
	free(before);
	free(keys);
	free(owner);
	free(after);
	free(o.weights);
	chash_free(&c);
	return rc;
}
