/* conn: the cap on open HTTP connections and the header and body
 * deadlines of slow clients. */
#ifndef TTSACCEL_CONN_H
#define TTSACCEL_CONN_H

#include <stddef.h>

struct conns;
struct evhttp_request;
struct server;

/* Track srv->http's connections (call before it accepts any). */
struct conns	*conns_new(struct server *);
/* A whole request arrived on its connection: no deadline until the next
 * one begins. */
void		 conns_request(struct conns *, struct evhttp_request *);
/* Connections open, as far as known (a sweep a few times a second). */
size_t		 conns_open(const struct conns *);
/* Stop tracking (before evhttp_free). */
void		 conns_free(struct conns *);

#endif
