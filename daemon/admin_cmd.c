/* admin_cmd: the admin socket's command table and its commands (spec
 * §6); the transport that runs them is admin.c. */
#include <cjson/cJSON.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cmd.h"
#include "admin_proto.h"
#include "cache.h"
#include "config.h"
#include "encode.h"
#include "log.h"
#include "replies.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "stats.h"
#include "tts.h"
#include "util.h"

/* --- arguments -------------------------------------------------------- */

/* A required non-empty string argument; NULL with *error. */
static const char *
arg_str(const cJSON *req, const char *name, char **error)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(req, name);

	if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
		*error = xasprintf("'%s' is required: a non-empty string",
		    name);
		return NULL;
	}
	return it->valuestring;
}

/* An optional integer argument in [min, max]: 1 if given (in *v), 0 if
 * absent or null, -1 with *error. */
static int
arg_int(const cJSON *req, const char *name, long long min, long long max,
    long long *v, char **error)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(req, name);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
	    it->valuedouble != floor(it->valuedouble) ||
	    it->valuedouble < (double)min || it->valuedouble > (double)max) {
		*error = xasprintf("'%s' must be an integer from %lld to %lld",
		    name, min, max);
		return -1;
	}
	*v = (long long)it->valuedouble;
	return 1;
}

/* --- commands --------------------------------------------------------- */

static int
cmd_stats(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	struct server	*srv = admin_client_server(c);

	*data = stats_json(srv, STATS_ADMIN);
	return 0;
}

/* A cache.clear of the shared tier under way for a client. */
struct clear_wait {
	struct aclient		*c;
	struct shared_clear	*clearing;
	size_t			 cleared;	/* local entries it removed */
};

static void
clear_cancel_cb(void *arg)
{
	struct clear_wait	*w = arg;

	shared_clear_cancel(w->clearing);
	free(w);
}

static void
clear_done_cb(void *arg, long long removed, const char *err)
{
	struct clear_wait	*w = arg;
	struct aclient		*c = w->c;
	size_t			 cleared = w->cleared;
	cJSON			*data;
	char			*msg;

	free(w);
	if (err != NULL) {
		log_info("admin: client %u: cache.clear: shared tier: %s",
		    admin_client_id(c), err);
		msg = xasprintf("the memory cache was emptied (%zu entries) "
		    "but not Redis: %s", cleared, err);
		admin_client_answer(c, NULL, msg);
		free(msg);
	} else {
		log_info("admin: client %u: cache.clear: ok, %lld key(s) "
		    "removed from Redis", admin_client_id(c), removed);
		data = cJSON_CreateObject();
		cJSON_AddNumberToObject(data, "removed", (double)cleared);
		cJSON_AddNumberToObject(data, "shared_removed",
		    (double)removed);
		admin_client_answer(c, data, NULL);
	}
}

static int
cmd_cache_clear(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct server		*srv = admin_client_server(c);
	const cJSON		*sh = cJSON_GetObjectItemCaseSensitive(req,
				    "shared");
	struct clear_wait	*w;
	size_t			 n;

	if (sh != NULL && !cJSON_IsBool(sh) && !cJSON_IsNull(sh)) {
		*error = xstrdup("'shared' must be true or false");
		return -1;
	}
	if (cJSON_IsTrue(sh) && srv->shared == NULL) {
		*error = xstrdup("no shared tier here: REDIS_URL is not set");
		return -1;
	}
	n = tts_clear(srv->tts);
	if (!cJSON_IsTrue(sh)) {
		*data = cJSON_CreateObject();
		cJSON_AddNumberToObject(*data, "removed", (double)n);
		return 0;
	}
	/* This prefix's keys in Redis, by SCAN: answered when done. */
	w = xcalloc(1, sizeof *w);
	w->c = c;
	w->cleared = n;
	if ((w->clearing = shared_clear(srv->shared, clear_done_cb, w,
	    error)) == NULL) {
		char	*why = *error;

		free(w);
		*error = xasprintf("the memory cache was emptied (%zu "
		    "entries) but not Redis: %s", n, why);
		free(why);
		return -1;
	}
	admin_client_wait(c, clear_cancel_cb, w);
	return 1;
}

struct list_walk {
	cJSON		*a;
	uint64_t	 now;
};

static int
cache_list_cb(void *arg, const struct cache_entry *e)
{
	struct list_walk	*w = arg;
	cJSON			*o = cJSON_CreateObject();
	uint64_t		 created = cache_entry_created(e);
	size_t			 len;
	char			*id;

	id = tts_key_id(cache_key(e));
	cJSON_AddStringToObject(o, "key", id);
	free(id);
	cJSON_AddStringToObject(o, "text", cache_text(e));
	(void)cache_data(e, &len);
	cJSON_AddNumberToObject(o, "bytes", (double)len);
	cJSON_AddNumberToObject(o, "age_s", w->now > created ?
	    (double)((w->now - created) / 1000000) : 0);
	cJSON_AddNumberToObject(o, "hits", (double)cache_entry_hits(e));
	cJSON_AddStringToObject(o, "state", cache_state(e) == CACHE_PENDING ?
	    "pending" : "done");
	cJSON_AddItemToArray(w->a, o);
	return 0;
}

static int
cmd_cache_list(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct list_walk	 w;
	long long		 limit = 20;

	/* 0 = all of them. */
	if (arg_int(req, "limit", 0, 1000000, &limit, error) < 0)
		return -1;
	w.a = cJSON_CreateArray();
	w.now = now_usec();
	cache_walk(tts_cache(admin_client_server(c)->tts), (size_t)limit, cache_list_cb,
	    &w);
	*data = w.a;
	return 0;
}

static int
cmd_endpoints_list(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	*data = tts_endpoints_json(admin_client_server(c)->tts);
	return 0;
}

static int
cmd_endpoints_add(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct tts	*tts = admin_client_server(c)->tts;
	const cJSON	*it;
	const char	*url;
	char		 maxs[32] = "", weights[64] = "", *spec;
	long long	 max;
	int		 rc;

	if ((url = arg_str(req, "url", error)) == NULL)
		return -1;
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0 && strncmp(url, "exec:", 5) != 0) {
		*error = xstrdup("'url' must be http://…, https://… or exec:…");
		return -1;
	}
	if ((rc = arg_int(req, "max", 1, 1000000, &max, error)) < 0)
		return -1;
	if (rc == 1)
		snprintf(maxs, sizeof maxs, "|max=%lld", max);
	it = cJSON_GetObjectItemCaseSensitive(req, "weight");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
		    it->valuedouble <= 0) {
			*error = xstrdup("'weight' must be a number above 0");
			return -1;
		}
		snprintf(weights, sizeof weights, "|weight=%g",
		    it->valuedouble);
	}
	spec = xasprintf("%s%s%s", url, maxs, weights);
	rc = tts_endpoint_add(tts, spec, error);
	free(spec);
	if (rc != 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url",
	    tts_endpoint_name(tts, tts_endpoint_count(tts) - 1));
	return 0;
}

static int
cmd_endpoints_drain(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*url;

	if ((url = arg_str(req, "url", error)) == NULL ||
	    tts_endpoint_drain(admin_client_server(c)->tts, url, error) != 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url", url);
	cJSON_AddStringToObject(*data, "state", "draining");
	return 0;
}

static int
cmd_endpoints_remove(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*url;
	int		 rc;

	if ((url = arg_str(req, "url", error)) == NULL ||
	    (rc = tts_endpoint_remove(admin_client_server(c)->tts, url, error)) < 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url", url);
	if (rc == 0)
		cJSON_AddStringToObject(*data, "state", "removed");
	else {
		cJSON_AddStringToObject(*data, "state", "draining");
		cJSON_AddStringToObject(*data, "note",
		    "busy: it leaves when its work is done");
	}
	return 0;
}

static int
cmd_reload(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	char		*cause = NULL;

	if (admin_client_reload(c, &cause) != 0) {
		*error = xasprintf("reload failed, old configuration kept: %s",
		    cause != NULL ? cause : "unknown error");
		free(cause);
		return -1;
	}
	*data = cJSON_CreateObject();
	cJSON_AddTrueToObject(*data, "reloaded");
	cJSON_AddItemToObject(*data, "endpoints",
	    tts_endpoints_json(admin_client_server(c)->tts));
	return 0;
}

static int
cmd_log_level(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*name;
	int		 lvl;

	if ((name = arg_str(req, "level", error)) == NULL)
		return -1;
	if ((lvl = log_level_parse(name)) < 0) {
		*error = xasprintf("unknown log level '%.64s' (DEBUG, INFO, "
		    "WARNING, ERROR)", name);
		return -1;
	}
	log_level = lvl;
	admin_client_server(c)->cf->log_level = lvl;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "level", log_level_name(lvl));
	return 0;
}

static int
cmd_watch(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	admin_client_watch(c);
	*data = cJSON_CreateObject();
	cJSON_AddTrueToObject(*data, "watching");
	return 0;
}

static int
cmd_replies_cancel(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct server	*srv = admin_client_server(c);
	struct reply	*r;
	const char	*id;
	char		 why[64];

	if ((id = arg_str(req, "id", error)) == NULL)
		return -1;
	if (srv->replies == NULL || (r = reply_find(srv->replies, id)) ==
	    NULL) {
		*error = xasprintf("no reply '%.64s' here (it may have expired, "
		    "or be served by another instance)", id);
		return -1;
	}
	snprintf(why, sizeof why, "admin client %u", admin_client_id(c));
	*data = replies_cancel_json(r, reply_cancel(r, why));
	return 0;
}

/* --- the table ------------------------------------------------------- */

static const struct admin_cmd admin_cmds[] = {
	{ ADMIN_CMD_STATS,		cmd_stats,		0 },
	{ ADMIN_CMD_CACHE_CLEAR,	cmd_cache_clear,	0 },
	{ ADMIN_CMD_CACHE_LIST,		cmd_cache_list,		0 },
	{ ADMIN_CMD_ENDPOINTS_LIST,	cmd_endpoints_list,	0 },
	{ ADMIN_CMD_ENDPOINTS_ADD,	cmd_endpoints_add,	1 },
	{ ADMIN_CMD_ENDPOINTS_DRAIN,	cmd_endpoints_drain,	0 },
	{ ADMIN_CMD_ENDPOINTS_REMOVE,	cmd_endpoints_remove,	0 },
	{ ADMIN_CMD_RELOAD,		cmd_reload,		0 },
	{ ADMIN_CMD_LOG_LEVEL,		cmd_log_level,		0 },
	{ ADMIN_CMD_WATCH,		cmd_watch,		0 },
	{ ADMIN_CMD_REPLIES_CANCEL,	cmd_replies_cancel,	0 },
};

const struct admin_cmd *
admin_cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		if (strcmp(admin_cmds[i].name, name) == 0)
			return &admin_cmds[i];
	return NULL;
}
