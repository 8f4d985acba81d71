#include "core/signals.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/err.h"

struct signals {
	struct loop *loop;
	struct loop_io io;
	signals_fn fn;
	void *arg;
};

static void watched(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

void signals_block(void)
{
	sigset_t set;
	watched(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_signal(struct loop_io *io, uint32_t events)
{
	struct signals *s = container_of(io, struct signals, io);
	(void)events;
	struct signalfd_siginfo si;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si))
		s->fn(s->arg, (int)si.ssi_signo);
}

int signals_create(struct loop *l, signals_fn fn, void *arg, struct signals **out)
{
	struct signals *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	sigset_t set;
	watched(&set);
	s->io.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->io.fd < 0) {
		int rc = err_sys();
		free(s);
		return rc;
	}
	s->loop = l;
	s->io.fn = on_signal;
	s->fn = fn;
	s->arg = arg;
	int rc = loop_add(l, &s->io, LOOP_READ);
	if (rc < 0) {
		close(s->io.fd);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void signals_destroy(struct signals *s)
{
	if (!s)
		return;
	loop_del(s->loop, &s->io);
	close(s->io.fd);
	free(s);
}
