#include "core/workers.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

int workers_default_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

int workers_create(int count, struct workers **out)
{
	if (count < 1 || count > 256)
		return ERR_CONFIG;
	struct workers *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loops = calloc((size_t)count, sizeof(*w->loops));
	w->threads = calloc((size_t)count, sizeof(*w->threads));
	if (!w->loops || !w->threads) {
		workers_destroy(w);
		return -ENOMEM;
	}
	for (int i = 0; i < count; i++) {
		int rc = loop_create(&w->loops[i]);
		if (rc < 0) {
			workers_destroy(w);
			return rc;
		}
		w->count++;
	}
	*out = w;
	return 0;
}

static void *run(void *arg)
{
	int rc = loop_run(arg);
	if (rc < 0)
		log_error("worker loop: %s", err_str(rc));
	return NULL;
}

int workers_start(struct workers *w)
{
	for (int i = w->started; i < w->count; i++) {
		int rc = pthread_create(&w->threads[i], NULL, run, w->loops[i]);
		if (rc != 0)
			return -rc;
		w->started++;
	}
	return 0;
}

static void stop_loop(void *arg)
{
	loop_stop(arg);
}

void workers_stop(struct workers *w)
{
	for (int i = 0; i < w->started; i++)
		loop_post(w->loops[i], stop_loop, w->loops[i]);
	for (int i = 0; i < w->started; i++)
		pthread_join(w->threads[i], NULL);
	w->started = 0;
}

void workers_destroy(struct workers *w)
{
	if (!w)
		return;
	workers_stop(w);
	for (int i = 0; i < w->count; i++)
		loop_destroy(w->loops[i]);
	free(w->loops);
	free(w->threads);
	free(w);
}
