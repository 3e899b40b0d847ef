/* backend: one TTS endpoint — OpenAI Speech over HTTP, or a local program. */
#ifndef TTSACCEL_BACKEND_H
#define TTSACCEL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fetch;
struct backend;
struct backend_call;
struct tts_params;

/* How a call ended. */
#define BACKEND_FAILED		0	/* the endpoint's fault: 5xx, timeout,
					   connection, not audio, … */
#define BACKEND_OK		1
#define BACKEND_REJECTED	2	/* the request's fault: a 4xx to its own
					   parameters; the endpoint is fine */
#define BACKEND_UNFIT		3	/* the endpoint does not make the format
					   asked (remembered): try another */
#define BACKEND_REFUSED		4	/* a program exited non-zero: most likely
					   the request's fault, as REJECTED,
					   but worth a probe of the program */

/* The most bytes of one parameter an exec: program gets in its
 * environment (a longer one is the request's fault: a 400). */
#define BACKEND_ENV_MAX		(32 * 1024)

struct backend_cbs {
	/* Audio bytes as they arrive. */
	void	(*data)(void *, const void *, size_t);
	/* The end: result (BACKEND_*), the HTTP status a client should get
	 * for it (the backend's own 4xx when rejected, else 502 or 0), and
	 * a reason (NULL when ok).  The call is freed after. */
	void	(*done)(void *arg, int result, int status, const char *why);
};

/*
 * Parse an endpoint: `http(s)://host[/prefix][|max=N][|weight=W][|key=K]`
 * (options may also be separated by spaces) or `exec:COMMAND ARGS…`
 * [|max=N]…  Defaults: max = defmax, key = defkey.  NULL with *cause.
 */
struct backend *backend_new(struct event_base *, struct fetch *, const char *,
	    int, const char *, long, char **);
void	 backend_free(struct backend *);
/* Take the options (max, weight, key, formats, timeout) of from, an
 * endpoint of the same name parsed anew; 1 if any differ. */
int	 backend_update(struct backend *, struct backend *);
/* The endpoint's name as shown (in logs, /health, /metrics, the admin
 * socket): its URL or exec: command without options, a password or user
 * and every query value masked (****). */
const char *backend_name(const struct backend *);
/* The endpoint's identity: its URL or exec: command as given, secrets and
 * all; never to be shown. */
const char *backend_id(const struct backend *);
/* A URL with its secrets masked as in backend_name, or NULL if it is not
 * a URL libcurl can parse. */
char	*backend_mask_url(const char *);
int	 backend_max(const struct backend *);
double	 backend_weight(const struct backend *);
/* Can it produce this format? (a local program: only what it declares;
 * an HTTP one: all but those it was found not to make) */
int	 backend_has_format(const struct backend *, const char *);
/* The most bytes one answer may have (TTS_MAX_AUDIO_BYTES; 0 = no cap):
 * a larger one fails, as the request's (not counted against the endpoint,
 * not retried). */
void	 backend_set_max_bytes(struct backend *, uint64_t);
/* Start a synthesis; results come through the callbacks, on the loop.
 * Only audio of the format asked is passed on: the first bytes are held
 * until they show it; an answer that is not audio, or of another format,
 * or cut short, fails. */
struct backend_call *backend_synth(struct backend *, const struct tts_params *,
	    const char *, const struct backend_cbs *, void *);
/* Stop a synthesis; no callback afterwards. */
void	 backend_cancel(struct backend_call *);
/* Probe health (GET {url}/health, or run the program on a short text):
 * done(arg, ok, reason). */
struct backend_call *backend_probe(struct backend *, const struct backend_cbs *,
	    void *);
/* Calls in progress. */
size_t	 backend_active(const struct backend *);

#endif
