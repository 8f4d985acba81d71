/* libFuzzer target: the load balancer's config-file parser (libinih plus
 * strata's settings, address, duration and server-spec parsers). Accepted
 * configurations must also be valid ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "lb/conf.h"
#include "net/sock.h"

static struct lb_conf conf;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sock_resolve_names(false);
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[CONF_ERR_MAX];
	conf_init(&conf);
	int rc = conf_load_string(&conf, text, err, sizeof(err));
	if (rc == 0) {
		if (conf.nlisteners < 1 || conf.nlisteners > CONF_MAX_LISTENERS)
			abort();
		for (int i = 0; i < conf.nlisteners; i++)
			if (conf.listeners[i].pool < 0 || conf.listeners[i].pool >= conf.npools)
				abort();
		for (int i = 0; i < conf.npools; i++)
			if (conf.pools[i].nservers < 1)
				abort();
	} else if (rc != ERR_CONFIG || memchr(err, '\n', strlen(err))) {
		abort();
	}
	free(text);
	return 0;
}
