/* util: allocation that never fails, string and number helpers. */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "ttsaccel: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p;

	if (n == 0)
		n = 1;
	if ((p = malloc(n)) == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if (n == 0)
		n = 1;
	if ((p = realloc(p, n)) == NULL)
		oom(n);
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		fprintf(stderr, "ttsaccel: allocation size overflow\n");
		abort();
	}
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return s;
}

int
parse_ll(const char *s, long long min, long long max, long long *out,
    const char **errstr)
{
	char		*end;
	long long	 v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0') {
		*errstr = "is empty";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0') {
		*errstr = "is not a whole number";
		return -1;
	}
	if (errno == ERANGE || v < min) {
		*errstr = "is too small";
		if (errno == ERANGE && v > 0)
			*errstr = "is too large";
		return -1;
	}
	if (v > max) {
		*errstr = "is too large";
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out, const char **errstr)
{
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s)) {
		*errstr = "is not a size (a number, optionally with K, M or G)";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE) {
		*errstr = "is too large";
		return -1;
	}
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1024ULL; end++; break;
	case 'M': mult = 1024ULL * 1024; end++; break;
	case 'G': mult = 1024ULL * 1024 * 1024; end++; break;
	}
	if (mult != 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (mult != 1 && (*end == 'b' || *end == 'B'))
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0') {
		*errstr = "is not a size (a number, optionally with K, M or G)";
		return -1;
	}
	if (v > UINT64_MAX / mult) {
		*errstr = "is too large";
		return -1;
	}
	*out = v * mult;
	return 0;
}

int
parse_double(const char *s, double min, double max, double *out,
    const char **errstr)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v)) {
		*errstr = "is not a number";
		return -1;
	}
	if (v < min || v > max) {
		*errstr = "is out of range";
		return -1;
	}
	*out = v;
	return 0;
}

int
const_time_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char	 diff = 0;
	size_t			 i;

	if (alen != blen)
		diff = 1;
	/* Walk the expected key's length whatever the candidate is. */
	for (i = 0; i < blen; i++)
		diff |= (unsigned char)(i < alen ? a[i] : 0) ^
		    (unsigned char)b[i];
	return diff == 0;
}

void
random_bytes(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ttsaccel: getrandom: %s\n",
			    strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

uint64_t
now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

char *
strtrim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
utf8_valid(const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, n, k;
	uint32_t		 cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

size_t
utf8_chars(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0;

	for (; *p != '\0'; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}
