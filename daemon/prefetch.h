/* prefetch: what happens to the spoken text of a chat reply as it streams. */
#ifndef TTSACCEL_PREFETCH_H
#define TTSACCEL_PREFETCH_H

#include <stddef.h>

struct server;

/* Install the reply hooks on the server. */
void	 prefetch_init(struct server *);

#endif
