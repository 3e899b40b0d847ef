/* log: leveled logging to stderr, level checked before formatting. */
#include <event2/event.h>

#include <stdarg.h>
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

static void
log_vwrite(int level, const char *fmt, va_list ap)
{
	struct timespec	ts;
	struct tm	tm;
	char		stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-7s ", stamp, ts.tv_nsec / 1000000,
	    log_level_name(level));
	vfprintf(stderr, fmt, ap);
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
