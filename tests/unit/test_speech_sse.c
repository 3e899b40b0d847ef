/* Unit tests for speech as events: audio cut anywhere comes out as delta
 * events whose base64 each decode on their own and join into the audio,
 * then the done event with the usage; an error event is one valid line. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "speech_sse.h"

/* What a stream of events holds. */
struct parsed {
	unsigned char	*audio;		/* the deltas decoded, joined */
	size_t		 len;
	int		 ndelta;
	int		 bad;		/* an event not as it must be */
	size_t		 maxdelta;	/* the most bytes in one delta */
	cJSON		*last;		/* the last event */
};

/* Decode one delta's base64 on its own; -1 if it is not whole base64. */
static long
decode(const char *b64, unsigned char *out)
{
	size_t	n = strlen(b64), pad = 0;
	int	r;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	if ((r = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n)) < 0)
		return -1;
	return r - (long)pad;
}

static void
parse(struct evbuffer *b, struct parsed *p)
{
	size_t		 total = evbuffer_get_length(b);
	char		*s = malloc(total + 1), *ev, *next;
	const cJSON	*type, *audio;
	long		 n;
	int		 padded = 0;

	memset(p, 0, sizeof *p);
	evbuffer_remove(b, s, total);
	s[total] = '\0';
	p->audio = malloc(total + 1);
	for (ev = s; *ev != '\0'; ev = next) {
		if ((next = strstr(ev, "\n\n")) == NULL) {
			p->bad++;	/* not ended by a blank line */
			break;
		}
		*next = '\0';
		next += 2;
		if (strncmp(ev, "data: ", 6) != 0 || strchr(ev, '\n') != NULL) {
			p->bad++;	/* one data: line, no event: field */
			continue;
		}
		cJSON_Delete(p->last);
		if ((p->last = cJSON_Parse(ev + 6)) == NULL) {
			p->bad++;
			continue;
		}
		type = cJSON_GetObjectItemCaseSensitive(p->last, "type");
		if (!cJSON_IsString(type) ||
		    strcmp(type->valuestring, "speech.audio.delta") != 0)
			continue;
		audio = cJSON_GetObjectItemCaseSensitive(p->last, "audio");
		/* Padding ('=') only in the last delta. */
		if (!cJSON_IsString(audio) || padded ||
		    (n = decode(audio->valuestring, p->audio + p->len)) < 0) {
			p->bad++;
			continue;
		}
		padded = strchr(audio->valuestring, '=') != NULL;
		p->ndelta++;
		p->len += (size_t)n;
		if ((size_t)n > p->maxdelta)
			p->maxdelta = (size_t)n;
	}
	free(s);
}

static void
parsed_free(struct parsed *p)
{
	free(p->audio);
	cJSON_Delete(p->last);
}

static long long
usage(const cJSON *done, const char *name)
{
	const cJSON	*u = cJSON_GetObjectItemCaseSensitive(done, "usage");
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(u, name);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

static int
is_done(const cJSON *ev)
{
	const cJSON	*t = cJSON_GetObjectItemCaseSensitive(ev, "type");

	return cJSON_IsString(t) &&
	    strcmp(t->valuestring, "speech.audio.done") == 0;
}

/* The audio given in pieces cut at a and b, framed and read back. */
static void
frame_cut(const unsigned char *d, size_t len, size_t a, size_t b,
    struct parsed *p)
{
	struct evbuffer		*out = evbuffer_new();
	struct speech_sse	 s;

	speech_sse_init(&s, 7);
	speech_sse_delta(&s, out, d, a);
	speech_sse_delta(&s, out, d + a, b - a);
	speech_sse_delta(&s, out, d + b, 0);	/* nothing new */
	speech_sse_delta(&s, out, d + b, len - b);
	speech_sse_done(&s, out);
	parse(out, p);
	evbuffer_free(out);
}

static void
test_cuts(void)
{
	unsigned char	d[23];
	struct parsed	p;
	size_t		a, b, i;
	int		bad = 0;

	for (i = 0; i < sizeof d; i++)
		d[i] = (unsigned char)(i * 37 + 200);
	for (a = 0; a <= sizeof d; a++)
		for (b = a; b <= sizeof d; b++) {
			frame_cut(d, sizeof d, a, b, &p);
			if (p.bad != 0 ||
			    p.len != sizeof d || memcmp(p.audio, d, p.len) != 0 ||
			    !is_done(p.last) || usage(p.last, "input_tokens") != 7)
				bad++;
			parsed_free(&p);
		}
	CHECK_INT(bad, 0);
}

static void
test_known(void)
{
	struct evbuffer		*out = evbuffer_new();
	struct speech_sse	 s;
	char			 got[512];
	size_t			 n;

	speech_sse_init(&s, 12);
	speech_sse_delta(&s, out, "Ma", 2);
	CHECK_INT(evbuffer_get_length(out), 0);	/* carried, not sent */
	speech_sse_delta(&s, out, "nMa", 3);
	speech_sse_done(&s, out);
	n = evbuffer_remove(out, got, sizeof got - 1);
	got[n] = '\0';
	CHECK_STR(got,
	    "data: {\"type\":\"speech.audio.delta\",\"audio\":\"TWFu\"}\n\n"
	    "data: {\"type\":\"speech.audio.delta\",\"audio\":\"TWE=\"}\n\n"
	    "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":12,"
	    "\"output_tokens\":0,\"total_tokens\":12}}\n\n");
	/* Nothing at all: the done event alone. */
	speech_sse_init(&s, 0);
	speech_sse_done(&s, out);
	n = evbuffer_remove(out, got, sizeof got - 1);
	got[n] = '\0';
	CHECK_STR(got, "data: {\"type\":\"speech.audio.done\",\"usage\":"
	    "{\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0}}\n\n");
	evbuffer_free(out);
}

/* Much audio at once: several events, none over SPEECH_SSE_MAX. */
static void
test_large(void)
{
	size_t		 len = 3 * SPEECH_SSE_MAX + 1000, i;
	unsigned char	*d = malloc(len);
	struct parsed	 p;

	for (i = 0; i < len; i++)
		d[i] = (unsigned char)(i ^ (i >> 8));
	frame_cut(d, len, 1, 1 + SPEECH_SSE_MAX + 2, &p);
	CHECK_INT(p.bad, 0);
	CHECK_INT(p.len, len);
	CHECK(memcmp(p.audio, d, len) == 0);
	CHECK(p.maxdelta <= SPEECH_SSE_MAX);
	CHECK(p.ndelta >= 4);
	CHECK(is_done(p.last));
	parsed_free(&p);
	free(d);
}

static void
test_error(void)
{
	struct evbuffer	*out = evbuffer_new();
	struct parsed	 p;
	const cJSON	*e;

	speech_sse_error(out, "server_error", "synthesis_failed",
	    "backend said \"no\"\nthen left");
	parse(out, &p);
	CHECK_INT(p.bad, 0);
	CHECK_INT(p.ndelta, 0);
	CHECK_STR(cJSON_GetObjectItemCaseSensitive(p.last, "type")->valuestring,
	    "error");
	e = cJSON_GetObjectItemCaseSensitive(p.last, "error");
	CHECK_STR(cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring,
	    "backend said \"no\"\nthen left");
	CHECK_STR(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring,
	    "server_error");
	CHECK_STR(cJSON_GetObjectItemCaseSensitive(e, "code")->valuestring,
	    "synthesis_failed");
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "param")));
	parsed_free(&p);
	evbuffer_free(out);
}

int
main(void)
{
	test_cuts();
	test_known();
	test_large();
	test_error();
	return CHECK_DONE();
}
