/* main: start-up, signals, the event loop and an orderly stop. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>

#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "config.h"
#include "conn.h"
#include "encode.h"
#include "fetch.h"
#include "http.h"
#include "log.h"
#include "mirror.h"
#include "prefetch.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "split.h"
#include "tts.h"
#include "upstream.h"
#include "util.h"

/* Seconds the error events of cut streams have to be written out. */
#define STOP_FLUSH_SEC	2

/* Descriptors besides the connections and their transfers: listeners,
 * the admin socket and its clients, the log, the workers' pipes, idle
 * connections libcurl keeps for reuse (CURLMOPT_MAXCONNECTS). */
#define NOFILE_SLACK	(64 + 256)
/* The soft limit asked for when the hard one is unlimited. */
#define NOFILE_UNLIMITED	1048576

/* The command line, kept for reloads. */
static int	  main_argc;
static char	**main_argv;

/*
 * Raise the soft descriptor limit to the hard one, log it, and warn when
 * it is too low for MAX_CONNECTIONS: each connection may hold a chat's
 * upstream transfer besides its own socket, and every TTS endpoint up to
 * TTS_MAX_CONCURRENT_PER_ENDPOINT transfers, Redis its followers.
 */
static void
main_nofile(const struct config *cf, size_t nendpoints)
{
	struct rlimit	rl;
	rlim_t		old, want;
	unsigned long long need;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	old = rl.rlim_cur;
	want = rl.rlim_max == RLIM_INFINITY ? NOFILE_UNLIMITED : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the descriptor limit from %llu "
			    "to %llu: %s", (unsigned long long)old,
			    (unsigned long long)want, strerror(errno));
			rl.rlim_cur = old;
		}
	}
	if (rl.rlim_cur == old)
		log_info("descriptor limit: %llu (hard limit %llu)",
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
	else
		log_info("descriptor limit: %llu (raised from %llu to the "
		    "hard limit)", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)old);
	need = 2 * (unsigned long long)cf->max_connections +
	    (unsigned long long)nendpoints *
	    (unsigned long long)cf->tts_max_concurrent + NOFILE_SLACK;
	if (cf->redis_url != NULL)
		need += (unsigned long long)cf->redis_follow_max + 2;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("descriptor limit %llu is below the %llu that "
		    "MAX_CONNECTIONS=%lld needs (a client's socket and its "
		    "upstream's each, with TTS and Redis transfers); past it "
		    "connections wait unaccepted: raise the hard limit "
		    "(ulimit -Hn, or LimitNOFILE= in the systemd unit) or "
		    "lower MAX_CONNECTIONS", (unsigned long long)rl.rlim_cur,
		    need, cf->max_connections);
}

/* Are two settings the same (either may be unset)? */
static int
main_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Re-read the configuration from the same sources as at start-up.  On an
 * error nothing changes (-1 with *cause).  Nothing keeps pointers into a
 * configuration: the endpoints copy what they need and everything else
 * reads srv->cf when it uses it, so the old one is freed after the swap.
 */
static int
main_reload(struct server *srv, char **cause)
{
	extern char	**environ;
	struct config	 *cf, *old = srv->cf;
	int		  action;

	cf = xcalloc(1, sizeof *cf);
	if (config_load(cf, main_argc, main_argv, environ, &action,
	    cause) != 0) {
		log_warn("reload failed, old configuration kept: %s", *cause);
		config_clear(cf);
		free(cf);
		return -1;
	}
	if (!main_same(cf->host, old->host) || cf->port != old->port)
		log_warn("reload: the listen address changed; it takes effect "
		    "at the next start");
	if (!main_same(cf->redis_url, old->redis_url) ||
	    !main_same(cf->redis_prefix, old->redis_prefix))
		log_warn("reload: REDIS_URL or REDIS_PREFIX changed; it takes "
		    "effect at the next start");
	if (!main_same(cf->socket_path, old->socket_path))
		log_warn("reload: TTSACCEL_SOCKET changed; it takes effect at "
		    "the next start");
	srv->cf = cf;
	if (tts_sync_endpoints(srv->tts, cause) != 0) {
		srv->cf = old;
		log_warn("reload failed, old configuration kept: %s", *cause);
		config_clear(cf);
		free(cf);
		return -1;
	}
	log_level = cf->log_level;
	main_nofile(cf, tts_endpoint_count(srv->tts));
	config_clear(old);
	free(old);
	log_info("configuration reloaded%s%s: %zu endpoint(s), log level %s",
	    cf->file != NULL ? " from " : "", cf->file != NULL ? cf->file : "",
	    tts_endpoint_count(srv->tts), log_level_name(log_level));
	return 0;
}

/* The last bytes (error events) had their time to leave. */
static void
stop_flushed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warn("shutdown: %zu stream(s) not flushed; closing them",
	    srv->nstreams);
	event_base_loopexit(srv->base, NULL);
}

/* Cut what still runs: chat streams end with an error event, audio
 * streams are cut short, requests not yet answered get a 503; the loop
 * ends when they are written out (at most STOP_FLUSH_SEC later). */
static void
stop_cut(struct server *srv)
{
	struct timeval	tv = { STOP_FLUSH_SEC, 0 };

	http_streams_cut();
	if (srv->nstreams == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (srv->stop_timer == NULL)
		srv->stop_timer = evtimer_new(srv->base, stop_flushed_cb, srv);
	else {
		/* Maybe inside its own callback: reused, not freed. */
		evtimer_del(srv->stop_timer);
		evtimer_assign(srv->stop_timer, srv->base, stop_flushed_cb,
		    srv);
	}
	evtimer_add(srv->stop_timer, &tv);
}

static void
stop_now_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warn("shutdown: %zu stream(s) still running after %lld s; "
	    "cutting them", srv->nstreams, srv->cf->shutdown_timeout);
	stop_cut(srv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv;

	char		*cause = NULL;

	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading the configuration");
		if (main_reload(srv, &cause) != 0)
			free(cause);
		return;
	}
	if (srv->stopping) {
		log_warn("second signal: stopping now");
		stop_cut(srv);
		return;
	}
	srv->stopping = 1;
	http_stop_listening(srv);
	log_info("%s: no longer accepting; waiting for %zu stream(s)",
	    strsignal(sig), srv->nstreams);
	if (srv->nstreams == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	tv.tv_sec = srv->cf->shutdown_timeout;
	tv.tv_usec = 0;
	srv->stop_timer = evtimer_new(srv->base, stop_now_cb, srv);
	evtimer_add(srv->stop_timer, &tv);
}

int
main(int argc, char **argv)
{
	extern char	**environ;
	struct config	 *cf;
	struct server	  srv;
	struct admin	 *admin = NULL;
	struct event	 *sigs[3];
	cJSON_Hooks	  hooks = { xmalloc, free };
	char		 *cause;
	int		  action, i, rc = 0;
	static const int  signos[3] = { SIGTERM, SIGINT, SIGHUP };

	cJSON_InitHooks(&hooks);
	main_argc = argc;
	main_argv = argv;
	cf = xcalloc(1, sizeof *cf);
	if (config_load(cf, argc, argv, environ, &action, &cause) != 0) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		config_clear(cf);
		free(cf);
		return 1;
	}
	switch (action) {
	case CONFIG_ACT_HELP:
		config_usage(stdout);
		config_clear(cf);
		free(cf);
		return 0;
	case CONFIG_ACT_VERSION:
		printf("ttsaccel %s\n", TTSACCEL_VERSION);
		config_clear(cf);
		free(cf);
		return 0;
	case CONFIG_ACT_CHECK:
		config_print(cf, stdout);
		config_clear(cf);
		free(cf);
		return 0;
	case CONFIG_ACT_SPLIT:
		rc = split_stdin(cf, stdin, stdout);
		config_clear(cf);
		free(cf);
		return rc;
	}
	log_level = cf->log_level;
	log_hook_libevent();
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");

	server_init(&srv, cf);
	if ((srv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	srv.fetch = fetch_new(srv.base);
	log_buffer(srv.base);
	if (cf->redis_url != NULL &&
	    (srv.shared = shared_new(srv.base, &srv.cf, &cause)) == NULL) {
		fprintf(stderr, "ttsaccel: REDIS_URL: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if ((srv.tts = tts_new(&srv, &cause)) == NULL) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	main_nofile(cf, tts_endpoint_count(srv.tts));
	if ((srv.encode = encode_new(srv.base, tts_cache(srv.tts), &cause)) ==
	    NULL) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	srv.replies = replies_new(&srv, srv.tts, 1000,
	    (uint64_t)cf->cache_ttl * 1000000);
	if (srv.shared != NULL)
		srv.mirrors = mirrors_new(&srv);
	prefetch_init(&srv);
	if (http_listen(&srv, api_route, &cause) != 0) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if ((admin = admin_new(&srv, main_reload, &cause)) == NULL) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(srv.base, signos[i], signal_cb, &srv);
		evsignal_add(sigs[i], NULL);
	}
	log_info("ttsaccel %s listening on http://%s:%lld/ (upstream: %s)",
	    TTSACCEL_VERSION, cf->host, cf->port, cf->upstream_url != NULL ?
	    cf->upstream_url : "none — chat answers 503");
	srv.upstream = upstream_new(&srv);

	event_base_dispatch(srv.base);

	log_info("stopped");
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
out:
	/* Listeners and their connections, then transfers, then timers. */
	admin_free(admin);
	http_stop_listening(&srv);
	conns_free(srv.conns);
	if (srv.http != NULL)
		evhttp_free(srv.http);
	/* The connections' buffers are finalised on the loop: let that run
	 * now, so that audio they still referred to is let go while the
	 * cache is there (not in event_base_free, after it). */
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	mirrors_free(srv.mirrors);
	replies_free(srv.replies);
	encode_free(srv.encode);	/* its entries are the cache's */
	tts_free(srv.tts);
	shared_free(srv.shared);
	upstream_free(srv.upstream);
	fetch_free(srv.fetch);
	if (srv.stop_timer != NULL)
		event_free(srv.stop_timer);
	log_buffer(NULL);
	event_base_free(srv.base);
	curl_global_cleanup();
	/* A reload may have replaced the configuration. */
	config_clear(srv.cf);
	free(srv.cf);
	return rc;
}
