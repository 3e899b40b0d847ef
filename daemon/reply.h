/* reply: the segments of each recent chat reply, for its whole audio. */
#ifndef TTSACCEL_REPLY_H
#define TTSACCEL_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

struct cJSON;
struct replies;
struct server;
struct reply;
struct reply_watch;
struct tts;

/* Segment states. */
#define RSEG_QUEUED		0
#define RSEG_SYNTHESIZING	1
#define RSEG_DONE		2
#define RSEG_FAILED		3
#define RSEG_CANCELLED		4	/* its reply was cancelled first */

/* Replies kept at most max, each for ttl usec after it ends. */
struct replies *replies_new(struct server *, struct tts *, size_t max,
	    uint64_t ttl);
void	 replies_free(struct replies *);
/* A new reply with the parameters its audio uses (copied). */
struct reply *reply_new(struct replies *, const char *,
	    const struct tts_params *);
/* Queue a segment's synthesis (prefetch priority by its index). */
void	 reply_add(struct reply *, const char *);
/* The format the chat asked for, when its audio is made in another
 * (WAV, converted): the default of its whole audio. */
void	 reply_set_format(struct reply *, const char *);
const char *reply_format(const struct reply *);
/* Some of the reply's text as it streams (kept for its code blocks). */
void	 reply_text(struct reply *, const char *, size_t);
/* The chat has ended (ok = 1 if the upstream completed). */
void	 reply_finish(struct reply *, int);
struct reply *reply_find(struct replies *, const char *);
/*
 * Cancel a reply (why: for the log): its segments not yet done are
 * cancelled, their syntheses stopped unless another reader, reply or
 * request holds them (tts_abandon); its readers end after the audio
 * done; segments it gets later are cancelled at once.  1 if cancelled
 * now; 0 if it was already, or had ended with nothing left to make.
 */
int	 reply_cancel(struct reply *, const char *);
int	 reply_cancelled(const struct reply *);

/* A part of a text to speak: segment idx of reply r, or a gap no segment
 * covers (r NULL): len bytes of the text from off; or text of reply r
 * that is not spoken (idx REPLY_UNSPOKEN: its code blocks, its list
 * numbers) and so has no audio. */
#define REPLY_UNSPOKEN	((size_t)-1)
struct reply_part {
	struct reply	*r;
	size_t		 idx;
	size_t		 off, len;
};
/*
 * Cut a (speakable) text into runs of recent replies' segments, those
 * accept(arg, reply) allows, and the gaps between, matching as norm.h
 * folds.  The number of parts (*parts to free); 0 when no segment is in
 * it.  *matched counts the parts that are segments.
 */
size_t	 reply_match(struct replies *, const char *, size_t,
	    int (*)(void *, const struct reply *), void *,
	    struct reply_part **, size_t *);
size_t	 reply_count(const struct replies *);

/* For streaming the whole reply: */
const char *reply_id(const struct reply *);
const struct tts_params *reply_params(const struct reply *);
size_t	 reply_nsegs(const struct reply *);
const char *reply_seg_text(const struct reply *, size_t);
/* Its cache key's id (tts_key_id), as watchers and tts_events show it. */
const char *reply_seg_key(const struct reply *, size_t);
int	 reply_seg_state(const struct reply *, size_t);
int	 reply_finished(const struct reply *);
/* Hold a reply while streaming it (not expired meanwhile); release it. */
void	 reply_hold(struct reply *);
void	 reply_release(struct reply *);
/* reply_release for a reader whose client left before the end: the last
 * one to leave cancels the rest of the reply after REPLY_CANCEL_GRACE
 * seconds, unless a reader comes (reply_hold) meanwhile. */
void	 reply_abandon(struct reply *);
/* cb(arg) when a segment is added or the reply ends; only the callback's
 * own watch may be removed from inside it. */
struct reply_watch *reply_watch(struct reply *, void (*)(void *), void *);
void	 reply_unwatch(struct reply_watch *);
/* The /segments listing (to cJSON_Delete). */
struct cJSON *reply_segments_json(const struct reply *);

#endif
