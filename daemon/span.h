/* span: find the segments of recent replies that a client's text is made of (pure). */
#ifndef TTSACCEL_SPAN_H
#define TTSACCEL_SPAN_H

#include <stddef.h>
#include <stdint.h>

struct norm;
struct span_index;
struct span_seg;

/*
 * A part of a matched text: a segment (owner != NULL, its index) or a gap
 * no segment covers (owner NULL).  from and to are offsets in the folded
 * text; src_from and src_to the input bytes they came from.
 */
struct span_part {
	void		*owner;
	size_t		 idx;
	size_t		 from, to;
	size_t		 src_from, src_to;
	int		 over;	/* the text ends inside this segment */
};

/* An index keyed by seed (16 random bytes). */
struct span_index *span_index_new(const unsigned char *);
/* Free the index and every segment still in it. */
void	 span_index_free(struct span_index *);
/* Add segment idx of owner, its folded text (copied); a handle back. */
struct span_seg *span_add(struct span_index *, void *, size_t, const char *,
	    size_t);
/* Take a segment out (NULL is a no-op). */
void	 span_remove(struct span_index *, struct span_seg *);
size_t	 span_count(const struct span_index *);
/* A segment's folded text and its length. */
const char *span_seg_text(const struct span_seg *, size_t *);
/*
 * Cut a folded text, from offset start, into parts, earliest first: runs
 * of indexed segments (those accept(arg, owner) allows; a following
 * segment of the same owner preferred, then the longest, then the newest)
 * and the gaps between them.  A text that ends inside a segment (a client
 * cut where the segmenter did not: "Git 2." of "Git 2.40 and later") ends
 * with that whole segment, marked over.  after, if not NULL, is the
 * segment the text at start goes on from (a client's next piece after
 * one that ended inside it).  Returns the number of parts (*parts to
 * free); *matched the number of them that are segments.
 */
size_t	 span_match(struct span_index *, const struct norm *, size_t,
	    const struct span_seg *, int (*)(void *, void *), void *,
	    struct span_part **, size_t *);

#endif
