/*
 * main.c - the `strata` entry point: one binary, one subcommand per component.
 */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "echo/echo.h"
#include "id/idserver.h"
#include "kv/kvserver.h"
#include "lb/lb.h"
#include "tools/ringtool.h"
#include "tools/rltool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int version_main(int argc, char **argv);
static int help_main(int argc, char **argv);

static const struct command commands[] = {
	{ "lb", lb_main, "load balancer (L7 HTTP and L4 TCP proxy: routing, balancing, health, limits)" },
	{ "ring", ringtool_main, "consistent hashing: balance, movement, lookup time (ring, jump, maglev, ...)" },
	{ "ratelimit", rltool_main, "rate limiting: CL.THROTTLE service, algorithm comparison, bench, store script" },
	{ "kv", kvserver_main, "key-value server over the Redis protocol (cache and session tier)" },
	{ "id", idserver_main, "unique IDs: Snowflake, UUIDv7 and ULID over the Redis protocol and HTTP" },
	{ "echo", echo_main, "tiny HTTP server answering its name (demo and test backend)" },
	{ "version", version_main, "print the version" },
	{ "help", help_main, "list the commands" },
};

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("strata %s\n", STRATA_VERSION);
	return 0;
}

static int help_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: strata COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\n'strata COMMAND --help' shows a command's options.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		help_main(argc, argv);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		return help_main(argc, argv);
	if (strcmp(name, "--version") == 0)
		return version_main(argc, argv);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "strata: unknown command '%s' (see strata help)\n", name);
	return CLI_EXIT_USAGE;
}
