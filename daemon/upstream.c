/*
 * upstream: what is known of the upstream's health.  Every chat and
 * pass-through tells it how the upstream answered; a probe, GET
 * {base}/v1/models with the upstream key, asks at start-up (its failure
 * is logged once) and again when /health finds the news stale.  It only
 * informs: an upstream that cannot be reached does not stop speech.
 */
#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fetch.h"
#include "log.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

enum upstream_state {
	UPSTREAM_UNKNOWN,
	UPSTREAM_UP,
	UPSTREAM_FAILING,
	UPSTREAM_UNREACHABLE
};

struct upstream {
	struct server		*srv;
	enum upstream_state	 state;
	uint64_t		 news;		/* now_usec() of the last, or 0 */
	uint64_t		 answered;	/* of the last answer, or 0 */
	long			 status;	/* the last answer's */
	char			*error;		/* the last failure, or NULL */
	uint64_t		 error_at;
	struct fetch_req	*probe;		/* in flight, or NULL */
	int			 probe_answered;
	int			 probed;	/* a probe has ended */
};

/* The last failure, said (taken). */
static void
upstream_error(struct upstream *up, char *error)
{
	free(up->error);
	up->error = error;
	up->error_at = now_usec();
}

void
upstream_answered(struct upstream *up, long status)
{
	if (up == NULL)
		return;
	up->news = up->answered = now_usec();
	up->status = status;
	if (status >= 500) {
		up->state = UPSTREAM_FAILING;
		upstream_error(up, xasprintf("answered HTTP %ld", status));
	} else
		up->state = UPSTREAM_UP;
}

void
upstream_failed(struct upstream *up, int answered, const char *why)
{
	if (up == NULL)
		return;
	up->news = now_usec();
	if (answered) {
		up->state = UPSTREAM_FAILING;
		upstream_error(up, xasprintf("reply cut short: %s", why));
	} else {
		up->state = UPSTREAM_UNREACHABLE;
		upstream_error(up, xstrdup(why));
	}
}

static void
upstream_probe_head_cb(void *arg, long status, const char **hdrs, size_t n)
{
	struct upstream	*up = arg;

	up->probe_answered = 1;
	upstream_answered(up, status);
}

static void
upstream_probe_data_cb(void *arg, const char *data, size_t len)
{
}

static void
upstream_probe_done_cb(void *arg, int ok, const char *why)
{
	struct upstream	*up = arg;
	int		 first = !up->probed;

	up->probe = NULL;
	up->probed = 1;
	/* An answer is news enough, even if its body did not come whole. */
	if (!ok && !up->probe_answered)
		upstream_failed(up, 0, why);
	if (!first)
		return;
	if (up->state == UPSTREAM_UNREACHABLE)
		log_warn("the upstream %s cannot be reached: %s (chats answer "
		    "502 until it can; speech works without it)",
		    up->srv->cf->upstream_url, up->error);
	else if (up->state == UPSTREAM_FAILING)
		log_warn("the upstream %s %s", up->srv->cf->upstream_url,
		    up->error);
	else
		log_info("the upstream %s answers (GET /v1/models: %ld)",
		    up->srv->cf->upstream_url, up->status);
}

static const struct fetch_cbs upstream_probe_cbs = {
	upstream_probe_head_cb, upstream_probe_data_cb, upstream_probe_done_cb
};

static void
upstream_probe(struct upstream *up)
{
	const struct config	*cf = up->srv->cf;
	struct fetch_opts	 o;
	const char		*hdrs[2] = { NULL, NULL };
	char			*url, *auth = NULL;

	url = xasprintf("%s/v1/models", cf->upstream_url);
	if (cf->upstream_key != NULL) {
		auth = xasprintf("Authorization: Bearer %s", cf->upstream_key);
		hdrs[0] = auth;
	}
	memset(&o, 0, sizeof o);
	o.method = "GET";
	o.url = url;
	o.headers = hdrs;
	o.timeout = cf->upstream_timeout < UPSTREAM_PROBE_TIMEOUT ?
	    cf->upstream_timeout : UPSTREAM_PROBE_TIMEOUT;
	o.total = UPSTREAM_PROBE_TIMEOUT;
	up->probe_answered = 0;
	up->probe = fetch_start(up->srv->fetch, &o, &upstream_probe_cbs, up);
	free(url);
	free(auth);
}

struct upstream *
upstream_new(struct server *srv)
{
	struct upstream	*up;

	up = xcalloc(1, sizeof *up);
	up->srv = srv;
	if (srv->cf->upstream_url != NULL && srv->fetch != NULL)
		upstream_probe(up);
	return up;
}

void
upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	if (up->probe != NULL)
		fetch_cancel(up->probe);
	free(up->error);
	free(up);
}

void
upstream_refresh(struct upstream *up)
{
	if (up == NULL || up->probe != NULL || up->srv->cf->upstream_url ==
	    NULL || up->srv->fetch == NULL)
		return;
	if (up->news != 0 && now_usec() - up->news < UPSTREAM_STALE_USEC)
		return;
	upstream_probe(up);
}

static void
upstream_ago(cJSON *o, const char *name, uint64_t when)
{
	if (when == 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name,
		    (double)((now_usec() - when) / 100000) / 10);
}

cJSON *
upstream_json(const struct upstream *up)
{
	static const char	*names[] = {
		"unknown", "up", "failing", "unreachable"
	};
	cJSON			*o = cJSON_CreateObject();

	if (up == NULL || up->srv->cf->upstream_url == NULL) {
		cJSON_AddStringToObject(o, "state", "not configured");
		return o;
	}
	cJSON_AddStringToObject(o, "state", names[up->state]);
	upstream_ago(o, "answered_seconds_ago", up->answered);
	if (up->answered != 0)
		cJSON_AddNumberToObject(o, "status", (double)up->status);
	else
		cJSON_AddNullToObject(o, "status");
	if (up->error != NULL)
		cJSON_AddStringToObject(o, "error", up->error);
	else
		cJSON_AddNullToObject(o, "error");
	upstream_ago(o, "error_seconds_ago", up->error != NULL ?
	    up->error_at : 0);
	return o;
}
