/* fetch: outgoing HTTP on libcurl's multi interface, driven by libevent. */
#ifndef TTSACCEL_FETCH_H
#define TTSACCEL_FETCH_H

#include <stddef.h>

struct event_base;
struct fetch;
struct fetch_req;

struct fetch_cbs {
	/* Status and response headers ("Name: value"), before any data. */
	void	(*head)(void *arg, long status, const char **headers,
		    size_t nheaders);
	/* Body bytes as they arrive. */
	void	(*data)(void *, const char *, size_t);
	/* The end: ok = 1, or 0 with a reason.  The request is freed after. */
	void	(*done)(void *arg, int ok, const char *why);
};

struct fetch_opts {
	const char	 *method;	/* "GET", "POST", … */
	const char	 *url;
	const char	**headers;	/* "Name: value", NULL-terminated */
	const char	 *body;		/* copied */
	size_t		  bodylen;
	long		  timeout;	/* seconds without progress, or to connect */
	long		  total;	/* seconds for the whole transfer, 0 = none */
	int		  path_as_is;	/* send the URL's path unnormalised */
};

/* The transfer engine of one event base. */
struct fetch *fetch_new(struct event_base *);
/* Cancel every transfer (no callbacks) and free. */
void	 fetch_free(struct fetch *);
/* Start a transfer; callbacks get arg.  Never fails synchronously: an
 * error is reported through done on the loop. */
struct fetch_req *fetch_start(struct fetch *, const struct fetch_opts *,
	    const struct fetch_cbs *, void *);
/* Stop a transfer now; none of its callbacks are called afterwards. */
void	 fetch_cancel(struct fetch_req *);
/* Stop taking body bytes until fetch_resume (backpressure). */
void	 fetch_pause(struct fetch_req *);
void	 fetch_resume(struct fetch_req *);
/* Transfers in progress. */
size_t	 fetch_active(const struct fetch *);

#endif
