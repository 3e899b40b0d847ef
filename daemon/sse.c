/* sse: incremental parser for text/event-stream, keeping each event's bytes. */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "util.h"

struct sse_parser {
	char	*buf;		/* bytes of the current event, unparsed tail */
	size_t	 len, cap;
	size_t	 pos;		/* parsed up to here */
	char	*data;		/* data field being built */
	size_t	 dlen, dcap;
	int	 has_data;
	char	 event[64];
	size_t	 maxlen;
};

struct sse_parser *
sse_new(size_t maxlen)
{
	struct sse_parser	*p;

	p = xcalloc(1, sizeof *p);
	p->maxlen = maxlen != 0 ? maxlen : 8 * 1024 * 1024;
	return p;
}

void
sse_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	free(p->data);
	free(p);
}

size_t
sse_pending(const struct sse_parser *p)
{
	return p->len;
}

static void
data_append(struct sse_parser *p, const char *s, size_t n)
{
	if (p->dlen + n + 2 > p->dcap) {
		p->dcap = (p->dlen + n + 2) * 2;
		p->data = xrealloc(p->data, p->dcap);
	}
	memcpy(p->data + p->dlen, s, n);
	p->dlen += n;
	p->data[p->dlen] = '\0';
}

/* One line (without its end) of the current event. */
static void
field(struct sse_parser *p, const char *line, size_t n)
{
	const char	*colon, *v;
	size_t		 nlen, vlen;

	if (n == 0 || line[0] == ':')
		return;
	colon = memchr(line, ':', n);
	nlen = colon != NULL ? (size_t)(colon - line) : n;
	v = colon != NULL ? colon + 1 : line + n;
	vlen = n - (size_t)(v - line);
	if (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (p->has_data)
			data_append(p, "\n", 1);
		data_append(p, v, vlen);
		p->has_data = 1;
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		if (vlen >= sizeof p->event)
			vlen = sizeof p->event - 1;
		memcpy(p->event, v, vlen);
		p->event[vlen] = '\0';
	}
}

static int
dispatch(struct sse_parser *p, size_t end, sse_event_cb cb, void *arg)
{
	struct sse_event	ev;
	int			rc;

	if (p->data == NULL)
		data_append(p, "", 0);
	ev.raw = p->buf;
	ev.rawlen = end;
	ev.data = p->data;
	ev.datalen = p->dlen;
	ev.has_data = p->has_data;
	ev.event = p->event;
	rc = cb(arg, &ev);
	memmove(p->buf, p->buf + end, p->len - end);
	p->len -= end;
	p->pos = 0;
	p->dlen = 0;
	p->data[0] = '\0';
	p->has_data = 0;
	p->event[0] = '\0';
	return rc;
}

/* Parse complete lines; at_eof lets a trailing CR end its line. */
static int
parse(struct sse_parser *p, int at_eof, sse_event_cb cb, void *arg)
{
	size_t	i, eol, next;

	while (p->pos < p->len) {
		for (i = p->pos; i < p->len; i++)
			if (p->buf[i] == '\n' || p->buf[i] == '\r')
				break;
		if (i == p->len)
			break;			/* incomplete line */
		eol = i;
		if (p->buf[i] == '\r') {
			if (i + 1 == p->len && !at_eof)
				break;		/* CR or CRLF? wait */
			next = (i + 1 < p->len && p->buf[i + 1] == '\n') ?
			    i + 2 : i + 1;
		} else
			next = i + 1;
		if (eol == p->pos) {
			/* Blank line: the event is complete. */
			if (dispatch(p, next, cb, arg) != 0)
				return -1;
			continue;
		}
		field(p, p->buf + p->pos, eol - p->pos);
		p->pos = next;
	}
	return 0;
}

int
sse_feed(struct sse_parser *p, const char *s, size_t n, sse_event_cb cb,
    void *arg)
{
	if (n > p->maxlen || p->len + n > p->maxlen)
		return -1;
	if (n == 0)
		return 0;
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2;
		if (p->cap < 4096)
			p->cap = 4096;
		p->buf = xrealloc(p->buf, p->cap);
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	return parse(p, 0, cb, arg);
}

int
sse_finish(struct sse_parser *p, sse_event_cb cb, void *arg)
{
	if (parse(p, 1, cb, arg) != 0)
		return -1;
	if (p->pos < p->len) {
		field(p, p->buf + p->pos, p->len - p->pos);
		p->pos = p->len;
	}
	if (p->has_data)
		return dispatch(p, p->len, cb, arg) != 0 ? -1 : 0;
	p->len = p->pos = 0;
	return 0;
}
