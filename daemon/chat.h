/* chat: OpenAI chat request rewriting and streamed-reply assembly (pure). */
#ifndef TTSACCEL_CHAT_H
#define TTSACCEL_CHAT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The proxy's own fields, taken out of a chat request. */
struct chat_tts {
	int	 enabled;	/* tts_enabled, default 1 */
	int	 events;	/* tts_events, default 0 */
	char	*model;		/* tts_model or NULL */
	char	*voice;
	char	*format;
	double	 speed;		/* tts_speed, 0 = unset */
};

struct req_error;

/*
 * Rewrite a client's chat request for upstream: take out the tts_* fields
 * into *tts, remember whether the client wants a stream (*client_stream),
 * and always ask upstream to stream.  The body must be exactly one JSON
 * object, with messages an array and tts_* and stream of their types.
 * Returns the new body (to free) or NULL with *e set for a 400.
 */
char	*chat_rewrite(const char *, size_t, struct chat_tts *, int *,
	    struct req_error *);
/*
 * Check the tts_* fields of a request object and take them out into *tts,
 * and read its stream field into *client_stream.  The number of tts_*
 * fields taken, or -1 with *e for a 400 (nothing taken).
 */
int	 chat_tts_take(cJSON *, struct chat_tts *, int *, struct req_error *);
/* Free what chat_rewrite put in a chat_tts. */
void	 chat_tts_clear(struct chat_tts *);

/*
 * JSON text from upstream made safe for cJSON: a \u0000 escape (which
 * cJSON would turn into a NUL that ends the string there) becomes
 * \ufffd, and each byte of invalid UTF-8 becomes U+FFFD.  NULL when the
 * text needs no change; else a copy (to free), its length in *outlen.
 */
char	*chat_sanitize(const char *, size_t, size_t *);

/* Choice 0's content delta in a chunk, or NULL (borrowed from chunk). */
const char *chat_chunk_content(const cJSON *);

struct chat_asm;

/* Assembles chat.completion.chunk objects into one chat.completion. */
struct chat_asm *chat_asm_new(void);
void	 chat_asm_free(struct chat_asm *);
void	 chat_asm_add(struct chat_asm *, const cJSON *);
/* Has any chunk been seen? */
int	 chat_asm_empty(const struct chat_asm *);
/* The chat.completion JSON text (to free). */
char	*chat_asm_result(struct chat_asm *);

#endif
