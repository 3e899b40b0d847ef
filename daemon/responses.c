/* responses: the OpenAI Responses API's requests and replies (pure). */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "request.h"
#include "responses.h"
#include "util.h"

char *
responses_rewrite(const char *body, size_t len, struct chat_tts *tts,
    int *client_stream, size_t *outlen, struct req_error *e)
{
	cJSON	*root;
	char	*out;
	int	 n;

	memset(tts, 0, sizeof *tts);
	tts->enabled = 1;
	*client_stream = 0;
	if ((root = request_object(body, len, e)) == NULL)
		return NULL;
	if ((n = chat_tts_take(root, tts, client_stream, e)) < 0) {
		cJSON_Delete(root);
		return NULL;
	}
	if (n == 0) {
		/* Nothing of ours: the client's bytes, unchanged. */
		out = xmalloc(len + 1);
		memcpy(out, body, len);
		out[len] = '\0';
		*outlen = len;
	} else {
		out = cJSON_PrintUnformatted(root);
		*outlen = strlen(out);
	}
	cJSON_Delete(root);
	return out;
}

/* The event's type, or "". */
static const char *
event_type(const cJSON *ev)
{
	const cJSON	*t = cJSON_GetObjectItemCaseSensitive(ev, "type");

	return cJSON_IsString(t) ? t->valuestring : "";
}

/* A number field, or -1 when absent or not a number. */
static double
number_or(const cJSON *ev, const char *name)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(ev, name);

	return cJSON_IsNumber(it) ? it->valuedouble : -1;
}

const char *
responses_event_text(const cJSON *ev, struct responses_pos *pos,
    int *newpart)
{
	const cJSON	*delta;
	double		 item, part;

	*newpart = 0;
	if (strcmp(event_type(ev), "response.output_text.delta") != 0)
		return NULL;
	delta = cJSON_GetObjectItemCaseSensitive(ev, "delta");
	if (!cJSON_IsString(delta) || delta->valuestring[0] == '\0')
		return NULL;
	item = number_or(ev, "output_index");
	part = number_or(ev, "content_index");
	if (pos->seen && (item != pos->item || part != pos->part))
		*newpart = 1;
	pos->seen = 1;
	pos->item = item;
	pos->part = part;
	return delta->valuestring;
}

int
responses_event_failed(const cJSON *ev)
{
	const char	*t = event_type(ev);

	return strcmp(t, "error") == 0 || strcmp(t, "response.failed") == 0;
}

/* Is the object's "type" field name? */
static int
is_type(const cJSON *o, const char *name)
{
	return strcmp(event_type(o), name) == 0;
}

/* The text of a part of a message item that is spoken, or NULL. */
static const char *
part_text(const cJSON *item, const cJSON *part)
{
	const cJSON	*text = cJSON_GetObjectItemCaseSensitive(part, "text");

	if (!is_type(item, "message") || !is_type(part, "output_text") ||
	    !cJSON_IsString(text) || text->valuestring[0] == '\0')
		return NULL;
	return text->valuestring;
}

char *
responses_output_text(const cJSON *resp)
{
	const cJSON	*output, *item, *content, *part;
	const char	*t;
	char		*out = NULL;
	size_t		 need = 0, len = 0, n, sep = sizeof RESPONSES_SEP - 1;
	int		 pass;

	/* Measure, then copy: no quadratic joining of many parts. */
	output = cJSON_GetObjectItemCaseSensitive(resp, "output");
	for (pass = 0; pass < 2; pass++) {
		cJSON_ArrayForEach(item, output) {
			content = cJSON_GetObjectItemCaseSensitive(item,
			    "content");
			cJSON_ArrayForEach(part, content) {
				if ((t = part_text(item, part)) == NULL)
					continue;
				n = strlen(t);
				if (pass == 0) {
					need += n + sep;
					continue;
				}
				if (len > 0) {
					memcpy(out + len, RESPONSES_SEP, sep);
					len += sep;
				}
				memcpy(out + len, t, n);
				len += n;
			}
		}
		if (pass == 0) {
			if (need == 0)
				return NULL;
			out = xmalloc(need + 1);
		}
	}
	out[len] = '\0';
	return out;
}
