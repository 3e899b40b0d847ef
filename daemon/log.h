/* log: leveled logging to stderr, level checked before formatting. */
#ifndef TTSACCEL_LOG_H
#define TTSACCEL_LOG_H

#include <stddef.h>
#include <stdio.h>

struct event_base;

#define LOG_LVL_DEBUG	0
#define LOG_LVL_INFO	1
#define LOG_LVL_WARN	2
#define LOG_LVL_ERROR	3

extern int log_level;

/* Parse DEBUG/INFO/WARNING/ERROR (any case, WARN too); -1 if unknown. */
int	 log_level_parse(const char *);
/* The canonical name of a level. */
const char *log_level_name(int);
/* Buffer log lines, flushed every 50 ms on base's loop (warnings and
 * errors at once); NULL stops that and flushes. */
void	 log_buffer(struct event_base *);
/* Write len bytes to fp with anything a terminal or a log reader could
 * take for something else escaped: a backslash doubled; newline, return
 * and tab as backslash-n, -r, -t; other control bytes (ESC, DEL, C1),
 * U+2028, U+2029 and bytes that are not valid UTF-8 as backslash-xHH. */
void	 log_escape(FILE *, const char *, size_t);
/* Route libevent's own messages through us. */
void	 log_hook_libevent(void);

void	 log_write(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_debug(...) do { if (log_level <= LOG_LVL_DEBUG) \
	log_write(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_level <= LOG_LVL_INFO) \
	log_write(LOG_LVL_INFO, __VA_ARGS__); } while (0)
#define log_warn(...) do { if (log_level <= LOG_LVL_WARN) \
	log_write(LOG_LVL_WARN, __VA_ARGS__); } while (0)
#define log_error(...) log_write(LOG_LVL_ERROR, __VA_ARGS__)

#endif
