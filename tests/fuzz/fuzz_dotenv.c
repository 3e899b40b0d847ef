/* libFuzzer target: a .env file in the working directory, read by
 * config_load after the (empty) config file.  It loads or fails with a
 * reason; nothing crashes or leaks. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static char	dir[] = "/tmp/fuzz_dotenv.XXXXXX";

/* Leave nothing behind at exit. */
static void
cleanup(void)
{
	unlink(".env");
	if (chdir("/") == 0)
		rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int	 ready;
	struct config	 cf;
	char		*argv[] = { "ttsaccel", "--config", "/dev/null", NULL };
	char		*envp[] = { NULL };
	char		*cause = NULL;
	int		 action, rc;
	FILE		*f;

	if (!ready) {
		/* A directory of its own, where .env is written. */
		if (mkdtemp(dir) == NULL || chdir(dir) != 0)
			abort();
		atexit(cleanup);
		ready = 1;
	}
	log_level = LOG_LVL_ERROR + 1;
	if ((f = fopen(".env", "w")) == NULL)
		return 0;
	fwrite(d, 1, n, f);
	fclose(f);
	rc = config_load(&cf, 3, argv, envp, &action, &cause);
	if (rc == 0)
		assert(cause == NULL);
	else
		assert(cause != NULL);
	free(cause);
	config_clear(&cf);
	return 0;
}
