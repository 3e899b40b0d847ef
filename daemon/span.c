/* span: find the segments of recent replies that a client's text is made of (pure). */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "norm.h"
#include "span.h"
#include "util.h"

/* Segments are found by their first SPAN_KEY bytes; shorter ones are
 * kept on a list of their own and tried everywhere. */
#define SPAN_KEY	6
#define SPAN_MINBUCKETS	64

struct span_seg {
	void		*owner;
	size_t		 idx;
	char		*s;
	size_t		 len;
	uint64_t	 seq;
	size_t		 bucket;	/* SIZE_MAX: on the short list */
	struct span_seg	*next, *prev;
};

struct span_index {
	unsigned char	  seed[16];
	struct span_seg	**b;
	size_t		  nb, n;
	struct span_seg	 *shorts;
	uint64_t	  seq;
};

static size_t
bucket_of(const struct span_index *x, const char *s)
{
	return (size_t)(siphash24(x->seed, s, SPAN_KEY) & (x->nb - 1));
}

static void
link_seg(struct span_index *x, struct span_seg *g)
{
	struct span_seg	**head;

	if (g->len < SPAN_KEY) {
		g->bucket = SIZE_MAX;
		head = &x->shorts;
	} else {
		g->bucket = bucket_of(x, g->s);
		head = &x->b[g->bucket];
	}
	g->prev = NULL;
	g->next = *head;
	if (*head != NULL)
		(*head)->prev = g;
	*head = g;
}

static void
unlink_seg(struct span_index *x, struct span_seg *g)
{
	if (g->prev != NULL)
		g->prev->next = g->next;
	else if (g->bucket == SIZE_MAX)
		x->shorts = g->next;
	else
		x->b[g->bucket] = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
}

static void
grow(struct span_index *x)
{
	struct span_seg	**old = x->b, *g, *next;
	size_t		  nold = x->nb, i;

	x->nb = nold * 2;
	x->b = xcalloc(x->nb, sizeof *x->b);
	for (i = 0; i < nold; i++)
		for (g = old[i]; g != NULL; g = next) {
			next = g->next;
			link_seg(x, g);
		}
	free(old);
}

struct span_index *
span_index_new(const unsigned char *seed)
{
	struct span_index	*x;

	x = xcalloc(1, sizeof *x);
	memcpy(x->seed, seed, sizeof x->seed);
	x->nb = SPAN_MINBUCKETS;
	x->b = xcalloc(x->nb, sizeof *x->b);
	return x;
}

static void
free_chain(struct span_seg *g)
{
	struct span_seg	*next;

	for (; g != NULL; g = next) {
		next = g->next;
		free(g->s);
		free(g);
	}
}

void
span_index_free(struct span_index *x)
{
	size_t	i;

	if (x == NULL)
		return;
	for (i = 0; i < x->nb; i++)
		free_chain(x->b[i]);
	free_chain(x->shorts);
	free(x->b);
	free(x);
}

struct span_seg *
span_add(struct span_index *x, void *owner, size_t idx, const char *s,
    size_t len)
{
	struct span_seg	*g;

	if (len == 0)
		return NULL;
	if (x->n + 1 > x->nb)
		grow(x);
	g = xcalloc(1, sizeof *g);
	g->owner = owner;
	g->idx = idx;
	g->s = xmalloc(len + 1);
	memcpy(g->s, s, len);
	g->s[len] = '\0';
	g->len = len;
	g->seq = ++x->seq;
	link_seg(x, g);
	x->n++;
	return g;
}

void
span_remove(struct span_index *x, struct span_seg *g)
{
	if (g == NULL)
		return;
	unlink_seg(x, g);
	x->n--;
	free(g->s);
	free(g);
}

size_t
span_count(const struct span_index *x)
{
	return x->n;
}

const char *
span_seg_text(const struct span_seg *g, size_t *len)
{
	*len = g->len;
	return g->s;
}

struct matcher {
	struct span_index	*x;
	const struct norm	*q;
	int			(*accept)(void *, void *);
	void			*arg;
	struct span_part	**v;	/* the parts so far */
	size_t			*n;
};

/*
 * Is g one of the parts already?  A text says each segment of a reply
 * once: the same words again further on are something the reply does
 * not speak there (its code: "python3 -m venv .venv" in a block after
 * the sentence "...with python3 -m venv .venv.").
 */
static int
used(const struct matcher *m, const struct span_seg *g)
{
	size_t	i;

	for (i = 0; i < *m->n; i++)
		if ((*m->v)[i].owner == g->owner && (*m->v)[i].idx == g->idx)
			return 1;
	return 0;
}

/* Does g lie at p in the text (and may it be used)? */
static int
lies_at(const struct matcher *m, const struct span_seg *g, size_t p)
{
	return g->len <= m->q->len - p &&
	    memcmp(m->q->s + p, g->s, g->len) == 0 &&
	    m->accept(m->arg, g->owner) && !used(m, g);
}

/* The segments that may start at p: its bucket's, then the short ones. */
static const struct span_seg *
first_at(const struct matcher *m, size_t p)
{
	const struct span_seg	*g = NULL;

	if (m->q->len - p >= SPAN_KEY)
		g = m->x->b[bucket_of(m->x, m->q->s + p)];
	return g != NULL ? g : m->x->shorts;
}

static const struct span_seg *
next_at(const struct matcher *m, const struct span_seg *g)
{
	return g->next != NULL || g->bucket == SIZE_MAX ? g->next :
	    m->x->shorts;
}

static const struct span_seg *
find_at(const struct matcher *m, size_t p, const void *owner, size_t idx)
{
	const struct span_seg	*g;

	for (g = first_at(m, p); g != NULL; g = next_at(m, g))
		if (g->owner == owner && g->idx == idx && lies_at(m, g, p))
			return g;
	return NULL;
}

static const struct span_seg *successor(const struct matcher *,
	    const struct span_seg *);

/* Is the text from e on, to its end, the start of g's successor? */
static int
ends_in_successor(const struct matcher *m, const struct span_seg *g,
    size_t e)
{
	const struct span_seg	*h;
	size_t			 rest = m->q->len - e;

	if (rest < SPAN_KEY)
		h = successor(m, g);
	else
		for (h = m->x->b[bucket_of(m->x, m->q->s + e)]; h != NULL;
		    h = h->next)
			if (h->owner == g->owner && h->idx == g->idx + 1)
				break;
	return h != NULL && h->len > rest &&
	    memcmp(h->s, m->q->s + e, rest) == 0;
}

/*
 * Ends g's match at a separator, the end, or where its successor goes on
 * (whole, or to the text's end: "...方法来" then "提高效率，比" of
 * "提高效率，比如...")?
 */
static int
ends_well(const struct matcher *m, const struct span_seg *g, size_t p)
{
	size_t	e = p + g->len;

	return e == m->q->len || m->q->brk[e] ||
	    find_at(m, e, g->owner, g->idx + 1) != NULL ||
	    ends_in_successor(m, g, e);
}

/* Is a better than b as the segment at p after prev? */
static int
better(const struct span_seg *a, const struct span_seg *b,
    const struct span_seg *prev)
{
	int	ca, cb;

	if (b == NULL)
		return 1;
	ca = prev != NULL && a->owner == prev->owner && a->idx == prev->idx + 1;
	cb = prev != NULL && b->owner == prev->owner && b->idx == prev->idx + 1;
	if (ca != cb)
		return ca;
	if (a->len != b->len)
		return a->len > b->len;
	return a->seq > b->seq;
}

static const struct span_seg *
best_at(const struct matcher *m, size_t p, const struct span_seg *prev)
{
	const struct span_seg	*g, *best = NULL;

	for (g = first_at(m, p); g != NULL; g = next_at(m, g))
		if (lies_at(m, g, p) && ends_well(m, g, p) &&
		    better(g, best, prev))
			best = g;
	return best;
}

/* The segment that follows prev in its owner, if it is indexed: a walk
 * of the whole index, so only for a rest too short to have a bucket. */
static const struct span_seg *
successor(const struct matcher *m, const struct span_seg *prev)
{
	const struct span_seg	*g;
	size_t			 i;

	for (i = 0; i <= m->x->nb; i++)
		for (g = i < m->x->nb ? m->x->b[i] : m->x->shorts; g != NULL;
		    g = g->next)
			if (g->owner == prev->owner && g->idx == prev->idx + 1)
				return g;
	return NULL;
}

/* The segment the rest of the text (from p) is the start of, going on
 * from prev if there is one.  A rest shorter than a bucket's key (a cut
 * a few letters or one CJK character into the next segment: "sli" of
 * "slightly", "比" of "比如") is taken only as the start of prev's
 * successor. */
static const struct span_seg *
over_at(const struct matcher *m, size_t p, const struct span_seg *prev)
{
	const struct span_seg	*g, *best = NULL;
	size_t			 rest = m->q->len - p;

	if (rest < SPAN_KEY) {
		if (prev == NULL || (g = successor(m, prev)) == NULL ||
		    g->len <= rest || memcmp(g->s, m->q->s + p, rest) != 0 ||
		    !m->accept(m->arg, g->owner) || used(m, g))
			return NULL;
		return g;
	}
	for (g = m->x->b[bucket_of(m->x, m->q->s + p)]; g != NULL;
	    g = g->next)
		if (g->len > rest && memcmp(g->s, m->q->s + p, rest) == 0 &&
		    (prev == NULL || (g->owner == prev->owner &&
		    g->idx == prev->idx + 1)) && m->accept(m->arg, g->owner) &&
		    !used(m, g) && better(g, best, prev))
			best = g;
	return best;
}

static void
push(struct span_part **v, size_t *n, const struct norm *q, void *owner,
    size_t idx, size_t from, size_t to)
{
	struct span_part	*pt;

	*v = xreallocarray(*v, *n + 1, sizeof **v);
	pt = &(*v)[(*n)++];
	pt->owner = owner;
	pt->idx = idx;
	pt->from = from;
	pt->to = to;
	pt->src_from = q->src[from];
	pt->src_to = q->src[to];
	pt->over = 0;
}

size_t
span_match(struct span_index *x, const struct norm *q, size_t start,
    const struct span_seg *after, int (*accept)(void *, void *), void *arg,
    struct span_part **parts, size_t *matched)
{
	const struct span_seg	*g, *o, *prev = after;
	struct span_part	*v = NULL;
	size_t			 n = 0, p = start, last_end = start;
	struct matcher		 m = { x, q, accept, arg, &v, &n };
	size_t			 gap = SIZE_MAX;

	*matched = 0;
	while (p < q->len) {
		g = NULL;
		if (p == start || q->brk[p] || p == last_end) {
			g = best_at(&m, p, prev);
			/* Another reply's segment that says less than one
			 * the whole rest is the start of ("One." of an
			 * earlier reply, "One tip is..." of this one): the
			 * rest's. */
			if (g != NULL && g->len < q->len - p &&
			    (o = over_at(&m, p, prev)) != NULL &&
			    o->owner != g->owner)
				g = NULL;
			if (g == NULL && (g = over_at(&m, p, prev)) != NULL) {
				if (gap != SIZE_MAX)
					push(&v, &n, q, NULL, 0, gap, p);
				gap = SIZE_MAX;
				push(&v, &n, q, g->owner, g->idx, p, q->len);
				v[n - 1].over = 1;
				(*matched)++;
				p = q->len;
				break;
			}
		}
		if (g != NULL) {
			if (gap != SIZE_MAX)
				push(&v, &n, q, NULL, 0, gap, p);
			gap = SIZE_MAX;
			push(&v, &n, q, g->owner, g->idx, p, p + g->len);
			(*matched)++;
			p += g->len;
			last_end = p;
			prev = g;
			continue;
		}
		if (gap == SIZE_MAX)
			gap = p;
		prev = NULL;
		do
			p++;
		while (p < q->len && ((unsigned char)q->s[p] & 0xc0) == 0x80);
	}
	if (gap != SIZE_MAX)
		push(&v, &n, q, NULL, 0, gap, q->len);
	/* The first part starts at the input's start, the last ends at its
	 * end: what was dropped around them goes with them. */
	if (n > 0) {
		v[0].src_from = start == 0 ? 0 : q->src[start];
		v[n - 1].src_to = q->src[q->len];
	}
	*parts = v;
	return n;
}
