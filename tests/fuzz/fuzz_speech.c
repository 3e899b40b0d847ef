/* libFuzzer target: a speech request body (request_object and
 * request_speech).  A body is a JSON object with a non-empty input and
 * checked fields (stream_format "audio" or "sse" when a string), or a 400
 * with a code and a message. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct req_error	 e;
	struct speech_req	 r;
	const cJSON		*sf;
	cJSON			*root;

	memset(&e, 0, sizeof e);
	if ((root = request_object((const char *)d, n, &e)) == NULL) {
		assert(e.code != NULL && e.msg[0] != '\0');
		return 0;
	}
	assert(memchr(d, '\0', n) == NULL);
	memset(&e, 0, sizeof e);
	if (request_speech(root, &r, &e) == 0) {
		assert(r.input != NULL && r.input[0] != '\0');
		assert(r.speed >= 0.25 && r.speed <= 4.0);
		assert(r.model == NULL || r.model[0] != '\0');
		sf = cJSON_GetObjectItemCaseSensitive(root, "stream_format");
		assert(r.sse == (cJSON_IsString(sf) &&
		    strcmp(sf->valuestring, "sse") == 0));
		assert(sf == NULL || cJSON_IsNull(sf) || r.sse ||
		    strcmp(sf->valuestring, "audio") == 0);
	} else
		assert(e.code != NULL && e.param != NULL && e.msg[0] != '\0');
	cJSON_Delete(root);
	return 0;
}
