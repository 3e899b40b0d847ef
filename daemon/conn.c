/*
 * conn: the HTTP connections themselves — a cap on how many are open, and
 * deadlines for a request's headers and body (slow clients).
 *
 * libevent 2.1's evhttp tells nothing of its connections but lets us make
 * their bufferevents.  Right after accept (an event made active from
 * there, run before any byte is read) a connection is entered in a table
 * by descriptor, with its socket's inode to know it again.  A callback on
 * the bufferevent's input buffer sees every byte read: it finds where the
 * headers end.  A timer sweeps the table a few times a second: a
 * connection whose descriptor is closed or now names another socket is
 * gone (evhttp freed it); one past its deadline is answered 408 and shut
 * down, which evhttp then sees as the client leaving.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define CONN_SWEEP_MS	200

enum conn_state {
	CONN_HEAD,		/* reading a request's headers */
	CONN_BODY,		/* headers read, the request not yet whole */
	CONN_BUSY,		/* handed to the API; waiting for the next */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct conns		*cs;
	struct bufferevent	*bev;
	const struct evbuffer	*input;		/* compared, never used */
	evutil_socket_t		 fd;
	ino_t			 ino;
	enum conn_state		 state;
	int			 nl;		/* newlines in a row (CR aside) */
	uint64_t		 since;		/* start of the state, usec */
	int			 closing;	/* shut down by us */
};

struct conns {
	struct server		*srv;
	TAILQ_HEAD(, conn)	 all;
	struct conn		**byfd;
	size_t			 nbyfd;
	size_t			 n;		/* open, as far as known */
	struct event		*sweep;
	uint64_t		 refused, timedout;
};

/* The input callbacks are told a descriptor, not an entry that may be
 * gone: the one table of the process. */
static struct conns	*conns_table;

/* Is this entry's connection still the one open on its descriptor? */
static int
conn_alive(const struct conn *c)
{
	struct stat	st;

	return fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == c->ino;
}

static void
conn_forget(struct conns *cs, struct conn *c)
{
	TAILQ_REMOVE(&cs->all, c, entry);
	if ((size_t)c->fd < cs->nbyfd && cs->byfd[c->fd] == c)
		cs->byfd[c->fd] = NULL;
	cs->n--;
	free(c);
}

/* Answer with a small JSON error, best effort, and end the connection:
 * evhttp sees it end and frees its side. */
static void
conn_shut(struct conn *c, int status, const char *reason, const char *code,
    const char *msg)
{
	char	buf[1024], body[512], drain[4096];
	int	blen, len;

	blen = snprintf(body, sizeof body, "{\"error\":{\"message\":\"%s\","
	    "\"type\":\"server_error\",\"param\":null,\"code\":\"%s\"}}",
	    msg, code);
	len = snprintf(buf, sizeof buf, "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %d\r\nConnection: close\r\n"
	    "\r\n%s", status, reason, blen, body);
	/* What the client sent is read first, so that closing does not
	 * reset the connection before the answer is read. */
	while (recv(c->fd, drain, sizeof drain, MSG_DONTWAIT) > 0)
		;
	if (len > 0 && (size_t)len < sizeof buf)
		(void)send(c->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(c->fd, SHUT_RDWR);
	c->closing = 1;
}

/* A request's headers or body (what) not complete after secs (the
 * setting name): a 408 and the connection shut. */
static void
conn_timeout(struct conn *c, const char *what, const char *name,
    long long secs, const char *pronoun)
{
	char	msg[128];

	c->cs->timedout++;
	log_info("connection %d: request %s not complete after %lld s (%s); "
	    "closed", (int)c->fd, what, secs, name);
	snprintf(msg, sizeof msg, "The request %s took longer than %s; send "
	    "%s at once.", what, name, pronoun);
	conn_shut(c, 408, "Request Timeout", "request_timeout", msg);
}

static void
conn_sweep(struct conns *cs)
{
	const struct config	*cf = cs->srv->cf;
	struct conn		*c, *next;
	uint64_t		 now = now_usec(), head, body;

	head = (uint64_t)cf->client_header_timeout * 1000000;
	body = (uint64_t)cf->client_body_timeout * 1000000;
	for (c = TAILQ_FIRST(&cs->all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!conn_alive(c)) {
			conn_forget(cs, c);
			continue;
		}
		if (c->closing)
			continue;
		if (c->state == CONN_HEAD && c->since != 0 &&
		    now - c->since > head)
			conn_timeout(c, "headers", "CLIENT_HEADER_TIMEOUT",
			    cf->client_header_timeout, "them");
		else if (c->state == CONN_BODY && now - c->since > body)
			conn_timeout(c, "body", "CLIENT_BODY_TIMEOUT",
			    cf->client_body_timeout, "it");
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_sweep(arg);
}

/* Bytes read from the client: find where a request's headers end. */
static void
input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conns		*cs = conns_table;
	evutil_socket_t		 fd = (evutil_socket_t)(intptr_t)arg;
	struct conn		*c;
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v[8];
	const unsigned char	*p;
	size_t			 left, i, k;
	int			 nv;

	if (info->n_added == 0 || cs == NULL || fd < 0 ||
	    (size_t)fd >= cs->nbyfd || (c = cs->byfd[fd]) == NULL ||
	    c->input != buf || c->closing)
		return;
	if (c->state == CONN_BODY)
		return;
	if (c->state == CONN_BUSY) {
		/* The next request begins. */
		c->state = CONN_HEAD;
		c->since = now_usec();
		c->nl = 0;
	}
	if (c->since == 0)
		c->since = now_usec();
	if (evbuffer_ptr_set(buf, &pos, info->orig_size - info->n_deleted,
	    EVBUFFER_PTR_SET) != 0)
		return;
	left = info->n_added;
	while (left > 0 && c->state == CONN_HEAD) {
		nv = evbuffer_peek(buf, (ev_ssize_t)left, &pos, v, 8);
		if (nv <= 0)
			break;
		for (k = 0; k < (size_t)nv && k < 8 && left > 0; k++) {
			p = v[k].iov_base;
			for (i = 0; i < v[k].iov_len && left > 0; i++, left--) {
				if (p[i] == '\n') {
					if (++c->nl == 2) {
						c->state = CONN_BODY;
						c->since = now_usec();
						return;
					}
				} else if (p[i] != '\r')
					c->nl = 0;
			}
			if (evbuffer_ptr_set(buf, &pos, v[k].iov_len,
			    EVBUFFER_PTR_ADD) != 0)
				return;
		}
	}
}

/* Run right after accept: the descriptor is set, nothing read yet. */
static void
accepted_cb(evutil_socket_t unused, short what, void *arg)
{
	struct conn	*c = arg;
	struct conns	*cs = c->cs;
	struct stat	 st;
	struct conn	*old;
	size_t		 n;

	c->fd = bufferevent_getfd(c->bev);
	if (c->fd < 0 || fstat(c->fd, &st) != 0) {
		free(c);
		return;
	}
	c->ino = st.st_ino;
	if ((size_t)c->fd >= cs->nbyfd) {
		n = (size_t)c->fd * 2 + 64;
		cs->byfd = xreallocarray(cs->byfd, n, sizeof *cs->byfd);
		memset(cs->byfd + cs->nbyfd, 0, (n - cs->nbyfd) *
		    sizeof *cs->byfd);
		cs->nbyfd = n;
	}
	/* Its descriptor was free: whoever held it before is gone. */
	if ((old = cs->byfd[c->fd]) != NULL)
		conn_forget(cs, old);
	cs->byfd[c->fd] = c;
	TAILQ_INSERT_TAIL(&cs->all, c, entry);
	cs->n++;
	c->state = CONN_HEAD;
	c->since = now_usec();
	c->input = bufferevent_get_input(c->bev);
	evbuffer_add_cb(bufferevent_get_input(c->bev), input_cb,
	    (void *)(intptr_t)c->fd);
	if (cs->n > (size_t)cs->srv->cf->max_connections) {
		/* Count again: some may have gone since the last sweep. */
		conn_sweep(cs);
		if (cs->n > (size_t)cs->srv->cf->max_connections &&
		    !c->closing) {
			cs->refused++;
			if (cs->refused == 1 || cs->refused % 1000 == 0)
				log_warn("connection refused: %zu open, more "
				    "than MAX_CONNECTIONS (%lld); %llu refused "
				    "so far", cs->n - 1,
				    cs->srv->cf->max_connections,
				    (unsigned long long)cs->refused);
			conn_shut(c, 503, "Service Unavailable",
			    "too_many_connections", "Too many connections "
			    "are open (MAX_CONNECTIONS); retry shortly.");
		}
	}
}

static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
	struct conns	*cs = arg;
	struct conn	*c;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->cs = cs;
	c->bev = bev;
	c->fd = -1;
	/* Active now: it runs in this pass of the loop, before the new
	 * descriptor can be polled and read. */
	event_base_once(base, -1, EV_TIMEOUT, accepted_cb, c, NULL);
	return bev;
}

struct conns *
conns_new(struct server *srv)
{
	struct conns	*cs;
	struct timeval	 tv = { 0, CONN_SWEEP_MS * 1000 };

	cs = xcalloc(1, sizeof *cs);
	cs->srv = srv;
	conns_table = cs;
	TAILQ_INIT(&cs->all);
	evhttp_set_bevcb(srv->http, bev_cb, cs);
	cs->sweep = event_new(srv->base, -1, EV_PERSIST, sweep_cb, cs);
	evtimer_add(cs->sweep, &tv);
	return cs;
}

void
conns_request(struct conns *cs, struct evhttp_request *req)
{
	struct bufferevent	*bev;
	evutil_socket_t		 fd;
	struct conn		*c;

	if (cs == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(
	    evhttp_request_get_connection(req));
	fd = bufferevent_getfd(bev);
	if (fd < 0 || (size_t)fd >= cs->nbyfd ||
	    (c = cs->byfd[fd]) == NULL || c->bev != bev)
		return;
	c->state = CONN_BUSY;
	c->nl = 0;
}

size_t
conns_open(const struct conns *cs)
{
	return cs != NULL ? cs->n : 0;
}

void
conns_free(struct conns *cs)
{
	struct conn	*c;

	if (cs == NULL)
		return;
	conns_table = NULL;
	while ((c = TAILQ_FIRST(&cs->all)) != NULL)
		conn_forget(cs, c);
	event_free(cs->sweep);
	free(cs->byfd);
	free(cs);
}
