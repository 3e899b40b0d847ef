/* api: routing of HTTP requests and the small endpoints. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audio.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "proxy.h"
#include "replies.h"
#include "server.h"
#include "speech.h"
#include "stats.h"
#include "tts.h"
#include "upstream.h"
#include "util.h"

static void
api_root(struct hreq *h)
{
	cJSON	*root, *eps;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "service", "ttsaccel");
	cJSON_AddStringToObject(root, "version", TTSACCEL_VERSION);
	cJSON_AddStringToObject(root, "description", "OpenAI-compatible chat "
	    "proxy that prefetches the reply's speech");
	cJSON_AddBoolToObject(root, "upstream_configured",
	    h->srv->cf->upstream_url != NULL);
	eps = cJSON_AddArrayToObject(root, "endpoints");
	cJSON_AddItemToArray(eps, cJSON_CreateString(
	    "POST /v1/chat/completions"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("POST /v1/responses"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("GET /v1/models"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("POST /v1/audio/speech"));
	cJSON_AddItemToArray(eps, cJSON_CreateString(
	    "GET /v1/audio/replies/{id}"));
	cJSON_AddItemToArray(eps, cJSON_CreateString(
	    "GET /v1/audio/replies/{id}/segments"));
	cJSON_AddItemToArray(eps, cJSON_CreateString(
	    "DELETE /v1/audio/replies/{id}"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("GET /v1/audio/models"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("GET /cache/stats"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("POST /cache/clear"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("GET /metrics"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("GET /health"));
	cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/* (proxied)"));
	http_json(h, 200, root);
	cJSON_Delete(root);
}

static void
api_health(struct hreq *h)
{
	struct server	*srv = h->srv;
	cJSON		*root;
	int		 usable = srv->tts != NULL && tts_usable(srv->tts);

	/* Like Redis, the upstream's state shows and never makes 503:
	 * speech is served without it.  Stale news is refreshed by a
	 * probe for the next look. */
	upstream_refresh(srv->upstream);
	root = stats_json(srv, STATS_HEALTH);
	http_json(h, srv->stopping || !usable ? 503 : 200, root);
	cJSON_Delete(root);
}

static void
api_cache_stats(struct hreq *h)
{
	cJSON	*j;

	if ((j = stats_json(h->srv, STATS_CACHE)) == NULL) {
		http_error(h, 503, "server_error", NULL, "No cache.");
		return;
	}
	http_json(h, 200, j);
	cJSON_Delete(j);
}

static void
api_metrics(struct hreq *h)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*text;

	stats_metrics(h->srv, b);
	len = evbuffer_get_length(b);
	text = (char *)evbuffer_pullup(b, -1);
	http_reply(h, 200, "text/plain; version=0.0.4", text, len);
	evbuffer_free(b);
}

/* GET /v1/models without an upstream: the TTS model alone. */
static void
api_models_local(struct hreq *h)
{
	cJSON	*root, *data, *m;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "object", "list");
	data = cJSON_AddArrayToObject(root, "data");
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "id", h->srv->cf->tts_default_model);
	cJSON_AddStringToObject(m, "object", "model");
	cJSON_AddNumberToObject(m, "created", 0);
	cJSON_AddStringToObject(m, "owned_by", "ttsaccel");
	cJSON_AddItemToArray(data, m);
	http_json(h, 200, root);
	cJSON_Delete(root);
}

static void
api_preflight(struct hreq *h)
{
	struct evkeyvalq	*out;
	const char		*want;

	out = evhttp_request_get_output_headers(h->req);
	evhttp_add_header(out, "Access-Control-Allow-Methods",
	    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
	want = http_header(h, "Access-Control-Request-Headers");
	evhttp_add_header(out, "Access-Control-Allow-Headers", want != NULL ?
	    want : "Authorization, Content-Type, X-Request-Id");
	evhttp_add_header(out, "Access-Control-Max-Age", "86400");
	http_reply(h, 204, NULL, NULL, 0);
}

static void
api_cache_clear(struct hreq *h)
{
	cJSON	*j;
	size_t	 n;

	if (http_auth(h) != 0)
		return;
	n = tts_clear(h->srv->tts);
	log_info("%s cache cleared: %zu entries", h->id, n);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "status", "cleared");
	cJSON_AddNumberToObject(j, "removed", (double)n);
	http_json(h, 200, j);
	cJSON_Delete(j);
}

void
api_route(struct hreq *h)
{
	const char	*p = h->path, *m = h->method;
	int		 get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	int		 post = strcmp(m, "POST") == 0;

	if (strcmp(m, "OPTIONS") == 0) {
		api_preflight(h);
		return;
	}
	/* The daemon's own paths: any other method is a 405 with Allow. */
	if (strcmp(p, "/") == 0 || strcmp(p, "/health") == 0 ||
	    strcmp(p, "/cache/stats") == 0 || strcmp(p, "/metrics") == 0) {
		if (!get)
			http_not_allowed(h, "GET, HEAD, OPTIONS");
		else if (strcmp(p, "/") == 0)
			api_root(h);
		else if (strcmp(p, "/health") == 0)
			api_health(h);
		else if (strcmp(p, "/cache/stats") == 0)
			api_cache_stats(h);
		else
			api_metrics(h);
		return;
	}
	if (strcmp(p, "/cache/clear") == 0) {
		if (!post)
			http_not_allowed(h, "POST, OPTIONS");
		else
			api_cache_clear(h);
		return;
	}
	if (strcmp(p, "/v1/audio/speech") == 0) {
		if (!post)
			http_not_allowed(h, "POST, OPTIONS");
		else
			speech_post(h);
		return;
	}
	if (strcmp(p, "/v1/chat/completions") == 0) {
		if (!post)
			http_not_allowed(h, "POST, OPTIONS");
		else
			proxy_chat(h);
		return;
	}
	/* Other methods on it are passed on as they are. */
	if (strcmp(p, "/v1/responses") == 0 && post) {
		proxy_responses(h);
		return;
	}
	/* Nothing a proxy should pass on. */
	if (strcmp(m, "TRACE") == 0 || strcmp(m, "OTHER") == 0) {
		if (strncmp(p, "/v1/", 4) == 0)
			http_not_allowed(h,
			    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
		else
			http_error(h, 404, "invalid_request_error",
			    "not_found", "Unknown path %s.", p);
		return;
	}
	if (strncmp(p, "/v1/audio/replies/", 18) == 0 && get) {
		replies_get(h, p + 18);
		return;
	}
	if (strncmp(p, "/v1/audio/replies/", 18) == 0 &&
	    strcmp(m, "DELETE") == 0) {
		replies_delete(h, p + 18);
		return;
	}
	if (strcmp(p, "/v1/audio/models") == 0 && get) {
		audio_models(h);
		return;
	}
	if (strcmp(p, "/v1/models") == 0 && get &&
	    h->srv->cf->upstream_url == NULL) {
		api_models_local(h);
		return;
	}
	if (strncmp(p, "/v1/", 4) == 0) {
		/* The model list is public, as in the original. */
		proxy_pass(h, !(strcmp(p, "/v1/models") == 0 && get));
		return;
	}
	http_error(h, 404, "invalid_request_error", "not_found",
	    "Unknown path %s.", p);
}
