/* audio: GET /v1/audio/models — the model, voice and formats spoken here. */
#include <cjson/cJSON.h>

#include "audio.h"
#include "config.h"
#include "convert.h"
#include "http.h"
#include "params.h"
#include "server.h"
#include "tts.h"

void
audio_models(struct hreq *h)
{
	const struct config	*cf = h->srv->cf;
	struct params_can	 can;
	cJSON			*root, *a;
	size_t			 i;

	root = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(root, "models");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_model));
	a = cJSON_AddArrayToObject(root, "voices");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_voice));
	/* Those some endpoint makes (none without one). */
	tts_can(h->srv->tts, &can);
	a = cJSON_AddArrayToObject(root, "formats");
	for (i = 0; i < PARAMS_NFORMATS; i++)
		if (can.made & PARAMS_BIT(i))
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    params_format_name(i)));
	cJSON_AddStringToObject(root, "default_format",
	    params_default_format(&cf->params, PARAMS_SPEECH));
	http_json(h, 200, root);
	cJSON_Delete(root);
}
