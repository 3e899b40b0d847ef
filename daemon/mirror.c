/*
 * mirror: replies another instance serves, followed through the shared
 * tier.  The instance that serves a chat publishes its reply (prefetch.c):
 * its parameters, each segment's text as it is cut (with the reply's text
 * since the last one), and its end.  Every instance follows the cluster's
 * stream of replies (one connection) and keeps a copy of each; an instance
 * asked for a reply it has no copy of (it started before this instance
 * was following, or during an outage) reads that reply's own stream and
 * follows it.  Each segment of a copy is obtained like any (tts_obtain),
 * so it is a hit, or the holder's synthesis streamed, or a new one: the
 * whole reply, and any run of its sentences a client cuts its own way
 * (reply_match), are served from the same segments as on the instance
 * that served the chat.
 */
#include <sys/queue.h>

#include <event2/event.h>

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mirror.h"
#include "params.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "util.h"

struct mirror_wait {
	struct mirror		*m;
	void			(*cb)(void *, struct reply *);
	void			*arg;
	LIST_ENTRY(mirror_wait)	 entry;
};

struct mirror {
	struct mirrors		*ms;
	char			 id[64];
	struct reply		*r;
	struct shared_follow	*f;
	int			 caught;	/* the askers were answered */
	int			 fed;		/* by the cluster's stream */
	uint64_t		 t_last;	/* when it last said something */
	LIST_HEAD(, mirror_wait) waits;
	LIST_ENTRY(mirror)	 entry;
};

struct mirrors {
	struct server		*srv;
	LIST_HEAD(, mirror)	 head;
	struct shared_watch	*watch;		/* every reply of the cluster */
	struct event		*tick;
};

static void	mirror_free(struct mirror *);

static struct mirror *
mirror_of(struct mirrors *ms, const char *id)
{
	struct mirror	*m;

	LIST_FOREACH(m, &ms->head, entry)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

/* A new mirror of reply id (shorter than m->id), on the list. */
static struct mirror *
mirror_new(struct mirrors *ms, const char *id)
{
	struct mirror	*m;

	m = xcalloc(1, sizeof *m);
	m->ms = ms;
	snprintf(m->id, sizeof m->id, "%s", id);
	LIST_INIT(&m->waits);
	LIST_INSERT_HEAD(&ms->head, m, entry);
	return m;
}

/* A copy fed by the cluster's stream ends, cut if need be. */
static void
fed_end(struct mirror *m, int ok)
{
	if (m->r != NULL)
		reply_finish(m->r, ok);
	mirror_free(m);
}

static int	params_of(const char *, size_t, struct tts_params *,
	    const char **, cJSON **);
static struct reply *copy_new(struct replies *, const char *,
	    const struct tts_params *, const char *);

static void
watch_cb(void *arg, const char *id, int ev, const char *val, size_t len)
{
	struct mirrors		*ms = arg;
	struct replies		*rs = ms->srv->replies;
	struct mirror		*m, *next;
	struct tts_params	 p;
	const char		*asked;
	cJSON			*root;

	if (ev == SHARED_R_ERROR) {
		/* What comes meanwhile is lost: the copies end here. */
		ms->watch = NULL;
		for (m = LIST_FIRST(&ms->head); m != NULL; m = next) {
			next = LIST_NEXT(m, entry);
			if (m->fed)
				fed_end(m, 0);
		}
		return;
	}
	m = mirror_of(ms, id);
	if (ev == SHARED_R_PARAMS) {
		if (m != NULL || reply_find(rs, id) != NULL)
			return;		/* ours, or known already */
		if (params_of(val, len, &p, &asked, &root) != 0)
			return;
		m = mirror_new(ms, id);
		m->fed = 1;
		m->caught = 1;
		m->t_last = now_usec();
		m->r = copy_new(rs, id, &p, asked);
		cJSON_Delete(root);
		return;
	}
	if (m == NULL || !m->fed || m->r == NULL)
		return;
	m->t_last = now_usec();
	switch (ev) {
	case SHARED_R_TEXT:
		reply_text(m->r, val, len);
		break;
	case SHARED_R_SEG:
		reply_add(m->r, val);
		break;
	case SHARED_R_END:
		fed_end(m, strcmp(val, "ok") == 0);
		break;
	}
}

/* Follow the cluster's replies whenever the tier is up; end the copies
 * whose instance stopped saying anything. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mirrors	*ms = arg;
	struct mirror	*m, *next;
	uint64_t	 idle, now = now_usec();

	if (ms->watch == NULL && shared_up(ms->srv->shared))
		ms->watch = shared_replies_watch(ms->srv->shared, watch_cb, ms);
	idle = (uint64_t)(ms->srv->cf->upstream_timeout + 5) * 1000000;
	for (m = LIST_FIRST(&ms->head); m != NULL; m = next) {
		next = LIST_NEXT(m, entry);
		if (m->fed && now - m->t_last > idle)
			fed_end(m, 0);
	}
}

struct mirrors *
mirrors_new(struct server *srv)
{
	struct mirrors	*ms;
	struct timeval	 tv = { 0, 200000 };

	ms = xcalloc(1, sizeof *ms);
	ms->srv = srv;
	LIST_INIT(&ms->head);
	ms->tick = event_new(srv->base, -1, EV_PERSIST, tick_cb, ms);
	evtimer_add(ms->tick, &tv);
	return ms;
}

static void
mirror_free(struct mirror *m)
{
	struct mirror_wait	*w;

	shared_unfollow(m->f);
	while ((w = LIST_FIRST(&m->waits)) != NULL) {
		LIST_REMOVE(w, entry);
		free(w);
	}
	LIST_REMOVE(m, entry);
	free(m);
}

void
mirrors_free(struct mirrors *ms)
{
	if (ms == NULL)
		return;
	shared_unwatch(ms->watch);
	event_free(ms->tick);
	while (!LIST_EMPTY(&ms->head))
		mirror_free(LIST_FIRST(&ms->head));
	free(ms);
}

/* Tell everyone waiting (each wait is gone after its callback). */
static void
answer(struct mirror *m, struct reply *r)
{
	struct mirror_wait	*w;

	m->caught = 1;
	while ((w = LIST_FIRST(&m->waits)) != NULL) {
		LIST_REMOVE(w, entry);
		w->cb(w->arg, r);
		free(w);
	}
}

/* A copy of a reply, with the format its chat asked for. */
static struct reply *
copy_new(struct replies *rs, const char *id, const struct tts_params *p,
    const char *asked)
{
	struct reply	*r;

	r = reply_new(rs, id, p);
	if (asked != NULL)
		reply_set_format(r, asked);
	return r;
}

/* The published parameters (strings in *root), the format the chat asked
 * in *asked (NULL: p's); -1 if they are not ours. */
static int
params_of(const char *json, size_t len, struct tts_params *p,
    const char **asked, cJSON **root)
{
	if ((*root = cJSON_ParseWithLength(json, len)) == NULL)
		return -1;
	if (params_from_json(*root, p, asked) != 0) {
		cJSON_Delete(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

static void
follow_cb(void *arg, int ev, const char *val, size_t len)
{
	struct mirror		*m = arg;
	struct replies		*rs = m->ms->srv->replies;
	struct tts_params	 p;
	const char		*asked;
	cJSON			*root;

	switch (ev) {
	case SHARED_R_PARAMS:
		if (m->r != NULL)
			break;
		if ((m->r = reply_find(rs, m->id)) != NULL) {
			/* Made here meanwhile: that one is served. */
			shared_unfollow(m->f);
			m->f = NULL;
			answer(m, m->r);
			mirror_free(m);
			return;
		}
		if (params_of(val, len, &p, &asked, &root) != 0) {
			log_warn("shared: reply %s: parameters not understood",
			    m->id);
			break;
		}
		m->r = copy_new(rs, m->id, &p, asked);
		cJSON_Delete(root);
		log_debug("shared: reply %s followed from another instance",
		    m->id);
		break;
	case SHARED_R_TEXT:
		if (m->r != NULL)
			reply_text(m->r, val, len);
		break;
	case SHARED_R_SEG:
		if (m->r != NULL)
			reply_add(m->r, val);
		break;
	case SHARED_R_CAUGHT:
		answer(m, m->r);
		break;
	case SHARED_R_END:
		m->f = NULL;
		if (m->r != NULL)
			reply_finish(m->r, strcmp(val, "ok") == 0);
		if (!m->caught)
			answer(m, m->r);
		mirror_free(m);
		break;
	case SHARED_R_NONE:
	case SHARED_R_ERROR:
		m->f = NULL;
		if (ev == SHARED_R_ERROR)
			log_info("shared: reply %s: %s", m->id, val != NULL ?
			    val : "not found");
		if (m->r != NULL)
			reply_finish(m->r, 0);
		if (!m->caught)
			answer(m, m->r);
		mirror_free(m);
		break;
	}
}

struct mirror_wait *
mirror_find(struct mirrors *ms, const char *id,
    void (*cb)(void *, struct reply *), void *arg)
{
	struct mirror		*m;
	struct mirror_wait	*w;

	if (ms == NULL || ms->srv->shared == NULL ||
	    !shared_up(ms->srv->shared) || strlen(id) >= sizeof m->id)
		return NULL;
	LIST_FOREACH(m, &ms->head, entry)
		if (!m->caught && !m->fed && strcmp(m->id, id) == 0)
			break;
	if (m == NULL) {
		m = mirror_new(ms, id);
		if ((m->f = shared_reply_follow(ms->srv->shared, id, follow_cb,
		    m)) == NULL) {
			mirror_free(m);
			return NULL;
		}
	}
	w = xcalloc(1, sizeof *w);
	w->m = m;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&m->waits, w, entry);
	return w;
}

void
mirror_wait_cancel(struct mirror_wait *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, entry);
	free(w);
}
