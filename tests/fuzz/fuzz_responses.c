/* libFuzzer target: Responses API request rewriting and the spoken text
 * of its events and whole responses, on arbitrary bytes.  A rewritten
 * request is JSON without tts_* fields (the very input when it had
 * none); an event's text is a non-empty string only for an output text
 * delta; a whole response's text is never empty. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "request.h"
#include "responses.h"
#include "sse.h"

struct feed {
	struct responses_pos	 pos;
	size_t			 spoken;
};

/* Each event of the bytes read as an SSE stream, as the proxy does. */
static int
event_cb(void *arg, const struct sse_event *ev)
{
	struct feed	*f = arg;
	const char	*t;
	cJSON		*j;
	int		 np;

	if (!ev->has_data ||
	    (j = cJSON_ParseWithLength(ev->data, ev->datalen)) == NULL)
		return 0;
	if ((t = responses_event_text(j, &f->pos, &np)) != NULL) {
		assert(*t != '\0');
		assert(f->pos.seen);
		assert(!np || f->spoken > 0);
		f->spoken++;
	} else
		assert(np == 0);
	(void)responses_event_failed(j);
	cJSON_Delete(j);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct chat_tts		 tts;
	struct req_error	 err;
	struct sse_parser	*p;
	struct feed		 f;
	char			*out;
	size_t			 len;
	int			 stream;
	cJSON			*j;

	memset(&err, 0, sizeof err);
	out = responses_rewrite((const char *)d, n, &tts, &stream, &len,
	    &err);
	if (out != NULL) {
		assert(strlen(out) == len);
		j = cJSON_ParseWithLength(out, len);
		assert(j != NULL);
		assert(cJSON_GetObjectItemCaseSensitive(j, "tts_voice") ==
		    NULL);
		assert(cJSON_GetObjectItemCaseSensitive(j, "tts_enabled") ==
		    NULL);
		cJSON_Delete(j);
		free(out);
		chat_tts_clear(&tts);
	} else
		assert(err.code != NULL && err.msg[0] != '\0');

	/* The bytes as one event, as a whole response, and as a stream. */
	memset(&f, 0, sizeof f);
	if ((j = cJSON_ParseWithLength((const char *)d, n)) != NULL) {
		if ((out = responses_output_text(j)) != NULL) {
			assert(*out != '\0');
			free(out);
		}
		(void)responses_event_text(j, &f.pos, &stream);
		cJSON_Delete(j);
	}
	memset(&f, 0, sizeof f);
	p = sse_new(0);
	if (sse_feed(p, (const char *)d, n, event_cb, &f) == 0)
		sse_finish(p, event_cb, &f);
	sse_free(p);
	return 0;
}
