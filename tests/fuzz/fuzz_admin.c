/* libFuzzer target: admin protocol request lines (admin_parse).  A line is
 * blank, a request with a string cmd, or refused with a reason; nothing
 * crashes or leaks. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	cJSON		*req;
	const char	*cmd, *error;
	char		*line;
	int		 rc;

	line = malloc(n + 1);
	memcpy(line, d, n);
	line[n] = '\0';
	rc = admin_parse(line, n, &req, &cmd, &error);
	switch (rc) {
	case ADMIN_PARSE_BLANK:
		assert(req == NULL && error == NULL);
		break;
	case ADMIN_PARSE_OK:
		assert(req != NULL && cmd != NULL && error == NULL);
		assert(cJSON_IsObject(req));
		cJSON_Delete(req);
		break;
	default:
		assert(rc == ADMIN_PARSE_BAD);
		assert(req == NULL && error != NULL && *error != '\0');
		break;
	}
	free(line);
	return 0;
}
