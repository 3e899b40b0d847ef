/*
 * chat: the say and chat commands, over the daemon's HTTP API.
 *
 * One curl multi handle drives the transfers of a reply: the chat's SSE
 * stream, printed as it arrives, and, once its X-TTS-Reply-Id is known, the
 * reply's audio, fed to the player (or a file) as it arrives.  One loop
 * waits on curl's sockets, the player's pipe, a self-pipe written by the
 * SIGINT handler and, at the interactive prompt, readline's input.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "sse.h"
#include "util.h"
#include "wav.h"
#include "chat.h"
#include "player.h"

#define CHAT_PROMPT		"you> "
#define CHAT_HISTORY_LINES	1000
#define CHAT_ERRBODY_MAX	(64 * 1024)
#define CHAT_JSONBODY_MAX	(4 * 1024 * 1024)

struct buf {
	char		*p;
	size_t		 len, size;
};

struct session;

struct xfer {
	struct session	*s;
	int		 kind;
#define XF_CHAT		1	/* POST /v1/chat/completions, SSE */
#define XF_AUDIO	2	/* GET /v1/audio/replies/{id} */
#define XF_SPEECH	3	/* POST /v1/audio/speech */
#define XF_MODELS	4	/* GET /v1/models */
#define XF_CANCEL	5	/* DELETE /v1/audio/replies/{id} */
	const char	*what;		/* "POST /v1/..." for messages */
	CURL		*easy;
	struct curl_slist *hdrs;
	char		*body;
	struct buf	 data;		/* an error body, or a JSON answer */
	char		*reply_id;	/* X-TTS-Reply-Id */
	char		*cache;		/* X-TTS-Cache */
	int		 done;
	CURLcode	 result;
	char		 errbuf[CURL_ERROR_SIZE];
};

struct session {
	char		*url;		/* without a trailing / or /v1 */
	char		*key;
	char		*model;
	char		*voice;
	char		*player_cmd;	/* NULL: no audio to a player */
	char		*outpath;	/* -o FILE */
	FILE		*out;
	int		 audio;		/* ask for and fetch the audio */
	int		 verbose;
	int		 interactive;

	CURLM		*multi;
	cJSON		*messages;	/* the conversation */

	/* The reply under way. */
	struct xfer	*chat;
	struct xfer	*audio_xf;
	struct sse_parser *sse;
	struct buf	 text;		/* the assistant's text so far */
	int		 at_bol;	/* stdout is at a line's start */
	int		 got_done;
	int		 audio_asked;	/* its audio was asked for */
	char		*error;		/* the reply's first failure */
	char		*audio_error;
	struct player	*player;
	int		 stopped;	/* Ctrl-C during a reply */
	char		*reply_id;	/* the last reply's, to cancel it */
	int		 want_stop;	/* Ctrl-C at the prompt, audio on */

	/* The prompt. */
	int		 prompt_on;
	char		*line;
	int		 line_ready;
	int		 quit;
	char		*history;
};

static volatile sig_atomic_t	 chat_sigint;
static int			 chat_sigpipe[2] = { -1, -1 };
static struct session		*chat_rl_session;	/* readline's */

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->size - b->len <= len) {
		while (b->size - b->len <= len)
			b->size = b->size == 0 ? 1024 : b->size * 2;
		b->p = xrealloc(b->p, b->size);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_reset(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static void
chat_sigint_cb(int sig)
{
	int	saved = errno;

	chat_sigint = 1;
	if (chat_sigpipe[1] != -1)
		(void)!write(chat_sigpipe[1], "", 1);
	errno = saved;
}

static int
chat_signals(void)
{
	struct sigaction	sa;
	int			i, fl;

	if (pipe2(chat_sigpipe, O_CLOEXEC) != 0)
		return -1;
	for (i = 0; i < 2; i++)
		if ((fl = fcntl(chat_sigpipe[i], F_GETFL)) != -1)
			fcntl(chat_sigpipe[i], F_SETFL, fl | O_NONBLOCK);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = chat_sigint_cb;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: waits see EINTR */
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
chat_signals_end(void)
{
	int	i;

	signal(SIGINT, SIG_DFL);
	for (i = 0; i < 2; i++) {
		if (chat_sigpipe[i] != -1)
			close(chat_sigpipe[i]);
		chat_sigpipe[i] = -1;
	}
}

/* Print a one-line message on stderr, keeping the prompt intact. */
static void __attribute__((format(printf, 2, 3)))
session_warn(struct session *s, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	if (s->prompt_on)
		fputs("\r\033[K", stdout), fflush(stdout);
	fputs("ttsaccelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (s->prompt_on) {
		rl_on_new_line();
		rl_redisplay();
	}
}

/* Remember the reply's first failure. */
static void __attribute__((format(printf, 2, 3)))
session_fail(struct session *s, const char *fmt, ...)
{
	va_list	ap;

	if (s->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s->error, fmt, ap) == -1)
		s->error = NULL;
	va_end(ap);
	if (s->error == NULL)
		s->error = xstrdup("out of memory");
}

/* The daemon's message for a non-2xx answer. */
static char *
xfer_http_error(struct session *s, struct xfer *x, long status)
{
	cJSON		*j, *m;
	char		*msg, *r;
	size_t		 n;

	j = cJSON_ParseWithLength(x->data.p == NULL ? "" : x->data.p,
	    x->data.len);
	m = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "error"), "message");
	if (cJSON_IsString(m))
		msg = xstrdup(m->valuestring);
	else if (x->data.len > 0) {
		n = x->data.len > 200 ? 200 : x->data.len;
		msg = xstrndup(x->data.p, n);
		strtrim(msg);
	} else
		msg = xstrdup("no details");
	cJSON_Delete(j);
	if (status == 401)
		r = xasprintf("%s: the daemon refused the key (401: %s); set "
		    "TTSACCEL_API_KEY", x->what, msg);
	else
		r = xasprintf("%s: %ld from the daemon: %s", x->what, status,
		    msg);
	free(msg);
	return r;
}

/* Why a finished transfer failed, or NULL if it did not. */
static char *
xfer_failure(struct session *s, struct xfer *x)
{
	long	status = 0;

	if (x->result != CURLE_OK) {
		if (x->result == CURLE_COULDNT_CONNECT ||
		    x->result == CURLE_COULDNT_RESOLVE_HOST)
			return xasprintf("cannot reach the daemon at %s (is it "
			    "running? TTSACCEL_URL sets the address): %s",
			    s->url, x->errbuf[0] != '\0' ? x->errbuf :
			    curl_easy_strerror(x->result));
		if (x->result == CURLE_WRITE_ERROR && s->error != NULL)
			return xstrdup(s->error);
		return xasprintf("%s: %s", x->what, x->errbuf[0] != '\0' ?
		    x->errbuf : curl_easy_strerror(x->result));
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return xfer_http_error(s, x, status);
	return NULL;
}

static int	chat_event_cb(void *, const struct sse_event *);
static void	out_fix_wav(FILE *);

static void
chat_print(struct session *s, const char *text, size_t len)
{
	if (len == 0)
		return;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	s->at_bol = text[len - 1] == '\n';
	buf_add(&s->text, text, len);
}

/* Audio bytes for the file or the player. */
static int
audio_sink(struct session *s, const char *data, size_t len)
{
	char	*cause;

	if (s->out != NULL) {
		if (fwrite(data, 1, len, s->out) != len) {
			free(s->audio_error);
			s->audio_error = xasprintf("%s: %s", s->outpath,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (s->player_cmd == NULL)
		return 0;
	if (s->player == NULL) {
		if ((s->player = player_start(s->player_cmd, &cause)) ==
		    NULL) {
			free(s->audio_error);
			s->audio_error = xasprintf("cannot start the player: "
			    "%s", cause);
			free(cause);
			return -1;
		}
	}
	player_write(s->player, data, len);
	return 0;
}

static size_t
xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	struct session	*s = x->s;
	size_t		 len = size * nmemb;
	long		 status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		if (x->data.len < CHAT_ERRBODY_MAX)
			buf_add(&x->data, ptr, len);
		return len;
	}
	switch (x->kind) {
	case XF_CHAT:
		sse_feed(s->sse, ptr, len, chat_event_cb, s);
		break;
	case XF_AUDIO:
	case XF_SPEECH:
		if (audio_sink(s, ptr, len) != 0)
			return 0;
		break;
	case XF_MODELS:
		if (x->data.len + len > CHAT_JSONBODY_MAX)
			return 0;
		buf_add(&x->data, ptr, len);
		break;
	}
	return len;
}

/* X-TTS-Reply-Id and X-TTS-Cache. */
static size_t
xfer_header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer	 *x = arg;
	size_t		  len = size * nmemb, nlen;
	const char	 *colon, *v, *e, *p;
	char		**to = NULL;

	if ((colon = memchr(ptr, ':', len)) == NULL)
		return len;
	nlen = (size_t)(colon - ptr);
	if (nlen == 14 && strncasecmp(ptr, "X-TTS-Reply-Id", nlen) == 0)
		to = &x->reply_id;
	else if (nlen == 11 && strncasecmp(ptr, "X-TTS-Cache", nlen) == 0)
		to = &x->cache;
	if (to == NULL)
		return len;
	v = colon + 1;
	e = ptr + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	if (e - v > 256 || e == v)
		return len;
	for (p = v; p < e; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return len;	/* not a value we put in a path */
	free(*to);
	*to = xstrndup(v, (size_t)(e - v));
	return len;
}

static struct xfer *
xfer_new(struct session *s, int kind, const char *what, const char *path,
    char *body)
{
	struct xfer	*x;
	char		*url, *h;

	x = xcalloc(1, sizeof *x);
	x->s = s;
	x->kind = kind;
	x->what = what;
	x->body = body;
	x->easy = curl_easy_init();
	if (x->easy == NULL) {
		fprintf(stderr, "ttsaccelctl: curl_easy_init failed\n");
		exit(1);
	}
	url = xasprintf("%s%s", s->url, path);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	free(url);
	if (s->key != NULL) {
		h = xasprintf("Authorization: Bearer %s", s->key);
		x->hdrs = curl_slist_append(x->hdrs, h);
		free(h);
	}
	if (body != NULL) {
		x->hdrs = curl_slist_append(x->hdrs,
		    "Content-Type: application/json");
		x->hdrs = curl_slist_append(x->hdrs, "Expect:");
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
	}
	if (kind == XF_CHAT)
		x->hdrs = curl_slist_append(x->hdrs,
		    "Accept: text/event-stream");
	if (kind == XF_CANCEL) {
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "DELETE");
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, 10L);
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT,
	    "ttsaccelctl/" TTSACCEL_VERSION);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, xfer_write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, xfer_header_cb);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_multi_add_handle(s->multi, x->easy);
	return x;
}

static void
xfer_free(struct session *s, struct xfer *x)
{
	if (x == NULL)
		return;
	curl_multi_remove_handle(s->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	buf_reset(&x->data);
	free(x->reply_id);
	free(x->cache);
	free(x);
}

/* One SSE event of the chat stream. */
static int
chat_event_cb(void *arg, const struct sse_event *ev)
{
	struct session	*s = arg;
	cJSON		*j, *e, *m, *c;

	if (!ev->has_data)
		return 0;
	if (strcmp(ev->data, "[DONE]") == 0) {
		s->got_done = 1;
		return 0;
	}
	if ((j = cJSON_ParseWithLength(ev->data, ev->datalen)) == NULL)
		return 0;
	if ((e = cJSON_GetObjectItemCaseSensitive(j, "error")) != NULL) {
		m = cJSON_GetObjectItemCaseSensitive(e, "message");
		session_fail(s, "%s", cJSON_IsString(m) ? m->valuestring :
		    "the reply stream carried an error");
	}
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"),
	    0);
	c = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(c, "delta"), "content");
	if (cJSON_IsString(c))
		chat_print(s, c->valuestring, strlen(c->valuestring));
	cJSON_Delete(j);
	return 0;
}

/* Stop the reply's audio: cancel its transfer and kill the player. */
static void
audio_stop(struct session *s)
{
	xfer_free(s, s->audio_xf);
	s->audio_xf = NULL;
	player_free(s->player);
	s->player = NULL;
	free(s->audio_error);
	s->audio_error = NULL;
}

static int	session_run(struct session *, struct xfer *);

/*
 * Stop the last reply: its audio here, and its syntheses on the daemon
 * (DELETE /v1/audio/replies/{id}), so that they hold no backend the
 * next reply needs.  Once per reply.
 */
static void
reply_stop(struct session *s)
{
	struct xfer	*x;
	char		*path, *why;
	int		 stopped = s->stopped;

	audio_stop(s);
	if (s->reply_id == NULL)
		return;
	path = xasprintf("/v1/audio/replies/%s", s->reply_id);
	x = xfer_new(s, XF_CANCEL, "DELETE /v1/audio/replies", path, NULL);
	free(path);
	s->stopped = 0;
	if (session_run(s, x) == 0 && (why = xfer_failure(s, x)) != NULL) {
		session_warn(s, "the reply could not be cancelled: %s", why);
		free(why);
	} else if (s->verbose && !s->stopped)
		session_warn(s, "reply %s cancelled", s->reply_id);
	xfer_free(s, x);
	s->stopped = stopped;
	free(s->reply_id);
	s->reply_id = NULL;
}

/* Ctrl-C: at the prompt, clear the line (and silence the last reply);
 * otherwise stop what runs. */
static void
session_interrupt(struct session *s)
{
	if (!s->prompt_on) {
		s->stopped = 1;
		return;
	}
	if (s->player != NULL || s->audio_xf != NULL)
		s->want_stop = 1;	/* the reply too, from the loop */
	audio_stop(s);
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_point = rl_end = 0;
	fputs("^C", stdout);
	rl_crlf();
	rl_on_new_line();
	rl_redisplay();
}

/* After events: start the reply's audio once its id is known; finish the
 * audio's transfer. */
static void
session_advance(struct session *s)
{
	struct xfer	*x = s->audio_xf;
	char		*path, *why;
	int		 st;

	if (s->chat != NULL && s->chat->reply_id != NULL &&
	    (s->reply_id == NULL || strcmp(s->reply_id, s->chat->reply_id) !=
	    0)) {
		free(s->reply_id);
		s->reply_id = xstrdup(s->chat->reply_id);
	}
	if (s->chat != NULL && s->chat->reply_id != NULL && s->audio &&
	    s->audio_xf == NULL && s->player == NULL && !s->stopped) {
		if (s->verbose)
			session_warn(s, "reply %s", s->chat->reply_id);
		path = xasprintf("/v1/audio/replies/%s", s->chat->reply_id);
		s->audio_xf = xfer_new(s, XF_AUDIO, "GET /v1/audio/replies",
		    path, NULL);
		free(path);
		s->audio_asked = 1;
		/* Only once per reply. */
		free(s->chat->reply_id);
		s->chat->reply_id = NULL;
	}
	if (x != NULL && x->done && x->kind == XF_AUDIO) {
		if ((why = xfer_failure(s, x)) != NULL) {
			if (s->audio_error == NULL)
				s->audio_error = why;
			else
				free(why);
		}
		if (s->player != NULL)
			player_close(s->player);
		if (s->out != NULL && s->interactive && s->audio_error == NULL)
			out_fix_wav(s->out);
		/* The transfer is over: keep only the player. */
		s->audio_xf = NULL;
		xfer_free(s, x);
		if (s->audio_error != NULL && s->interactive) {
			session_warn(s, "no audio: %s", s->audio_error);
			free(s->audio_error);
			s->audio_error = NULL;
		}
	}
	if (s->interactive && s->player != NULL && s->audio_xf == NULL &&
	    player_exited(s->player)) {
		st = player_wait(s->player, &chat_sigint);
		if (st != 0 && st != 128 + SIGTERM)
			session_warn(s, "the player exited with status %d", st);
		player_free(s->player);
		s->player = NULL;
	}
}

/* Wait up to timeout_ms for anything, and handle it. */
static void
session_step(struct session *s, int timeout_ms)
{
	struct curl_waitfd	 w[3];
	unsigned		 n = 0;
	int			 i_in = -1, fd, running;
	char			 drain[64];
	CURLMsg			*msg;
	struct xfer		*x;

	w[n].fd = chat_sigpipe[0];
	w[n].events = CURL_WAIT_POLLIN;
	w[n++].revents = 0;
	if (s->prompt_on) {
		i_in = (int)n;
		w[n].fd = STDIN_FILENO;
		w[n].events = CURL_WAIT_POLLIN;
		w[n++].revents = 0;
	}
	if (s->player != NULL && (fd = player_pollfd(s->player)) != -1) {
		w[n].fd = fd;
		w[n].events = CURL_WAIT_POLLOUT;
		w[n++].revents = 0;
	}
	if (!chat_sigint)
		curl_multi_wait(s->multi, w, n, timeout_ms, NULL);
	while (read(chat_sigpipe[0], drain, sizeof drain) > 0)
		;
	if (chat_sigint) {
		chat_sigint = 0;
		session_interrupt(s);
	} else if (i_in != -1 && w[i_in].revents != 0)
		rl_callback_read_char();
	if (s->player != NULL)
		player_flush(s->player);
	curl_multi_perform(s->multi, &running);
	while ((msg = curl_multi_info_read(s->multi, &running)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		if (x != NULL) {
			x->done = 1;
			x->result = msg->data.result;
		}
	}
	session_advance(s);
}

/* Run one transfer to its end (or a Ctrl-C: -1). */
static int
session_run(struct session *s, struct xfer *x)
{
	while (!x->done && !s->stopped)
		session_step(s, 1000);
	return s->stopped ? -1 : 0;
}

/* The chat model: -m, $TTSACCEL_MODEL, or the first of GET /v1/models. */
static int
session_model(struct session *s)
{
	struct xfer	*x;
	cJSON		*j, *id;
	char		*why;
	int		 rc = -1;

	if (s->model != NULL)
		return 0;
	if (getenv("TTSACCEL_MODEL") != NULL && *getenv("TTSACCEL_MODEL")) {
		s->model = xstrdup(getenv("TTSACCEL_MODEL"));
		return 0;
	}
	x = xfer_new(s, XF_MODELS, "GET /v1/models", "/v1/models", NULL);
	if (session_run(s, x) != 0) {
		xfer_free(s, x);
		return -2;
	}
	if ((why = xfer_failure(s, x)) != NULL) {
		fprintf(stderr, "ttsaccelctl: %s\n", why);
		free(why);
		goto out;
	}
	j = cJSON_ParseWithLength(x->data.p == NULL ? "" : x->data.p,
	    x->data.len);
	id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(j, "data"), 0), "id");
	if (cJSON_IsString(id) && *id->valuestring != '\0') {
		s->model = xstrdup(id->valuestring);
		rc = 0;
	} else
		fprintf(stderr, "ttsaccelctl: the daemon lists no model; "
		    "give one with -m MODEL or TTSACCEL_MODEL\n");
	cJSON_Delete(j);
out:
	xfer_free(s, x);
	return rc;
}

/* Forget the reply under way (not its audio). */
static void
turn_clear(struct session *s)
{
	xfer_free(s, s->chat);
	s->chat = NULL;
	sse_free(s->sse);
	s->sse = NULL;
	buf_reset(&s->text);
	free(s->error);
	s->error = NULL;
	s->got_done = 0;
	s->audio_asked = 0;
	s->stopped = 0;
}

/*
 * One reply to prompt: the text printed as it streams, the audio started.
 * 0 when the text is complete, -1 on failure (said on stderr), -2 when
 * stopped by Ctrl-C.  The user's and assistant's turns are added to the
 * conversation unless it failed.
 */
static int
turn_run(struct session *s, const char *prompt)
{
	cJSON	*req, *msg, *last;
	char	*body, *why;
	int	 rc = 0, n;

	/* A new message while the last reply still speaks interrupts it. */
	if (s->player != NULL || s->audio_xf != NULL)
		reply_stop(s);
	else
		audio_stop(s);
	turn_clear(s);
	if (s->out != NULL && s->interactive) {
		/* -o FILE holds the last reply's audio. */
		fflush(s->out);
		rewind(s->out);
		if (ftruncate(fileno(s->out), 0) != 0)
			session_warn(s, "%s: %s", s->outpath, strerror(errno));
	}
	msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "role", "user");
	cJSON_AddStringToObject(msg, "content", prompt);
	cJSON_AddItemToArray(s->messages, msg);

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", s->model);
	cJSON_AddTrueToObject(req, "stream");
	cJSON_AddItemReferenceToObject(req, "messages", s->messages);
	if (s->audio) {
		cJSON_AddStringToObject(req, "tts_format", "wav");
		if (s->voice != NULL)
			cJSON_AddStringToObject(req, "tts_voice", s->voice);
	} else
		cJSON_AddFalseToObject(req, "tts_enabled");
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);

	s->sse = sse_new(0);
	s->at_bol = 1;
	s->chat = xfer_new(s, XF_CHAT, "POST /v1/chat/completions",
	    "/v1/chat/completions", body);
	if (session_run(s, s->chat) != 0) {
		/* Ctrl-C: stop the reply, its audio and its syntheses. */
		xfer_free(s, s->chat);
		s->chat = NULL;
		reply_stop(s);
		if (!s->at_bol)
			fputc('\n', stdout);
		fflush(stdout);
		rc = -2;
	} else {
		if ((why = xfer_failure(s, s->chat)) != NULL) {
			free(s->error);
			s->error = why;
		}
		if (s->sse != NULL)
			sse_finish(s->sse, chat_event_cb, s);
		if (s->error == NULL && !s->got_done)
			session_fail(s, "the reply stream ended early");
		if (!s->at_bol)
			fputc('\n', stdout);
		fflush(stdout);
		if (s->error != NULL) {
			fprintf(stderr, "ttsaccelctl: %s\n", s->error);
			rc = -1;
		} else if (s->audio && !s->audio_asked &&
		    s->audio_error == NULL)
			s->audio_error = xstrdup("the daemon sent no reply "
			    "audio (is its TTS on?)");
	}
	if (rc == -1 || (rc == -2 && s->text.len == 0)) {
		/* Not answered: forget the question. */
		n = cJSON_GetArraySize(s->messages);
		last = cJSON_DetachItemFromArray(s->messages, n - 1);
		cJSON_Delete(last);
	} else {
		msg = cJSON_CreateObject();
		cJSON_AddStringToObject(msg, "role", "assistant");
		cJSON_AddStringToObject(msg, "content",
		    s->text.p == NULL ? "" : s->text.p);
		cJSON_AddItemToArray(s->messages, msg);
	}
	if (rc == -1)
		audio_stop(s);
	turn_clear(s);
	s->stopped = rc == -2;
	return rc;
}

/*
 * The audio to its end: the transfer finished, the file closed or the
 * player done.  0, -1 on failure (said on stderr), -2 on Ctrl-C.
 */
static int
audio_finish(struct session *s)
{
	int	st;

	s->stopped = 0;
	while (s->audio_xf != NULL && !s->stopped)
		session_step(s, 1000);
	if (s->stopped) {
		reply_stop(s);
		return -2;
	}
	if (s->player != NULL) {
		st = player_wait(s->player, &chat_sigint);
		player_free(s->player);
		s->player = NULL;
		if (st == -1)
			return -2;
		if (st != 0 && s->audio_error == NULL)
			s->audio_error = xasprintf("the player exited with "
			    "status %d", st);
	}
	if (s->audio_error != NULL) {
		fprintf(stderr, "ttsaccelctl: %s\n", s->audio_error);
		return -1;
	}
	return 0;
}

static void
session_free(struct session *s)
{
	audio_stop(s);
	turn_clear(s);
	free(s->reply_id);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	cJSON_Delete(s->messages);
	if (s->out != NULL)
		fclose(s->out);
	free(s->url);
	free(s->key);
	free(s->model);
	free(s->voice);
	free(s->player_cmd);
	free(s->outpath);
	free(s->line);
	free(s->history);
}

/* Address and key from the environment; the multi handle. */
static void
session_init(struct session *s)
{
	const char	*url, *key;
	size_t		 n;

	memset(s, 0, sizeof *s);
	if ((url = getenv("TTSACCEL_URL")) == NULL || *url == '\0')
		url = "http://127.0.0.1:8000";
	s->url = xstrdup(url);
	n = strlen(s->url);
	while (n > 0 && s->url[n - 1] == '/')
		s->url[--n] = '\0';
	if (n >= 3 && strcmp(s->url + n - 3, "/v1") == 0)
		s->url[n - 3] = '\0';
	if ((key = getenv("TTSACCEL_API_KEY")) == NULL || *key == '\0')
		key = getenv("NEWAPI_API_KEY");
	if (key != NULL && *key != '\0')
		s->key = xstrdup(key);
	if ((s->multi = curl_multi_init()) == NULL) {
		fprintf(stderr, "ttsaccelctl: curl_multi_init failed\n");
		exit(1);
	}
	s->messages = cJSON_CreateArray();
	s->at_bol = 1;
}

static void
chat_global_init(void)
{
	static cJSON_Hooks	hooks = { xmalloc, free };

	cJSON_InitHooks(&hooks);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* All the arguments from optind on, joined by spaces; NULL if none. */
static char *
join_args(int argc, char **argv, int first)
{
	struct buf	b = { NULL, 0, 0 };
	int		i;

	for (i = first; i < argc; i++) {
		if (i > first)
			buf_add(&b, " ", 1);
		buf_add(&b, argv[i], strlen(argv[i]));
	}
	return b.p;
}

/* All of stdin; NULL if unreadable. */
static char *
read_stdin(void)
{
	struct buf	b = { NULL, 0, 0 };
	char		chunk[8192];
	size_t		n;

	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(stdin)) {
		buf_reset(&b);
		return NULL;
	}
	if (b.p == NULL)
		return xstrdup("");
	return b.p;
}

/* Where audio goes: -o FILE, else a player; 0, or -1 when -o fails. */
static int
session_sink(struct session *s, const char *player)
{
	if (s->outpath != NULL) {
		if ((s->out = fopen(s->outpath, "w+b")) == NULL) {
			fprintf(stderr, "ttsaccelctl: %s: %s\n", s->outpath,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	s->player_cmd = player_find(player);
	return 0;
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* A WAV written as a stream says "unknown length": give a regular file
 * its real sizes.  Anything else is left as it is. */
static void
out_fix_wav(FILE *f)
{
	unsigned char	 head[4096], le[4];
	struct wav_info	 info;
	const char	*err;
	struct stat	 st;
	size_t		 n;

	if (fflush(f) != 0 || fstat(fileno(f), &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size > 0xffffffffLL)
		return;
	rewind(f);
	n = fread(head, 1, sizeof head, f);
	if (wav_parse(head, n, &info, &err) != 1 || info.data_offset < 12 ||
	    (off_t)info.data_offset > st.st_size)
		return;
	put_le32(le, (uint32_t)(st.st_size - 8));
	if (fseek(f, 4, SEEK_SET) != 0 || fwrite(le, 1, 4, f) != 4)
		return;
	put_le32(le, (uint32_t)(st.st_size - (off_t)info.data_offset));
	if (fseek(f, (long)info.data_offset - 4, SEEK_SET) == 0)
		fwrite(le, 1, 4, f);
}

/* Close -o FILE (its WAV sizes made exact); on failure remove it. */
static int
session_close_out(struct session *s, int failed)
{
	int	rc = 0;

	if (s->out == NULL)
		return failed ? -1 : 0;
	if (!failed)
		out_fix_wav(s->out);
	if (fclose(s->out) != 0 && !failed) {
		fprintf(stderr, "ttsaccelctl: %s: %s\n", s->outpath,
		    strerror(errno));
		rc = -1;
	}
	s->out = NULL;
	if (failed || rc != 0) {
		unlink(s->outpath);
		rc = -1;
	}
	return rc;
}

/* The readline session. */

static void
chat_line_cb(char *line)
{
	struct session	*s = chat_rl_session;

	/* Off before the reply prints: readline would redraw the prompt. */
	rl_callback_handler_remove();
	s->prompt_on = 0;
	if (line == NULL) {
		s->quit = 1;
		fputc('\n', stdout);
		return;
	}
	free(s->line);
	s->line = line;
	s->line_ready = 1;
}

static void
prompt_on(struct session *s)
{
	rl_callback_handler_install(CHAT_PROMPT, chat_line_cb);
	s->prompt_on = 1;
}

/* $XDG_STATE_HOME/ttsaccel/history, its folders made; NULL without one. */
static char *
history_path(void)
{
	const char	*state, *home;
	char		*dir, *p;

	if ((state = getenv("XDG_STATE_HOME")) != NULL && *state == '/')
		dir = xasprintf("%s/ttsaccel", state);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		dir = xasprintf("%s/.local/state/ttsaccel", home);
	else
		return NULL;
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	p = xasprintf("%s/history", dir);
	free(dir);
	return p;
}

static void
history_remember(struct session *s, const char *line)
{
	HIST_ENTRY	*last;

	if (*line == '\0')
		return;
	last = history_get(history_base + history_length - 1);
	if (last != NULL && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	if (s->history != NULL) {
		if (append_history(1, s->history) != 0)
			write_history(s->history);
		history_truncate_file(s->history, CHAT_HISTORY_LINES);
	}
}

static void
chat_help(void)
{
	printf("Type a message and press Enter.  Ctrl-C stops a reply, "
	    "Ctrl-D quits.\n"
	    "  /voice NAME   speak with this voice\n"
	    "  /model NAME   chat with this model\n"
	    "  /stop         stop the last reply's audio and its syntheses\n"
	    "  /clear        forget the conversation\n"
	    "  /quit         leave\n"
	    "  /help         this text\n");
}

/* A slash command; 0 if line is not one. */
static int
chat_command(struct session *s, char *line)
{
	char	*cmd, *arg;

	if (line[0] != '/')
		return 0;
	cmd = line + 1;
	arg = cmd + strcspn(cmd, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	arg = strtrim(arg);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0)
		chat_help();
	else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "exit") == 0)
		s->quit = 1;
	else if (strcmp(cmd, "stop") == 0) {
		reply_stop(s);
		printf("(stopped)\n");
	} else if (strcmp(cmd, "clear") == 0) {
		cJSON_Delete(s->messages);
		s->messages = cJSON_CreateArray();
		printf("(conversation cleared)\n");
	} else if (strcmp(cmd, "voice") == 0 || strcmp(cmd, "model") == 0) {
		char **to = cmd[0] == 'v' ? &s->voice : &s->model;

		if (*arg == '\0')
			printf("%s: %s\n", cmd, *to != NULL ? *to :
			    "(the daemon's default)");
		else {
			free(*to);
			*to = xstrdup(arg);
			printf("%s: %s\n", cmd, *to);
		}
	} else
		printf("unknown command /%s (try /help)\n", cmd);
	return 1;
}

static int
chat_interactive(struct session *s)
{
	char	*line;

	s->interactive = 1;
	chat_rl_session = s;
	rl_readline_name = "ttsaccelctl";
	rl_catch_signals = 0;
	rl_bind_key('\t', rl_insert);
	using_history();
	if ((s->history = history_path()) != NULL)
		read_history(s->history);
	if (s->audio && s->player_cmd == NULL && s->out == NULL)
		session_warn(s, "no audio player found, audio is off (set "
		    "TTSACCEL_PLAYER or use --player CMD)");
	printf("ttsaccel chat with %s; /help for commands, Ctrl-D to quit\n",
	    s->model);
	prompt_on(s);
	while (!s->quit) {
		session_step(s, 1000);
		if (s->want_stop) {
			s->want_stop = 0;
			reply_stop(s);
		}
		if (!s->line_ready)
			continue;
		s->line_ready = 0;
		line = s->line;
		s->line = NULL;
		history_remember(s, line);
		strtrim(line);
		if (*line != '\0' && !chat_command(s, line))
			turn_run(s, line);
		free(line);
		if (!s->quit)
			prompt_on(s);
	}
	if (s->prompt_on)
		rl_callback_handler_remove();
	s->prompt_on = 0;
	audio_finish(s);
	clear_history();
	return 0;
}

static void
chat_usage(FILE *f)
{
	fprintf(f,
"usage: ttsaccelctl chat [-m MODEL] [-v VOICE] [--player CMD] [--no-audio]\n"
"                        [-o FILE] [--verbose] [PROMPT]\n"
"Chat through the daemon: the reply prints as it streams and its audio\n"
"plays as it arrives.  Without PROMPT, on a terminal, an interactive\n"
"session; else PROMPT (or stdin) is answered once.\n"
"  -m, --model MODEL   the chat model (default $TTSACCEL_MODEL, else the\n"
"                      daemon's first)\n"
"  -v, --voice VOICE   the TTS voice\n"
"  --player CMD        play with CMD (sh -c; audio on its stdin; default\n"
"                      $TTSACCEL_PLAYER, else paplay, aplay, ffplay, mpv, play)\n"
"  --no-audio          text only\n"
"  -o, --output FILE   write the reply's audio (WAV) to FILE (in a session:\n"
"                      the last reply's)\n"
"  --verbose           say the reply id and the player on stderr\n");
}

int
cmd_chat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "voice", required_argument, NULL, 'v' },
		{ "output", required_argument, NULL, 'o' },
		{ "player", required_argument, NULL, 'P' },
		{ "no-audio", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct session	 s;
	char		*prompt = NULL, *player = NULL;
	int		 c, rc = 1, r, no_audio = 0;

	chat_global_init();
	session_init(&s);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "m:v:o:h", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'm':
			free(s.model);
			s.model = xstrdup(optarg);
			break;
		case 'v':
			free(s.voice);
			s.voice = xstrdup(optarg);
			break;
		case 'o':
			free(s.outpath);
			s.outpath = xstrdup(optarg);
			break;
		case 'P':
			player = optarg;
			break;
		case 'N':
			no_audio = 1;
			break;
		case 'V':
			s.verbose = 1;
			break;
		case 'h':
			chat_usage(stdout);
			rc = 0;
			goto out;
		default:
			if (optopt != 0 && strchr("mvo", optopt) != NULL)
				fprintf(stderr, "ttsaccelctl chat: -%c needs "
				    "an argument\n", optopt);
			else
				fprintf(stderr, "ttsaccelctl chat: unknown "
				    "option '%s'\n", argv[optind - 1]);
			chat_usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (no_audio && s.outpath != NULL) {
		fprintf(stderr, "ttsaccelctl chat: --no-audio and -o exclude "
		    "each other\n");
		rc = 2;
		goto out;
	}
	prompt = join_args(argc, argv, optind);
	if (prompt == NULL && !isatty(STDIN_FILENO)) {
		if ((prompt = read_stdin()) == NULL) {
			fprintf(stderr, "ttsaccelctl: reading stdin: %s\n",
			    strerror(errno));
			goto out;
		}
	}
	if (prompt != NULL && *strtrim(prompt) == '\0') {
		fprintf(stderr, "ttsaccelctl chat: the prompt is empty\n");
		rc = 2;
		goto out;
	}
	if (!no_audio && session_sink(&s, player) != 0)
		goto out;
	s.audio = !no_audio && (s.out != NULL || s.player_cmd != NULL);
	if (chat_signals() != 0) {
		fprintf(stderr, "ttsaccelctl: pipe: %s\n", strerror(errno));
		goto out;
	}
	if ((r = session_model(&s)) != 0) {
		rc = r == -2 ? 130 : 1;
		goto out;
	}
	if (prompt == NULL) {
		rc = chat_interactive(&s);
		goto out;
	}
	if (!no_audio && !s.audio)
		fprintf(stderr, "ttsaccelctl: no audio player found, audio is "
		    "off (set TTSACCEL_PLAYER or use --player CMD)\n");
	else if (s.verbose && s.player_cmd != NULL)
		fprintf(stderr, "ttsaccelctl: player: %s\n", s.player_cmd);
	r = turn_run(&s, prompt);
	if (r == 0)
		r = audio_finish(&s);
	rc = r == 0 ? 0 : r == -2 ? 130 : 1;
	if (session_close_out(&s, rc != 0) != 0 && rc == 0)
		rc = 1;
out:
	if (s.out != NULL)
		session_close_out(&s, rc != 0);
	free(prompt);
	session_free(&s);
	chat_signals_end();
	curl_global_cleanup();
	return rc;
}

static void
say_usage(FILE *f)
{
	fprintf(f,
"usage: ttsaccelctl say [-v VOICE] [-o FILE] [--player CMD] [--verbose] TEXT\n"
"Speak TEXT (or stdin) through the daemon: to the player, or to FILE (WAV).\n"
"  -v, --voice VOICE   the TTS voice\n"
"  -o, --output FILE   write the audio to FILE\n"
"  --player CMD        play with CMD (sh -c; audio on its stdin)\n"
"  --verbose           say on stderr how the daemon served it (X-TTS-Cache)\n");
}

int
cmd_say(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "voice", required_argument, NULL, 'v' },
		{ "output", required_argument, NULL, 'o' },
		{ "player", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct session	 s;
	struct xfer	*x = NULL;
	cJSON		*req;
	char		*text = NULL, *player = NULL, *why;
	int		 c, rc = 1, r;

	chat_global_init();
	session_init(&s);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			free(s.voice);
			s.voice = xstrdup(optarg);
			break;
		case 'o':
			free(s.outpath);
			s.outpath = xstrdup(optarg);
			break;
		case 'P':
			player = optarg;
			break;
		case 'V':
			s.verbose = 1;
			break;
		case 'h':
			say_usage(stdout);
			rc = 0;
			goto out;
		default:
			if (optopt != 0 && strchr("vo", optopt) != NULL)
				fprintf(stderr, "ttsaccelctl say: -%c needs "
				    "an argument\n", optopt);
			else
				fprintf(stderr, "ttsaccelctl say: unknown "
				    "option '%s'\n", argv[optind - 1]);
			say_usage(stderr);
			rc = 2;
			goto out;
		}
	}
	text = join_args(argc, argv, optind);
	if (text == NULL && !isatty(STDIN_FILENO) &&
	    (text = read_stdin()) == NULL) {
		fprintf(stderr, "ttsaccelctl: reading stdin: %s\n",
		    strerror(errno));
		goto out;
	}
	if (text == NULL || *strtrim(text) == '\0') {
		fprintf(stderr, "ttsaccelctl say: no TEXT to speak\n");
		say_usage(stderr);
		rc = 2;
		goto out;
	}
	if (session_sink(&s, player) != 0)
		goto out;
	if (s.out == NULL && s.player_cmd == NULL) {
		fprintf(stderr, "ttsaccelctl: no audio player found (set "
		    "TTSACCEL_PLAYER, use --player CMD or -o FILE)\n");
		goto out;
	}
	if (chat_signals() != 0) {
		fprintf(stderr, "ttsaccelctl: pipe: %s\n", strerror(errno));
		goto out;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "input", text);
	if (s.voice != NULL)
		cJSON_AddStringToObject(req, "voice", s.voice);
	if (getenv("TTSACCEL_TTS_MODEL") != NULL)
		cJSON_AddStringToObject(req, "model",
		    getenv("TTSACCEL_TTS_MODEL"));
	cJSON_AddStringToObject(req, "response_format", "wav");
	x = xfer_new(&s, XF_SPEECH, "POST /v1/audio/speech",
	    "/v1/audio/speech", cJSON_PrintUnformatted(req));
	cJSON_Delete(req);
	if (session_run(&s, x) != 0) {
		rc = 130;
		goto out;
	}
	if ((why = xfer_failure(&s, x)) != NULL) {
		fprintf(stderr, "ttsaccelctl: %s\n", why);
		free(why);
		goto out;
	}
	if (s.audio_error != NULL) {
		fprintf(stderr, "ttsaccelctl: %s\n", s.audio_error);
		goto out;
	}
	if (s.verbose)
		fprintf(stderr, "ttsaccelctl: X-TTS-Cache: %s\n",
		    x->cache != NULL ? x->cache : "(none)");
	xfer_free(&s, x);
	x = NULL;
	if (s.player != NULL) {
		r = player_wait(s.player, &chat_sigint);
		player_free(s.player);
		s.player = NULL;
		if (r == -1) {
			rc = 130;
			goto out;
		}
		if (r != 0) {
			fprintf(stderr, "ttsaccelctl: the player exited with "
			    "status %d\n", r);
			goto out;
		}
	}
	rc = session_close_out(&s, 0) == 0 ? 0 : 1;
out:
	xfer_free(&s, x);
	if (s.out != NULL)
		session_close_out(&s, rc != 0);
	free(text);
	session_free(&s);
	chat_signals_end();
	curl_global_cleanup();
	return rc;
}
