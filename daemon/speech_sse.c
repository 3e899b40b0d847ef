/* speech_sse: speech as server-sent events, as OpenAI's /v1/audio/speech
 * sends them with stream_format "sse": bare data: lines (no event:
 * field), each event a JSON object naming its type. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "speech_sse.h"
#include "util.h"

#define DELTA_HEAD	"data: {\"type\":\"speech.audio.delta\",\"audio\":\""
#define DELTA_TAIL	"\"}\n\n"

void
speech_sse_init(struct speech_sse *s, size_t input_tokens)
{
	memset(s, 0, sizeof *s);
	s->input_tokens = input_tokens;
}

/* One delta event of n bytes (n <= SPEECH_SSE_MAX). */
static void
delta_event(struct evbuffer *out, const unsigned char *d, size_t n)
{
	struct evbuffer_iovec	v;
	int			r;

	evbuffer_add(out, DELTA_HEAD, sizeof DELTA_HEAD - 1);
	/* EVP_EncodeBlock writes 4 per 3 bytes (padded) and a NUL. */
	if (evbuffer_reserve_space(out, (n + 2) / 3 * 4 + 1, &v, 1) != 1)
		fatalx("speech_sse: out of memory");
	r = EVP_EncodeBlock(v.iov_base, d, (int)n);
	v.iov_len = (size_t)r;
	evbuffer_commit_space(out, &v, 1);
	evbuffer_add(out, DELTA_TAIL, sizeof DELTA_TAIL - 1);
}

void
speech_sse_delta(struct speech_sse *s, struct evbuffer *out,
    const void *data, size_t len)
{
	const unsigned char	*d = data;
	unsigned char		*buf;
	size_t			 n, take;

	while (s->ncarry + len >= 3) {
		n = s->ncarry + len < SPEECH_SSE_MAX ? s->ncarry + len :
		    SPEECH_SSE_MAX;
		n -= n % 3;
		take = n - s->ncarry;
		if (s->ncarry == 0)
			delta_event(out, d, n);
		else {
			/* The bytes carried go first. */
			buf = xmalloc(n);
			memcpy(buf, s->carry, s->ncarry);
			memcpy(buf + s->ncarry, d, take);
			delta_event(out, buf, n);
			free(buf);
			s->ncarry = 0;
		}
		d += take;
		len -= take;
	}
	/* Fewer than three left: kept for the next call. */
	memcpy(s->carry + s->ncarry, d, len);
	s->ncarry += len;
}

void
speech_sse_done(struct speech_sse *s, struct evbuffer *out)
{
	if (s->ncarry > 0)
		delta_event(out, s->carry, s->ncarry);
	s->ncarry = 0;
	/* No audio tokens are counted (see the man page). */
	evbuffer_add_printf(out, "data: {\"type\":\"speech.audio.done\","
	    "\"usage\":{\"input_tokens\":%zu,\"output_tokens\":0,"
	    "\"total_tokens\":%zu}}\n\n", s->input_tokens, s->input_tokens);
}

void
speech_sse_error(struct evbuffer *out, const char *type, const char *code,
    const char *message)
{
	cJSON	*o, *err;
	char	*js;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "error");
	err = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(err, "message", message);
	cJSON_AddStringToObject(err, "type", type);
	cJSON_AddNullToObject(err, "param");
	cJSON_AddStringToObject(err, "code", code);
	if ((js = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("speech_sse: out of memory");
	evbuffer_add_printf(out, "data: %s\n\n", js);
	cJSON_free(js);
	cJSON_Delete(o);
}
