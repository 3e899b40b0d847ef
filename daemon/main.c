/* main: start-up, signals, the event loop and an orderly stop. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fetch.h"
#include "log.h"
#include "prefetch.h"
#include "reply.h"
#include "server.h"
#include "split.h"
#include "tts.h"
#include "util.h"

static void
stop_now_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warn("shutdown: %zu stream(s) still running after %lld s; "
	    "closing them", srv->nstreams, srv->cf->shutdown_timeout);
	event_base_loopexit(srv->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv;

	if (sig == SIGHUP) {
		log_warn("SIGHUP: configuration reload is not supported yet; "
		    "restart to apply changes");
		return;
	}
	if (srv->stopping) {
		log_warn("second signal: stopping now");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->stopping = 1;
	server_stop_listening(srv);
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
	struct config	  cf;
	struct server	  srv;
	struct event	 *sigs[3];
	cJSON_Hooks	  hooks = { xmalloc, free };
	char		 *cause;
	int		  action, i, rc = 0;
	static const int  signos[3] = { SIGTERM, SIGINT, SIGHUP };

	cJSON_InitHooks(&hooks);
	if (config_load(&cf, argc, argv, environ, &action, &cause) != 0) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		config_clear(&cf);
		return 1;
	}
	switch (action) {
	case CONFIG_ACT_HELP:
		config_usage(stdout);
		config_clear(&cf);
		return 0;
	case CONFIG_ACT_VERSION:
		printf("ttsaccel %s\n", TTSACCEL_VERSION);
		config_clear(&cf);
		return 0;
	case CONFIG_ACT_CHECK:
		config_print(&cf, stdout);
		config_clear(&cf);
		return 0;
	case CONFIG_ACT_SPLIT:
		rc = split_stdin(&cf, stdin, stdout);
		config_clear(&cf);
		return rc;
	}
	log_level = cf.log_level;
	log_hook_libevent();
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");

	memset(&srv, 0, sizeof srv);
	srv.cf = &cf;
	srv.started = now_usec();
	if ((srv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	srv.fetch = fetch_new(srv.base);
	log_buffer(srv.base);
	if ((srv.tts = tts_new(&srv, &cause)) == NULL) {
		fprintf(stderr, "ttsaccel: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	srv.replies = replies_new(&srv, srv.tts, 1000,
	    (uint64_t)cf.cache_ttl * 1000000);
	prefetch_init(&srv);
	if (server_listen(&srv, &cause) != 0) {
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
	    TTSACCEL_VERSION, cf.host, cf.port, cf.upstream_url != NULL ?
	    cf.upstream_url : "none — chat answers 503");

	event_base_dispatch(srv.base);

	log_info("stopped");
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
out:
	/* Listeners and their connections, then transfers, then timers. */
	if (srv.http != NULL)
		evhttp_free(srv.http);
	replies_free(srv.replies);
	tts_free(srv.tts);
	fetch_free(srv.fetch);
	if (srv.stop_timer != NULL)
		event_free(srv.stop_timer);
	log_buffer(NULL);
	event_base_free(srv.base);
	curl_global_cleanup();
	config_clear(&cf);
	return rc;
}
