/* ttsaccelctl: inspect and steer a running ttsaccel. */
#include <stdio.h>
#include <string.h>

/* The command table: drives both dispatch and usage. */
struct cmd {
	const char	*name;
	int		 (*fn)(int, char **);
	const char	*args;
	const char	*help;
};

static const struct cmd cmds[] = {
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cmd	*c;

	fprintf(f,
"usage: ttsaccelctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
"       ttsaccelctl --help | --version\n"
"\n"
"Inspect and steer a running ttsaccel daemon.\n"
"\n"
"  -h, --help       this help\n"
"  -V, --version    print the version\n");
	if (cmds[0].name == NULL) {
		fprintf(f, "\nThis version has no commands yet.\n");
		return;
	}
	fprintf(f, "\nCommands:\n");
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-10s %-22s %s\n", c->name, c->args, c->help);
}

int
main(int argc, char **argv)
{
	const struct cmd	*c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("ttsaccelctl %s\n", TTSACCEL_VERSION);
		return 0;
	}
	for (c = cmds; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "ttsaccelctl: unknown command '%s' (see "
	    "ttsaccelctl --help)\n", argv[1]);
	return 2;
}
