/* stats: the daemon's statistics — /metrics and /cache/stats. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#include <stdlib.h>

#include "encode.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "stats.h"
#include "tts.h"
#include "util.h"

/* The SERVED_* kinds, as /metrics and /cache/stats name them. */
static const char *const served_names[SERVED_KINDS] = {
	"exact", "assembled", "partial", "converted", "miss", "empty"
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

void
stats_cache(struct hreq *h)
{
	cJSON	*j;

	if (h->srv->tts == NULL) {
		http_error(h, 503, "server_error", NULL, "No cache.");
		return;
	}
	j = tts_cache_json(h->srv->tts);
	cJSON_AddNumberToObject(j, "replies", (double)reply_count(
	    h->srv->replies));
	cJSON_AddItemToObject(j, "served", stats_served_json(h->srv));
	if (h->srv->encode != NULL)
		cJSON_AddItemToObject(j, "conversions",
		    encode_json(h->srv->encode));
	if (h->srv->shared != NULL)
		cJSON_AddItemToObject(j, "shared", shared_json(h->srv->shared));
	http_json(h, 200, j);
	cJSON_Delete(j);
}

void
stats_metrics(struct hreq *h)
{
	struct server	*srv = h->srv;
	struct evbuffer	*b = evbuffer_new();
	char		*text, *hists = NULL;
	size_t		 len, hlen = 0, i;

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
	len = evbuffer_get_length(b);
	text = (char *)evbuffer_pullup(b, -1);
	http_reply(h, 200, "text/plain; version=0.0.4", text, len);
	evbuffer_free(b);
}

