/* chat: OpenAI chat request rewriting and streamed-reply assembly (pure). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "request.h"
#include "util.h"

/* Detach a field, and delete any duplicates of it (JSON may repeat a
 * key: none of ours may reach upstream). */
static cJSON *
take(cJSON *root, const char *name)
{
	cJSON	*it, *dup;

	it = cJSON_DetachItemFromObjectCaseSensitive(root, name);
	while ((dup = cJSON_DetachItemFromObjectCaseSensitive(root, name)) !=
	    NULL)
		cJSON_Delete(dup);
	return it;
}

/* Take out a string field (already type-checked): a copy, NULL if empty. */
static char *
take_string(cJSON *root, const char *name)
{
	cJSON	*it = take(root, name);
	char	*s = NULL;

	if (cJSON_IsString(it) && it->valuestring[0] != '\0')
		s = xstrdup(it->valuestring);
	cJSON_Delete(it);
	return s;
}

int
chat_tts_take(cJSON *root, struct chat_tts *tts, int *client_stream,
    struct req_error *e)
{
	static const char *const names[] = {
		"tts_enabled", "tts_events", "tts_speed", NULL
	};
	const char	*str = NULL;
	cJSON		*it;
	size_t		 i;
	int		 n = 0;

	memset(tts, 0, sizeof *tts);
	tts->enabled = 1;
	*client_stream = 0;
	/* Our fields, and stream, of the right type or a 400 naming them. */
	if (request_bool(root, "tts_enabled", &tts->enabled, e) != 0 ||
	    request_bool(root, "tts_events", &tts->events, e) != 0 ||
	    request_number(root, "tts_speed", &tts->speed, e) != 0 ||
	    request_string(root, "tts_model", &str, e) != 0 ||
	    request_string(root, "tts_voice", &str, e) != 0 ||
	    request_string(root, "tts_format", &str, e) != 0 ||
	    request_bool(root, "stream", client_stream, e) != 0) {
		memset(tts, 0, sizeof *tts);
		*client_stream = 0;
		return -1;
	}
	for (i = 0; names[i] != NULL; i++)
		if ((it = take(root, names[i])) != NULL) {
			cJSON_Delete(it);
			n++;
		}
	n += (cJSON_GetObjectItemCaseSensitive(root, "tts_model") != NULL) +
	    (cJSON_GetObjectItemCaseSensitive(root, "tts_voice") != NULL) +
	    (cJSON_GetObjectItemCaseSensitive(root, "tts_format") != NULL);
	tts->model = take_string(root, "tts_model");
	tts->voice = take_string(root, "tts_voice");
	tts->format = take_string(root, "tts_format");
	return n;
}

char *
chat_rewrite(const char *body, size_t len, struct chat_tts *tts,
    int *client_stream, struct req_error *e)
{
	cJSON		*root, *it, *so;
	char		*out;

	memset(tts, 0, sizeof *tts);
	tts->enabled = 1;
	*client_stream = 0;
	if ((root = request_object(body, len, e)) == NULL)
		return NULL;
	it = cJSON_GetObjectItemCaseSensitive(root, "messages");
	if (!cJSON_IsArray(it)) {
		cJSON_Delete(root);
		e->code = "invalid_type";
		e->param = "messages";
		snprintf(e->msg, sizeof e->msg, "'messages' must be an array.");
		return NULL;
	}
	if (chat_tts_take(root, tts, client_stream, e) < 0) {
		cJSON_Delete(root);
		return NULL;
	}
	so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	if (so != NULL && !cJSON_IsNull(so) && !cJSON_IsObject(so)) {
		cJSON_Delete(root);
		chat_tts_clear(tts);
		*client_stream = 0;
		e->code = "invalid_type";
		e->param = "stream_options";
		snprintf(e->msg, sizeof e->msg, "'stream_options' must be an "
		    "object.");
		return NULL;
	}

	it = cJSON_GetObjectItemCaseSensitive(root, "stream");
	if (!*client_stream) {
		/* We assemble the reply: ask for usage too. */
		so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
		if (!cJSON_IsObject(so)) {
			cJSON_DeleteItemFromObjectCaseSensitive(root,
			    "stream_options");
			so = cJSON_AddObjectToObject(root, "stream_options");
		}
		cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
		cJSON_AddTrueToObject(so, "include_usage");
	}
	if (it != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(root, "stream",
		    cJSON_CreateTrue());
	else
		cJSON_AddTrueToObject(root, "stream");

	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

void
chat_tts_clear(struct chat_tts *tts)
{
	free(tts->model);
	free(tts->voice);
	free(tts->format);
	memset(tts, 0, sizeof *tts);
}

static const cJSON *
choice_zero(const cJSON *chunk)
{
	const cJSON	*choices, *c, *idx;

	choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
	cJSON_ArrayForEach(c, choices) {
		idx = cJSON_GetObjectItemCaseSensitive(c, "index");
		if (idx == NULL || (cJSON_IsNumber(idx) && idx->valueint == 0))
			return c;
	}
	return NULL;
}

const char *
chat_chunk_content(const cJSON *chunk)
{
	const cJSON	*c, *delta, *content;

	if ((c = choice_zero(chunk)) == NULL)
		return NULL;
	delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
	content = cJSON_GetObjectItemCaseSensitive(delta, "content");
	if (!cJSON_IsString(content) || content->valuestring[0] == '\0')
		return NULL;
	return content->valuestring;
}

/* A growable string. */
struct str {
	char	*s;
	size_t	 len, cap;
};

static void
str_add(struct str *b, const char *s)
{
	size_t	n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

struct asm_tool {
	int		 index;
	char		*id;
	char		*type;
	struct str	 name;
	struct str	 args;
};

struct asm_choice {
	int		 index;
	char		*role;
	struct str	 content;
	struct str	 reasoning;
	struct str	 refusal;
	char		*finish_reason;
	struct asm_tool	*tools;
	size_t		 ntools;
	cJSON		*logprobs;	/* content logprobs joined */
};

struct chat_asm {
	int			 seen;
	char			*id;
	char			*model;
	char			*fingerprint;
	double			 created;
	cJSON			*usage;
	struct asm_choice	*choices;
	size_t			 nchoices;
};

struct chat_asm *
chat_asm_new(void)
{
	return xcalloc(1, sizeof(struct chat_asm));
}

void
chat_asm_free(struct chat_asm *a)
{
	size_t	i, j;

	if (a == NULL)
		return;
	for (i = 0; i < a->nchoices; i++) {
		struct asm_choice *c = &a->choices[i];

		free(c->role);
		free(c->content.s);
		free(c->reasoning.s);
		free(c->refusal.s);
		free(c->finish_reason);
		for (j = 0; j < c->ntools; j++) {
			free(c->tools[j].id);
			free(c->tools[j].type);
			free(c->tools[j].name.s);
			free(c->tools[j].args.s);
		}
		free(c->tools);
		cJSON_Delete(c->logprobs);
	}
	free(a->choices);
	free(a->id);
	free(a->model);
	free(a->fingerprint);
	cJSON_Delete(a->usage);
	free(a);
}

int
chat_asm_empty(const struct chat_asm *a)
{
	return !a->seen;
}

static void
set_str(char **dst, const cJSON *it)
{
	if (cJSON_IsString(it)) {
		free(*dst);
		*dst = xstrdup(it->valuestring);
	}
}

static struct asm_choice *
get_choice(struct chat_asm *a, int index)
{
	size_t	i;

	for (i = 0; i < a->nchoices; i++)
		if (a->choices[i].index == index)
			return &a->choices[i];
	a->choices = xreallocarray(a->choices, a->nchoices + 1,
	    sizeof *a->choices);
	memset(&a->choices[a->nchoices], 0, sizeof *a->choices);
	a->choices[a->nchoices].index = index;
	return &a->choices[a->nchoices++];
}

static struct asm_tool *
get_tool(struct asm_choice *c, int index)
{
	size_t	i;

	for (i = 0; i < c->ntools; i++)
		if (c->tools[i].index == index)
			return &c->tools[i];
	c->tools = xreallocarray(c->tools, c->ntools + 1, sizeof *c->tools);
	memset(&c->tools[c->ntools], 0, sizeof *c->tools);
	c->tools[c->ntools].index = index;
	return &c->tools[c->ntools++];
}

static void
add_choice(struct chat_asm *a, const cJSON *jc)
{
	const cJSON		*idx, *delta, *it, *tc, *fn, *lp, *e;
	struct asm_choice	*c;
	struct asm_tool		*t;
	int			 index = 0, tindex;

	idx = cJSON_GetObjectItemCaseSensitive(jc, "index");
	if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 &&
	    idx->valuedouble < 1024)
		index = idx->valueint;
	c = get_choice(a, index);
	delta = cJSON_GetObjectItemCaseSensitive(jc, "delta");
	set_str(&c->role, cJSON_GetObjectItemCaseSensitive(delta, "role"));
	it = cJSON_GetObjectItemCaseSensitive(delta, "content");
	if (cJSON_IsString(it))
		str_add(&c->content, it->valuestring);
	it = cJSON_GetObjectItemCaseSensitive(delta, "reasoning_content");
	if (!cJSON_IsString(it))
		it = cJSON_GetObjectItemCaseSensitive(delta, "reasoning");
	if (cJSON_IsString(it))
		str_add(&c->reasoning, it->valuestring);
	it = cJSON_GetObjectItemCaseSensitive(delta, "refusal");
	if (cJSON_IsString(it))
		str_add(&c->refusal, it->valuestring);
	cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta,
	    "tool_calls")) {
		it = cJSON_GetObjectItemCaseSensitive(tc, "index");
		tindex = (cJSON_IsNumber(it) && it->valuedouble >= 0 &&
		    it->valuedouble < 1024) ? it->valueint : (int)c->ntools;
		t = get_tool(c, tindex);
		set_str(&t->id, cJSON_GetObjectItemCaseSensitive(tc, "id"));
		set_str(&t->type, cJSON_GetObjectItemCaseSensitive(tc, "type"));
		fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		it = cJSON_GetObjectItemCaseSensitive(fn, "name");
		if (cJSON_IsString(it))
			str_add(&t->name, it->valuestring);
		it = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		if (cJSON_IsString(it))
			str_add(&t->args, it->valuestring);
	}
	it = cJSON_GetObjectItemCaseSensitive(jc, "finish_reason");
	set_str(&c->finish_reason, it);
	lp = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(jc, "logprobs"), "content");
	if (cJSON_IsArray(lp)) {
		if (c->logprobs == NULL)
			c->logprobs = cJSON_CreateArray();
		cJSON_ArrayForEach(e, lp)
			cJSON_AddItemToArray(c->logprobs,
			    cJSON_Duplicate(e, 1));
	}
}

void
chat_asm_add(struct chat_asm *a, const cJSON *chunk)
{
	const cJSON	*it, *jc;

	if (!cJSON_IsObject(chunk))
		return;
	a->seen = 1;
	if (a->id == NULL)
		set_str(&a->id, cJSON_GetObjectItemCaseSensitive(chunk, "id"));
	if (a->model == NULL)
		set_str(&a->model, cJSON_GetObjectItemCaseSensitive(chunk,
		    "model"));
	set_str(&a->fingerprint, cJSON_GetObjectItemCaseSensitive(chunk,
	    "system_fingerprint"));
	it = cJSON_GetObjectItemCaseSensitive(chunk, "created");
	if (cJSON_IsNumber(it) && a->created == 0)
		a->created = it->valuedouble;
	it = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
	if (cJSON_IsObject(it)) {
		cJSON_Delete(a->usage);
		a->usage = cJSON_Duplicate(it, 1);
	}
	cJSON_ArrayForEach(jc, cJSON_GetObjectItemCaseSensitive(chunk,
	    "choices"))
		add_choice(a, jc);
}

static int
cmp_tool(const void *x, const void *y)
{
	return ((const struct asm_tool *)x)->index -
	    ((const struct asm_tool *)y)->index;
}

static int
cmp_choice(const void *x, const void *y)
{
	return ((const struct asm_choice *)x)->index -
	    ((const struct asm_choice *)y)->index;
}

char *
chat_asm_result(struct chat_asm *a)
{
	cJSON			*root, *choices, *jc, *msg, *tools, *t, *fn, *lp;
	struct asm_choice	*c;
	size_t			 i, j;
	char			*out;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", a->id != NULL ? a->id : "");
	cJSON_AddStringToObject(root, "object", "chat.completion");
	cJSON_AddNumberToObject(root, "created", a->created != 0 ?
	    a->created : (double)time(NULL));
	cJSON_AddStringToObject(root, "model", a->model != NULL ?
	    a->model : "");
	if (a->fingerprint != NULL)
		cJSON_AddStringToObject(root, "system_fingerprint",
		    a->fingerprint);
	choices = cJSON_AddArrayToObject(root, "choices");
	if (a->nchoices > 1)
		qsort(a->choices, a->nchoices, sizeof *a->choices,
		    cmp_choice);
	for (i = 0; i < a->nchoices; i++) {
		c = &a->choices[i];
		jc = cJSON_CreateObject();
		cJSON_AddNumberToObject(jc, "index", c->index);
		msg = cJSON_AddObjectToObject(jc, "message");
		cJSON_AddStringToObject(msg, "role", c->role != NULL ?
		    c->role : "assistant");
		if (c->content.len > 0 || c->ntools == 0)
			cJSON_AddStringToObject(msg, "content",
			    c->content.s != NULL ? c->content.s : "");
		else
			cJSON_AddNullToObject(msg, "content");
		if (c->reasoning.len > 0)
			cJSON_AddStringToObject(msg, "reasoning_content",
			    c->reasoning.s);
		if (c->refusal.len > 0)
			cJSON_AddStringToObject(msg, "refusal", c->refusal.s);
		else
			cJSON_AddNullToObject(msg, "refusal");
		if (c->ntools > 0) {
			qsort(c->tools, c->ntools, sizeof *c->tools, cmp_tool);
			tools = cJSON_AddArrayToObject(msg, "tool_calls");
			for (j = 0; j < c->ntools; j++) {
				t = cJSON_CreateObject();
				cJSON_AddStringToObject(t, "id",
				    c->tools[j].id != NULL ? c->tools[j].id : "");
				cJSON_AddStringToObject(t, "type",
				    c->tools[j].type != NULL ?
				    c->tools[j].type : "function");
				fn = cJSON_AddObjectToObject(t, "function");
				cJSON_AddStringToObject(fn, "name",
				    c->tools[j].name.s != NULL ?
				    c->tools[j].name.s : "");
				cJSON_AddStringToObject(fn, "arguments",
				    c->tools[j].args.s != NULL ?
				    c->tools[j].args.s : "");
				cJSON_AddItemToArray(tools, t);
			}
		}
		if (c->logprobs != NULL) {
			lp = cJSON_AddObjectToObject(jc, "logprobs");
			cJSON_AddItemToObject(lp, "content",
			    cJSON_Duplicate(c->logprobs, 1));
		} else
			cJSON_AddNullToObject(jc, "logprobs");
		if (c->finish_reason != NULL)
			cJSON_AddStringToObject(jc, "finish_reason",
			    c->finish_reason);
		else
			cJSON_AddNullToObject(jc, "finish_reason");
		cJSON_AddItemToArray(choices, jc);
	}
	if (a->usage != NULL)
		cJSON_AddItemToObject(root, "usage",
		    cJSON_Duplicate(a->usage, 1));
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* The length of the valid UTF-8 sequence at s (of len bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t	n;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (n > len || !utf8_valid((const char *)s, n))
		return 0;
	return n;
}

char *
chat_sanitize(const char *text, size_t len, size_t *outlen)
{
	static const char	 nul[] = "\\u0000", rep[] = "\\ufffd";
	static const char	 bad[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char	*s = (const unsigned char *)text;
	char			*out;
	size_t			 i = 0, o, n, keep;

	/* First pass: anything to do?  Second: do it. */
	while (i < len) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] != 'u' &&
		    s[i + 1] < 0x80) {
			i += 2;		/* \\, \" and the like */
			continue;
		}
		if ((s[i] == '\\' && len - i >= 6 &&
		    memcmp(s + i, nul, 6) == 0) ||
		    (n = utf8_seq(s + i, len - i)) == 0)
			break;
		i += n;
	}
	if (i >= len)
		return NULL;
	keep = i;
	if (len > (SIZE_MAX - 1) / 3)
		abort();
	out = xmalloc(len * 3 + 1);	/* a byte becomes 3 at worst */
	memcpy(out, text, keep);
	o = keep;
	i = keep;
	while (i < len) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] != 'u' &&
		    s[i + 1] < 0x80) {
			out[o++] = (char)s[i++];
			out[o++] = (char)s[i++];
			continue;
		}
		if (s[i] == '\\' && len - i >= 6 &&
		    memcmp(s + i, nul, 6) == 0) {
			memcpy(out + o, rep, 6);
			o += 6;
			i += 6;
			continue;
		}
		if ((n = utf8_seq(s + i, len - i)) == 0) {
			memcpy(out + o, bad, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}
