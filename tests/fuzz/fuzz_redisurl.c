/* libFuzzer target: REDIS_URL (shared_url_parse).  A URL is taken apart
 * into a host or a socket path with a sane port and db, or refused with a
 * reason. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared_url.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct shared_url	 u;
	char			*s, *cause = NULL;

	s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	memset(&u, 0, sizeof u);
	if (shared_url_parse(s, &u, &cause) == 0) {
		assert(cause == NULL);
		assert((u.host != NULL) != (u.path != NULL));
		assert(u.path != NULL || (u.port > 0 && u.port < 65536));
		assert(u.db >= 0);
	} else
		assert(cause != NULL);
	free(cause);
	shared_url_clear(&u);
	free(s);
	return 0;
}
