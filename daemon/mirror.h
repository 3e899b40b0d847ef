/* mirror: replies another instance serves, followed through the shared tier. */
#ifndef TTSACCEL_MIRROR_H
#define TTSACCEL_MIRROR_H

struct mirrors;
struct mirror_wait;
struct reply;
struct server;

struct mirrors *mirrors_new(struct server *);
/* Stop following; the replies made stay with srv->replies. */
void	 mirrors_free(struct mirrors *);
/*
 * Reply id is not here: ask the shared tier.  cb(arg, reply) once, from
 * the loop, with a local copy of it (its segments obtained through the
 * cache like any, following it while it grows) or NULL if no instance
 * has it.  NULL when the tier cannot be asked (no callback then).
 */
struct mirror_wait *mirror_find(struct mirrors *, const char *,
	    void (*)(void *, struct reply *), void *);
/* The asker is gone: no callback. */
void	 mirror_wait_cancel(struct mirror_wait *);

#endif
