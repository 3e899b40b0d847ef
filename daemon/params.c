/* params: what to say and how.
 *
 * Pure: no event, network or codec headers.  What the endpoints make and
 * what the converter makes come in as sets (struct params_can), so the
 * rules can be tested alone.
 */
#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "ttsmap.h"
#include "util.h"

static const struct {
	const char	*name;
	const char	*ctype;
} formats[PARAMS_NFORMATS] = {
	{ "mp3", "audio/mpeg" },
	{ "opus", "audio/ogg" },
	{ "aac", "audio/aac" },
	{ "flac", "audio/flac" },
	{ "wav", "audio/wav" },
	{ "pcm", "audio/pcm" },
};

/* OpenAI's speech models, and the names of its voices. */
static const char *const openai_models[] = {
	"tts-1", "tts-1-hd", "gpt-4o-mini-tts"
};
static const char *const openai_voices[] = {
	"alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin",
	"nova", "onyx", "sage", "shimmer", "verse"
};
/* The voice clients send when their user chose none: the only one taken
 * for the default.  Another is a user's choice, and said in that voice. */
static const char *const stock_voices[] = { "alloy" };

#define NELEM(a)	(sizeof (a) / sizeof (a)[0])

int
params_speed_ok(double speed)
{
	return speed >= PARAMS_SPEED_MIN && speed <= PARAMS_SPEED_MAX;
}

struct tts_params *
params_dup(const struct tts_params *p)
{
	struct tts_params	*d;
	size_t			 lm, lv, lf, li;
	char			*s;

	lm = strlen(p->model) + 1;
	lv = strlen(p->voice) + 1;
	lf = strlen(p->format) + 1;
	li = p->instructions != NULL ? strlen(p->instructions) + 1 : 0;
	d = xmalloc(sizeof *d + lm + lv + lf + li);
	s = (char *)(d + 1);
	d->model = memcpy(s, p->model, lm);
	d->voice = memcpy(s += lm, p->voice, lv);
	d->format = memcpy(s += lv, p->format, lf);
	d->instructions = li > 0 ? memcpy(s + lf, p->instructions, li) :
	    NULL;
	d->speed = p->speed;
	return d;
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int
params_same(const struct tts_params *a, const struct tts_params *b,
    int any_format)
{
	return strcmp(a->model, b->model) == 0 &&
	    strcmp(a->voice, b->voice) == 0 && a->speed == b->speed &&
	    same_str(a->instructions, b->instructions) &&
	    (any_format || strcmp(a->format, b->format) == 0);
}

int
params_format_index(const char *fmt)
{
	size_t	i;

	for (i = 0; fmt != NULL && i < PARAMS_NFORMATS; i++)
		if (strcmp(formats[i].name, fmt) == 0)
			return (int)i;
	return -1;
}

const char *
params_format_name(size_t i)
{
	return i < PARAMS_NFORMATS ? formats[i].name : NULL;
}

const char *
params_content_type(const char *fmt)
{
	int	i = params_format_index(fmt);

	return i >= 0 ? formats[i].ctype : NULL;
}

/* Is the format in the set? */
static int
in_set(unsigned set, const char *fmt)
{
	int	i = params_format_index(fmt);

	return i >= 0 && (set & PARAMS_BIT(i)) != 0;
}

int
params_converts(const struct params_can *can, const char *fmt)
{
	return in_set(can->conv, fmt);
}

int
params_from_wav(const struct params_can *can, const char *fmt)
{
	return in_set(can->made, "wav") && strcmp(fmt, "wav") != 0 &&
	    in_set(can->conv, fmt);
}

int
params_making(const struct params_can *can, const char *fmt)
{
	if (in_set(can->made, fmt))
		return PARAMS_DIRECT;
	if (!in_set(can->made, "wav"))
		return PARAMS_NO_WAV;
	if (in_set(can->conv, fmt))
		return PARAMS_FROM_WAV;
	return PARAMS_UNCONVERTIBLE;
}

char *
params_can_text(const struct params_can *can)
{
	/* The plainest first: what is sent as it is made, then codecs. */
	static const char *const order[] = { "wav", "pcm", "flac", "mp3",
	    "opus", "aac" };
	const char	*v[NELEM(order)];
	char		*s, *t;
	size_t		 i, n = 0;

	for (i = 0; i < NELEM(order); i++)
		if (params_making(can, order[i]) >= 0)
			v[n++] = order[i];
	s = xstrdup("");
	for (i = 0; i < n; i++) {
		t = xasprintf("%s%s%s", s, i == 0 ? "" : i + 1 == n ?
		    " or " : ", ", v[i]);
		free(s);
		s = t;
	}
	return s;
}

static int
in_list(const char *const *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

/* See params.h: the map first; a missing name or a stock one is the
 * default, unless the default is one of OpenAI's own names. */
static const char *
resolve(const char *name, const char *def, const struct ttsmap *map,
    int stock, int def_openai)
{
	if (name == NULL || *name == '\0' ||
	    (!ttsmap_has(map, name) && stock && !def_openai))
		name = def;
	return ttsmap_lookup(map, name);
}

const char *
params_model(const struct params_conf *c, const char *name)
{
	return resolve(name, c->model, c->model_map,
	    in_list(openai_models, NELEM(openai_models), name),
	    in_list(openai_models, NELEM(openai_models), c->model));
}

const char *
params_voice(const struct params_conf *c, const char *name)
{
	return resolve(name, c->voice, c->voice_map,
	    in_list(stock_voices, NELEM(stock_voices), name),
	    in_list(openai_voices, NELEM(openai_voices), c->voice));
}

const char *
params_default_format(const struct params_conf *c, int kind)
{
	if (c->format != NULL && *c->format != '\0')
		return c->format;
	return kind == PARAMS_SPEECH ? "mp3" : "wav";
}

int
params_resolve(const struct params_conf *c, int kind,
    const struct params_ask *a, const struct params_can *can,
    struct tts_params *p)
{
	p->model = params_model(c, a->model);
	p->voice = params_voice(c, a->voice);
	p->format = a->format != NULL && *a->format != '\0' ? a->format :
	    params_default_format(c, kind);
	p->instructions = a->instructions;
	p->speed = a->speed > 0 ? a->speed : 1.0;
	if (params_format_index(p->format) < 0)
		return PARAMS_UNCONVERTIBLE;
	return params_making(can, p->format);
}

cJSON *
params_json(const struct tts_params *p, const char *asked)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "model", p->model);
	cJSON_AddStringToObject(o, "voice", p->voice);
	cJSON_AddStringToObject(o, "format", p->format);
	cJSON_AddNumberToObject(o, "speed", p->speed);
	if (p->instructions != NULL)
		cJSON_AddStringToObject(o, "instructions", p->instructions);
	if (asked != NULL && strcmp(asked, p->format) != 0)
		cJSON_AddStringToObject(o, "asked", asked);
	return o;
}

int
params_from_json(const cJSON *o, struct tts_params *p, const char **asked)
{
	const cJSON	*it;

	p->model = cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"));
	p->voice = cJSON_GetStringValue(cJSON_GetObjectItem(o, "voice"));
	p->format = cJSON_GetStringValue(cJSON_GetObjectItem(o, "format"));
	p->instructions = cJSON_GetStringValue(cJSON_GetObjectItem(o,
	    "instructions"));
	it = cJSON_GetObjectItem(o, "speed");
	if (p->model == NULL || p->voice == NULL || p->format == NULL ||
	    !cJSON_IsNumber(it) || !params_speed_ok(it->valuedouble))
		return -1;
	p->speed = it->valuedouble;
	*asked = cJSON_GetStringValue(cJSON_GetObjectItem(o, "asked"));
	if (*asked != NULL && strcmp(*asked, p->format) == 0)
		*asked = NULL;
	return 0;
}
