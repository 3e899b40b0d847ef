/* Unit tests for the SSE parser: events cut at every byte position. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sse.h"
#include "util.h"

struct got {
	char	raw[8192];
	size_t	rawlen;
	char	data[8192];
	size_t	datalen;
	int	n;
	int	stop_after;
};

/* Record events as "data|" separated, raw bytes concatenated. */
static int
collect(void *arg, const struct sse_event *ev)
{
	struct got	*g = arg;

	memcpy(g->raw + g->rawlen, ev->raw, ev->rawlen);
	g->rawlen += ev->rawlen;
	g->datalen += (size_t)snprintf(g->data + g->datalen,
	    sizeof g->data - g->datalen, "%s%s[%s]|",
	    ev->has_data ? "" : "nodata", ev->event, ev->data);
	g->n++;
	return g->stop_after != 0 && g->n >= g->stop_after;
}

static void
parse_split(const char *in, size_t len, size_t cut1, size_t cut2,
    struct got *g)
{
	struct sse_parser	*p = sse_new(0);

	memset(g, 0, sizeof *g);
	sse_feed(p, in, cut1, collect, g);
	sse_feed(p, in + cut1, cut2 - cut1, collect, g);
	sse_feed(p, in + cut2, len - cut2, collect, g);
	sse_finish(p, collect, g);
	sse_free(p);
}

/* Every one- and two-cut split gives the same events and raw bytes. */
static void
every_cut(const char *in, const char *want_data, int want_n)
{
	struct got	g;
	size_t		len = strlen(in), i, j;
	int		bad = 0;

	for (i = 0; i <= len; i++)
		for (j = i; j <= len; j++) {
			parse_split(in, len, i, j, &g);
			if (g.n != want_n || strcmp(g.data, want_data) != 0 ||
			    g.rawlen != len || memcmp(g.raw, in, len) != 0) {
				if (bad++ == 0)
					fprintf(stderr, "cut %zu,%zu: n=%d "
					    "data=%s\n", i, j, g.n, g.data);
			}
		}
	CHECK_INT(bad, 0);
}

int
main(void)
{
	struct sse_parser	*p;
	struct got		 g;
	char			 big[100];

	/* Plain events, with and without the space after the colon. */
	every_cut("data: {\"a\":1}\n\ndata:{\"b\":2}\n\ndata: [DONE]\n\n",
	    "[{\"a\":1}]|[{\"b\":2}]|[[DONE]]|", 3);
	/* Multi-line data joined by \n; event, id and comment lines. */
	every_cut(": keepalive\nevent: delta\nid: 7\ndata: {\"a\":\ndata: 1}\n\n",
	    "delta[{\"a\":\n1}]|", 1);
	/* CRLF and lone CR line ends. */
	every_cut("data: x\r\n\r\ndata: y\r\rdata: z\n\n",
	    "[x]|[y]|[z]|", 3);
	/* A comment-only event has no data. */
	every_cut(": ping\n\ndata: a\n\n", "nodata[]|[a]|", 2);
	/* A field with no colon; a data line with an empty value. */
	every_cut("data\n\ndata:\n\n", "[]|[]|", 2);
	/* A last event without its blank line is still delivered. */
	every_cut("data: a\n\ndata: tail", "[a]|[tail]|", 2);
	/* UTF-8 in data passes unchanged. */
	every_cut("data: {\"c\":\"你好🙂\"}\n\n", "[{\"c\":\"你好🙂\"}]|", 1);

	/* A callback that stops the feed. */
	memset(&g, 0, sizeof g);
	g.stop_after = 1;
	p = sse_new(0);
	CHECK_INT(sse_feed(p, "data: a\n\ndata: b\n\n", 18, collect, &g), -1);
	CHECK_INT(g.n, 1);
	sse_free(p);

	/* An event over the limit is refused, not buffered forever. */
	p = sse_new(64);
	memset(big, 'x', sizeof big);
	memset(&g, 0, sizeof g);
	CHECK_INT(sse_feed(p, "data: ", 6, collect, &g), 0);
	CHECK_INT(sse_feed(p, big, sizeof big, collect, &g), -1);
	CHECK_INT(g.n, 0);
	sse_free(p);

	/* Pending bytes are those of the incomplete event only. */
	p = sse_new(0);
	memset(&g, 0, sizeof g);
	sse_feed(p, "data: a\n\ndata: b", 16, collect, &g);
	CHECK_INT(sse_pending(p), 7);
	sse_free(p);
	return CHECK_DONE();
}
