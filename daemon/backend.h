/* backend: one TTS endpoint — OpenAI Speech over HTTP, or a local program. */
#ifndef TTSACCEL_BACKEND_H
#define TTSACCEL_BACKEND_H

#include <stddef.h>

struct event_base;
struct fetch;
struct backend;
struct backend_call;

/* What to say and how. */
struct tts_params {
	const char	*model;
	const char	*voice;
	const char	*format;	/* mp3 opus aac flac wav pcm */
	const char	*instructions;	/* may be NULL */
	double		 speed;
};

struct backend_cbs {
	/* Audio bytes as they arrive. */
	void	(*data)(void *, const void *, size_t);
	/* The end: ok, or a reason.  The call is freed after. */
	void	(*done)(void *, int, const char *);
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
/* The endpoint's name (its URL or exec: command, without options). */
const char *backend_name(const struct backend *);
int	 backend_max(const struct backend *);
double	 backend_weight(const struct backend *);
/* Can it produce this format? (a local program: only what it declares) */
int	 backend_has_format(const struct backend *, const char *);
/* Start a synthesis; results come through the callbacks, on the loop. */
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
