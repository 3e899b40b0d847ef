/* server: the daemon's context — made ready, the watchers' events, the
 * count of streams that a shutdown waits for. */
#include <cjson/cJSON.h>
#include <event2/event.h>

#include <string.h>

#include "server.h"
#include "util.h"

void
server_init(struct server *srv, struct config *cf)
{
	memset(srv, 0, sizeof *srv);
	srv->cf = cf;
	srv->started = now_usec();
	srv->h_upstream_first.name = "ttsaccel_upstream_first_byte_seconds";
	srv->h_upstream_first.help = "From a chat request to the upstream's "
	    "answer.";
	srv->h_first_segment.name = "ttsaccel_first_segment_queued_seconds";
	srv->h_first_segment.help = "From a chat request to its first segment "
	    "queued for synthesis.";
	srv->h_first_audio.name = "ttsaccel_first_audio_byte_seconds";
	srv->h_first_audio.help = "From an audio request to its first byte "
	    "sent.";
}

void
server_emit(struct server *srv, const char *type, cJSON *data)
{
	if (srv->emit != NULL && srv->nwatchers > 0)
		srv->emit(srv, type, data);
	else
		cJSON_Delete(data);
}

void
server_stream_done(struct server *srv)
{
	srv->nstreams--;
	if (srv->stopping && srv->nstreams == 0)
		event_base_loopexit(srv->base, NULL);
}
