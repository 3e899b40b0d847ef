/* params: what to say and how — a synthesis's parameters, the audio
 * formats, and how a request's names, format and speed resolve against the
 * operator's settings (pure: no I/O). */
#ifndef TTSACCEL_PARAMS_H
#define TTSACCEL_PARAMS_H

#include <stddef.h>

#include "segment.h"

struct cJSON;
struct ttsmap;

/* What to say and how. */
struct tts_params {
	const char	*model;
	const char	*voice;
	const char	*format;	/* mp3 opus aac flac wav pcm */
	const char	*instructions;	/* may be NULL */
	double		 speed;
};

/* speed: OpenAI's range. */
#define PARAMS_SPEED_MIN	0.25
#define PARAMS_SPEED_MAX	4.0
int	 params_speed_ok(double);

/* A copy in one allocation (free with free()); instructions may be NULL. */
struct tts_params *params_dup(const struct tts_params *);
/* Same model, voice, speed and instructions; the formats too unless
 * any_format. */
int	 params_same(const struct tts_params *, const struct tts_params *,
	    int any_format);

/* --- the audio formats: OpenAI's six */

#define PARAMS_NFORMATS		6
#define PARAMS_FORMAT_LIST	"mp3, opus, aac, flac, wav, pcm"
/* A set of formats: one bit per index. */
#define PARAMS_BIT(i)		(1u << (i))

/* The format's index, or -1 when it is not one. */
int	 params_format_index(const char *);
/* The name of index i (< PARAMS_NFORMATS). */
const char *params_format_name(size_t);
/* Its Content-Type, or NULL when it is not a format. */
const char *params_content_type(const char *);

/* What can be made here: the formats some endpoint makes, and those the
 * daemon can convert WAV into. */
struct params_can {
	unsigned	 made;
	unsigned	 conv;
};

/* How a format is made (params_making). */
#define PARAMS_DIRECT		0	/* an endpoint makes it */
#define PARAMS_FROM_WAV		1	/* converted from WAV an endpoint
					   makes: one synthesis, every format */
#define PARAMS_UNCONVERTIBLE	(-1)	/* WAV is made, this is not made
					   from it */
#define PARAMS_NO_WAV		(-2)	/* neither it nor WAV is made */

int	 params_making(const struct params_can *, const char *);
/* Does the daemon convert WAV into this format? */
int	 params_converts(const struct params_can *, const char *);
/* Is the format made from WAV here: not WAV itself, converted from it,
 * and WAV made by an endpoint (whether or not one makes the format)? */
int	 params_from_wav(const struct params_can *, const char *);
/* The formats a client may ask for, for a message: "wav, pcm, flac, mp3
 * or opus" (to free). */
char	*params_can_text(const struct params_can *);

/* --- resolving a request */

/* The operator's choices (pointers into the configuration). */
struct params_conf {
	const char		*model;		/* TTS_DEFAULT_MODEL */
	const char		*voice;		/* TTS_DEFAULT_VOICE */
	const char		*format;	/* TTS_DEFAULT_FORMAT, NULL unset */
	const struct ttsmap	*model_map;	/* TTS_MODEL_MAP */
	const struct ttsmap	*voice_map;	/* TTS_VOICE_MAP */
	struct segment_opts	 split;		/* SPLITTER_* */
};

/* A request's own fields as sent: NULL (0 for speed) when not given. */
struct params_ask {
	const char	*model;
	const char	*voice;
	const char	*format;
	const char	*instructions;
	double		 speed;
};

/* Which request: they differ in the format when none is named. */
#define PARAMS_SPEECH	0	/* /v1/audio/speech: mp3, as OpenAI's */
#define PARAMS_CHAT	1	/* a chat's prefetch: wav, which every
				   format is made from */

/*
 * The model and the voice a client's name resolves to (borrowed).  A name
 * TTS_MODEL_MAP (TTS_VOICE_MAP) maps goes where it maps it.  Otherwise a
 * missing or empty name, and a name OpenAI's clients send when their user
 * chose nothing (the models tts-1, tts-1-hd and gpt-4o-mini-tts; the
 * voice alloy), is the default (mapped in turn) — unless the default is
 * itself one of OpenAI's models (voices): then the operator speaks to
 * OpenAI's names and each is a model (voice) of its own.  Any other name
 * is kept.
 */
const char *params_model(const struct params_conf *, const char *);
const char *params_voice(const struct params_conf *, const char *);
/* The format when a request of kind (PARAMS_*) names none. */
const char *params_default_format(const struct params_conf *, int);
/*
 * Resolve a request of kind into p (strings borrowed from conf and ask):
 * model and voice as above, the format named or the default, the speed
 * given or 1.  Returns params_making(can, p->format); a format that is
 * not one of the six is PARAMS_UNCONVERTIBLE (the request parsers refuse
 * those first).
 */
int	 params_resolve(const struct params_conf *, int,
	    const struct params_ask *, const struct params_can *,
	    struct tts_params *);

/* --- the parameters on the wire (between instances) */

/* A JSON object of p, with "asked" when the format asked is not p's
 * (to cJSON_Delete). */
struct cJSON *params_json(const struct tts_params *, const char *);
/* Read one back (strings borrowed from o): 0, or -1 if it is not ours.
 * *asked is the format asked, NULL when p's. */
int	 params_from_json(const struct cJSON *, struct tts_params *,
	    const char **);

#endif
