/* request: the JSON bodies of client requests, parsed and type-checked
 * (pure: no I/O, so that it can be fuzzed). */
#ifndef TTSACCEL_REQUEST_H
#define TTSACCEL_REQUEST_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Why a body is refused: a 400 with this code, param (the field, or NULL)
 * and message. */
struct req_error {
	const char	*code;
	const char	*param;
	char		 msg[256];
};

/*
 * Parse a body that must be exactly one JSON object: no NUL byte, nothing
 * but whitespace after it.  The object (to cJSON_Delete), or NULL with *e.
 */
cJSON	*request_object(const char *, size_t, struct req_error *);

/*
 * Typed optional fields of an object: absent or null leaves *out as it is
 * and is 0; the right type sets *out (a string borrowed from the object) and
 * is 0; any other type is -1 with *e naming the field.
 */
int	 request_string(const cJSON *, const char *, const char **,
	    struct req_error *);
int	 request_bool(const cJSON *, const char *, int *, struct req_error *);
int	 request_number(const cJSON *, const char *, double *,
	    struct req_error *);

/* The fields of a speech request (POST /v1/audio/speech), borrowed from
 * the object; NULL (1.0 for speed) when not given or empty. */
struct speech_req {
	const char	*input;
	const char	*model;
	const char	*voice;
	const char	*format;	/* response_format */
	const char	*instructions;
	double		 speed;
	int		 sse;		/* stream_format "sse" (else
					   "audio", the default) */
};

/*
 * Read and check a speech request: input a non-empty string; model, voice,
 * response_format (mp3 opus aac flac wav pcm) and instructions strings;
 * speed a number from 0.25 to 4.0; stream_format "audio" or "sse".  0, or
 * -1 with *e.
 */
int	 request_speech(const cJSON *, struct speech_req *, struct req_error *);

#endif
