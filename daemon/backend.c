/* backend: one TTS endpoint — OpenAI Speech over HTTP, or a local program. */
#include <sys/types.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
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
#include "util.h"

#define BE_HTTP		0
#define BE_EXEC		1

#define ERRTEXT_MAX	512

struct backend {
	struct event_base	*base;
	struct fetch		*fetch;
	int			 kind;
	char			*name;
	char			*url;		/* http: base URL */
	char			*key;
	char			**argv;		/* exec */
	char			*formats;	/* exec: formats it makes */
	int			 max;
	double			 weight;
	long			 timeout;
	size_t			 active;
};

struct backend_call {
	struct backend		*be;
	struct backend_cbs	 cbs;
	void			*arg;
	int			 probe;
	size_t			 nbytes;
	char			 errtext[ERRTEXT_MAX];
	size_t			 errlen;
	struct event		*defer;		/* finishes from the loop */
	int			 deferred_ok;
	/* http */
	struct fetch_req	*fr;
	long			 status;
	/* exec */
	pid_t			 pid;
	int			 in_fd, out_fd, err_fd;
	struct event		*ev_in, *ev_out, *ev_err, *ev_timer;
	char			*input;
	size_t			 inlen, inoff;
	uint64_t		 deadline;
};

const char *
backend_name(const struct backend *be)
{
	return be->name;
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

int
backend_has_format(const struct backend *be, const char *fmt)
{
	const char	*p;
	size_t		 n = strlen(fmt);

	if (be->formats == NULL)
		return 1;
	/* A list separated by '+' (or ',' in a config file line). */
	for (p = be->formats; (p = strstr(p, fmt)) != NULL; p += n)
		if ((p == be->formats || p[-1] == ',' || p[-1] == '+') &&
		    (p[n] == ',' || p[n] == '+' || p[n] == '\0'))
			return 1;
	return 0;
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
	*cause = xasprintf("endpoint '%s': %s", spec, why);
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
	free(be->url);
	free(be->key);
	free_args(be->argv);
	free(be->formats);
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
	free(c->input);
	c->be->active--;
	free(c);
}

static void
finish(struct backend_call *c, int ok, const char *why)
{
	struct backend_cbs	cbs = c->cbs;
	void			*arg = c->arg;

	call_free(c);
	if (cbs.done != NULL)
		cbs.done(arg, ok, why);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*c = arg;

	finish(c, c->deferred_ok, c->errtext);
}

/* Finish from the loop, never inside the caller's call. */
static void
finish_later(struct backend_call *c, int ok, const char *why)
{
	snprintf(c->errtext, sizeof c->errtext, "%s", why != NULL ? why : "");
	c->deferred_ok = ok;
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
	c->in_fd = c->out_fd = c->err_fd = -1;
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

static void
http_data_cb(void *arg, const char *data, size_t len)
{
	struct backend_call	*c = arg;

	if (c->status == 200 && !c->probe) {
		c->nbytes += len;
		if (c->cbs.data != NULL)
			c->cbs.data(c->arg, data, len);
	} else
		err_append(c, data, len);
}

static void
http_done_cb(void *arg, int ok, const char *why)
{
	struct backend_call	*c = arg;
	char			 reason[ERRTEXT_MAX + 64];
	cJSON			*j;
	const cJSON		*msg;

	c->fr = NULL;
	if (!ok) {
		finish(c, 0, why);
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
		cJSON_Delete(j);
		finish(c, 0, reason);
		return;
	}
	if (!c->probe && c->nbytes == 0) {
		finish(c, 0, "the backend answered with no audio");
		return;
	}
	finish(c, 1, NULL);
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
		c->nbytes += (size_t)n;
		if (c->cbs.data != NULL && !c->probe)
			c->cbs.data(c->arg, buf, (size_t)n);
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
	finish(c, 0, "the program timed out");
}

/* Both outputs closed: has the program exited, and how? */
static void
exec_check(struct backend_call *c)
{
	struct timeval	 tv = { 0, 10000 };
	char		 reason[ERRTEXT_MAX + 64];
	int		 st;
	pid_t		 r;

	if (c->out_fd >= 0 || c->err_fd >= 0)
		return;
	r = waitpid(c->pid, &st, WNOHANG);
	if (r == 0 && now_usec() > c->deadline) {
		exec_kill(c);
		finish(c, 0, "the program timed out");
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
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (r > 0 && WIFEXITED(st))
			snprintf(reason, sizeof reason, "the program exited "
			    "with status %d%s%s", WEXITSTATUS(st),
			    c->errlen > 0 ? ": " : "", c->errtext);
		else
			snprintf(reason, sizeof reason, "the program was "
			    "killed%s%s", c->errlen > 0 ? ": " : "", c->errtext);
		finish(c, 0, reason);
		return;
	}
	if (c->nbytes == 0) {
		finish(c, 0, "the program wrote no audio");
		return;
	}
	finish(c, 1, NULL);
}

static void
set_env(const char *name, const char *value)
{
	if (value != NULL)
		setenv(name, value, 1);
}

static struct backend_call *
exec_start(struct backend *be, const struct tts_params *p, const char *text,
    const struct backend_cbs *cbs, void *arg, int probe)
{
	struct backend_call	*c = call_new(be, cbs, arg);
	struct timeval		 tv;
	int			 in[2], out[2], err[2], devnull;
	char			 speed[32];

	c->probe = probe;
	c->input = xasprintf("%s\n", text);
	c->inlen = strlen(c->input);
	if (pipe2(in, O_CLOEXEC) != 0) {
		finish_later(c, 0, strerror(errno));
		return c;
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		finish_later(c, 0, strerror(errno));
		return c;
	}
	if (pipe2(err, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		finish_later(c, 0, strerror(errno));
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
		fprintf(stderr, "cannot run %s: %s\n", be->argv[0],
		    strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->err_fd = err[0];
	if (c->pid < 0) {
		finish_later(c, 0, strerror(errno));
		return c;
	}
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
