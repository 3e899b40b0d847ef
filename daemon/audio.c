/* audio: the audio formats answered in, and GET /v1/audio/models. */
#include <cjson/cJSON.h>

#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "config.h"
#include "convert.h"
#include "server.h"
#include "tts.h"

static const struct {
	const char	*format;
	const char	*ctype;
} formats[] = {
	{ "mp3", "audio/mpeg" },
	{ "opus", "audio/ogg" },
	{ "aac", "audio/aac" },
	{ "flac", "audio/flac" },
	{ "wav", "audio/wav" },
	{ "pcm", "audio/pcm" },
};

const char *
audio_content_type(const char *fmt)
{
	size_t	i;

	for (i = 0; fmt != NULL && i < sizeof formats / sizeof formats[0];
	    i++)
		if (strcmp(formats[i].format, fmt) == 0)
			return formats[i].ctype;
	return NULL;
}

/* The formats we can answer in, for a message: "wav, pcm, flac, mp3
 * or opus". */
const char *
audio_made_formats(struct tts *tts)
{
	static const char	*order[] = { "wav", "pcm", "flac", "mp3", "opus",
				    "aac" };
	static char		 buf[128];
	const char		*v[6];
	size_t			 i, n = 0, len = 0;
	int			 wav = tts_has_format(tts, "wav");

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if (tts_has_format(tts, order[i]) || (wav &&
		    convert_can(order[i])))
			v[n++] = order[i];
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", v[i]);
	return buf;
}

void
audio_models(struct hreq *h)
{
	const struct config	*cf = h->srv->cf;
	cJSON			*root, *a;
	size_t			 i;

	root = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(root, "models");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_model));
	a = cJSON_AddArrayToObject(root, "voices");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_voice));
	a = cJSON_AddArrayToObject(root, "formats");
	for (i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (h->srv->tts != NULL && tts_has_format(h->srv->tts,
		    formats[i].format))
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    formats[i].format));
	cJSON_AddStringToObject(root, "default_format",
	    cf->tts_default_format);
	http_json(h, 200, root);
	cJSON_Delete(root);
}
