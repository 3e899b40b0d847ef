/* sse: incremental parser for text/event-stream, keeping each event's bytes. */
#ifndef TTSACCEL_SSE_H
#define TTSACCEL_SSE_H

#include <stddef.h>

struct sse_event {
	const char	*raw;		/* the event's bytes as received,
					   blank line included */
	size_t		 rawlen;
	const char	*data;		/* data lines joined by \n, NUL-ended */
	size_t		 datalen;
	int		 has_data;	/* at least one data: line */
	const char	*event;		/* event: field or "" */
};

/* Called once per complete event; return non-zero to stop feeding. */
typedef int (*sse_event_cb)(void *, const struct sse_event *);

struct sse_parser;

/* A parser refusing events larger than maxlen bytes (0 = 8 MiB). */
struct sse_parser *sse_new(size_t maxlen);
void	 sse_free(struct sse_parser *);
/* Feed bytes cut anywhere; 0, or -1 if an event is too large or the
 * callback stopped. */
int	 sse_feed(struct sse_parser *, const char *, size_t, sse_event_cb,
	    void *);
/* End of stream: an unterminated last event is delivered if it has data. */
int	 sse_finish(struct sse_parser *, sse_event_cb, void *);
/* Bytes held that do not yet form a complete event. */
size_t	 sse_pending(const struct sse_parser *);

#endif
