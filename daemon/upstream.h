/* upstream: what is known of the upstream's health, for /health and
 * `ttsaccelctl health`. */
#ifndef TTSACCEL_UPSTREAM_H
#define TTSACCEL_UPSTREAM_H

struct cJSON;
struct server;
struct upstream;

/* Over this old, the news is refreshed by a probe when /health asks. */
#define UPSTREAM_STALE_USEC	(30 * 1000000ULL)
/* Seconds a probe may take, at most. */
#define UPSTREAM_PROBE_TIMEOUT	10

/* The state of srv's upstream; a probe (GET {base}/v1/models) starts on
 * the loop when one is configured.  The first probe's failure is logged
 * once, as a warning. */
struct upstream	*upstream_new(struct server *);
/* Cancel a probe in flight and free. */
void		 upstream_free(struct upstream *);
/* The upstream answered a request with an HTTP status. */
void		 upstream_answered(struct upstream *, long);
/* A request to it failed: no answer at all (answered = 0) or a reply cut
 * short (answered = 1). */
void		 upstream_failed(struct upstream *, int answered,
		    const char *why);
/* Start a probe if the news is stale and none is in flight. */
void		 upstream_refresh(struct upstream *);
/* {"state","answered_seconds_ago","status","error",
 * "error_seconds_ago"}: state is "up", "failing" (5xx or a reply cut
 * short), "unreachable" (no answer), "unknown" (nothing asked yet) or
 * "not configured". */
struct cJSON	*upstream_json(const struct upstream *);

#endif
