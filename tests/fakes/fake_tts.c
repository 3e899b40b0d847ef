/*
 * fake_tts: a scripted OpenAI Speech server for the tests.
 *
 * It listens on 127.0.0.1 only and answers POST /v1/audio/speech with
 * audio that is a deterministic function of the request: a tone whose
 * pitch comes from a hash of the input text and whose loudness comes from
 * the voice, 30 ms per code point (at least 100 ms), divided by the speed.
 * Latency, chunked streaming, failures, an outage and a concurrency limit
 * are set on the command line or changed at run time through /_fake/
 * control endpoints.  Run with --help for the options.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <cjson/cJSON.h>

#include "convert.h"
#include "util.h"
#include "wav.h"

#define RATE		24000		/* the default */
#define MS_PER_CHAR	30
#define MIN_MS		100
#define FADE_SAMPLES	120		/* 5 ms in and out: no clicks */
#define MAX_DELAY_MS	3600000LL
#define MAX_BODY	(1024 * 1024)
#define MAX_HEADERS	(64 * 1024)
#define DEFAULT_NAME	"fake_tts"
#define DEFAULT_VOICE	"alloy"
#define DEFAULT_MAX_INPUT	4096		/* code points, as OpenAI */
#define SPEECH_PATH	"/v1/audio/speech"

/* What the next speech request is answered with. */
struct settings {
	long long	 latency_ms;	/* before the first byte */
	long long	 chunks;	/* pieces of the body, 1 = not chunked */
	long long	 chunk_delay_ms;
	double		 fail_rate;
	long long	 fail_first;	/* this many more requests fail */
	long long	 max_active;	/* 0 = no limit */
	long long	 max_input;
	int		 unknown_length; /* WAV sizes 0xffffffff */
	char		 reject_voice[64]; /* answered 400, as unknown */
	int		 answer;	/* ANSWER_* */
	long long	 rate;		/* samples per second */
	long long	 channels;
	long long	 min_ms;	/* the least audio made */
	char		 formats[64];	/* made; others a 400 ("" = all) */
	long long	 hold;		/* 1: requests wait, unstarted, until
					   set back to 0 */
};

/* What a speech request is answered with (--answer). */
#define ANSWER_AUDIO		0	/* the audio asked for */
#define ANSWER_TEXT		1	/* 200 with text, not audio */
#define ANSWER_TRUNCATED	2	/* a WAV cut in half (its header says
					   the whole length) */
#define ANSWER_WAV		3	/* WAV whatever the format asked */

/* A speech request being answered from timer ticks. */
struct job {
	LIST_ENTRY(job)			 entry;
	struct evhttp_request		*req;
	struct evhttp_connection	*evcon;
	struct event			*timer;
	struct event			*poll;	/* before the reply starts */
	unsigned long long		 seq;
	int				 status;	/* 200 or 500 */
	const char			*ctype;
	unsigned char			*body;
	size_t				 len;
	size_t				 off;
	long long			 pieces;	/* left to send */
	long long			 chunk_delay_ms;
	int				 started;
	int				 held;	/* waits for hold=0 */
};

static LIST_HEAD(, job) jobs = LIST_HEAD_INITIALIZER(jobs);

static struct event_base	*base;
static struct settings		 set;
static const char		*name = DEFAULT_NAME;
static char			*require_key;
static FILE			*logfp;
static uint64_t			 start_usec, rng;
static int			 down;
static unsigned long long	 nrequests, nspeech, ncompleted, nclosed;
static unsigned long long	 nfailures, nunavailable, nviolations;
static unsigned long long	 nhealth;
static size_t			 nactive, max_active;

static void	job_tick_cb(evutil_socket_t, short, void *);
static void	job_poll_cb(evutil_socket_t, short, void *);

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "fake_tts: %s\n", what);
	exit(1);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fake_tts --port N [options]\n"
"       fake_tts --wav-info FILE\n"
"A scripted OpenAI Speech server on 127.0.0.1, for tests.\n"
"\n"
"  --port N              listen on 127.0.0.1:N (required)\n"
"  --log FILE            append one JSON line per request (not /_fake/ ones)\n"
"  --name NAME           sent as X-Fake-TTS: NAME on every response\n"
"                        (default " DEFAULT_NAME ")\n"
"  --latency-ms N        delay before the first byte of a speech answer\n"
"  --chunks N            send the audio chunked, in N pieces (default 1:\n"
"                        one answer with Content-Length)\n"
"  --chunk-delay-ms N    delay between pieces\n"
"  --fail-rate P         answer this fraction (0..1) of speech requests 500,\n"
"                        chosen by a pseudo-random sequence from --seed\n"
"  --seed N              seed of that sequence (default 1)\n"
"  --fail-first N        answer the first N speech requests 500\n"
"  --max-active N        answer 429 to a speech request that would make more\n"
"                        than N in flight, and count it as a violation\n"
"  --max-input N         longest input in code points (default 4096)\n"
"  --require-key KEY     answer 401 unless Authorization: Bearer KEY\n"
"  --unknown-length      WAV headers say 0xffffffff, as a stream would\n"
"  --reject-voice NAME   answer 400 (an OpenAI error naming 'voice') to a\n"
"                        request for that voice, as an unknown voice\n"
"  --answer MODE         audio (the default); text: 200 with a text body,\n"
"                        not audio; truncated: a WAV cut in half whose header\n"
"                        says the whole length; wav: WAV whatever the format\n"
"  --rate N              sample rate (default 24000)\n"
"  --channels N          1 (the default) or 2, the same tone in both\n"
"  --min-ms N            make at least N ms of audio (a long answer)\n"
"  --formats LIST        make only these formats (comma-separated); others\n"
"                        are a 400 naming response_format\n"
"  --wav-info FILE       parse FILE's WAV header, print it and exit\n"
"                        (0 when it parses and its length matches)\n"
"  --help                this text\n"
"\n"
"Audio: wav (the default) is 16-bit mono 24 kHz PCM: a sine tone whose\n"
"frequency (220..880 Hz) is a hash of the input and whose amplitude is a\n"
"hash of the voice, 30 ms per code point of input (at least 100 ms) divided\n"
"by the speed; pcm is the same samples without a header; mp3, opus and flac\n"
"are those samples encoded; aac is not encoded: an ADTS header, \"FAKE-AAC\\n\"\n"
"and the samples.  Identical requests get identical bytes (but opus, whose\n"
"stream serial is random).  Failed requests (500) also wait --latency-ms.\n"
"\n"
"Endpoints: POST " SPEECH_PATH ", GET /health (200, or 503 when down).\n"
"Control: POST /_fake/down makes every other path answer 503 until\n"
"POST /_fake/up; GET /_fake/stats gives counters; POST /_fake/set?OPT=V&...\n"
"changes latency-ms, chunks, chunk-delay-ms, fail-rate, fail-first,\n"
"max-active, max-input, reject-voice, answer, rate, channels, min-ms,\n"
"formats or hold from now on (fail-first: the next N fail; hold=1: speech\n"
"requests wait, not started, until hold=0 starts their latency).\n");
}

/* --- settings -------------------------------------------------------- */

/* Set option NAME (without dashes; '_' may stand for '-') to VALUE.  0, or
 * -1 with *errstr set. */
static int
settings_set(struct settings *s, const char *opt, const char *value,
    const char **errstr)
{
	char	 key[32];
	size_t	 i;

	for (i = 0; opt[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = opt[i] == '_' ? '-' : tolower((unsigned char)opt[i]);
	key[i] = '\0';
	if (opt[i] != '\0') {
		*errstr = "is not a known option";
		return -1;
	}
	if (strcmp(key, "latency-ms") == 0)
		return parse_ll(value, 0, MAX_DELAY_MS, &s->latency_ms, errstr);
	if (strcmp(key, "chunks") == 0)
		return parse_ll(value, 1, 100000, &s->chunks, errstr);
	if (strcmp(key, "chunk-delay-ms") == 0)
		return parse_ll(value, 0, MAX_DELAY_MS, &s->chunk_delay_ms,
		    errstr);
	if (strcmp(key, "fail-rate") == 0)
		return parse_double(value, 0, 1, &s->fail_rate, errstr);
	if (strcmp(key, "fail-first") == 0)
		return parse_ll(value, 0, LLONG_MAX, &s->fail_first, errstr);
	if (strcmp(key, "max-active") == 0)
		return parse_ll(value, 0, 1000000, &s->max_active, errstr);
	if (strcmp(key, "max-input") == 0)
		return parse_ll(value, 1, 1000000, &s->max_input, errstr);
	if (strcmp(key, "reject-voice") == 0) {
		if (strlen(value) >= sizeof s->reject_voice) {
			*errstr = "is too long";
			return -1;
		}
		snprintf(s->reject_voice, sizeof s->reject_voice, "%s", value);
		return 0;
	}
	if (strcmp(key, "answer") == 0) {
		if (strcmp(value, "audio") == 0)
			s->answer = ANSWER_AUDIO;
		else if (strcmp(value, "text") == 0)
			s->answer = ANSWER_TEXT;
		else if (strcmp(value, "truncated") == 0)
			s->answer = ANSWER_TRUNCATED;
		else if (strcmp(value, "wav") == 0)
			s->answer = ANSWER_WAV;
		else {
			*errstr = "is not audio, text, truncated or wav";
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "hold") == 0)
		return parse_ll(value, 0, 1, &s->hold, errstr);
	if (strcmp(key, "rate") == 0)
		return parse_ll(value, 8000, 192000, &s->rate, errstr);
	if (strcmp(key, "channels") == 0)
		return parse_ll(value, 1, 2, &s->channels, errstr);
	if (strcmp(key, "formats") == 0) {
		if (strlen(value) >= sizeof s->formats) {
			*errstr = "is too long";
			return -1;
		}
		snprintf(s->formats, sizeof s->formats, "%s", value);
		return 0;
	}
	if (strcmp(key, "min-ms") == 0)
		return parse_ll(value, 0, 3600000, &s->min_ms, errstr);
	*errstr = "is not a known option";
	return -1;
}

/* splitmix64: a deterministic sequence from the seed. */
static uint64_t
rng_next(void)
{
	uint64_t	z;

	z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* --- small helpers --------------------------------------------------- */

static long long
t_ms(void)
{
	return (long long)((now_usec() - start_usec) / 1000);
}

/* Print and free a cJSON value as one log line. */
static void
log_json(cJSON *o)
{
	char	*s;

	if (logfp != NULL) {
		s = cJSON_PrintUnformatted(o);
		fprintf(logfp, "%s\n", s);
		fflush(logfp);
		free(s);
	}
	cJSON_Delete(o);
}

static void
log_event(const char *event, const struct job *j)
{
	cJSON	*o;

	if (logfp == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddNumberToObject(o, "seq", (double)j->seq);
	cJSON_AddNumberToObject(o, "t_ms", (double)t_ms());
	log_json(o);
}

static void
add_header(struct evhttp_request *req, const char *hname, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), hname, value);
}

static void
add_common_headers(struct evhttp_request *req, unsigned long long seq,
    const char *type)
{
	char	id[64];

	snprintf(id, sizeof(id), "req_faketts_%llu", seq);
	add_header(req, "X-Request-Id", id);
	add_header(req, "X-Fake-TTS", name);
	add_header(req, "Content-Type", type);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* Send a complete JSON answer; takes ownership of body. */
static void
send_json(struct evhttp_request *req, unsigned long long seq, int status,
    char *body)
{
	struct evbuffer	*buf = evbuffer_new();

	if (buf == NULL)
		die("evbuffer_new failed");
	add_common_headers(req, seq, "application/json");
	evbuffer_add(buf, body, strlen(body));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, status, reason_phrase(status), buf);
	evbuffer_free(buf);
	free(body);
}

/* An OpenAI-shaped error body, as a string the caller frees. */
static char *
error_body(int status, const char *message, const char *param,
    const char *code)
{
	cJSON		*o, *e;
	const char	*type;
	char		*s;

	if (status == 429)
		type = "rate_limit_error";
	else if (status >= 500)
		type = "server_error";
	else
		type = "invalid_request_error";
	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	if (param != NULL)
		cJSON_AddStringToObject(e, "param", param);
	else
		cJSON_AddNullToObject(e, "param");
	if (code != NULL)
		cJSON_AddStringToObject(e, "code", code);
	else
		cJSON_AddNullToObject(e, "code");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
send_error(struct evhttp_request *req, unsigned long long seq, int status,
    const char *message, const char *param, const char *code)
{
	send_json(req, seq, status, error_body(status, message, param, code));
}

/* Is word in a comma-separated list? */
static int
in_list(const char *list, const char *word)
{
	size_t		 n = strlen(word);
	const char	*p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

/* --- audio ----------------------------------------------------------- */

static uint64_t
fnv1a(const char *s, uint64_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t
codepoints(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * WAV to mp3, opus or flac, really encoded (so that the daemon's check of
 * answers sees real audio); aac, which nothing here encodes, is an ADTS
 * header and "FAKE-AAC" then the samples.  Takes wav; returns the body.
 */
static unsigned char *
encode(unsigned char *wav, size_t *lenp, const char *format,
    const char **ctype)
{
	static const unsigned char	 adts[] = { 0xff, 0xf1, 0x50, 0x80,
					    0x02, 0x1f, 0xfc };
	static const char		 mark[] = "FAKE-AAC\n";
	unsigned char			*out = NULL;
	const char			*err;
	size_t				 olen;

	if (strcmp(format, "aac") == 0) {
		*ctype = "audio/aac";
		olen = sizeof adts + sizeof mark - 1 + *lenp - 44;
		out = xmalloc(olen);
		memcpy(out, adts, sizeof adts);
		memcpy(out + sizeof adts, mark, sizeof mark - 1);
		memcpy(out + sizeof adts + sizeof mark - 1, wav + 44,
		    *lenp - 44);
		free(wav);
		*lenp = olen;
		return out;
	}
	if (strcmp(format, "mp3") == 0)
		*ctype = "audio/mpeg";
	else if (strcmp(format, "opus") == 0)
		*ctype = "audio/ogg";
	else
		*ctype = "audio/flac";
	if (convert(wav, *lenp, "wav", 0, format, &out, &olen, &err) != 0) {
		fprintf(stderr, "fake_tts: cannot make %s: %s\n", format, err);
		die("an encoder is missing");
	}
	free(wav);
	*lenp = olen;
	return out;
}

/* The body for one request (caller frees) and its content type. */
static unsigned char *
synthesize(const char *input, const char *voice, double speed,
    const char *format, size_t *lenp, const char **ctype)
{
	static const char	 page[] = "<html><body><h1>502 Bad Gateway"
				    "</h1></body></html>\n";
	struct wav_info	 wi;
	unsigned char	*out, *p;
	uint64_t	 ht, hv;
	size_t		 ms, n, i, hdr, edge, ch, nch, rate, frame;
	double		 freq, amp, v;
	int16_t		 sample;

	if (set.answer == ANSWER_TEXT) {
		*ctype = "text/html";
		*lenp = sizeof page - 1;
		return (unsigned char *)xstrdup(page);
	}
	if (set.answer == ANSWER_WAV || set.answer == ANSWER_TRUNCATED)
		format = "wav";
	rate = (size_t)set.rate;
	nch = (size_t)set.channels;
	ht = fnv1a(input, 0xcbf29ce484222325ULL);
	hv = fnv1a(voice, 0xcbf29ce484222325ULL);
	freq = 220.0 + (double)(ht % 661);
	amp = 6000.0 + (double)(hv % 14000);
	ms = codepoints(input) * MS_PER_CHAR;
	if (ms < MIN_MS)
		ms = MIN_MS;
	if (ms < (size_t)set.min_ms)
		ms = (size_t)set.min_ms;
	n = (size_t)((double)ms / speed * (double)rate / 1000.0);
	frame = 2 * nch;

	/* The tone as WAV first; other formats are made from it. */
	hdr = 44;
	*lenp = hdr + frame * n;
	out = xmalloc(*lenp);
	memset(&wi, 0, sizeof wi);
	wi.format = 1;
	wi.channels = (uint16_t)nch;
	wi.rate = (uint32_t)rate;
	wi.bits = 16;
	wav_header(out, &wi, set.unknown_length ? 0xffffffff :
	    (uint32_t)(frame * n));
	p = out + hdr;
	edge = n / 2 < FADE_SAMPLES ? n / 2 : FADE_SAMPLES;
	for (i = 0; i < n; i++) {
		v = amp * sin(2.0 * M_PI * freq * (double)i / (double)rate);
		if (i < edge)
			v *= (double)i / (double)edge;
		else if (n - 1 - i < edge)
			v *= (double)(n - 1 - i) / (double)edge;
		sample = (int16_t)lrint(v);
		for (ch = 0; ch < nch; ch++) {
			p[frame * i + 2 * ch] = (uint16_t)sample & 0xff;
			p[frame * i + 2 * ch + 1] = (uint16_t)sample >> 8;
		}
	}
	if (strcmp(format, "wav") == 0) {
		*ctype = "audio/wav";
		if (set.answer == ANSWER_TRUNCATED)
			*lenp = hdr + (*lenp - hdr) / 2;
		return out;
	}
	if (strcmp(format, "pcm") == 0) {
		*ctype = "audio/pcm";
		*lenp -= hdr;
		memmove(out, out + hdr, *lenp);
		return out;
	}
	return encode(out, lenp, format, ctype);
}

/* --- jobs ------------------------------------------------------------ */

static struct job *
job_new(struct evhttp_request *req, unsigned long long seq)
{
	struct job	*j;

	j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->evcon = evhttp_request_get_connection(req);
	j->seq = seq;
	j->timer = evtimer_new(base, job_tick_cb, j);
	j->poll = event_new(base, -1, EV_PERSIST, job_poll_cb, j);
	if (j->timer == NULL || j->poll == NULL)
		die("event_new failed");
	LIST_INSERT_HEAD(&jobs, j, entry);
	return j;
}

static void
job_free(struct job *j)
{
	LIST_REMOVE(j, entry);
	nactive--;
	event_free(j->timer);
	event_free(j->poll);
	free(j->body);
	free(j);
}

static void
job_arm(struct job *j, long long ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(j->timer, &tv);
}

/* Let go of the connection before finishing (it may be reused or freed
 * inside the send call). */
static void
job_detach(struct job *j)
{
	if (j->evcon != NULL)
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
}

/* The client went away before we finished. */
static void
job_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct job	*j = arg;

	nclosed++;
	log_event("client_closed", j);
	/* libevent leaves an unfinished request of a failed connection to
	 * us; one still attached is freed with the connection. */
	if (evhttp_request_get_connection(j->req) == NULL)
		evhttp_request_free(j->req);
	job_free(j);
}

/*
 * Has the client hung up?  evhttp notices only while it writes, and a job
 * waits between writes; look for the EOF ourselves.  If so, drop the job
 * and its connection and return 1.
 */
static int
job_gone(struct job *j)
{
	struct evhttp_connection	*evcon = j->evcon;
	struct bufferevent		*bev;
	evutil_socket_t			 fd;
	char				 c;
	ssize_t				 n;

	bev = evhttp_connection_get_bufferevent(evcon);
	if (bev == NULL || (fd = bufferevent_getfd(bev)) == -1)
		return 0;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)))
		return 0;
	nclosed++;
	log_event("client_closed", j);
	job_detach(j);
	job_free(j);
	evhttp_connection_free(evcon);
	return 1;
}

static void
job_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	job_gone(arg);
}

/* Drop the jobs whose clients have gone but not been noticed yet, so that
 * a client that cancels and at once asks again is not over the limit. */
static void
jobs_sweep(void)
{
	struct job	*j, *next;

	for (j = LIST_FIRST(&jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, entry);
		job_gone(j);
	}
}

static void
job_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job		*j = arg;
	struct evhttp_request	*req = j->req;
	struct evbuffer		*buf;
	size_t			 n;
	char			 msg[128];

	if (j->status != 200) {
		snprintf(msg, sizeof(msg), "fake_tts %s: injected failure",
		    name);
		job_detach(j);
		send_error(req, j->seq, j->status, msg, NULL, NULL);
		ncompleted++;
		job_free(j);
		return;
	}
	if ((buf = evbuffer_new()) == NULL)
		die("evbuffer_new failed");
	if (j->pieces <= 1 && !j->started) {
		/* One answer with a Content-Length. */
		add_common_headers(req, j->seq, j->ctype);
		evbuffer_add(buf, j->body, j->len);
		job_detach(j);
		evhttp_send_reply(req, 200, "OK", buf);
		evbuffer_free(buf);
		ncompleted++;
		job_free(j);
		return;
	}
	if (!j->started) {
		add_common_headers(req, j->seq, j->ctype);
		evhttp_send_reply_start(req, 200, "OK");
		j->started = 1;
	}
	/* An even share of what is left. */
	n = (j->len - j->off) / (size_t)j->pieces;
	if (j->pieces == 1)
		n = j->len - j->off;
	evbuffer_add(buf, j->body + j->off, n);
	j->off += n;
	j->pieces--;
	evhttp_send_reply_chunk(req, buf);
	evbuffer_free(buf);
	if (j->pieces == 0) {
		job_detach(j);
		evhttp_send_reply_end(req);
		ncompleted++;
		job_free(j);
		return;
	}
	job_arm(j, j->chunk_delay_ms);
}

/* --- speech ---------------------------------------------------------- */

static void
log_request(unsigned long long seq, struct evhttp_request *req,
    const char *method, const char *path, cJSON *body, int status)
{
	static const char	*fields[] = { "input", "voice", "model",
				    "response_format", "speed",
				    "instructions" };
	cJSON			*o, *b, *h, *v;
	const char		*auth;
	size_t			 i;

	if (logfp == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddNumberToObject(o, "t_ms", (double)t_ms());
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddNumberToObject(o, "active", (double)nactive);
	if (cJSON_IsObject(body)) {
		b = cJSON_AddObjectToObject(o, "body");
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			v = cJSON_GetObjectItemCaseSensitive(body, fields[i]);
			if (v != NULL)
				cJSON_AddItemToObject(b, fields[i],
				    cJSON_Duplicate(v, 1));
		}
	} else
		cJSON_AddNullToObject(o, "body");
	h = cJSON_AddObjectToObject(o, "headers");
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (auth != NULL)
		cJSON_AddStringToObject(h, "authorization", auth);
	else
		cJSON_AddNullToObject(h, "authorization");
	log_json(o);
}

/* Is the request's bearer key the one required? */
static int
authorized(struct evhttp_request *req, const char **why)
{
	const char	*auth;

	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		*why = "You didn't provide an API key.";
		return 0;
	}
	auth += 7;
	if (!const_time_eq(auth, strlen(auth), require_key,
	    strlen(require_key))) {
		*why = "Incorrect API key provided.";
		return 0;
	}
	return 1;
}

/* Check the body; 0, or -1 with a message and the field at fault. */
static int
validate(cJSON *j, const char **input, const char **voice, double *speed,
    const char **format, char *msg, size_t msglen, const char **param)
{
	static const char	*formats[] = { "mp3", "opus", "aac", "flac",
				    "wav", "pcm" };
	cJSON			*v;
	size_t			 i;

	*param = NULL;
	if (!cJSON_IsObject(j)) {
		snprintf(msg, msglen, "The body is not a JSON object.");
		return -1;
	}
	*param = "input";
	v = cJSON_GetObjectItemCaseSensitive(j, "input");
	if (v == NULL) {
		snprintf(msg, msglen, "Missing required parameter: 'input'.");
		return -1;
	}
	if (!cJSON_IsString(v) || *v->valuestring == '\0') {
		snprintf(msg, msglen, "'input' must be a non-empty string.");
		return -1;
	}
	*input = v->valuestring;
	if (!utf8_valid(*input, strlen(*input))) {
		snprintf(msg, msglen, "'input' is not valid UTF-8.");
		return -1;
	}
	if (codepoints(*input) > (size_t)set.max_input) {
		snprintf(msg, msglen, "'input' is longer than %lld "
		    "characters.", set.max_input);
		return -1;
	}
	*param = "voice";
	v = cJSON_GetObjectItemCaseSensitive(j, "voice");
	if (v != NULL && !cJSON_IsString(v)) {
		snprintf(msg, msglen, "'voice' must be a string.");
		return -1;
	}
	*voice = v != NULL ? v->valuestring : DEFAULT_VOICE;
	*param = "speed";
	v = cJSON_GetObjectItemCaseSensitive(j, "speed");
	*speed = 1.0;
	if (v != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0.25 ||
		    v->valuedouble > 4.0) {
			snprintf(msg, msglen, "'speed' must be a number from "
			    "0.25 to 4.0.");
			return -1;
		}
		*speed = v->valuedouble;
	}
	*param = "response_format";
	v = cJSON_GetObjectItemCaseSensitive(j, "response_format");
	*format = "wav";
	if (v != NULL) {
		if (!cJSON_IsString(v))
			goto badformat;
		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (strcmp(v->valuestring, formats[i]) == 0)
				break;
		if (i == sizeof(formats) / sizeof(formats[0]))
			goto badformat;
		*format = formats[i];
	}
	return 0;
badformat:
	snprintf(msg, msglen, "'response_format' must be one of mp3, opus, "
	    "aac, flac, wav, pcm.");
	return -1;
}

static void
handle_speech(struct evhttp_request *req, unsigned long long seq,
    const char *method, const char *path, const char *body, size_t bodylen)
{
	struct job	*jb;
	cJSON		*j = NULL;
	const char	*why, *param, *input = NULL, *voice = NULL;
	const char	*format = NULL;
	double		 speed = 1.0;
	char		 msg[128];
	int		 status = 200;

	nspeech++;
	j = cJSON_ParseWithLength(body, bodylen);
	if (down) {
		nunavailable++;
		log_request(seq, req, method, path, j, 503);
		send_error(req, seq, 503, "fake_tts: down", NULL, NULL);
		goto out;
	}
	if (require_key != NULL && !authorized(req, &why)) {
		log_request(seq, req, method, path, j, 401);
		send_error(req, seq, 401, why, NULL, "invalid_api_key");
		goto out;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		log_request(seq, req, method, path, j, 405);
		send_error(req, seq, 405, "fake_tts: use POST", NULL, NULL);
		goto out;
	}
	if (validate(j, &input, &voice, &speed, &format, msg, sizeof(msg),
	    &param) != 0) {
		log_request(seq, req, method, path, j, 400);
		send_error(req, seq, 400, msg, param, NULL);
		goto out;
	}
	if (set.formats[0] != '\0' && !in_list(set.formats, format)) {
		log_request(seq, req, method, path, j, 400);
		snprintf(msg, sizeof(msg), "'response_format' must be one of "
		    "%s.", set.formats);
		send_error(req, seq, 400, msg, "response_format", NULL);
		goto out;
	}
	if (set.reject_voice[0] != '\0' &&
	    strcmp(voice, set.reject_voice) == 0) {
		log_request(seq, req, method, path, j, 400);
		snprintf(msg, sizeof(msg), "Voice '%s' is not available.",
		    voice);
		send_error(req, seq, 400, msg, "voice", "voice_not_found");
		goto out;
	}
	if (set.max_active > 0 && nactive + 1 > (size_t)set.max_active)
		jobs_sweep();
	if (set.max_active > 0 && nactive + 1 > (size_t)set.max_active) {
		nviolations++;
		log_request(seq, req, method, path, j, 429);
		snprintf(msg, sizeof(msg), "fake_tts %s: more than %lld "
		    "requests at once", name, set.max_active);
		send_error(req, seq, 429, msg, NULL, "rate_limit_exceeded");
		goto out;
	}
	if (set.fail_first > 0) {
		set.fail_first--;
		status = 500;
	} else if (set.fail_rate > 0 &&
	    (double)(rng_next() >> 11) * 0x1.0p-53 < set.fail_rate)
		status = 500;
	if (status != 200)
		nfailures++;

	if (++nactive > max_active)
		max_active = nactive;
	log_request(seq, req, method, path, j, status);
	jb = job_new(req, seq);
	jb->status = status;
	if (status == 200) {
		jb->body = synthesize(input, voice, speed, format, &jb->len,
		    &jb->ctype);
		jb->pieces = set.chunks;
		if ((size_t)jb->pieces > jb->len)
			jb->pieces = (long long)jb->len;
		jb->chunk_delay_ms = set.chunk_delay_ms;
	}
	evhttp_connection_set_closecb(jb->evcon, job_close_cb, jb);
	event_add(jb->poll, &(struct timeval){ 0, 50 * 1000 });
	if (set.hold)
		jb->held = 1;
	else
		job_arm(jb, set.latency_ms);
out:
	cJSON_Delete(j);
}

/* --- other endpoints ------------------------------------------------- */

static void
handle_stats(struct evhttp_request *req, unsigned long long seq)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "down", down);
	cJSON_AddNumberToObject(o, "requests", (double)nrequests);
	cJSON_AddNumberToObject(o, "speech", (double)nspeech);
	cJSON_AddNumberToObject(o, "health", (double)nhealth);
	cJSON_AddNumberToObject(o, "active", (double)nactive);
	cJSON_AddNumberToObject(o, "max_active", (double)max_active);
	cJSON_AddNumberToObject(o, "completed", (double)ncompleted);
	cJSON_AddNumberToObject(o, "client_closed", (double)nclosed);
	cJSON_AddNumberToObject(o, "failures", (double)nfailures);
	cJSON_AddNumberToObject(o, "unavailable", (double)nunavailable);
	cJSON_AddNumberToObject(o, "violations", (double)nviolations);
	send_json(req, seq, 200, cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
}

/* Start the requests that waited for hold=0, each after the latency. */
static void
jobs_release(void)
{
	struct job	*j;

	LIST_FOREACH(j, &jobs, entry)
		if (j->held) {
			j->held = 0;
			job_arm(j, set.latency_ms);
		}
}

/* POST /_fake/set?opt=value&...: all or nothing. */
static void
handle_set(struct evhttp_request *req, unsigned long long seq,
    const char *query)
{
	struct evkeyvalq	 q;
	struct evkeyval		*kv;
	struct settings		 s = set;
	const char		*errstr;
	char			 msg[128];

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0) {
		send_error(req, seq, 400, "fake_tts: bad query", NULL, NULL);
		return;
	}
	TAILQ_FOREACH(kv, &q, next) {
		if (settings_set(&s, kv->key, kv->value, &errstr) != 0) {
			snprintf(msg, sizeof(msg), "fake_tts: %s %s", kv->key,
			    errstr);
			send_error(req, seq, 400, msg, kv->key, NULL);
			evhttp_clear_headers(&q);
			return;
		}
	}
	evhttp_clear_headers(&q);
	set = s;
	if (!set.hold)
		jobs_release();
	send_json(req, seq, 200, xstrdup("{\"ok\":true}"));
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:		return "GET";
	case EVHTTP_REQ_POST:		return "POST";
	case EVHTTP_REQ_HEAD:		return "HEAD";
	case EVHTTP_REQ_PUT:		return "PUT";
	case EVHTTP_REQ_DELETE:		return "DELETE";
	case EVHTTP_REQ_OPTIONS:	return "OPTIONS";
	case EVHTTP_REQ_TRACE:		return "TRACE";
	case EVHTTP_REQ_CONNECT:	return "CONNECT";
	case EVHTTP_REQ_PATCH:		return "PATCH";
	}
	return "UNKNOWN";
}

static void
handle_control(struct evhttp_request *req, unsigned long long seq,
    enum evhttp_cmd_type cmd, const char *path, const char *query)
{
	if (strcmp(path, "/_fake/stats") == 0)
		handle_stats(req, seq);
	else if (cmd != EVHTTP_REQ_POST)
		send_error(req, seq, 405, "fake_tts: use POST", NULL, NULL);
	else if (strcmp(path, "/_fake/down") == 0) {
		down = 1;
		send_json(req, seq, 200, xstrdup("{\"down\":true}"));
	} else if (strcmp(path, "/_fake/up") == 0) {
		down = 0;
		send_json(req, seq, 200, xstrdup("{\"down\":false}"));
	} else if (strcmp(path, "/_fake/set") == 0)
		handle_set(req, seq, query);
	else
		send_error(req, seq, 404, "fake_tts: no such control", NULL,
		    "unknown_url");
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*method = method_name(cmd);
	const char		*path, *query;
	unsigned long long	 seq;
	size_t			 bodylen;
	char			*body;

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (path == NULL)
		path = "";
	if (query == NULL)
		query = "";
	if (strncmp(path, "/_fake/", 7) == 0) {
		handle_control(req, 0, cmd, path, query);
		return;
	}

	seq = ++nrequests;
	bodylen = evbuffer_get_length(in);
	body = xmalloc(bodylen + 1);
	evbuffer_copyout(in, body, bodylen);
	body[bodylen] = '\0';

	if (strcmp(path, SPEECH_PATH) == 0) {
		handle_speech(req, seq, method, path, body, bodylen);
		goto out;
	}
	log_request(seq, req, method, path, NULL, down ? 503 :
	    strcmp(path, "/health") == 0 ? 200 : 404);
	if (down) {
		nunavailable++;
		if (strcmp(path, "/health") == 0)
			nhealth++;
		send_json(req, seq, 503, xstrdup("{\"status\":\"down\"}"));
	} else if (strcmp(path, "/health") == 0) {
		nhealth++;
		send_json(req, seq, 200, xstrdup("{\"status\":\"ok\"}"));
	} else
		send_error(req, seq, 404, "fake_tts: no such path", NULL,
		    "unknown_url");
out:
	free(body);
}

/* --- --wav-info ------------------------------------------------------ */

/* Parse FILE's header with wav_parse and say what it holds: 0 when it
 * parses and the data chunk's length matches the file (or is unknown). */
static int
wav_info(const char *path)
{
	struct wav_info	 wi;
	FILE		*f;
	unsigned char	*buf = NULL;
	const char	*err = "no data chunk";
	size_t		 len = 0, cap = 0, n;
	int		 rc = 1, prc;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "fake_tts: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	prc = wav_parse(buf, len, &wi, &err);
	if (prc != 1) {
		printf("error=\"%s\" file_len=%zu\n", prc == 0 ?
		    "incomplete header" : err, len);
		goto out;
	}
	printf("format=%u channels=%u rate=%u bits=%u data_offset=%zu "
	    "data_len=%lu file_len=%zu\n", wi.format, wi.channels, wi.rate,
	    wi.bits, wi.data_offset, (unsigned long)wi.data_len, len);
	if (wi.data_len != 0 && wi.data_len != 0xffffffff &&
	    wi.data_offset + wi.data_len != len)
		printf("error=\"data length does not match the file\"\n");
	else
		rc = 0;
out:
	free(buf);
	return rc;
}

/* --- main ------------------------------------------------------------ */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

static evutil_socket_t
listen_on(int port)
{
	struct sockaddr_in	 sin;
	evutil_socket_t		 fd;
	int			 one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A deep backlog: tests open hundreds of requests at once. */
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1) {
		evutil_closesocket(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port",		required_argument,	NULL, 'p' },
		{ "log",		required_argument,	NULL, 'l' },
		{ "name",		required_argument,	NULL, 'n' },
		{ "require-key",	required_argument,	NULL, 'k' },
		{ "seed",		required_argument,	NULL, 's' },
		{ "unknown-length",	no_argument,		NULL, 'u' },
		{ "wav-info",		required_argument,	NULL, 'w' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "latency-ms",		required_argument,	NULL, 0 },
		{ "chunks",		required_argument,	NULL, 0 },
		{ "chunk-delay-ms",	required_argument,	NULL, 0 },
		{ "fail-rate",		required_argument,	NULL, 0 },
		{ "fail-first",		required_argument,	NULL, 0 },
		{ "max-active",		required_argument,	NULL, 0 },
		{ "max-input",		required_argument,	NULL, 0 },
		{ "reject-voice",	required_argument,	NULL, 0 },
		{ "answer",		required_argument,	NULL, 0 },
		{ "rate",		required_argument,	NULL, 0 },
		{ "channels",		required_argument,	NULL, 0 },
		{ "min-ms",		required_argument,	NULL, 0 },
		{ "formats",		required_argument,	NULL, 0 },
		{ NULL,			0,			NULL, 0 }
	};
	static const cJSON_Hooks hooks = { xmalloc, free };
	struct evhttp		*http;
	struct event_config	*cfg;
	struct event		*sigterm, *sigint;
	struct job		*j;
	const char		*errstr, *logpath = NULL;
	long long		 port = -1, seed = 1;
	evutil_socket_t		 fd;
	int			 ch, i, rc = 2;

	cJSON_InitHooks((cJSON_Hooks *)&hooks);
	set.chunks = 1;
	set.max_input = DEFAULT_MAX_INPUT;
	set.rate = RATE;
	set.channels = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, &i)) != -1) {
		errstr = NULL;
		switch (ch) {
		case 'p':
			if (parse_ll(optarg, 1, 65535, &port, &errstr) != 0)
				goto bad;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'k':
			free(require_key);
			require_key = xstrdup(optarg);
			break;
		case 's':
			if (parse_ll(optarg, LLONG_MIN, LLONG_MAX, &seed,
			    &errstr) != 0)
				goto bad;
			break;
		case 'u':
			set.unknown_length = 1;
			break;
		case 'w':
			rc = wav_info(optarg);
			goto out;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case 0:
			if (settings_set(&set, longopts[i].name, optarg,
			    &errstr) != 0)
				goto bad;
			break;
		default:
			usage(stderr);
			goto out;
		}
		continue;
bad:
		fprintf(stderr, "fake_tts: --%s %s\n", longopts[i].name,
		    errstr);
		goto out;
	}
	if (optind != argc || port < 0) {
		usage(stderr);
		goto out;
	}
	rng = (uint64_t)seed;

	rc = 1;
	if ((fd = listen_on((int)port)) == -1) {
		fprintf(stderr, "fake_tts: 127.0.0.1:%lld: %s\n", port,
		    strerror(errno));
		goto out;
	}
	if (logpath != NULL && (logfp = fopen(logpath, "a")) == NULL) {
		fprintf(stderr, "fake_tts: %s: %s\n", logpath,
		    strerror(errno));
		evutil_closesocket(fd);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	start_usec = now_usec();
	/* Timers count from the clock, not from the loop's cached time, and
	 * from the precise clock, not the coarse one libevent prefers (a
	 * tick, 4 ms, behind): no delay is cut short. */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME |
	    EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		die("event_base_new failed");
	event_config_free(cfg);
	if ((http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(http, fd) != 0)
		die("evhttp setup failed");
	evhttp_set_max_body_size(http, MAX_BODY);
	evhttp_set_max_headers_size(http, MAX_HEADERS);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, 3600);
	evhttp_set_gencb(http, request_cb, NULL);

	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0)
		die("signal setup failed");

	fprintf(stderr, "fake_tts %s: listening on 127.0.0.1:%lld\n", name,
	    port);
	event_base_dispatch(base);
	fprintf(stderr, "fake_tts %s: exiting (%llu requests)\n", name,
	    nrequests);

	/* Our jobs first (their requests belong to the connections that
	 * evhttp_free frees), then the server. */
	while ((j = LIST_FIRST(&jobs)) != NULL) {
		job_detach(j);
		if (evhttp_request_get_connection(j->req) == NULL)
			evhttp_request_free(j->req);
		job_free(j);
	}
	evhttp_free(http);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	libevent_global_shutdown();
	rc = 0;
out:
	free(require_key);
	if (logfp != NULL)
		fclose(logfp);
	return rc;
}
