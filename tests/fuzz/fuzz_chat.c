/* libFuzzer target: chat request rewriting and chunk assembly on
 * arbitrary JSON.  A rewritten request is valid JSON with stream true
 * and no tts_* field; assembly never crashes and yields JSON; a
 * sanitized text is valid UTF-8 and the result of sanitizing it again
 * needs no change. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "request.h"
#include "util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct chat_tts	 tts;
	struct chat_asm	*a;
	struct req_error err;
	char		*out, *res;
	size_t		 len, len2;
	int		 stream;
	cJSON		*j, *chunk;

	memset(&err, 0, sizeof err);
	out = chat_rewrite((const char *)d, n, &tts, &stream, &err);
	if (out != NULL) {
		j = cJSON_Parse(out);
		assert(j != NULL);
		assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j,
		    "stream")));
		assert(cJSON_GetObjectItemCaseSensitive(j, "tts_voice") ==
		    NULL);
		assert(cJSON_GetObjectItemCaseSensitive(j, "tts_enabled") ==
		    NULL);
		cJSON_Delete(j);
		free(out);
		chat_tts_clear(&tts);
	} else
		assert(err.code != NULL && err.msg[0] != '\0');

	if ((res = chat_sanitize((const char *)d, n, &len)) != NULL) {
		assert(utf8_valid(res, len));
		assert(strlen(res) <= len);
		assert(chat_sanitize(res, len, &len2) == NULL);
		free(res);
	} else
		assert(utf8_valid((const char *)d, n));

	/* The same bytes as a stream chunk, twice. */
	if ((chunk = cJSON_ParseWithLength((const char *)d, n)) != NULL) {
		a = chat_asm_new();
		chat_asm_add(a, chunk);
		chat_asm_add(a, chunk);
		(void)chat_chunk_content(chunk);
		res = chat_asm_result(a);
		j = cJSON_Parse(res);
		assert(j != NULL);
		cJSON_Delete(j);
		free(res);
		chat_asm_free(a);
		cJSON_Delete(chunk);
	}
	return 0;
}
