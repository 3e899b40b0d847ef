/* responses: the OpenAI Responses API (POST /v1/responses), its requests
 * rewritten and its replies read for the text to speak (pure). */
#ifndef TTSACCEL_RESPONSES_H
#define TTSACCEL_RESPONSES_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parts of the spoken text are separated by this, so that the segmenter
 * does not join the last sentence of one to the first of the next. */
#define RESPONSES_SEP	"\n\n"

struct chat_tts;
struct req_error;

/*
 * Rewrite a client's Responses request for upstream: take the tts_* fields
 * out into *tts and read stream into *client_stream; nothing else changes
 * (stream is left as the client asked).  The body must be one JSON object
 * with tts_* and stream of their types.  Without tts_* fields, the body is
 * the client's bytes as they are.  Returns the new body (to free, its
 * length in *outlen) or NULL with *e set for a 400.
 */
char	*responses_rewrite(const char *, size_t, struct chat_tts *, int *,
	    size_t *, struct req_error *);

/* Where the last piece of spoken text of a stream came from. */
struct responses_pos {
	int	 seen;		/* a piece was spoken */
	double	 item;		/* its output_index */
	double	 part;		/* its content_index */
};

/*
 * The text a streamed event adds to what is spoken: the delta of a
 * response.output_text.delta event (borrowed from ev), or NULL for any
 * other event (reasoning, refusals, tool calls and the rest are not
 * spoken).  *newpart is 1 when the text begins another output item or
 * content part than the last piece did (the caller separates the two),
 * else 0; *pos is updated.
 */
const char *responses_event_text(const cJSON *, struct responses_pos *,
	    int *);

/* Does the event say the response failed ("error", "response.failed")? */
int	 responses_event_failed(const cJSON *);

/*
 * The spoken text of a whole response object: the text of every
 * output_text part of its message items, in order, parts separated by a
 * blank line; NULL when there is none (else to free).
 */
char	*responses_output_text(const cJSON *);

#endif
