/* loop: running an event loop until work is done, for the unit tests. */
#ifndef TTSACCEL_TEST_LOOP_H
#define TTSACCEL_TEST_LOOP_H

#include <event2/event.h>

static void
loop_hang_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Dispatch base until *left is 0 (the callbacks that count it down break
 * the loop) or a minute has passed. */
static void
loop_run(struct event_base *base, int *left)
{
	struct timeval	 tv = { 60, 0 };
	struct event	*hang;

	if (*left == 0)
		return;
	hang = evtimer_new(base, loop_hang_cb, base);
	evtimer_add(hang, &tv);
	while (*left > 0 && evtimer_pending(hang, NULL))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(hang);
}

#endif
