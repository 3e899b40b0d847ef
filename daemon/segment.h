/* segment: cut a streamed LLM reply into speakable, cleaned segments. */
#ifndef TTSACCEL_SEGMENT_H
#define TTSACCEL_SEGMENT_H

#include <stddef.h>

/* Effective lengths: a wide (CJK) code point counts 2, punctuation 0,
 * anything else 1. */
struct segment_opts {
	size_t	min_len;	/* shorter segments are joined with the next */
	size_t	max_len;	/* longer ones are cut at a soft end or a space */
	size_t	first_len;	/* first segment may end at a comma; 0 = off */
};

#define SEGMENT_MIN_LEN		5	/* SPLITTER_MIN_LEN */
#define SEGMENT_MAX_LEN		40	/* SPLITTER_MAX_LEN */
#define SEGMENT_FIRST_LEN	10	/* SPLITTER_FIRST_LEN */
/* A word (no space) longer than max_len is kept whole up to this length. */
#define SEGMENT_WORD_MAX	100

struct segmenter;

/* Fill opts with the defaults. */
void	 segment_opts_default(struct segment_opts *);
/* A segmenter for one reply; NULL opts means the defaults. */
struct segmenter *segment_new(const struct segment_opts *);
/* Free it and any segments not taken; NULL is a no-op. */
void	 segment_free(struct segmenter *);
/* Feed a delta of UTF-8 text, cut anywhere (even inside a code point). */
void	 segment_feed(struct segmenter *, const char *, size_t);
/* The reply has ended: flush what is held back. */
void	 segment_finish(struct segmenter *);
/* The next finished segment (caller frees), or NULL if none is ready. */
char	*segment_next(struct segmenter *);

/* The speakable text of a whole text, whitespace folded to single spaces
 * (malloc'd, "" if nothing is speakable). */
char	*segment_clean(const char *, size_t);
/*
 * segment_clean of a piece of a reply that a client cut, anywhere: a code
 * fence (at a line's start, or inside a line, as clients fold whitespace)
 * is only dropped, the text around it kept, since the piece alone cannot
 * tell code that a fence opens from text after code that it closes; the
 * reply can (reply_match).
 */
char	*segment_clean_piece(const char *, size_t);
/* Split a whole text into segments, calling back once per segment. */
void	 segment_split(const struct segment_opts *, const char *, size_t,
	    void (*)(void *, const char *), void *);

/* Effective length of a UTF-8 string, as the segmenter counts it. */
size_t	 segment_len(const char *, size_t);

#endif
