/* prefetch: what happens to the spoken text of a chat reply as it streams.
 *
 * Each content delta of choice 0 goes through the segmenter; every
 * finished segment is handed on as soon as it is cut.  Synthesis is not
 * wired yet: segments are logged at DEBUG, one line each.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "prefetch.h"
#include "segment.h"
#include "server.h"
#include "split.h"
#include "util.h"

struct reply {
	char			 id[24];
	struct segmenter	*seg;
	size_t			 nsegs;
};

static void
drain(struct reply *r)
{
	char	*s;

	while ((s = segment_next(r->seg)) != NULL) {
		log_debug("%s segment %zu: %s", r->id, r->nsegs, s);
		r->nsegs++;
		free(s);
	}
}

static void *
reply_begin(struct server *srv, const char *id)
{
	struct reply		*r;
	struct segment_opts	 o;

	r = xcalloc(1, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", id);
	split_opts(srv->cf, &o);
	r->seg = segment_new(&o);
	return r;
}

static void
reply_delta(void *arg, const char *text, size_t len)
{
	struct reply	*r = arg;

	segment_feed(r->seg, text, len);
	drain(r);
}

static void
reply_end(void *arg, int ok)
{
	struct reply	*r = arg;

	segment_finish(r->seg);
	drain(r);
	log_debug("%s reply %s: %zu segment(s)", r->id, ok ? "complete" :
	    "cut short", r->nsegs);
	segment_free(r->seg);
	free(r);
}

void
prefetch_init(struct server *srv)
{
	srv->reply_begin = reply_begin;
	srv->reply_delta = reply_delta;
	srv->reply_end = reply_end;
}
