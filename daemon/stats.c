/* stats: the daemon's statistics, built in this one place for every view:
 * GET /health, GET /cache/stats, the admin `stats` command and GET
 * /metrics. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#include <stdlib.h>

#include "config.h"
#include "conn.h"
#include "encode.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "stats.h"
#include "tts.h"
#include "upstream.h"
#include "util.h"

/* The SERVED_* kinds, as /metrics and /cache/stats name them. */
static const char *const served_names[SERVED_KINDS] = {
	"exact", "assembled", "partial", "converted", "miss", "empty"
};

/* One statistic, as a view shows it. */
enum stat {
	ST_END,
	ST_STATUS,		/* "ok", "degraded" or "stopping" */
	ST_VERSION,
	ST_UPTIME_SECONDS,	/* seconds, fractional */
	ST_UPTIME_S,		/* whole seconds */
	ST_USABLE,		/* some TTS endpoint is usable */
	ST_UPSTREAM_CONFIGURED,
	ST_CONNECTIONS,
	ST_STREAMS,
	ST_REQUESTS,
	ST_CHATS,
	ST_UPSTREAM_ERRORS,
	ST_UPSTREAM,
	ST_REPLIES,
	ST_ENDPOINTS,
	ST_CACHE,
	ST_SERVED,
	ST_CONVERSIONS,		/* the encoding workers' */
	ST_SHARED,
	ST_WATCHERS,
};

/* Each view's statistics, in the order shown. */
static const enum stat view_health[] = {
	ST_STATUS, ST_VERSION, ST_UPTIME_SECONDS, ST_UPSTREAM_CONFIGURED,
	ST_CONNECTIONS, ST_STREAMS, ST_REQUESTS, ST_UPSTREAM_ERRORS,
	ST_UPSTREAM, ST_ENDPOINTS, ST_CACHE, ST_SHARED, ST_END
};
static const enum stat view_admin[] = {
	ST_VERSION, ST_UPTIME_S, ST_USABLE, ST_REQUESTS, ST_CHATS,
	ST_UPSTREAM_ERRORS, ST_UPSTREAM, ST_STREAMS, ST_REPLIES, ST_CACHE,
	ST_SERVED, ST_CONVERSIONS, ST_ENDPOINTS, ST_SHARED, ST_WATCHERS,
	ST_END
};
/* The cache's own fields first (tts_cache_json), then these. */
static const enum stat view_cache[] = {
	ST_REPLIES, ST_SERVED, ST_CONVERSIONS, ST_SHARED, ST_END
};

cJSON *
stats_served_json(const struct server *srv)
{
	cJSON	*served = cJSON_CreateObject();
	size_t	 i;

	for (i = 0; i < SERVED_KINDS; i++)
		cJSON_AddNumberToObject(served, served_names[i],
		    (double)srv->served[i]);
	return served;
}

static int
stats_usable(const struct server *srv)
{
	return srv->tts != NULL && tts_usable(srv->tts);
}

static void
stats_add(cJSON *o, const struct server *srv, enum stat st)
{
	uint64_t	up = now_usec() - srv->started;

	switch (st) {
	case ST_END:
		break;
	case ST_STATUS:
		cJSON_AddStringToObject(o, "status", srv->stopping ?
		    "stopping" : stats_usable(srv) ? "ok" : "degraded");
		break;
	case ST_VERSION:
		cJSON_AddStringToObject(o, "version", TTSACCEL_VERSION);
		break;
	case ST_UPTIME_SECONDS:
		cJSON_AddNumberToObject(o, "uptime_seconds", (double)up / 1e6);
		break;
	case ST_UPTIME_S:
		cJSON_AddNumberToObject(o, "uptime_s",
		    (double)(up / 1000000));
		break;
	case ST_USABLE:
		cJSON_AddBoolToObject(o, "usable", stats_usable(srv));
		break;
	case ST_UPSTREAM_CONFIGURED:
		cJSON_AddBoolToObject(o, "upstream_configured",
		    srv->cf->upstream_url != NULL);
		break;
	case ST_CONNECTIONS:
		cJSON_AddNumberToObject(o, "connections",
		    (double)conns_open(srv->conns));
		break;
	case ST_STREAMS:
		cJSON_AddNumberToObject(o, "streams", (double)srv->nstreams);
		break;
	case ST_REQUESTS:
		cJSON_AddNumberToObject(o, "requests", (double)srv->nrequests);
		break;
	case ST_CHATS:
		cJSON_AddNumberToObject(o, "chats", (double)srv->nchats);
		break;
	case ST_UPSTREAM_ERRORS:
		cJSON_AddNumberToObject(o, "upstream_errors",
		    (double)srv->nupstream_errors);
		break;
	case ST_UPSTREAM:
		cJSON_AddItemToObject(o, "upstream",
		    upstream_json(srv->upstream));
		break;
	case ST_REPLIES:
		cJSON_AddNumberToObject(o, "replies",
		    (double)reply_count(srv->replies));
		break;
	case ST_ENDPOINTS:
		if (srv->tts != NULL)
			cJSON_AddItemToObject(o, "endpoints",
			    tts_endpoints_json(srv->tts));
		break;
	case ST_CACHE:
		if (srv->tts != NULL)
			cJSON_AddItemToObject(o, "cache",
			    tts_cache_json(srv->tts));
		break;
	case ST_SERVED:
		cJSON_AddItemToObject(o, "served", stats_served_json(srv));
		break;
	case ST_CONVERSIONS:
		if (srv->encode != NULL)
			cJSON_AddItemToObject(o, "conversions",
			    encode_json(srv->encode));
		break;
	case ST_SHARED:
		/* Redis is an accelerator: its state shows, it never makes
		 * 503. */
		if (srv->shared != NULL)
			cJSON_AddItemToObject(o, "shared",
			    shared_json(srv->shared));
		break;
	case ST_WATCHERS:
		cJSON_AddNumberToObject(o, "watchers",
		    (double)srv->nwatchers);
		break;
	}
}

cJSON *
stats_json(struct server *srv, int view)
{
	const enum stat	*v;
	cJSON		*o;

	switch (view) {
	case STATS_HEALTH:
		v = view_health;
		break;
	case STATS_ADMIN:
		v = view_admin;
		break;
	default:
		if (srv->tts == NULL)
			return NULL;
		v = view_cache;
		break;
	}
	o = view == STATS_CACHE ? tts_cache_json(srv->tts) :
	    cJSON_CreateObject();
	for (; *v != ST_END; v++)
		stats_add(o, srv, *v);
	return o;
}

void
stats_metrics(struct server *srv, struct evbuffer *b)
{
	char	*hists = NULL;
	size_t	 hlen = 0, i;

	evbuffer_add_printf(b,
	    "# HELP ttsaccel_requests_total HTTP requests received.\n"
	    "# TYPE ttsaccel_requests_total counter\n"
	    "ttsaccel_requests_total %llu\n"
	    "# HELP ttsaccel_chats_total Chat completions proxied.\n"
	    "# TYPE ttsaccel_chats_total counter\n"
	    "ttsaccel_chats_total %llu\n"
	    "# HELP ttsaccel_upstream_errors_total Upstream failures.\n"
	    "# TYPE ttsaccel_upstream_errors_total counter\n"
	    "ttsaccel_upstream_errors_total %llu\n"
	    "# HELP ttsaccel_streams Replies being streamed now.\n"
	    "# TYPE ttsaccel_streams gauge\n"
	    "ttsaccel_streams %zu\n"
	    "# HELP ttsaccel_uptime_seconds Seconds since start.\n"
	    "# TYPE ttsaccel_uptime_seconds gauge\n"
	    "ttsaccel_uptime_seconds %.0f\n",
	    (unsigned long long)srv->nrequests,
	    (unsigned long long)srv->nchats,
	    (unsigned long long)srv->nupstream_errors, srv->nstreams,
	    (double)(now_usec() - srv->started) / 1e6);
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_speech_requests_total Speech requests by how "
	    "they were served (all but miss without a new synthesis).\n"
	    "# TYPE ttsaccel_speech_requests_total counter\n");
	for (i = 0; i < SERVED_KINDS; i++)
		evbuffer_add_printf(b, "ttsaccel_speech_requests_total{served="
		    "\"%s\"} %llu\n", served_names[i],
		    (unsigned long long)srv->served[i]);
	hist_print(&srv->h_upstream_first, &hists, &hlen);
	hist_print(&srv->h_first_segment, &hists, &hlen);
	hist_print(&srv->h_first_audio, &hists, &hlen);
	evbuffer_add(b, hists, hlen);
	free(hists);
	if (srv->tts != NULL)
		tts_metrics(srv->tts, b);
	if (srv->encode != NULL)
		encode_metrics(srv->encode, b);
}
