/* util: allocation that never fails, string and number helpers. */
#ifndef TTSACCEL_UTIL_H
#define TTSACCEL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocate or die: out of memory is fatal. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Parse a decimal integer in [min, max]; 0 on success, -1 with *errstr set. */
int	 parse_ll(const char *s, long long min, long long max, long long *out,
	    const char **errstr);
/* Parse a non-negative decimal number of seconds or a size with an optional
 * K/M/G (KiB, MiB, GiB) suffix into *out; 0 or -1 with *errstr set. */
int	 parse_size(const char *, uint64_t *, const char **);
/* Parse a decimal fraction in [min, max]. */
int	 parse_double(const char *s, double min, double max, double *out,
	    const char **errstr);

/* Compare two strings in time that depends only on their lengths. */
int	 const_time_eq(const char *, size_t, const char *, size_t);

/* Fill with bytes from the kernel's random source. */
void	 random_bytes(void *, size_t);

/* Monotonic clock in microseconds. */
uint64_t now_usec(void);

/* Trim ASCII whitespace at both ends, in place; returns its argument. */
char	*strtrim(char *);

/* Is this byte sequence valid UTF-8 (no overlongs, no surrogates)? */
int	 utf8_valid(const char *, size_t);
/* The code points of a NUL-terminated UTF-8 string (bytes that do not
 * continue a sequence). */
size_t	 utf8_chars(const char *);

#endif
