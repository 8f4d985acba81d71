#include "echo/echo.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/workers.h"
#include "net/httpd.h"
#include "net/sock.h"

static const char usage[] =
	"usage: strata echo --listen ADDR:PORT [--name NAME] [--threads N]\n"
	"\n"
	"A tiny HTTP/1.1 keep-alive server: every request gets 200 and the body NAME\\n.\n"
	"\n"
	"  -l, --listen ADDR:PORT  address to listen on (required)\n"
	"  -n, --name NAME         the body's text (default: echo)\n"
	"  -t, --threads N         worker threads (default: 1)\n"
	"  -h, --help              this help\n";

struct echo {
	char *name;
	struct loop *main_loop;
};

static void answer(void *arg, const struct http1_request *req, struct httpd_reply *reply)
{
	const struct echo *e = arg;
	(void)req;
	buf_puts(&reply->body, e->name);
	buf_puts(&reply->body, "\n");
}

static void on_signal(void *arg, int signo)
{
	struct echo *e = arg;
	if (signo != SIGHUP)
		loop_stop(e->main_loop);
}

int echo_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *listen_text = NULL;
	struct echo e = { .name = "echo" };
	long threads = 1;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:n:t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_text = optarg; break;
		case 'n': e.name = optarg; break;
		case 't':
			if (cli_parse_long(optarg, 1, 256, &threads) < 0)
				cli_fail("echo", "--threads: '%s' is not a number from 1 to 256", optarg);
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: cli_option_fail("echo", "echo", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("echo", "unexpected argument '%s'", argv[optind]);
	if (!listen_text)
		cli_fail("echo", "--listen ADDR:PORT is required");
	if (strpbrk(e.name, "\r\n"))
		cli_fail("echo", "--name must be one line");
	struct sock_addr addr;
	if (sock_addr_parse(listen_text, &addr) < 0)
		cli_fail("echo", "--listen: '%s' is not ADDR:PORT", listen_text);

	signals_block();
	int lfd = sock_listen(&addr, 1024);
	if (lfd < 0) {
		log_error("echo: cannot listen on %s: %s", listen_text, err_str(lfd));
		return 1;
	}

	int rc = 0, status = 1;
	struct workers *w = NULL;
	struct httpd **servers = calloc((size_t)threads, sizeof(*servers));
	struct signals *sig = NULL;
	if (!servers || (rc = workers_create((int)threads, &w)) < 0)
		goto out;
	for (int i = 0; i < w->count; i++)
		if ((rc = httpd_create(w->loops[i], lfd, true, answer, &e, &servers[i])) < 0)
			goto out;
	if ((rc = loop_create(&e.main_loop)) < 0 ||
	    (rc = signals_create(e.main_loop, on_signal, &e, &sig)) < 0 ||
	    (rc = workers_start(w)) < 0)
		goto out;
	log_info("echo '%s' listening on %s (%ld threads)", e.name, listen_text, threads);
	rc = loop_run(e.main_loop);
	workers_stop(w);
	status = rc < 0 ? 1 : 0;
out:
	if (status && rc < 0)
		log_error("echo: %s", err_str(rc));
	if (w)
		for (int i = 0; i < w->count; i++)
			httpd_destroy(servers[i]);
	workers_destroy(w);
	signals_destroy(sig);
	loop_destroy(e.main_loop);
	free(servers);
	close(lfd);
	return status;
}
