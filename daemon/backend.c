/* backend: one TTS endpoint — OpenAI Speech over HTTP, or a local program. */
#include <sys/types.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backend.h"
#include "fetch.h"
#include "log.h"
#include "magic.h"
#include "params.h"
#include "util.h"

#define BE_HTTP		0
#define BE_EXEC		1

#define ERRTEXT_MAX	512

/* Parameter sets (all but the format) remembered as having worked, to
 * tell a format refused from a request refused. */
#define WORKED_MAX	32

struct backend {
	struct event_base	*base;
	struct fetch		*fetch;
	int			 kind;
	char			*name;		/* URL or command: its identity */
	char			*display;	/* name with secrets masked */
	char			*url;		/* http: base URL */
	char			*key;
	char			**argv;		/* exec */
	char			*formats;	/* exec: formats it makes */
	char			*lacks;		/* http: formats found not made */
	int			 max;
	double			 weight;
	long			 timeout;
	size_t			 active;
	uint64_t		 max_bytes;	/* of one answer, 0 = no cap */
	struct {
		uint64_t	 params;	/* hash of model, voice, … */
		unsigned	 fmts;		/* formats that worked */
	}			 worked[WORKED_MAX];
	size_t			 nworked;	/* next slot (a ring) */
};

struct backend_call {
	struct backend		*be;
	struct backend_cbs	 cbs;
	void			*arg;
	int			 probe;
	uint64_t		 params;	/* hash of all but the format */
	int			 fmt;		/* params_format_index, or -1 */
	uint64_t		 nbytes;
	/* the answer's first bytes, held until they show it is audio of
	 * the format asked */
	unsigned char		*head;
	size_t			 headlen;
	int			 audio;		/* shown: bytes go on at once */
	struct magic		 magic;
	char			 errtext[ERRTEXT_MAX];
	size_t			 errlen;
	struct event		*defer;		/* finishes from the loop */
	int			 deferred_result, deferred_status;
	/* http */
	struct fetch_req	*fr;
	long			 status;
	/* exec */
	pid_t			 pid;
	int			 in_fd, out_fd, err_fd;
	int			 exec_fd;	/* the child's exec errno */
	struct event		*ev_in, *ev_out, *ev_err, *ev_timer;
	char			*input;
	size_t			 inlen, inoff;
	uint64_t		 deadline;
};

const char *
backend_name(const struct backend *be)
{
	return be->display;
}

const char *
backend_id(const struct backend *be)
{
	return be->name;
}

/* Mask every value of a query: name=****&… */
static char *
mask_query(const char *q)
{
	char	*out, *copy, *tok, *save = NULL, *eq, *t;

	out = xstrdup("");
	copy = xstrdup(q);
	for (tok = strtok_r(copy, "&", &save); tok != NULL;
	    tok = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(tok, '=')) != NULL)
			*eq = '\0';
		t = xasprintf("%s%s%s=****", out, *out != '\0' ? "&" : "",
		    tok);
		free(out);
		out = t;
	}
	free(copy);
	return out;
}

char *
backend_mask_url(const char *url)
{
	CURLU	*u;
	char	*user = NULL, *pass = NULL, *query = NULL, *frag = NULL;
	char	*full = NULL, *masked, *out = NULL;
	size_t	 n;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	if (user == NULL && pass == NULL && query == NULL && frag == NULL) {
		out = xstrdup(url);	/* as given: nothing to hide */
		goto out;
	}
	/* A user alone (http://TOKEN@host) may be the secret as well. */
	if (pass != NULL)
		curl_url_set(u, CURLUPART_PASSWORD, "****", 0);
	else if (user != NULL)
		curl_url_set(u, CURLUPART_USER, "****", 0);
	if (query != NULL) {
		masked = mask_query(query);
		curl_url_set(u, CURLUPART_QUERY, masked, 0);
		free(masked);
	}
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto out;
	out = xstrdup(full);
	/* curl adds the root path: drop it when the URL had none. */
	n = strlen(out);
	if (query == NULL && n > 0 && out[n - 1] == '/' &&
	    url[strlen(url) - 1] != '/' && strchr(strstr(url, "://") + 3,
	    '/') == NULL)
		out[n - 1] = '\0';
out:
	curl_free(user);
	curl_free(pass);
	curl_free(query);
	curl_free(frag);
	curl_free(full);
	curl_url_cleanup(u);
	return out;
}

int
backend_max(const struct backend *be)
{
	return be->max;
}

double
backend_weight(const struct backend *be)
{
	return be->weight;
}

size_t
backend_active(const struct backend *be)
{
	return be->active;
}

/* Is fmt in a list separated by '+' (or ',' in a config file line)? */
static int
list_has(const char *list, const char *fmt)
{
	const char	*p;
	size_t		 n = strlen(fmt);

	for (p = list; (p = strstr(p, fmt)) != NULL; p += n)
		if ((p == list || p[-1] == ',' || p[-1] == '+') &&
		    (p[n] == ',' || p[n] == '+' || p[n] == '\0'))
			return 1;
	return 0;
}

int
backend_has_format(const struct backend *be, const char *fmt)
{
	if (be->formats != NULL)
		return list_has(be->formats, fmt);
	return be->lacks == NULL || !list_has(be->lacks, fmt);
}

/* FNV-1a of a request's parameters but its format and text. */
static uint64_t
params_hash(const struct tts_params *p)
{
	const char	*f[3];
	char		 speed[32];
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;
	const char	*c;

	snprintf(speed, sizeof speed, "%.2f", p->speed);
	f[0] = p->model;
	f[1] = p->voice;
	f[2] = p->instructions != NULL ? p->instructions : "";
	for (i = 0; i < 3; i++) {
		for (c = f[i] != NULL ? f[i] : ""; *c != '\0'; c++) {
			h ^= (unsigned char)*c;
			h *= 0x100000001b3ULL;
		}
		h ^= 0x1f;
		h *= 0x100000001b3ULL;
	}
	for (c = speed; *c != '\0'; c++) {
		h ^= (unsigned char)*c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* These parameters worked in this format. */
static void
worked_add(struct backend *be, uint64_t params, int fmt)
{
	size_t	i;

	if (fmt < 0)
		return;
	for (i = 0; i < WORKED_MAX; i++)
		if (be->worked[i].fmts != 0 && be->worked[i].params == params) {
			be->worked[i].fmts |= PARAMS_BIT(fmt);
			return;
		}
	be->worked[be->nworked].params = params;
	be->worked[be->nworked].fmts = PARAMS_BIT(fmt);
	be->nworked = (be->nworked + 1) % WORKED_MAX;
}

/* Refused in this format, these parameters worked in another (and never
 * in this one): the format is what the endpoint does not make. */
static int
format_refused(const struct backend *be, uint64_t params, int fmt)
{
	size_t	i;

	if (fmt < 0)
		return 0;
	for (i = 0; i < WORKED_MAX; i++)
		if (be->worked[i].fmts != 0 && be->worked[i].params == params)
			return (be->worked[i].fmts & PARAMS_BIT(fmt)) == 0;
	return 0;
}

/* Remember that an HTTP endpoint does not make fmt. */
static void
lacks_add(struct backend *be, const char *fmt)
{
	char	*t;

	if (be->kind != BE_HTTP || !backend_has_format(be, fmt))
		return;
	t = be->lacks == NULL ? xstrdup(fmt) : xasprintf("%s+%s", be->lacks,
	    fmt);
	free(be->lacks);
	be->lacks = t;
	log_warn("endpoint %s does not make %s: it is converted from WAV for "
	    "it from now on", be->name, fmt);
}

/* Split a command line at spaces, with '…' and "…" quoting. */
static char **
split_args(const char *s, char **cause)
{
	char	**v = NULL, *cur;
	size_t	  n = 0, len = 0;
	char	  q = 0;
	int	  in = 0;

	cur = xmalloc(strlen(s) + 1);
	for (;; s++) {
		if (*s == '\0' || (!q && (*s == ' ' || *s == '\t'))) {
			if (in) {
				cur[len] = '\0';
				v = xreallocarray(v, n + 2, sizeof *v);
				v[n++] = xstrdup(cur);
				len = 0;
				in = 0;
			}
			if (*s == '\0')
				break;
			continue;
		}
		in = 1;
		if (q && *s == q)
			q = 0;
		else if (!q && (*s == '\'' || *s == '"'))
			q = *s;
		else
			cur[len++] = *s;
	}
	free(cur);
	if (q) {
		*cause = xstrdup("unbalanced quote in the command");
		goto fail;
	}
	if (n == 0) {
		*cause = xstrdup("empty command");
		goto fail;
	}
	v[n] = NULL;
	return v;
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	return NULL;
}

static void
free_args(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* One `name=value` option; 0 or -1 with *cause. */
static int
set_option(struct backend *be, char *opt, char **cause)
{
	char		*eq = strchr(opt, '=');
	const char	*errstr;
	long long	 ll;
	double		 d;

	if (eq == NULL) {
		*cause = xasprintf("option '%s' is not name=value", opt);
		return -1;
	}
	*eq++ = '\0';
	if (strcmp(opt, "max") == 0) {
		if (parse_ll(eq, 1, 1000, &ll, &errstr) != 0) {
			*cause = xasprintf("max=%s %s", eq, errstr);
			return -1;
		}
		be->max = (int)ll;
	} else if (strcmp(opt, "weight") == 0) {
		if (parse_double(eq, 0.01, 1000, &d, &errstr) != 0) {
			*cause = xasprintf("weight=%s %s", eq, errstr);
			return -1;
		}
		be->weight = d;
	} else if (strcmp(opt, "key") == 0) {
		free(be->key);
		be->key = xstrdup(eq);
	} else if (strcmp(opt, "formats") == 0) {
		free(be->formats);
		be->formats = xstrdup(eq);
	} else {
		*cause = xasprintf("unknown option '%s' (max, weight, key, "
		    "formats)", opt);
		return -1;
	}
	return 0;
}

struct backend *
backend_new(struct event_base *base, struct fetch *fetch, const char *spec,
    int defmax, const char *defkey, long timeout, char **cause)
{
	struct backend	*be;
	char		*copy, *p, *opt, *save = NULL, *why = NULL;
	size_t		 n;

	be = xcalloc(1, sizeof *be);
	be->base = base;
	be->fetch = fetch;
	be->max = defmax;
	be->weight = 1.0;
	be->timeout = timeout;
	if (defkey != NULL)
		be->key = xstrdup(defkey);
	copy = xstrdup(spec);
	p = strtrim(copy);
	if (strncmp(p, "exec:", 5) == 0) {
		be->kind = BE_EXEC;
		/* Options only after '|': spaces are the program's. */
		opt = strchr(p, '|');
		if (opt != NULL)
			*opt++ = '\0';
		be->name = xstrdup(strtrim(p));
		be->display = xstrdup(be->name);
		if ((be->argv = split_args(be->name + 5, &why)) == NULL)
			goto fail;
		be->formats = xstrdup("wav");
		for (p = opt != NULL ? strtok_r(opt, "|", &save) : NULL;
		    p != NULL; p = strtok_r(NULL, "|", &save))
			if (set_option(be, strtrim(p), &why) != 0)
				goto fail;
	} else if (strncmp(p, "http://", 7) == 0 ||
	    strncmp(p, "https://", 8) == 0) {
		be->kind = BE_HTTP;
		n = strcspn(p, "| \t");
		be->url = xstrndup(p, n);
		while (be->url[0] != '\0' && be->url[strlen(be->url) - 1] == '/')
			be->url[strlen(be->url) - 1] = '\0';
		be->name = xstrdup(be->url);
		if ((be->display = backend_mask_url(be->url)) == NULL) {
			why = xstrdup("not a valid URL: write it as "
			    "http(s)://host[:port][/prefix]");
			goto fail;
		}
		for (p = strtok_r(p + n, "| \t", &save); p != NULL;
		    p = strtok_r(NULL, "| \t", &save))
			if (set_option(be, p, &why) != 0)
				goto fail;
	} else {
		why = xstrdup("not an http://, https:// or exec: endpoint");
		goto fail;
	}
	free(copy);
	return be;
fail:
	/* The spec itself may hold a key or a password: only the name,
	 * masked, is shown. */
	if (be->display != NULL)
		*cause = xasprintf("endpoint '%s': %s", be->display, why);
	else
		*cause = xasprintf("endpoint: %s", why);
	free(why);
	free(copy);
	backend_free(be);
	return NULL;
}

static int
str_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

void
backend_free(struct backend *be)
{
	if (be == NULL)
		return;
	free(be->name);
	free(be->display);
	free(be->url);
	free(be->key);
	free_args(be->argv);
	free(be->formats);
	free(be->lacks);
	free(be);
}

int
backend_update(struct backend *be, struct backend *from)
{
	char	*t;
	int	 changed;

	changed = be->max != from->max || be->weight != from->weight ||
	    be->timeout != from->timeout ||
	    !str_same(be->key, from->key) ||
	    !str_same(be->formats, from->formats);
	t = be->key;
	be->key = from->key;
	from->key = t;
	t = be->formats;
	be->formats = from->formats;
	from->formats = t;
	be->max = from->max;
	be->weight = from->weight;
	be->timeout = from->timeout;
	return changed;
}

static void
call_free(struct backend_call *c)
{
	if (c->ev_in != NULL)
		event_free(c->ev_in);
	if (c->ev_out != NULL)
		event_free(c->ev_out);
	if (c->ev_err != NULL)
		event_free(c->ev_err);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->defer != NULL)
		event_free(c->defer);
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	if (c->exec_fd >= 0)
		close(c->exec_fd);
	free(c->head);
	free(c->input);
	c->be->active--;
	free(c);
}

/* The end: result BACKEND_*, the status for a client (0: the usual). */
static void
finish(struct backend_call *c, int result, int status, const char *why)
{
	struct backend_cbs	cbs = c->cbs;
	void			*arg = c->arg;
	char			 reason[ERRTEXT_MAX + 64];

	if (status == 0)
		status = result == BACKEND_OK ? 200 : 502;
	/* why may be the call's own text: keep it past the free. */
	snprintf(reason, sizeof reason, "%s", why != NULL ? why : "failed");
	call_free(c);
	if (cbs.done != NULL)
		cbs.done(arg, result, status, result == BACKEND_OK ? NULL :
		    reason);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;

	finish(c, c->deferred_result, c->deferred_status, c->errtext);
}

/* Finish from the loop, never inside the caller's call. */
static void
finish_later(struct backend_call *c, int result, int status, const char *why)
{
	snprintf(c->errtext, sizeof c->errtext, "%s", why != NULL ? why : "");
	c->deferred_result = result;
	c->deferred_status = status;
	c->defer = evtimer_new(c->be->base, defer_cb, c);
	event_active(c->defer, EV_TIMEOUT, 0);
}

static struct backend_call *
call_new(struct backend *be, const struct backend_cbs *cbs, void *arg)
{
	struct backend_call	*c;

	c = xcalloc(1, sizeof *c);
	c->be = be;
	c->cbs = *cbs;
	c->arg = arg;
	c->in_fd = c->out_fd = c->err_fd = c->exec_fd = -1;
	c->fmt = -1;
	c->pid = -1;
	be->active++;
	return c;
}

static void
err_append(struct backend_call *c, const char *s, size_t n)
{
	if (c->errlen + n >= sizeof c->errtext)
		n = sizeof c->errtext - c->errlen - 1;
	memcpy(c->errtext + c->errlen, s, n);
	c->errlen += n;
	c->errtext[c->errlen] = '\0';
}

/* HTTP */

static void
http_head_cb(void *arg, long status, const char **hdrs, size_t n)
{
	struct backend_call	*c = arg;

	c->status = status;
}

void
backend_set_max_bytes(struct backend *be, uint64_t n)
{
	be->max_bytes = n;
}

static void	exec_kill(struct backend_call *);

/* Stop a call now (its transfer or program) and finish it. */
static void
call_abort(struct backend_call *c, int result, int status, const char *why)
{
	if (c->fr != NULL) {
		fetch_cancel(c->fr);	/* safe inside its callbacks */
		c->fr = NULL;
	}
	exec_kill(c);
	finish(c, result, status, why);
}

/*
 * Answer bytes: passed on once the first ones show audio of the format
 * asked; an answer that is not, or is over the cap, ends the call.
 * 0, or -1 when the call is over (freed).
 */
static int
call_data(struct backend_call *c, const void *data, size_t len)
{
	const char	*fmt = c->fmt >= 0 ?
	    params_format_name((size_t)c->fmt) : "wav";
	const char	*why = NULL, *is;
	char		 reason[256];
	int		 r;

	c->nbytes += len;
	if (c->be->max_bytes > 0 && c->nbytes > c->be->max_bytes) {
		/* Most likely what was asked (a long text, slowly): the
		 * endpoint is not at fault, and again would be the same. */
		snprintf(reason, sizeof reason, "the backend's answer is "
		    "larger than TTS_MAX_AUDIO_BYTES (%llu bytes): ask for "
		    "a shorter text", (unsigned long long)c->be->max_bytes);
		call_abort(c, BACKEND_REJECTED, 502, reason);
		return -1;
	}
	if (c->audio) {
		if (c->cbs.data != NULL)
			c->cbs.data(c->arg, data, len);
		return 0;
	}
	c->head = xrealloc(c->head, c->headlen + len);
	memcpy(c->head + c->headlen, data, len);
	c->headlen += len;
	r = magic_head(fmt, c->head, c->headlen, &c->magic, &why);
	if (r == 0)
		return 0;
	if (r < 0) {
		is = magic_detect(c->head, c->headlen);
		if (is != NULL && c->be->kind == BE_HTTP) {
			/* Audio of another format: not made here. */
			lacks_add(c->be, fmt);
			call_abort(c, BACKEND_UNFIT, 0, why);
		} else
			call_abort(c, BACKEND_FAILED, 0, why);
		return -1;
	}
	c->audio = 1;
	if (c->cbs.data != NULL)
		c->cbs.data(c->arg, c->head, c->headlen);
	free(c->head);
	c->head = NULL;
	c->headlen = 0;
	return 0;
}

/* The answer is complete: is it whole audio?  NULL, or why not. */
static const char *
call_check_end(struct backend_call *c)
{
	const char	*fmt = c->fmt >= 0 ?
	    params_format_name((size_t)c->fmt) : "wav";
	const char	*why = NULL;

	if (c->nbytes == 0)
		return "the backend answered with no audio";
	if (!c->audio)
		return "the backend's answer is too short to be audio";
	if (magic_end(fmt, &c->magic, c->nbytes, &why) != 0)
		return why;
	return NULL;
}

static void
http_data_cb(void *arg, const char *data, size_t len)
{
	struct backend_call	*c = arg;

	if (c->status == 200 && !c->probe)
		call_data(c, data, len);
	else
		err_append(c, data, len);
}

/*
 * Whose fault is an HTTP error?  400, 404, 413 and 422 answer the
 * request's own parameters (a 404 only with an error in JSON: a bare one
 * says the endpoint's URL is wrong); every other status is the
 * endpoint's.  A request refused whose parameters worked in another
 * format says the format is not made there.
 */
static int
http_verdict(struct backend_call *c, int json)
{
	if (c->probe)
		return BACKEND_FAILED;
	switch (c->status) {
	case 404:
		if (!json)
			return BACKEND_FAILED;
		/* FALLTHROUGH */
	case 400:
	case 413:
	case 422:
		if (format_refused(c->be, c->params, c->fmt)) {
			lacks_add(c->be, params_format_name((size_t)c->fmt));
			return BACKEND_UNFIT;
		}
		return BACKEND_REJECTED;
	}
	return BACKEND_FAILED;
}

static void
http_done_cb(void *arg, int ok, const char *why)
{
	struct backend_call	*c = arg;
	char			 reason[ERRTEXT_MAX + 64];
	cJSON			*j;
	const cJSON		*msg;
	const char		*why2;
	int			 result;

	c->fr = NULL;
	if (!ok) {
		finish(c, BACKEND_FAILED, 0, why);
		return;
	}
	if (c->status != 200) {
		/* Prefer the OpenAI error's message when there is one. */
		j = cJSON_Parse(c->errtext);
		msg = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(j, "error"), "message");
		snprintf(reason, sizeof reason, "HTTP %ld%s%s", c->status,
		    c->errlen > 0 ? ": " : "", cJSON_IsString(msg) ?
		    msg->valuestring : c->errtext);
		result = http_verdict(c, cJSON_IsString(msg));
		cJSON_Delete(j);
		finish(c, result, result == BACKEND_REJECTED ? (int)c->status :
		    0, reason);
		return;
	}
	if (!c->probe && (why2 = call_check_end(c)) != NULL) {
		finish(c, BACKEND_FAILED, 0, why2);
		return;
	}
	if (!c->probe)
		worked_add(c->be, c->params, c->fmt);
	finish(c, BACKEND_OK, 0, NULL);
}

static const struct fetch_cbs http_cbs = {
	http_head_cb, http_data_cb, http_done_cb
};

static struct backend_call *
http_synth(struct backend *be, const struct tts_params *p, const char *text,
    const struct backend_cbs *cbs, void *arg)
{
	struct backend_call	*c = call_new(be, cbs, arg);
	struct fetch_opts	 o;
	cJSON			*req;
	char			*body, *url, *auth = NULL;
	const char		*hdrs[4];
	size_t			 n = 0;

	c->params = params_hash(p);
	c->fmt = params_format_index(p->format);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", p->model);
	cJSON_AddStringToObject(req, "input", text);
	cJSON_AddStringToObject(req, "voice", p->voice);
	cJSON_AddStringToObject(req, "response_format", p->format);
	cJSON_AddNumberToObject(req, "speed", p->speed);
	if (p->instructions != NULL && *p->instructions != '\0')
		cJSON_AddStringToObject(req, "instructions", p->instructions);
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	url = xasprintf("%s/v1/audio/speech", be->url);
	hdrs[n++] = "Content-Type: application/json";
	if (be->key != NULL && *be->key != '\0') {
		auth = xasprintf("Authorization: Bearer %s", be->key);
		hdrs[n++] = auth;
	}
	hdrs[n] = NULL;
	memset(&o, 0, sizeof o);
	o.method = "POST";
	o.url = url;
	o.headers = hdrs;
	o.body = body;
	o.bodylen = strlen(body);
	o.timeout = be->timeout;
	o.total = be->timeout;
	c->fr = fetch_start(be->fetch, &o, &http_cbs, c);
	free(body);
	free(url);
	free(auth);
	return c;
}

static struct backend_call *
http_probe(struct backend *be, const struct backend_cbs *cbs, void *arg)
{
	struct backend_call	*c = call_new(be, cbs, arg);
	struct fetch_opts	 o;
	char			*url, *auth = NULL;
	const char		*hdrs[2] = { NULL, NULL };

	c->probe = 1;
	url = xasprintf("%s/health", be->url);
	memset(&o, 0, sizeof o);
	if (be->key != NULL && *be->key != '\0') {
		auth = xasprintf("Authorization: Bearer %s", be->key);
		hdrs[0] = auth;
		o.headers = hdrs;
	}
	o.method = "GET";
	o.url = url;
	o.timeout = be->timeout < 10 ? be->timeout : 10;
	o.total = o.timeout;
	c->fr = fetch_start(be->fetch, &o, &http_cbs, c);
	free(url);
	free(auth);
	return c;
}

/* exec: a local program, text on stdin, audio on stdout. */

static void	exec_check(struct backend_call *);

static void
exec_in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;
	ssize_t			 n;

	n = write(fd, c->input + c->inoff, c->inlen - c->inoff);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		c->inoff += (size_t)n;
	if (n < 0 || c->inoff == c->inlen) {
		/* Done (or the program does not read): close its stdin. */
		event_free(c->ev_in);
		c->ev_in = NULL;
		close(c->in_fd);
		c->in_fd = -1;
	}
}

static void
exec_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;
	char			 buf[16384];
	ssize_t			 n;

	n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (c->probe)
			c->nbytes += (size_t)n;
		else
			call_data(c, buf, (size_t)n);	/* may end it */
		return;
	}
	event_free(c->ev_out);
	c->ev_out = NULL;
	close(c->out_fd);
	c->out_fd = -1;
	exec_check(c);
}

static void
exec_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;
	char			 buf[1024];
	ssize_t			 n;

	n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		err_append(c, buf, (size_t)n);
		return;
	}
	event_free(c->ev_err);
	c->ev_err = NULL;
	close(c->err_fd);
	c->err_fd = -1;
	exec_check(c);
}

static void
exec_kill(struct backend_call *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		/* Killed: it is gone at once, reap it now. */
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
	}
}

static void
exec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;

	if (what & EV_TIMEOUT && c->out_fd < 0 && c->err_fd < 0) {
		exec_check(c);
		return;
	}
	exec_kill(c);
	finish(c, BACKEND_FAILED, 0, "the program timed out");
}

/* Both outputs closed: has the program exited, and how? */
static void
exec_check(struct backend_call *c)
{
	struct timeval	 tv = { 0, 10000 };
	char		 reason[ERRTEXT_MAX + 64];
	const char	*why;
	int		 st, xerr;
	pid_t		 r;

	if (c->out_fd >= 0 || c->err_fd >= 0)
		return;
	r = waitpid(c->pid, &st, WNOHANG);
	if (r == 0 && now_usec() > c->deadline) {
		exec_kill(c);
		finish(c, BACKEND_FAILED, 0, "the program timed out");
		return;
	}
	if (r == 0) {
		/* Not yet: look again shortly (the deadline still holds). */
		event_free(c->ev_timer);
		c->ev_timer = evtimer_new(c->be->base, exec_timer_cb, c);
		evtimer_add(c->ev_timer, &tv);
		return;
	}
	c->pid = -1;
	while (c->errlen > 0 && (c->errtext[c->errlen - 1] == '\n' ||
	    c->errtext[c->errlen - 1] == '\r'))
		c->errtext[--c->errlen] = '\0';
	/* Did exec itself fail?  The child wrote its errno. */
	if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127 &&
	    read(c->exec_fd, &xerr, sizeof xerr) == (ssize_t)sizeof xerr) {
		if (xerr == E2BIG && !c->probe) {
			/* Too much for the environment: the request's. */
			finish(c, BACKEND_REJECTED, 400, "this request's "
			    "parameters are too long for the program's "
			    "environment (E2BIG): shorten the instructions");
			return;
		}
		snprintf(reason, sizeof reason, "cannot run %s: %s",
		    c->be->argv[0], strerror(xerr));
		finish(c, BACKEND_FAILED, 0, reason);
		return;
	}
	if (r < 0 || !WIFEXITED(st)) {
		snprintf(reason, sizeof reason, "the program was killed%s%s",
		    c->errlen > 0 ? ": " : "", c->errtext);
		finish(c, BACKEND_FAILED, 0, reason);
		return;
	}
	if (WEXITSTATUS(st) != 0) {
		/*
		 * It ran and said no: most likely to this request's voice,
		 * model or instructions.  The caller checks the program
		 * with a probe, which takes it out if it fails on anything
		 * (BACKEND_REFUSED).
		 */
		snprintf(reason, sizeof reason, "the program exited with "
		    "status %d%s%s", WEXITSTATUS(st), c->errlen > 0 ? ": " :
		    "", c->errtext);
		finish(c, c->probe ? BACKEND_FAILED : BACKEND_REFUSED,
		    c->probe ? 0 : 400, reason);
		return;
	}
	if (c->nbytes == 0) {
		finish(c, BACKEND_FAILED, 0, "the program wrote no audio");
		return;
	}
	if (!c->probe && (why = call_check_end(c)) != NULL) {
		finish(c, BACKEND_FAILED, 0, why);
		return;
	}
	finish(c, BACKEND_OK, 0, NULL);
}

static void
set_env(const char *name, const char *value)
{
	if (value != NULL)
		setenv(name, value, 1);
}

/* In the child: no descriptor but 0, 1 and 2 (and the exec errno pipe,
 * close-on-exec like the rest) survives exec. */
static void
cloexec_from(int lowfd)
{
	long	max, fd;

#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range((unsigned)lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = lowfd; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* A parameter too long for a program's environment; NULL if none. */
static const char *
env_too_long(const struct tts_params *p)
{
	if (p->instructions != NULL &&
	    strlen(p->instructions) > BACKEND_ENV_MAX)
		return "instructions";
	if (p->voice != NULL && strlen(p->voice) > BACKEND_ENV_MAX)
		return "voice";
	if (p->model != NULL && strlen(p->model) > BACKEND_ENV_MAX)
		return "model";
	return NULL;
}

static struct backend_call *
exec_start(struct backend *be, const struct tts_params *p, const char *text,
    const struct backend_cbs *cbs, void *arg, int probe)
{
	struct backend_call	*c = call_new(be, cbs, arg);
	struct timeval		 tv;
	int			 in[2], out[2], err[2], xp[2], devnull, e;
	char			 speed[32], why[128];
	const char		*field;

	c->probe = probe;
	c->fmt = params_format_index(p->format);
	if ((field = env_too_long(p)) != NULL) {
		snprintf(why, sizeof why, "'%s' is longer than %d bytes, the "
		    "most a local program (exec:) endpoint takes: shorten it",
		    field, BACKEND_ENV_MAX);
		finish_later(c, BACKEND_REJECTED, 400, why);
		return c;
	}
	c->input = xasprintf("%s\n", text);
	c->inlen = strlen(c->input);
	if (pipe2(in, O_CLOEXEC) != 0) {
		finish_later(c, BACKEND_FAILED, 0, strerror(errno));
		return c;
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		finish_later(c, BACKEND_FAILED, 0, strerror(errno));
		return c;
	}
	if (pipe2(err, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		finish_later(c, BACKEND_FAILED, 0, strerror(errno));
		return c;
	}
	if (pipe2(xp, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		finish_later(c, BACKEND_FAILED, 0, strerror(errno));
		return c;
	}
	c->pid = fork();
	if (c->pid == 0) {
		/* The child: pipes on 0, 1, 2; the parameters in env. */
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if ((devnull = open("/dev/null", O_RDONLY)) > 2)
			close(devnull);
		/* Not one of the daemon's descriptors (sockets, curl's,
		 * Redis's) goes to the program. */
		cloexec_from(3);
		if (p != NULL) {
			snprintf(speed, sizeof speed, "%g", p->speed);
			set_env("TTS_VOICE", p->voice);
			set_env("TTS_MODEL", p->model);
			set_env("TTS_FORMAT", p->format);
			set_env("TTS_SPEED", speed);
			set_env("TTS_INSTRUCTIONS", p->instructions);
		}
		signal(SIGPIPE, SIG_DFL);
		execvp(be->argv[0], be->argv);
		e = errno;
		if (write(xp[1], &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(xp[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->err_fd = err[0];
	c->exec_fd = xp[0];
	if (c->pid < 0) {
		finish_later(c, BACKEND_FAILED, 0, strerror(errno));
		return c;
	}
	evutil_make_socket_nonblocking(c->exec_fd);
	evutil_make_socket_nonblocking(c->in_fd);
	evutil_make_socket_nonblocking(c->out_fd);
	evutil_make_socket_nonblocking(c->err_fd);
	c->ev_in = event_new(be->base, c->in_fd, EV_WRITE | EV_PERSIST,
	    exec_in_cb, c);
	c->ev_out = event_new(be->base, c->out_fd, EV_READ | EV_PERSIST,
	    exec_out_cb, c);
	c->ev_err = event_new(be->base, c->err_fd, EV_READ | EV_PERSIST,
	    exec_err_cb, c);
	c->ev_timer = evtimer_new(be->base, exec_timer_cb, c);
	event_add(c->ev_in, NULL);
	event_add(c->ev_out, NULL);
	event_add(c->ev_err, NULL);
	tv.tv_sec = be->timeout;
	tv.tv_usec = 0;
	evtimer_add(c->ev_timer, &tv);
	c->deadline = now_usec() + (uint64_t)be->timeout * 1000000;
	return c;
}

struct backend_call *
backend_synth(struct backend *be, const struct tts_params *p, const char *text,
    const struct backend_cbs *cbs, void *arg)
{
	if (be->kind == BE_HTTP)
		return http_synth(be, p, text, cbs, arg);
	return exec_start(be, p, text, cbs, arg, 0);
}

struct backend_call *
backend_probe(struct backend *be, const struct backend_cbs *cbs, void *arg)
{
	static const struct tts_params	p = { "probe", "default", "wav",
					    NULL, 1.0 };

	if (be->kind == BE_HTTP)
		return http_probe(be, cbs, arg);
	return exec_start(be, &p, "ok", cbs, arg, 1);
}

void
backend_cancel(struct backend_call *c)
{
	if (c == NULL)
		return;
	if (c->fr != NULL)
		fetch_cancel(c->fr);
	exec_kill(c);
	call_free(c);
}
