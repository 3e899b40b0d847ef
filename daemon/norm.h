/* norm: text folded for matching what clients send against segments (pure). */
#ifndef TTSACCEL_NORM_H
#define TTSACCEL_NORM_H

#include <stddef.h>

/*
 * Two texts that fold to the same bytes are spoken alike: compatibility
 * forms (full- and half-width), case, punctuation that only separates,
 * markdown marks, emoji and whitespace are forgiven: letters, digits,
 * their marks and currency signs are kept.  Punctuation inside numbers
 * goes too, as clients cut there ("3. 14"): 3.14 and 314 fold alike.
 */
struct norm {
	char		*s;	/* the folded bytes, NUL-terminated */
	size_t		 len;
	size_t		*src;	/* src[i]: input offset of the code point byte
				 * i came from; src[len] = the input length */
	unsigned char	*brk;	/* brk[i]: something was dropped just before
				 * byte i (brk[len]: after the last) */
};

/* Fold len bytes of UTF-8 (invalid bytes are dropped) into n. */
void	 norm_text(const char *, size_t, struct norm *);
/* Free what n holds; n may be zeroed. */
void	 norm_free(struct norm *);
/* Fold into a plain malloc'd string (no offsets); *len set if not NULL. */
char	*norm_string(const char *, size_t, size_t *);

#endif
