/*
 * streambench: a load client for streamed chat completions.
 *
 * It keeps N streaming POST /v1/chat/completions requests open at once
 * against BASE (the fake upstream directly, or ttsaccel in front of it),
 * each slot starting its next request when the last one ends, and reads
 * the SSE events as they arrive.  For every event carrying "t_sent_ns"
 * (the fake upstream's --timestamps) it records the latency
 * CLOCK_REALTIME now - t_sent_ns.  At the end it prints one
 * machine-readable line (RESULT ...) and a human summary.
 *
 * A slot "flows" when every request it made ended with status 200,
 * "data: [DONE]" and (with --expect-chunks) that many timestamped events.
 * It talks to 127.0.0.1 only and stops by itself: after --seconds (new
 * requests stop; those under way get --grace seconds more, then are cut)
 * or after --requests per slot.
 */
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define SB_MAX_STREAMS	10000
#define SB_MAX_EVENT	(64 * 1024)	/* one SSE event, bounded */
#define SB_RETRY_MS	100		/* pause after a failed request */
#define SB_MAX_REPORTS	20		/* --verbose lines about failures */

struct sb;

struct slot {
	struct sb			*sb;
	size_t				 idx;
	struct evhttp_connection	*evcon;
	struct evhttp_request		*req;	/* under way, or NULL */
	struct event			*kick;	/* start the next request */
	struct evbuffer			*in;	/* bytes of an unfinished event */
	long long			 chunks;	/* this request */
	int				 done_seen;	/* this request */
	long long			 nreq;
	long long			 nok;
	long long			 nbad;
	int				 finished;	/* no more requests */
};

struct sb {
	struct event_base	*base;
	char			 host[64];
	int			 port;
	char			 path[256];
	char			*key;
	char			*body;
	char			*label;
	long long		 nstreams;
	double			 seconds;
	double			 grace;
	long long		 requests;	/* per slot; 0 = until time */
	long long		 expect;	/* chunks per request; 0 = any */
	double			 ramp_ms;
	int			 verbose;
	FILE			*dump;		/* --dump: one line a chunk */
	struct slot		*slots;
	size_t			 nfinished;
	int			 stopping;	/* --seconds passed */
	struct event		*stop_ev;
	struct event		*cut_ev;
	struct event		*sig_ev;
	/* Latencies in nanoseconds. */
	int64_t			*lat;
	size_t			 nlat, caplat;
	long long		 nreports;	/* --verbose lines so far */
	long long		 nnots;		/* data events without t_sent_ns */
	long long		 cmin, cmax;	/* chunks per complete request */
	struct timespec		 t_start, t_end;
};

static void	slot_start(struct slot *);
static void	slot_finish(struct slot *);

static int64_t
realtime_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: streambench --url http://127.0.0.1:PORT [options]\n"
"Open N streamed chat completions at once; report per-chunk latency.\n"
"\n"
"  --url BASE            server (http://127.0.0.1:PORT), loopback only\n"
"  --key KEY             send Authorization: Bearer KEY\n"
"  --streams N           concurrent streams (default 1)\n"
"  --seconds S           keep streaming for S seconds (default 10)\n"
"  --requests R          or stop each stream after R requests\n"
"  --grace S             after the time is up, wait S seconds for\n"
"                        requests under way (default 30), then cut them\n"
"  --expect-chunks N     a request is complete only with N timestamped\n"
"                        events (default: any number)\n"
"  --ramp-ms MS          spread the streams' starts over MS (default 1000)\n"
"  --body JSON           request body (default: a short streamed chat)\n"
"  --label NAME          label for the RESULT line (default \"run\")\n"
"  --verbose             report each failed request on stderr\n"
"  --dump FILE           write \"stream request chunk t_sent_ns latency_us\"\n"
"                        for every chunk\n"
"  --help                this text\n"
"\n"
"Output: RESULT label= streams= flowing= requests= ok= failed= chunks=\n"
"notimestamp= chunks_min= chunks_max= p50_us= p90_us= p99_us= max_us=\n"
"mean_us= seconds=, then a human summary.  Exit status 0 when every\n"
"stream flowed, 1 if not, 2 on a usage error.\n");
}

/* Accept only http://127.0.0.1:PORT[/prefix]. */
static int
parse_url(struct sb *sb, const char *url)
{
	const char	*p, *slash, *errstr;
	char		 port[16];
	long long	 n;
	size_t		 len;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	if (strncmp(p, "127.0.0.1:", 10) != 0 &&
	    strncmp(p, "localhost:", 10) != 0)
		return -1;
	snprintf(sb->host, sizeof sb->host, "127.0.0.1");
	p += 10;
	slash = strchr(p, '/');
	len = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (len == 0 || len >= sizeof port)
		return -1;
	memcpy(port, p, len);
	port[len] = '\0';
	if (parse_ll(port, 1, 65535, &n, &errstr) != 0)
		return -1;
	sb->port = (int)n;
	/* A base with a path prefix keeps it; strip one trailing slash. */
	p = slash != NULL ? slash : "";
	len = strlen(p);
	if (len > 0 && p[len - 1] == '/')
		len--;
	if ((size_t)snprintf(sb->path, sizeof sb->path, "%.*s%s", (int)len, p,
	    "/v1/chat/completions") >= sizeof sb->path)
		return -1;
	return 0;
}

static void
lat_add(struct sb *sb, int64_t ns)
{
	if (sb->nlat == sb->caplat) {
		sb->caplat = sb->caplat == 0 ? 65536 : sb->caplat * 2;
		sb->lat = xreallocarray(sb->lat, sb->caplat, sizeof *sb->lat);
	}
	sb->lat[sb->nlat++] = ns < 0 ? 0 : ns;
}

/* One SSE event's bytes (no trailing blank line): look at its data. */
static void
event_seen(struct slot *s, const char *ev, size_t len, int64_t now)
{
	const char	*p, *end = ev + len, *nl, *t;
	char		 num[24];
	size_t		 n;
	long long	 v;
	const char	*errstr;
	int		 data = 0, stamped = 0;

	for (p = ev; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n < 5 || memcmp(p, "data:", 5) != 0)
			continue;
		data = 1;
		t = p + 5;
		if (t < p + n && *t == ' ')
			t++;
		if ((size_t)(p + n - t) == 6 && memcmp(t, "[DONE]", 6) == 0) {
			s->done_seen = 1;
			continue;
		}
		t = memmem(t, (size_t)(p + n - t), "\"t_sent_ns\":", 12);
		if (t == NULL)
			continue;
		t += 12;
		for (n = 0; n < sizeof num - 1 && t + n < end &&
		    t[n] >= '0' && t[n] <= '9'; n++)
			num[n] = t[n];
		num[n] = '\0';
		if (parse_ll(num, 1, INT64_MAX, &v, &errstr) != 0)
			continue;
		lat_add(s->sb, now - (int64_t)v);
		if (s->sb->dump != NULL)
			fprintf(s->sb->dump, "%zu %lld %lld %lld %.1f\n",
			    s->idx, s->nreq, s->chunks, v,
			    (double)(now - (int64_t)v) / 1000.0);
		s->chunks++;
		stamped = 1;
	}
	if (data && !stamped && !s->done_seen)
		s->sb->nnots++;
}

/* Split what has arrived into events at blank lines. */
static void
chunk_cb(struct evhttp_request *req, void *arg)
{
	struct slot		*s = arg;
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evbuffer_ptr	 pos;
	size_t			 len, skip;
	int64_t			 now = realtime_ns();
	char			*ev;

	evbuffer_add_buffer(s->in, in);
	for (;;) {
		/* Blank line: "\n\n" or "\r\n\r\n". */
		skip = 2;
		pos = evbuffer_search(s->in, "\n\n", 2, NULL);
		if (pos.pos < 0) {
			pos = evbuffer_search(s->in, "\r\n\r\n", 4, NULL);
			skip = 4;
		}
		if (pos.pos < 0)
			break;
		len = (size_t)pos.pos;
		ev = (char *)evbuffer_pullup(s->in, (ev_ssize_t)(len + skip));
		event_seen(s, ev, len, now);
		evbuffer_drain(s->in, len + skip);
	}
	if (evbuffer_get_length(s->in) > SB_MAX_EVENT) {
		/* Not SSE as we know it: drop it, the request will fail. */
		evbuffer_drain(s->in, evbuffer_get_length(s->in));
		s->chunks = -1000000;
	}
}

static void
request_done_cb(struct evhttp_request *req, void *arg)
{
	struct slot	*s = arg;
	struct sb	*sb = s->sb;
	int		 code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	int		 ok;
	struct timeval	 tv = { 0, 0 };

	s->req = NULL;
	if (evbuffer_get_length(s->in) > 0) {
		/* A last event without its blank line. */
		event_seen(s, (const char *)evbuffer_pullup(s->in, -1),
		    evbuffer_get_length(s->in), realtime_ns());
		evbuffer_drain(s->in, evbuffer_get_length(s->in));
	}
	ok = code == 200 && s->done_seen && s->chunks >= 0 &&
	    (sb->expect == 0 || s->chunks == sb->expect);
	if (ok) {
		s->nok++;
		if (sb->cmin < 0 || s->chunks < sb->cmin)
			sb->cmin = s->chunks;
		if (s->chunks > sb->cmax)
			sb->cmax = s->chunks;
	} else {
		s->nbad++;
		if (sb->verbose && sb->nreports++ < SB_MAX_REPORTS)
			fprintf(stderr, "streambench: stream %zu request %lld: "
			    "status %d, %lld chunks, %s\n", s->idx, s->nreq,
			    code, s->chunks, s->done_seen ? "[DONE] seen" :
			    "no [DONE]");
		/* No hot loop against a server that refuses. */
		tv.tv_usec = SB_RETRY_MS * 1000;
	}
	if (sb->stopping || (sb->requests > 0 && s->nreq >= sb->requests))
		slot_finish(s);
	else
		evtimer_add(s->kick, &tv);	/* not from inside evhttp */
}

static void
slot_start(struct slot *s)
{
	struct sb		*sb = s->sb;
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	struct evbuffer		*out;
	char			*auth;

	if (s->evcon == NULL) {
		s->evcon = evhttp_connection_base_new(sb->base, NULL, sb->host,
		    (ev_uint16_t)sb->port);
		if (s->evcon == NULL) {
			fprintf(stderr, "streambench: cannot make a "
			    "connection\n");
			s->nbad++;
			slot_finish(s);
			return;
		}
		evhttp_connection_set_timeout(s->evcon, 60);
		evhttp_connection_set_retries(s->evcon, 0);
	}
	req = evhttp_request_new(request_done_cb, s);
	evhttp_request_set_chunked_cb(req, chunk_cb);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", sb->host);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", "text/event-stream");
	if (sb->key != NULL) {
		auth = xasprintf("Bearer %s", sb->key);
		evhttp_add_header(h, "Authorization", auth);
		free(auth);
	}
	out = evhttp_request_get_output_buffer(req);
	evbuffer_add(out, sb->body, strlen(sb->body));
	s->chunks = 0;
	s->done_seen = 0;
	s->nreq++;
	s->req = req;
	if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, sb->path) != 0) {
		/* evhttp has freed req. */
		s->req = NULL;
		s->nbad++;
		slot_finish(s);
	}
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot	*s = arg;

	if (s->sb->stopping)
		slot_finish(s);
	else
		slot_start(s);
}

static void
slot_finish(struct slot *s)
{
	struct sb	*sb = s->sb;

	if (s->finished)
		return;
	s->finished = 1;
	if (++sb->nfinished == (size_t)sb->nstreams)
		event_base_loopexit(sb->base, NULL);
}

/* Time is up: no new requests. */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb	*sb = arg;
	long long	 i;
	struct timeval	 tv;

	sb->stopping = 1;
	for (i = 0; i < sb->nstreams; i++)
		if (sb->slots[i].req == NULL)
			slot_finish(&sb->slots[i]);
	tv.tv_sec = (time_t)sb->grace;
	tv.tv_usec = (suseconds_t)((sb->grace - (double)tv.tv_sec) * 1e6);
	evtimer_add(sb->cut_ev, &tv);
}

/* Grace is over (or a signal came): cut what is left. */
static void
cut_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb	*sb = arg;
	long long	 i;

	sb->stopping = 1;
	for (i = 0; i < sb->nstreams; i++) {
		if (sb->slots[i].req != NULL && !sb->slots[i].finished) {
			sb->slots[i].nbad++;
			if (sb->verbose && sb->nreports++ < SB_MAX_REPORTS)
				fprintf(stderr, "streambench: stream %lld cut "
				    "after %lld chunks\n", i,
				    sb->slots[i].chunks);
		}
		slot_finish(&sb->slots[i]);
	}
	event_base_loopexit(sb->base, NULL);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v, in microseconds. */
static double
pct_us(const int64_t *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1] / 1000.0;
}

static int
report(struct sb *sb)
{
	long long	 i, flowing = 0, nreq = 0, nok = 0, nbad = 0;
	double		 sum = 0, secs, p50, p90, p99, mx, mean;
	size_t		 k;

	for (i = 0; i < sb->nstreams; i++) {
		struct slot *s = &sb->slots[i];

		nreq += s->nreq;
		nok += s->nok;
		nbad += s->nbad;
		if (s->nok > 0 && s->nbad == 0)
			flowing++;
	}
	if (sb->nlat > 0)
		qsort(sb->lat, sb->nlat, sizeof *sb->lat, cmp_i64);
	for (k = 0; k < sb->nlat; k++)
		sum += (double)sb->lat[k];
	mean = sb->nlat > 0 ? sum / (double)sb->nlat / 1000.0 : 0;
	p50 = pct_us(sb->lat, sb->nlat, 50);
	p90 = pct_us(sb->lat, sb->nlat, 90);
	p99 = pct_us(sb->lat, sb->nlat, 99);
	mx = sb->nlat > 0 ? (double)sb->lat[sb->nlat - 1] / 1000.0 : 0;
	secs = elapsed(&sb->t_start, &sb->t_end);
	printf("RESULT label=%s streams=%lld flowing=%lld requests=%lld "
	    "ok=%lld failed=%lld chunks=%zu notimestamp=%lld chunks_min=%lld "
	    "chunks_max=%lld p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	    "max_us=%.1f mean_us=%.1f seconds=%.2f\n", sb->label,
	    sb->nstreams, flowing, nreq, nok, nbad, sb->nlat, sb->nnots,
	    sb->cmin < 0 ? 0 : sb->cmin, sb->cmax, p50, p90, p99, mx, mean,
	    secs);
	printf("  %s: %lld/%lld streams flowed; %lld requests (%lld failed), "
	    "%zu chunks in %.1f s (%.0f/s)\n", sb->label, flowing,
	    sb->nstreams, nreq, nbad, sb->nlat, secs,
	    secs > 0 ? (double)sb->nlat / secs : 0);
	printf("  %s: chunk latency us: p50 %.1f  p90 %.1f  p99 %.1f  "
	    "max %.1f  mean %.1f\n", sb->label, p50, p90, p99, mx, mean);
	fflush(stdout);
	return flowing == sb->nstreams && nbad == 0 ? 0 : 1;
}

static void
raise_nofile(long long need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max >= (rlim_t)need ? (rlim_t)need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
		    rl.rlim_cur < (rlim_t)need)
			fprintf(stderr, "streambench: only %llu file "
			    "descriptors for %lld streams\n",
			    (unsigned long long)rl.rlim_cur, need);
	}
}

static int
opt_ll(const char *name, const char *v, long long min, long long max,
    long long *out)
{
	const char	*errstr;

	if (parse_ll(v, min, max, out, &errstr) == 0)
		return 0;
	fprintf(stderr, "streambench: --%s %s: %s\n", name, v, errstr);
	return -1;
}

static int
opt_d(const char *name, const char *v, double min, double max, double *out)
{
	const char	*errstr;

	if (parse_double(v, min, max, out, &errstr) == 0)
		return 0;
	fprintf(stderr, "streambench: --%s %s: %s\n", name, v, errstr);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url",		required_argument,	NULL, 'u' },
		{ "key",		required_argument,	NULL, 'k' },
		{ "streams",		required_argument,	NULL, 'n' },
		{ "seconds",		required_argument,	NULL, 's' },
		{ "requests",		required_argument,	NULL, 'r' },
		{ "grace",		required_argument,	NULL, 'g' },
		{ "expect-chunks",	required_argument,	NULL, 'e' },
		{ "ramp-ms",		required_argument,	NULL, 'R' },
		{ "body",		required_argument,	NULL, 'b' },
		{ "label",		required_argument,	NULL, 'l' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "dump",		required_argument,	NULL, 'd' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	struct sb	 sb;
	struct timeval	 tv;
	const char	*url = NULL;
	long long	 i;
	int		 ch, rc;

	memset(&sb, 0, sizeof sb);
	sb.nstreams = 1;
	sb.seconds = 10;
	sb.grace = 30;
	sb.ramp_ms = 1000;
	sb.cmin = -1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'k':
			sb.key = optarg;
			break;
		case 'n':
			if (opt_ll("streams", optarg, 1, SB_MAX_STREAMS,
			    &sb.nstreams) != 0)
				return 2;
			break;
		case 's':
			if (opt_d("seconds", optarg, 0.001, 3600,
			    &sb.seconds) != 0)
				return 2;
			break;
		case 'r':
			if (opt_ll("requests", optarg, 1, 1000000,
			    &sb.requests) != 0)
				return 2;
			break;
		case 'g':
			if (opt_d("grace", optarg, 0, 3600, &sb.grace) != 0)
				return 2;
			break;
		case 'e':
			if (opt_ll("expect-chunks", optarg, 0, 1000000,
			    &sb.expect) != 0)
				return 2;
			break;
		case 'R':
			if (opt_d("ramp-ms", optarg, 0, 600000,
			    &sb.ramp_ms) != 0)
				return 2;
			break;
		case 'b':
			sb.body = xstrdup(optarg);
			break;
		case 'l':
			sb.label = optarg;
			break;
		case 'v':
			sb.verbose = 1;
			break;
		case 'd':
			if ((sb.dump = fopen(optarg, "w")) == NULL) {
				fprintf(stderr, "streambench: %s: %s\n",
				    optarg, strerror(errno));
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || url == NULL) {
		usage(stderr);
		return 2;
	}
	if (parse_url(&sb, url) != 0) {
		fprintf(stderr, "streambench: --url %s: want "
		    "http://127.0.0.1:PORT\n", url);
		return 2;
	}
	if (sb.body == NULL)
		sb.body = xstrdup("{\"model\":\"bench\",\"stream\":true,"
		    "\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"Tell me something.\"}]}");
	if (sb.label == NULL)
		sb.label = "run";
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(sb.nstreams + 64);

	if ((sb.base = event_base_new()) == NULL) {
		fprintf(stderr, "streambench: event_base_new failed\n");
		return 1;
	}
	sb.stop_ev = evtimer_new(sb.base, stop_cb, &sb);
	sb.cut_ev = evtimer_new(sb.base, cut_cb, &sb);
	sb.sig_ev = evsignal_new(sb.base, SIGINT, cut_cb, &sb);
	evsignal_add(sb.sig_ev, NULL);
	sb.slots = xcalloc((size_t)sb.nstreams, sizeof *sb.slots);
	for (i = 0; i < sb.nstreams; i++) {
		struct slot *s = &sb.slots[i];
		double	     at;

		s->sb = &sb;
		s->idx = (size_t)i;
		s->in = evbuffer_new();
		s->kick = evtimer_new(sb.base, kick_cb, s);
		/* Spread the starts so the streams do not tick in step. */
		at = sb.nstreams > 1 ? sb.ramp_ms * (double)i /
		    (double)sb.nstreams : 0;
		tv.tv_sec = (time_t)(at / 1000);
		tv.tv_usec = (suseconds_t)((at - (double)tv.tv_sec * 1000) *
		    1000);
		evtimer_add(s->kick, &tv);
	}
	/* With --requests alone, --seconds still bounds the run. */
	tv.tv_sec = (time_t)sb.seconds;
	tv.tv_usec = (suseconds_t)((sb.seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(sb.stop_ev, &tv);

	clock_gettime(CLOCK_MONOTONIC, &sb.t_start);
	event_base_dispatch(sb.base);
	clock_gettime(CLOCK_MONOTONIC, &sb.t_end);
	rc = report(&sb);

	for (i = 0; i < sb.nstreams; i++) {
		struct slot *s = &sb.slots[i];

		if (s->evcon != NULL)
			evhttp_connection_free(s->evcon);	/* and its req */
		event_free(s->kick);
		evbuffer_free(s->in);
	}
	free(sb.slots);
	event_free(sb.stop_ev);
	event_free(sb.cut_ev);
	event_free(sb.sig_ev);
	event_base_free(sb.base);
	free(sb.lat);
	free(sb.body);
	if (sb.dump != NULL && fclose(sb.dump) != 0) {
		fprintf(stderr, "streambench: --dump: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
