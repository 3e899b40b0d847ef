/* log: leveled logging to stderr, level checked before formatting. */
#include <event2/event.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "log.h"

int log_level = LOG_LVL_INFO;

static struct event	*flush_ev;
static int		 dirty;
static char		 logbuf[65536];

static const char *names[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

int
log_level_parse(const char *s)
{
	int	i;

	for (i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (strcasecmp(s, "WARN") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > 3)
		return "?";
	return names[level];
}

/* The length of the valid UTF-8 sequence at s (up to len bytes) for a
 * printable character, or 0: C1 controls, U+2028 and U+2029 count as
 * unprintable; overlong forms, surrogates and code points past U+10FFFF
 * as invalid. */
static size_t
utf8_printable(const unsigned char *s, size_t len)
{
	uint32_t	cp;
	size_t		n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
}

void
log_escape(FILE *fp, const char *str, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i, n;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\') {
			fputs("\\\\", fp);
		} else if (s[i] == '\n') {
			fputs("\\n", fp);
		} else if (s[i] == '\r') {
			fputs("\\r", fp);
		} else if (s[i] == '\t') {
			fputs("\\t", fp);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fputs("\\x", fp);
			fputc(hex[s[i] >> 4], fp);
			fputc(hex[s[i] & 15], fp);
		} else if (s[i] < 0x80) {
			fputc(s[i], fp);
		} else if ((n = utf8_printable(s + i, len - i)) > 0) {
			fwrite(s + i, 1, n, fp);
			i += n - 1;
		} else {
			fputs("\\x", fp);
			fputc(hex[s[i] >> 4], fp);
			fputc(hex[s[i] & 15], fp);
		}
	}
}

/*
 * One line: whatever the arguments hold (a client's path, an upstream's
 * message, a backend's stderr), it cannot end the line, forge another or
 * reach a terminal as a control sequence: the message is escaped here,
 * for every caller.
 */
static void
log_vwrite(int level, const char *fmt, va_list ap)
{
	struct timespec	ts;
	struct tm	tm;
	char		stamp[32], small[1024], *msg = small;
	va_list		ap2;
	int		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-7s ", stamp, ts.tv_nsec / 1000000,
	    log_level_name(level));
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof small, fmt, ap);
	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof small) {
		/* Not xmalloc: fatalx comes here. */
		if ((msg = malloc((size_t)n + 1)) != NULL)
			vsnprintf(msg, (size_t)n + 1, fmt, ap2);
		else {
			msg = small;
			n = sizeof small - 1;
		}
	}
	va_end(ap2);
	log_escape(stderr, msg, (size_t)n);
	if (msg != small)
		free(msg);
	fputc('\n', stderr);
	/* Warnings and errors at once; the rest within a tick. */
	if (flush_ev == NULL || level >= LOG_LVL_WARN)
		fflush(stderr);
	else
		dirty = 1;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	if (dirty) {
		fflush(stderr);
		dirty = 0;
	}
}

void
log_buffer(struct event_base *base)
{
	struct timeval	tv = { 0, 50000 };

	if (base == NULL) {
		if (flush_ev != NULL)
			event_free(flush_ev);
		flush_ev = NULL;
		fflush(stderr);
		setvbuf(stderr, NULL, _IONBF, 0);
		return;
	}
	setvbuf(stderr, logbuf, _IOFBF, sizeof logbuf);
	flush_ev = event_new(base, -1, EV_PERSIST, flush_cb, NULL);
	evtimer_add(flush_ev, &tv);
}

void
log_write(int level, const char *fmt, ...)
{
	va_list	ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

static void
libevent_log_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_error("libevent: %s", msg);
		break;
	}
}

void
log_hook_libevent(void)
{
	event_set_log_callback(libevent_log_cb);
}
