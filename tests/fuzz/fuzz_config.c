/* libFuzzer target: the config file parser.  Any file either loads (and
 * prints) or fails with a reason; nothing crashes or leaks. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char	 path[64];
	struct config	 cf;
	char		*argv[] = { "ttsaccel", "--config", path, NULL };
	char		*envp[] = { NULL };
	char		*cause = NULL;
	int		 action, rc;
	FILE		*f;

	if (path[0] == '\0')
		snprintf(path, sizeof path, "/tmp/fuzz_config.%d", (int)getpid());
	log_level = LOG_LVL_ERROR + 1;
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(d, 1, n, f);
	fclose(f);
	rc = config_load(&cf, 3, argv, envp, &action, &cause);
	if (rc == 0) {
		assert(cause == NULL);
		if ((f = fopen("/dev/null", "w")) != NULL) {
			config_print(&cf, f);
			fclose(f);
		}
	} else
		assert(cause != NULL);
	free(cause);
	config_clear(&cf);
	return 0;
}
