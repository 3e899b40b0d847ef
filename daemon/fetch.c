/* fetch: outgoing HTTP on libcurl's multi interface, driven by libevent. */
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "log.h"
#include "util.h"

struct fetch_req {
	struct fetch		*f;
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;
	void			*arg;
	struct fetch_cbs	 cbs;
	char			**rhdrs;	/* response headers */
	size_t			 nrhdrs;
	int			 head_sent;
	int			 cancelled;
	int			 paused;	/* refuse data until resumed */
	char			 errbuf[CURL_ERROR_SIZE];
	LIST_ENTRY(fetch_req)	 entry;		/* on the list of all */
};

struct fetch {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct event		*reap;		/* frees cancelled requests */
	LIST_HEAD(, fetch_req)	 all;
	size_t			 nactive;
};

struct sockinfo {
	struct event		 ev;
	int			 added;
};

static void	check_done(struct fetch *);

static void
req_unlink(struct fetch_req *r)
{
	LIST_REMOVE(r, entry);
	r->f->nactive--;
}

static void
req_free(struct fetch_req *r)
{
	size_t	i;

	curl_multi_remove_handle(r->f->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	for (i = 0; i < r->nrhdrs; i++)
		free(r->rhdrs[i]);
	free(r->rhdrs);
	free(r);
}

static void
event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch	*f = arg;
	int		 action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(f->multi, fd, action, &running);
	check_done(f);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch	*f = arg;
	int		 running;

	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static int
multi_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct fetch	*f = arg;
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(f->timer, &tv);
	return 0;
}

static int
multi_sock_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct fetch	*f = arg;
	struct sockinfo	*si = sockp;
	short		 kind;

	if (what == CURL_POLL_REMOVE) {
		if (si != NULL) {
			if (si->added)
				event_del(&si->ev);
			free(si);
			curl_multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (si == NULL) {
		si = xcalloc(1, sizeof *si);
		curl_multi_assign(f->multi, s, si);
	} else if (si->added) {
		if (event_get_events(&si->ev) == kind)
			return 0;	/* no change: no syscall */
		event_del(&si->ev);
	}
	event_assign(&si->ev, f->base, s, kind, event_cb, f);
	event_add(&si->ev, NULL);
	si->added = 1;
	return 0;
}

static void
send_head(struct fetch_req *r)
{
	long	status = 0;

	if (r->head_sent)
		return;
	r->head_sent = 1;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->cbs.head != NULL && !r->cancelled)
		r->cbs.head(r->arg, status, (const char **)r->rhdrs, r->nrhdrs);
}

static size_t
header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct fetch_req	*r = arg;
	size_t			 len = size * n, i, l = len;

	if (r->cancelled)
		return 0;
	while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
		l--;
	if (l >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new status line (after 100 Continue, say): start over. */
		for (i = 0; i < r->nrhdrs; i++)
			free(r->rhdrs[i]);
		r->nrhdrs = 0;
		return len;
	}
	if (l == 0 || memchr(buf, ':', l) == NULL || r->nrhdrs >= 200)
		return len;
	r->rhdrs = xreallocarray(r->rhdrs, r->nrhdrs + 1, sizeof *r->rhdrs);
	r->rhdrs[r->nrhdrs++] = xstrndup(buf, l);
	return len;
}

static size_t
write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct fetch_req	*r = arg;
	size_t			 len = size * n;

	if (r->cancelled)
		return 0;
	if (r->paused)
		return CURL_WRITEFUNC_PAUSE;
	send_head(r);
	if (r->cbs.data != NULL && !r->cancelled && len > 0)
		r->cbs.data(r->arg, buf, len);
	return len;
}

static void
check_done(struct fetch *f)
{
	CURLMsg			*m;
	struct fetch_req	*r;
	int			 left, ok;
	const char		*why;

	while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		req_unlink(r);
		ok = m->data.result == CURLE_OK;
		why = r->errbuf[0] != '\0' ? r->errbuf :
		    curl_easy_strerror(m->data.result);
		if (!r->cancelled) {
			if (ok)
				send_head(r);
			if (r->cbs.done != NULL)
				r->cbs.done(r->arg, ok, ok ? NULL : why);
		}
		req_free(r);
	}
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch		*f = arg;
	struct fetch_req	*r, *next;

	for (r = LIST_FIRST(&f->all); r != NULL; r = next) {
		next = LIST_NEXT(r, entry);
		if (r->cancelled) {
			req_unlink(r);
			req_free(r);
		}
	}
}

struct fetch *
fetch_new(struct event_base *base)
{
	struct fetch	*f;

	f = xcalloc(1, sizeof *f);
	LIST_INIT(&f->all);
	f->base = base;
	if ((f->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	f->timer = evtimer_new(base, timer_cb, f);
	f->reap = event_new(base, -1, 0, reap_cb, f);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, multi_sock_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, 256L);
	return f;
}

void
fetch_free(struct fetch *f)
{
	struct fetch_req	*r;

	if (f == NULL)
		return;
	while ((r = LIST_FIRST(&f->all)) != NULL) {
		req_unlink(r);
		req_free(r);
	}
	curl_multi_cleanup(f->multi);
	event_free(f->timer);
	event_free(f->reap);
	free(f);
}

struct fetch_req *
fetch_start(struct fetch *f, const struct fetch_opts *o,
    const struct fetch_cbs *cbs, void *arg)
{
	struct fetch_req	*r;
	size_t			 i;

	r = xcalloc(1, sizeof *r);
	r->f = f;
	r->arg = arg;
	r->cbs = *cbs;
	if ((r->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
	if (o->path_as_is)
		curl_easy_setopt(r->easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, o->timeout);
	/* A read timeout, as the original had: abort after `timeout`
	 * seconds without a byte. */
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, o->timeout);
	if (o->total > 0)
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, o->total);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, o->method);
	if (strcmp(o->method, "HEAD") == 0)
		curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
	if (o->body != NULL) {
		r->body = xmalloc(o->bodylen + 1);
		memcpy(r->body, o->body, o->bodylen);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->bodylen);
		/* POSTFIELDS switches the method to POST; keep ours. */
		curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, o->method);
	}
	for (i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
		r->hdrs = curl_slist_append(r->hdrs, o->headers[i]);
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);

	LIST_INSERT_HEAD(&f->all, r, entry);
	f->nactive++;
	curl_multi_add_handle(f->multi, r->easy);
	return r;
}

void
fetch_cancel(struct fetch_req *r)
{
	if (r == NULL || r->cancelled)
		return;
	/* We may be inside one of its callbacks: free it from the loop. */
	r->cancelled = 1;
	event_active(r->f->reap, 0, 0);
}

void
fetch_pause(struct fetch_req *r)
{
	r->paused = 1;
}

void
fetch_resume(struct fetch_req *r)
{
	if (!r->paused || r->cancelled)
		return;
	r->paused = 0;
	curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

size_t
fetch_active(const struct fetch *f)
{
	return f->nactive;
}
