/*
 * ttfabench: time to first audio and silence heard by a voice client.
 *
 * Two kinds of client, one per run:
 *
 *  --mode proxy     the ttsaccel way: a streamed chat through the daemon
 *                   (--url), and as soon as its X-TTS-Reply-Id header
 *                   arrives, GET /v1/audio/replies/{id}, played as it
 *                   comes.  The chat asks for "tts_events", whose first
 *                   `: tts` line names segment 0's text; with the fake
 *                   upstream's --timestamps this gives the floor: the time
 *                   the upstream sent the event holding the character after
 *                   segment 0 (the earliest a segmenter can know it ended)
 *                   plus the backend's latency (--latency-ms).
 *  --mode baseline  the original service's clients: a streamed chat
 *                   straight to the upstream (--url), read to its end, then
 *                   the text cut into sentences at .!? and each sentence
 *                   asked of a TTS endpoint (--tts) one request after
 *                   another, each played as it comes.
 *
 * Playback is simulated: PCM plays at the WAV's byte rate from its first
 * byte; whenever the player needs bytes that have not arrived, the wait is
 * silence.  TTFA is the time from sending the chat to the first PCM byte.
 *
 * Proxy, --interrupt N: the first N chats of each round cancel their
 * reply (DELETE /v1/audio/replies/{id}) once its first PCM byte came, as
 * a voice agent does when the user talks over it; they are left out of
 * the figures, which are of the others (RESULT interrupted=N).
 *
 * Each round starts --chats chats at once, each with its own text (ECHO:
 * prompts, a 8-sentence reply); --rounds rounds one after another.  It
 * talks to 127.0.0.1 only and stops by itself (--timeout per round).
 *
 * Output: one CHAT line per chat, then
 * RESULT label= mode= chats= ok= ttfa_p50_ms= ttfa_max_ms=
 * silence_p50_ms= silence_max_ms= gaps_p50= over_p50_ms= over_max_ms=
 * floor_p50_ms= over_vis_p50_ms= (proxy mode only; over = TTFA - floor,
 * over_vis the same with the floor taken at the first visible character
 * after segment 0, for a segmenter that waits for it).  Exit status 0 when
 * every chat got all its audio, 1 if not, 2 on a usage error.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cjson/cJSON.h>

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define TB_MAX_CHATS	1000
#define TB_MAX_TTS	16
#define TB_MAX_EVENT	(64 * 1024)
#define TB_MAX_SENT	64
#define TB_GAP_NS	1000000		/* a wait over 1 ms counts as a gap */

struct tb;

/* A WAV stream being parsed, and the simulated player. */
struct wavin {
	unsigned char	 hdr[4096];
	size_t		 nhdr;
	int		 in_data;	/* past the header */
	uint32_t	 byte_rate;
};

struct chat {
	struct tb			*tb;
	int				 idx, round;
	char				*text;		/* what the reply says */
	struct evhttp_connection	*chat_con, *audio_con;
	struct evbuffer			*sse;		/* unfinished event */
	struct evbuffer			*content;	/* reply so far */
	char				 reply_id[64];
	char				*seg0;		/* proxy: segment 0 text */
	/* Proxy: (content length after the event, upstream t_sent_ns). */
	size_t				*ev_len;
	int64_t				*ev_t;
	size_t				 nev, capev;
	/* Baseline: the sentences and the next to ask for. */
	char				*sent[TB_MAX_SENT];
	int				 nsent, cursent;
	struct wavin			 wav;
	int64_t				 t0;		/* chat sent */
	int64_t				 t_first;	/* first PCM byte, or 0 */
	double				 play_end;	/* ns, realtime */
	double				 silence_ns;
	int				 gaps;
	long long			 pcm;
	uint32_t			 rate;
	int				 chat_done, audio_done, failed;
	int				 interrupt;	/* DELETE after the
							   first audio */
	struct evhttp_connection	*del_con;
	double				 floor_ms;	/* proxy, or -1 */
	double				 floor_vis_ms;	/* after a space */
};

struct tb {
	struct event_base	*base;
	int			 proxy;
	int			 port;
	int			 tts_port[TB_MAX_TTS];
	int			 ntts;
	char			*key;
	char			*label;
	int			 nchats, nrounds, round;
	double			 latency_ms;
	double			 timeout;
	long long		 seed;
	int			 verbose;
	int			 ninterrupt;	/* --interrupt */
	struct chat		*chats;		/* nchats * nrounds */
	int			 active;	/* unfinished in this round */
	struct event		*timer;
	int			 cut;
};

static void	chat_finish(struct chat *);
static void	round_start(struct tb *);

static int64_t
realtime_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: ttfabench --mode proxy|baseline --url http://127.0.0.1:PORT [options]\n"
"Time to first audio and silence of simulated voice clients.\n"
"\n"
"  --mode MODE         proxy: chat and reply audio through ttsaccel (--url);\n"
"                      baseline: chat from the upstream (--url), then each\n"
"                      sentence from --tts, one after another\n"
"  --url BASE          ttsaccel (proxy) or the upstream (baseline)\n"
"  --tts URL[,URL..]   baseline: TTS endpoints, chat i uses URL i mod n\n"
"  --key KEY           send Authorization: Bearer KEY\n"
"  --chats N           chats at once per round (default 1)\n"
"  --rounds R          rounds one after another (default 1)\n"
"  --latency-ms MS     the backend's latency, for the floor (default 0)\n"
"  --seed N            makes the texts differ between runs (default 1)\n"
"  --timeout S         give up on a round after S seconds (default 60)\n"
"  --label NAME        label for the RESULT line (default \"run\")\n"
"  --interrupt N       proxy: the first N chats of a round cancel their\n"
"                      reply after its first audio (left out of RESULT)\n"
"  --unique            no sentence the same in two chats (else only the\n"
"                      first differs)\n"
"  --verbose           print a CHAT line per chat\n"
"  --help              this text\n");
}

/* http://127.0.0.1:PORT only. */
static int
parse_port(const char *url, int *port)
{
	const char	*errstr;
	long long	 n;
	char		 buf[16];
	size_t		 len;

	if (strncmp(url, "http://127.0.0.1:", 17) != 0)
		return -1;
	url += 17;
	len = strcspn(url, "/");
	if (len == 0 || len >= sizeof buf || (url[len] != '\0' &&
	    strcmp(url + len, "/") != 0))
		return -1;
	memcpy(buf, url, len);
	buf[len] = '\0';
	if (parse_ll(buf, 1, 65535, &n, &errstr) != 0)
		return -1;
	*port = (int)n;
	return 0;
}

static int	tb_unique;	/* --unique */

/* The reply chat C of round R says: 8 sentences of 40 to 80 characters,
 * the first one starting with a number naming the chat, so that no two
 * first segments (and no two runs, by the seed) meet in a cache; with
 * --unique every sentence ends with that number too. */
static char *
make_text(long long seed, int round, int idx)
{
	static const char *const rest[] = {
		"The main reason is that the river floods every spring when "
		    "the snow melts.",
		"Farmers along the banks learned long ago to plant after the "
		    "water recedes.",
		"That is why the fields there are so fertile, even in dry "
		    "years.",
		"If you visit, the best time to go is early in the autumn.",
		"The roads are quieter then, and the markets are full of fresh "
		    "produce.",
		"Bring good walking shoes, because the old town is built on a "
		    "steep hill.",
		"I hope this helps, and enjoy your trip!",
	};
	char	*s, *t;
	size_t	 i;

	s = xasprintf("Friend %lld%03d%03d, that is a good question, and the "
	    "short answer is yes.", seed, round, idx);
	for (i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		if (tb_unique)
			t = xasprintf("%s %.*s, %lld%03d%03d.", s,
			    (int)strlen(rest[i]) - 1, rest[i], seed, round,
			    idx);
		else
			t = xasprintf("%s %s", s, rest[i]);
		free(s);
		s = t;
	}
	return s;
}

static void	interrupt_send(evutil_socket_t, short, void *);

/* Feed WAV bytes: the header is skipped, the PCM goes to the player. */
static void
play(struct chat *c, const unsigned char *p, size_t n, int64_t now)
{
	struct wavin	*w = &c->wav;
	size_t		 off, take, sz;
	uint32_t	 csz;

	while (!w->in_data && n > 0) {
		take = sizeof w->hdr - w->nhdr;
		if (take > n)
			take = n;
		memcpy(w->hdr + w->nhdr, p, take);
		w->nhdr += take;
		p += take;
		n -= take;
		if (w->nhdr < 12)
			continue;
		if (memcmp(w->hdr, "RIFF", 4) != 0 ||
		    memcmp(w->hdr + 8, "WAVE", 4) != 0) {
			c->failed = 1;
			return;
		}
		/* Walk the chunks we have. */
		for (off = 12; off + 8 <= w->nhdr; off += 8 + sz) {
			csz = (uint32_t)w->hdr[off + 4] |
			    (uint32_t)w->hdr[off + 5] << 8 |
			    (uint32_t)w->hdr[off + 6] << 16 |
			    (uint32_t)w->hdr[off + 7] << 24;
			if (memcmp(w->hdr + off, "data", 4) == 0) {
				w->in_data = 1;
				/* What we took past the header is PCM. */
				off += 8;
				n += w->nhdr - off;
				p -= w->nhdr - off;
				break;
			}
			sz = csz + (csz & 1);
			if (memcmp(w->hdr + off, "fmt ", 4) == 0 &&
			    off + 20 <= w->nhdr)
				w->byte_rate = (uint32_t)w->hdr[off + 16] |
				    (uint32_t)w->hdr[off + 17] << 8 |
				    (uint32_t)w->hdr[off + 18] << 16 |
				    (uint32_t)w->hdr[off + 19] << 24;
			if (off + 8 + sz > w->nhdr)
				break;
		}
		if (!w->in_data && w->nhdr == sizeof w->hdr) {
			c->failed = 1;
			return;
		}
	}
	if (n == 0)
		return;
	if (c->rate == 0)
		c->rate = w->byte_rate != 0 ? w->byte_rate : 48000;
	if (c->t_first == 0) {
		c->t_first = now;
		c->play_end = (double)now;
		if (c->interrupt)	/* out of evhttp's callback */
			event_base_once(c->tb->base, -1, EV_TIMEOUT,
			    interrupt_send, c, NULL);
	} else if ((double)now > c->play_end) {
		if ((double)now - c->play_end > TB_GAP_NS)
			c->gaps++;
		c->silence_ns += (double)now - c->play_end;
		c->play_end = (double)now;
	}
	c->play_end += (double)n * 1e9 / (double)c->rate;
	c->pcm += (long long)n;
}

static void
wav_reset(struct wavin *w)
{
	w->nhdr = 0;
	w->in_data = 0;
}

static struct evhttp_request *
new_request(struct chat *c, void (*done)(struct evhttp_request *, void *),
    void (*chunk)(struct evhttp_request *, void *), const char *body)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	char			*auth;

	req = evhttp_request_new(done, c);
	if (chunk != NULL)
		evhttp_request_set_chunked_cb(req, chunk);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (c->tb->key != NULL) {
		auth = xasprintf("Bearer %s", c->tb->key);
		evhttp_add_header(h, "Authorization", auth);
		free(auth);
	}
	if (body != NULL) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body,
		    strlen(body));
	}
	return req;
}

static struct evhttp_connection *
connect_to(struct tb *tb, int port)
{
	struct evhttp_connection	*con;

	con = evhttp_connection_base_new(tb->base, NULL, "127.0.0.1",
	    (ev_uint16_t)port);
	if (con == NULL) {
		fprintf(stderr, "ttfabench: cannot make a connection\n");
		exit(1);
	}
	evhttp_connection_set_timeout(con, 60);
	evhttp_connection_set_retries(con, 0);
	return con;
}

static void
fail(struct chat *c, const char *what, int code)
{
	if (!c->failed && c->tb->verbose)
		fprintf(stderr, "ttfabench: %s chat %d.%d: %s (status %d)\n",
		    c->tb->label, c->round, c->idx, what, code);
	c->failed = 1;
}

/* ---- The audio side. */

static void
audio_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct chat	*c = arg;
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 n = evbuffer_get_length(in);
	int64_t		 now = realtime_ns();

	if (evhttp_request_get_response_code(req) != 200) {
		evbuffer_drain(in, n);
		return;
	}
	if (n > 0)
		play(c, evbuffer_pullup(in, -1), n, now);
	evbuffer_drain(in, n);
}

static void	speech_next(evutil_socket_t, short, void *);

static void
interrupt_done_cb(struct evhttp_request *req, void *arg)
{
	struct chat	*c = arg;

	if (req == NULL || evhttp_request_get_response_code(req) != 200)
		fail(c, "the cancel failed", req != NULL ?
		    evhttp_request_get_response_code(req) : 0);
}

/* The user talks over the reply: cancel it. */
static void
interrupt_send(evutil_socket_t fd, short what, void *arg)
{
	struct chat		*c = arg;
	struct evhttp_request	*req;
	char			 path[128];

	snprintf(path, sizeof path, "/v1/audio/replies/%s", c->reply_id);
	c->del_con = connect_to(c->tb, c->tb->port);
	req = new_request(c, interrupt_done_cb, NULL, NULL);
	if (evhttp_make_request(c->del_con, req, EVHTTP_REQ_DELETE, path) !=
	    0)
		fail(c, "cannot send the cancel", 0);
}

static void
audio_done_cb(struct evhttp_request *req, void *arg)
{
	struct chat	*c = arg;
	int		 code = req != NULL ?
			    evhttp_request_get_response_code(req) : 0;
	struct evbuffer	*in;

	if (code == 200) {
		in = evhttp_request_get_input_buffer(req);
		if (evbuffer_get_length(in) > 0)
			play(c, evbuffer_pullup(in, -1),
			    evbuffer_get_length(in), realtime_ns());
	} else
		fail(c, c->tb->proxy ? "reply audio failed" :
		    "speech request failed", code);
	if (!c->tb->proxy && !c->failed && c->cursent < c->nsent) {
		/* The next sentence, out of evhttp's callback. */
		event_base_once(c->tb->base, -1, EV_TIMEOUT, speech_next, c,
		    NULL);
		return;
	}
	c->audio_done = 1;
	chat_finish(c);
}

/* Baseline: ask for the next sentence. */
static void
speech_next(evutil_socket_t fd, short what, void *arg)
{
	struct chat		*c = arg;
	struct evhttp_request	*req;
	cJSON			*j;
	char			*body;

	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", "tts-1");
	cJSON_AddStringToObject(j, "input", c->sent[c->cursent++]);
	cJSON_AddStringToObject(j, "voice", "alloy");
	cJSON_AddStringToObject(j, "response_format", "wav");
	body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	wav_reset(&c->wav);
	req = new_request(c, audio_done_cb, audio_chunk_cb, body);
	free(body);
	if (evhttp_make_request(c->audio_con, req, EVHTTP_REQ_POST,
	    "/v1/audio/speech") != 0) {
		fail(c, "cannot send a speech request", 0);
		c->audio_done = 1;
		chat_finish(c);
	}
}

/* Proxy: the reply's audio, as soon as its id is known. */
static void
audio_start(evutil_socket_t fd, short what, void *arg)
{
	struct chat		*c = arg;
	struct evhttp_request	*req;
	char			 path[128];

	snprintf(path, sizeof path, "/v1/audio/replies/%s", c->reply_id);
	req = new_request(c, audio_done_cb, audio_chunk_cb, NULL);
	if (evhttp_make_request(c->audio_con, req, EVHTTP_REQ_GET, path) != 0) {
		fail(c, "cannot ask for the reply audio", 0);
		c->audio_done = 1;
		chat_finish(c);
	}
}

/* ---- The chat side. */

static int
chat_header_cb(struct evhttp_request *req, void *arg)
{
	struct chat	*c = arg;
	const char	*id;

	if (!c->tb->proxy || c->reply_id[0] != '\0')
		return 0;
	id = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-TTS-Reply-Id");
	if (evhttp_request_get_response_code(req) != 200 || id == NULL ||
	    strlen(id) >= sizeof c->reply_id) {
		fail(c, "no X-TTS-Reply-Id", evhttp_request_get_response_code(
		    req));
		c->audio_done = 1;
		return 0;
	}
	snprintf(c->reply_id, sizeof c->reply_id, "%s", id);
	event_base_once(c->tb->base, -1, EV_TIMEOUT, audio_start, c, NULL);
	return 0;
}

/* One SSE event: data lines carry content and t_sent_ns, the `: tts`
 * comment of segment 0 its text. */
static void
event_seen(struct chat *c, char *ev, size_t len)
{
	char	*p, *end = ev + len, *nl;
	cJSON	*j, *ch, *d, *ct, *ts, *ix, *tx;

	for (p = ev; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (strncmp(p, ": tts ", 6) == 0) {
			if (c->seg0 != NULL ||
			    (j = cJSON_Parse(p + 6)) == NULL)
				continue;
			ix = cJSON_GetObjectItemCaseSensitive(j, "index");
			tx = cJSON_GetObjectItemCaseSensitive(j, "text");
			if (cJSON_IsNumber(ix) && ix->valueint == 0 &&
			    cJSON_IsString(tx))
				c->seg0 = xstrdup(tx->valuestring);
			cJSON_Delete(j);
			continue;
		}
		if (strncmp(p, "data:", 5) != 0)
			continue;
		p += 5;
		if (*p == ' ')
			p++;
		if (strcmp(p, "[DONE]") == 0 || (j = cJSON_Parse(p)) == NULL)
			continue;
		ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j,
		    "choices"), 0);
		d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
		ct = cJSON_GetObjectItemCaseSensitive(d, "content");
		if (cJSON_IsString(ct))
			evbuffer_add(c->content, ct->valuestring,
			    strlen(ct->valuestring));
		ts = cJSON_GetObjectItemCaseSensitive(j, "t_sent_ns");
		if (cJSON_IsNumber(ts)) {
			if (c->nev == c->capev) {
				c->capev = c->capev ? c->capev * 2 : 256;
				c->ev_len = xreallocarray(c->ev_len, c->capev,
				    sizeof *c->ev_len);
				c->ev_t = xreallocarray(c->ev_t, c->capev,
				    sizeof *c->ev_t);
			}
			c->ev_len[c->nev] = evbuffer_get_length(c->content);
			c->ev_t[c->nev++] = (int64_t)ts->valuedouble;
		}
		cJSON_Delete(j);
	}
}

static void
chat_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct chat		*c = arg;
	struct evbuffer_ptr	 pos;
	size_t			 len, skip;

	evbuffer_add_buffer(c->sse, evhttp_request_get_input_buffer(req));
	for (;;) {
		skip = 2;
		pos = evbuffer_search(c->sse, "\n\n", 2, NULL);
		if (pos.pos < 0) {
			pos = evbuffer_search(c->sse, "\r\n\r\n", 4, NULL);
			skip = 4;
		}
		if (pos.pos < 0)
			break;
		len = (size_t)pos.pos;
		event_seen(c, (char *)evbuffer_pullup(c->sse,
		    (ev_ssize_t)(len + skip)), len);
		evbuffer_drain(c->sse, len + skip);
	}
	if (evbuffer_get_length(c->sse) > TB_MAX_EVENT) {
		evbuffer_drain(c->sse, evbuffer_get_length(c->sse));
		fail(c, "not SSE", 200);
	}
}

/* Baseline: cut the reply into sentences after . ! ? and a space. */
static void
split_sentences(struct chat *c)
{
	size_t	 n = evbuffer_get_length(c->content), i, start = 0;
	char	*s = (char *)evbuffer_pullup(c->content, -1);

	for (i = 0; i < n && c->nsent < TB_MAX_SENT; i++) {
		if ((s[i] == '.' || s[i] == '!' || s[i] == '?') &&
		    (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\n')) {
			while (start <= i && s[start] == ' ')
				start++;
			if (start <= i)
				c->sent[c->nsent++] = xstrndup(s + start,
				    i + 1 - start);
			start = i + 1;
		}
	}
	while (start < n && s[start] == ' ')
		start++;
	if (start < n && c->nsent < TB_MAX_SENT)
		c->sent[c->nsent++] = xstrndup(s + start, n - start);
}

static void
chat_done_cb(struct evhttp_request *req, void *arg)
{
	struct chat	*c = arg;
	int		 code = req != NULL ?
			    evhttp_request_get_response_code(req) : 0;

	if (req != NULL)
		chat_chunk_cb(req, c);
	if (evbuffer_get_length(c->sse) > 0) {
		event_seen(c, (char *)evbuffer_pullup(c->sse, -1),
		    evbuffer_get_length(c->sse));
		evbuffer_drain(c->sse, evbuffer_get_length(c->sse));
	}
	c->chat_done = 1;
	if (code != 200)
		fail(c, "chat failed", code);
	else if (evbuffer_get_length(c->content) != strlen(c->text) ||
	    memcmp(evbuffer_pullup(c->content, -1), c->text,
	    strlen(c->text)) != 0)
		fail(c, "the reply is not the text asked for", code);
	if (!c->tb->proxy) {
		if (!c->failed) {
			split_sentences(c);
			if (c->nsent > 0) {
				event_base_once(c->tb->base, -1, EV_TIMEOUT,
				    speech_next, c, NULL);
				chat_finish(c);
				return;
			}
		}
		c->audio_done = 1;
	} else if (c->reply_id[0] == '\0')
		c->audio_done = 1;	/* no audio will come */
	chat_finish(c);
}

static void
chat_start(struct chat *c)
{
	struct tb		*tb = c->tb;
	struct evhttp_request	*req;
	cJSON			*j, *msgs, *m;
	char			*body, *prompt;

	c->sse = evbuffer_new();
	c->content = evbuffer_new();
	c->chat_con = connect_to(tb, tb->port);
	c->audio_con = connect_to(tb, tb->proxy ? tb->port :
	    tb->tts_port[c->idx % tb->ntts]);
	c->floor_ms = -1;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", "fake-model");
	cJSON_AddBoolToObject(j, "stream", 1);
	if (tb->proxy)
		cJSON_AddBoolToObject(j, "tts_events", 1);
	msgs = cJSON_AddArrayToObject(j, "messages");
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	prompt = xasprintf("ECHO:%s", c->text);
	cJSON_AddStringToObject(m, "content", prompt);
	free(prompt);
	cJSON_AddItemToArray(msgs, m);
	body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	req = new_request(c, chat_done_cb, chat_chunk_cb, body);
	free(body);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Accept",
	    "text/event-stream");
	evhttp_request_set_header_cb(req, chat_header_cb);
	c->t0 = realtime_ns();
	if (evhttp_make_request(c->chat_con, req, EVHTTP_REQ_POST,
	    "/v1/chat/completions") != 0) {
		fail(c, "cannot send the chat", 0);
		c->chat_done = c->audio_done = 1;
		chat_finish(c);
	}
}

/* ---- Rounds. */

static void
next_round_cb(evutil_socket_t fd, short what, void *arg)
{
	round_start(arg);
}

static void
chat_finish(struct chat *c)
{
	struct tb	*tb = c->tb;
	struct timeval	 tv = { 0, 200000 };	/* a pause between rounds */

	if (!c->chat_done || !c->audio_done || tb->cut)
		return;
	c->chat_done = 2;	/* counted */
	if (--tb->active > 0)
		return;
	evtimer_del(tb->timer);
	if (++tb->round < tb->nrounds)
		event_base_once(tb->base, -1, EV_TIMEOUT, next_round_cb, tb,
		    &tv);
	else
		event_base_loopexit(tb->base, NULL);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tb	*tb = arg;
	int		 i;

	fprintf(stderr, "ttfabench: %s round %d not done after %.0f s\n",
	    tb->label, tb->round, tb->timeout);
	for (i = 0; i < tb->nchats; i++) {
		struct chat *c = &tb->chats[tb->round * tb->nchats + i];

		if (c->chat_done != 2)
			fail(c, c->chat_done ? "audio not finished" :
			    "chat not finished", 0);
	}
	tb->cut = 1;
	event_base_loopexit(tb->base, NULL);
}

static void
round_start(struct tb *tb)
{
	struct timeval	 tv;
	int		 i;

	tb->active = tb->nchats;
	tv.tv_sec = (time_t)tb->timeout;
	tv.tv_usec = 0;
	evtimer_add(tb->timer, &tv);
	for (i = 0; i < tb->nchats; i++)
		chat_start(&tb->chats[tb->round * tb->nchats + i]);
}

/* ---- Results. */

/* Proxy: segment 0 is ready when the upstream sent the event holding the
 * character after it (or the last event); the floor adds the backend. */
static void
compute_floor(struct tb *tb, struct chat *c)
{
	const char	*at;
	char		*s;
	size_t		 end, i;

	if (c->seg0 == NULL || c->nev == 0 ||
	    evbuffer_get_length(c->content) == 0)
		return;
	s = xstrndup((const char *)evbuffer_pullup(c->content, -1),
	    evbuffer_get_length(c->content));
	if ((at = strstr(s, c->seg0)) == NULL) {
		free(s);
		return;
	}
	end = (size_t)(at - s) + strlen(c->seg0);
	for (i = 0; i < c->nev; i++)
		if (c->ev_len[i] > end)
			break;
	if (i == c->nev)
		i = c->nev - 1;
	c->floor_ms = (double)(c->ev_t[i] - c->t0) / 1e6 + tb->latency_ms;
	/* The same, waiting for the next visible character. */
	while (s[end] == ' ')
		end++;
	for (; i < c->nev; i++)
		if (c->ev_len[i] > end)
			break;
	if (i == c->nev)
		i = c->nev - 1;
	c->floor_vis_ms = (double)(c->ev_t[i] - c->t0) / 1e6 +
	    tb->latency_ms;
	free(s);
}

static int
cmp_d(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median (the mean of the middle two for an even count). */
static double
median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
report(struct tb *tb)
{
	size_t	 n = (size_t)tb->nchats * (size_t)tb->nrounds, i, ok = 0,
		 nover = 0;
	double	*ttfa = xcalloc(n, sizeof *ttfa), *sil = xcalloc(n,
		    sizeof *sil), *gaps = xcalloc(n, sizeof *gaps),
		*over = xcalloc(n, sizeof *over), *flo = xcalloc(n,
		    sizeof *flo), *ovis = xcalloc(n, sizeof *ovis);
	double	 ttfa_max = 0, sil_max = 0, over_max = -1e9, m_over, m_floor;

	for (i = 0; i < n; i++) {
		struct chat *c = &tb->chats[i];
		double t, s;

		if (c->t_first == 0 && !c->failed)
			fail(c, "no audio", 0);
		if (tb->proxy)
			compute_floor(tb, c);
		if (c->interrupt && !c->failed)
			continue;	/* not in the figures */
		if (c->failed) {
			printf("CHAT label=%s round=%d chat=%d failed\n",
			    tb->label, c->round, c->idx);
			continue;
		}
		t = (double)(c->t_first - c->t0) / 1e6;
		s = c->silence_ns / 1e6;
		ttfa[ok] = t;
		sil[ok] = s;
		gaps[ok] = c->gaps;
		ok++;
		if (t > ttfa_max)
			ttfa_max = t;
		if (s > sil_max)
			sil_max = s;
		if (c->floor_ms >= 0) {
			over[nover] = t - c->floor_ms;
			ovis[nover] = t - c->floor_vis_ms;
			flo[nover] = c->floor_ms;
			if (over[nover] > over_max)
				over_max = over[nover];
			nover++;
		}
		if (tb->verbose)
			printf("CHAT label=%s round=%d chat=%d ttfa_ms=%.1f "
			    "silence_ms=%.1f gaps=%d audio_s=%.2f "
			    "sentences=%d floor_ms=%.1f seg0=\"%s\"\n",
			    tb->label, c->round, c->idx, t, s, c->gaps,
			    c->rate ? (double)c->pcm / c->rate : 0,
			    c->nsent, c->floor_ms,
			    c->seg0 != NULL ? c->seg0 : "");
	}
	m_over = median(over, nover);
	m_floor = median(flo, nover);
	printf("RESULT label=%s mode=%s chats=%zu ok=%zu ttfa_p50_ms=%.1f "
	    "ttfa_max_ms=%.1f silence_p50_ms=%.1f silence_max_ms=%.1f "
	    "gaps_p50=%.1f interrupted=%d", tb->label, tb->proxy ? "proxy" :
	    "baseline", n, ok, median(ttfa, ok), ttfa_max, median(sil, ok),
	    sil_max, median(gaps, ok), tb->ninterrupt * tb->nrounds);
	if (tb->proxy)
		printf(" floor_p50_ms=%.1f over_p50_ms=%.1f over_max_ms=%.1f "
		    "over_vis_p50_ms=%.1f floors=%zu", m_floor, m_over,
		    nover ? over_max : NAN, median(ovis, nover), nover);
	printf("\n");
	free(ttfa);
	free(sil);
	free(gaps);
	free(over);
	free(flo);
	free(ovis);
	return ok + (size_t)tb->ninterrupt * (size_t)tb->nrounds == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "url", required_argument, NULL, 'u' },
		{ "tts", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "chats", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "latency-ms", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "label", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "interrupt", required_argument, NULL, 'i' },
		{ "unique", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tb	 tb;
	const char	*errstr, *mode = NULL, *url = NULL;
	char		*tts = NULL, *tok, *save;
	long long	 n;
	int		 ch, i, rc;

	memset(&tb, 0, sizeof tb);
	tb.nchats = tb.nrounds = 1;
	tb.timeout = 60;
	tb.seed = 1;
	tb.label = "run";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm': mode = optarg; break;
		case 'u': url = optarg; break;
		case 't': tts = xstrdup(optarg); break;
		case 'k': tb.key = optarg; break;
		case 'c':
			if (parse_ll(optarg, 1, TB_MAX_CHATS, &n, &errstr))
				goto bad;
			tb.nchats = (int)n;
			break;
		case 'r':
			if (parse_ll(optarg, 1, 1000, &n, &errstr))
				goto bad;
			tb.nrounds = (int)n;
			break;
		case 'l':
			if (parse_double(optarg, 0, 1e6, &tb.latency_ms,
			    &errstr))
				goto bad;
			break;
		case 's':
			if (parse_ll(optarg, 0, 1000000000, &tb.seed, &errstr))
				goto bad;
			break;
		case 'T':
			if (parse_double(optarg, 1, 3600, &tb.timeout, &errstr))
				goto bad;
			break;
		case 'L': tb.label = optarg; break;
		case 'v': tb.verbose = 1; break;
		case 'U': tb_unique = 1; break;
		case 'i':
			if (parse_ll(optarg, 0, TB_MAX_CHATS, &n, &errstr))
				goto bad;
			tb.ninterrupt = (int)n;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (mode == NULL || url == NULL || parse_port(url, &tb.port) != 0)
		goto bad;
	if (strcmp(mode, "proxy") == 0)
		tb.proxy = 1;
	else if (strcmp(mode, "baseline") != 0 || tts == NULL)
		goto bad;
	if (tts != NULL)
		for (tok = strtok_r(tts, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (tb.ntts == TB_MAX_TTS ||
			    parse_port(tok, &tb.tts_port[tb.ntts]) != 0)
				goto bad;
			tb.ntts++;
		}
	if ((!tb.proxy && tb.ntts == 0) || tb.ninterrupt > tb.nchats ||
	    (!tb.proxy && tb.ninterrupt > 0))
		goto bad;

	tb.base = event_base_new();
	tb.timer = evtimer_new(tb.base, timeout_cb, &tb);
	tb.chats = xcalloc((size_t)tb.nchats * (size_t)tb.nrounds,
	    sizeof *tb.chats);
	for (i = 0; i < tb.nchats * tb.nrounds; i++) {
		tb.chats[i].tb = &tb;
		tb.chats[i].round = i / tb.nchats;
		tb.chats[i].idx = i % tb.nchats;
		tb.chats[i].text = make_text(tb.seed, tb.chats[i].round,
		    tb.chats[i].idx);
		tb.chats[i].interrupt = tb.chats[i].idx < tb.ninterrupt;
	}
	round_start(&tb);
	event_base_dispatch(tb.base);
	rc = report(&tb);
	/* The process ends here: the OS takes the rest. */
	free(tts);
	return rc;
bad:
	usage(stderr);
	return 2;
}
