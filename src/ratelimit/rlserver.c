#include "ratelimit/rlserver.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include "core/buf.h"
#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/signals.h"
#include "net/respd.h"
#include "net/sock.h"
#include "proto/resp.h"
#include "ratelimit/rlcell.h"


static const char usage[] =
	"usage: strata ratelimit serve --listen ADDR:PORT [--max-keys N] [--log-level L]\n"
	"\n"
	"A Redis-protocol rate-limit service: CL.THROTTLE key max_burst count period [quantity]\n"
	"answers like the redis-cell module (limited, limit, remaining, retry_after, reset_after).\n"
	"\n"
	"  -l, --listen ADDR:PORT   address to serve (required)\n"
	"  -k, --max-keys N         keys kept at most, idle ones dropped (default 1000000)\n"
	"      --log-level L        error, warn, info (default), debug\n"
	"  -h, --help               this help\n";

struct server {
	struct loop *loop;
	int listen_fd;
	struct respd *respd;
	struct rl_table *table;
	struct signals *signals;
	struct timer sweep;               /* drops idle keys every second */
};

static bool handle(void *arg, struct respd_client *cl, const struct resp_command *cmd,
		   struct buf *out)
{
	(void)cl;
	if (!resp_arg_is(&cmd->args[0], "cl.throttle"))
		return false;
	struct server *s = arg;
	rlcell_command(s->table, cmd, loop_clock_ns(), out);
	return true;
}

static void on_signal(void *arg, int signo)
{
	struct server *s = arg;
	if (signo != SIGHUP) {
		log_info("%s: stopping", strsignal(signo));
		loop_stop(s->loop);
	}
}

static void sweep(struct timer *t)
{
	struct server *s = container_of(t, struct server, sweep);
	rl_table_expire(s->table, loop_clock_ns());
	loop_timer_arm(s->loop, t, 1000);
}

int rlserver_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-keys", required_argument, NULL, 'k' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sock_addr addr;
	bool has_listen = false;
	long max_keys = 1000000;
	enum log_level level = LOG_INFO;
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":l:k:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (sock_addr_parse(optarg, &addr) < 0)
				cli_fail("ratelimit", "--listen: '%s' is not ADDR:PORT", optarg);
			has_listen = true;
			break;
		case 'k':
			if (cli_parse_long(optarg, 1, 1000000000, &max_keys) < 0)
				cli_fail("ratelimit", "--max-keys: '%s' is not a number from 1 to 1000000000",
					 optarg);
			break;
		case 'L':
			if (log_parse_level(optarg, &level) < 0)
				cli_fail("ratelimit", "--log-level: '%s' is not error, warn, info or debug",
					 optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_option_fail("ratelimit", "ratelimit serve", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("ratelimit", "unexpected argument '%s'", argv[optind]);
	if (!has_listen)
		cli_fail("ratelimit", "--listen ADDR:PORT is required");
	log_setup(level, LOG_TEXT);
	signals_block();

	struct server s = { 0 };
	struct rl_policy any = { RL_GCRA, 1, 1000000000ULL, 1 };
	int rc = loop_create(&s.loop);
	if (rc == 0)
		rc = rl_table_create(&any, (size_t)max_keys, &s.table);
	s.listen_fd = -1;
	if (rc == 0) {
		s.listen_fd = sock_listen(&addr, 511);
		if (s.listen_fd < 0) {
			char text[SOCK_ADDR_STRLEN];
			sock_addr_str(&addr, text, sizeof(text));
			log_error("ratelimit: cannot listen on %s: %s", text, err_str(s.listen_fd));
			rc = s.listen_fd;
		}
	}
	if (rc == 0)
		rc = respd_create(s.loop, s.listen_fd, false, handle, &s, &s.respd);
	if (rc == 0)
		rc = signals_create(s.loop, on_signal, &s, &s.signals);
	if (rc == 0) {
		char text[SOCK_ADDR_STRLEN];
		sock_addr_str(&addr, text, sizeof(text));
		log_info("strata ratelimit %s serving CL.THROTTLE on %s (max %ld keys)", STRATA_VERSION,
			 text, max_keys);
		timer_init(&s.sweep, sweep);
		loop_timer_arm(s.loop, &s.sweep, 1000);
		rc = loop_run(s.loop);
	}
	if (rc < 0)
		log_error("ratelimit: %s", err_str(rc));
	respd_destroy(s.respd);
	signals_destroy(s.signals);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	rl_table_unref(s.table);
	if (s.loop)
		loop_destroy(s.loop);  /* also runs the deferred frees */
	return rc < 0 ? 1 : 0;
}
