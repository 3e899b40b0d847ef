/* request: the JSON bodies of client requests, parsed and type-checked. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "request.h"

static void
fail(struct req_error *e, const char *code, const char *param,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct req_error *e, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	e->code = code;
	e->param = param;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

cJSON *
request_object(const char *body, size_t len, struct req_error *e)
{
	const char	*end = NULL;
	cJSON		*root;
	size_t		 off;

	if (memchr(body, '\0', len) != NULL) {
		fail(e, "invalid_json", NULL, "Request body holds a NUL byte: "
		    "send JSON text (write it as \\u0000 inside a string).");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL) {
		fail(e, "invalid_json", NULL, "Request body is not valid JSON: "
		    "send one JSON object.");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		fail(e, "invalid_json", NULL, "Request body must be a JSON "
		    "object.");
		return NULL;
	}
	for (off = (size_t)(end - body); off < len; off++)
		if (strchr(" \t\r\n", body[off]) == NULL) {
			cJSON_Delete(root);
			fail(e, "invalid_json", NULL, "Request body has bytes "
			    "after its JSON object (at offset %zu): send one "
			    "JSON object and nothing else.", off);
			return NULL;
		}
	return root;
}

/* The field, or NULL when it is absent or null. */
static const cJSON *
field(const cJSON *o, const char *name)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(o, name);

	return it == NULL || cJSON_IsNull(it) ? NULL : it;
}

int
request_string(const cJSON *o, const char *name, const char **out,
    struct req_error *e)
{
	const cJSON	*it;

	if ((it = field(o, name)) == NULL)
		return 0;
	if (!cJSON_IsString(it)) {
		fail(e, "invalid_type", name, "'%s' must be a string.", name);
		return -1;
	}
	*out = it->valuestring;
	return 0;
}

int
request_bool(const cJSON *o, const char *name, int *out, struct req_error *e)
{
	const cJSON	*it;

	if ((it = field(o, name)) == NULL)
		return 0;
	if (!cJSON_IsBool(it)) {
		fail(e, "invalid_type", name, "'%s' must be true or false.",
		    name);
		return -1;
	}
	*out = cJSON_IsTrue(it);
	return 0;
}

int
request_number(const cJSON *o, const char *name, double *out,
    struct req_error *e)
{
	const cJSON	*it;

	if ((it = field(o, name)) == NULL)
		return 0;
	if (!cJSON_IsNumber(it)) {
		fail(e, "invalid_type", name, "'%s' must be a number.", name);
		return -1;
	}
	*out = it->valuedouble;
	return 0;
}

/* An empty string is as good as none. */
static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

int
request_speech(const cJSON *root, struct speech_req *r, struct req_error *e)
{
	const char	*sf = NULL;

	memset(r, 0, sizeof *r);
	r->speed = 1.0;
	if (request_string(root, "input", &r->input, e) != 0 ||
	    request_string(root, "model", &r->model, e) != 0 ||
	    request_string(root, "voice", &r->voice, e) != 0 ||
	    request_string(root, "response_format", &r->format, e) != 0 ||
	    request_string(root, "instructions", &r->instructions, e) != 0 ||
	    request_number(root, "speed", &r->speed, e) != 0) {
		/* The codes clients knew for these two. */
		if (e->param != NULL && strcmp(e->param, "input") == 0)
			fail(e, "invalid_input", "input", "'input' is required: "
			    "the text to speak, a non-empty string.");
		else if (e->param != NULL && strcmp(e->param, "speed") == 0)
			fail(e, "invalid_speed", "speed", "'speed' must be a "
			    "number from 0.25 to 4.0.");
		else if (e->param != NULL &&
		    strcmp(e->param, "response_format") == 0)
			fail(e, "invalid_response_format", "response_format",
			    "'response_format' must be one of "
			    PARAMS_FORMAT_LIST ".");
		return -1;
	}
	/* A wrong type and an unknown value alike. */
	if (request_string(root, "stream_format", &sf, e) != 0 ||
	    (sf != NULL && strcmp(sf, "audio") != 0 &&
	    strcmp(sf, "sse") != 0)) {
		fail(e, "invalid_stream_format", "stream_format",
		    "'stream_format' must be \"audio\" (the audio itself, "
		    "the default) or \"sse\" (server-sent events).");
		return -1;
	}
	r->sse = sf != NULL && strcmp(sf, "sse") == 0;
	if ((r->input = nonempty(r->input)) == NULL) {
		fail(e, "invalid_input", "input", "'input' is required: the "
		    "text to speak, a non-empty string.");
		return -1;
	}
	r->model = nonempty(r->model);
	r->voice = nonempty(r->voice);
	r->instructions = nonempty(r->instructions);
	if (r->format != NULL && params_format_index(r->format) < 0) {
		fail(e, "invalid_response_format", "response_format",
		    "'response_format' must be one of " PARAMS_FORMAT_LIST ".");
		return -1;
	}
	if (!params_speed_ok(r->speed)) {
		fail(e, "invalid_speed", "speed", "'speed' must be a number "
		    "from 0.25 to 4.0.");
		return -1;
	}
	return 0;
}
