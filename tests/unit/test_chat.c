/* Unit tests for chat request rewriting and reply assembly. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "request.h"

static struct req_error	last;

/* Rewrite IN; on failure *err is the message and last the whole error. */
static cJSON *
rewrite(const char *in, struct chat_tts *tts, int *stream, const char **err)
{
	char	*out;
	cJSON	*j;

	*err = NULL;
	memset(&last, 0, sizeof last);
	out = chat_rewrite(in, strlen(in), tts, stream, &last);
	if (out == NULL) {
		*err = last.msg;
		return NULL;
	}
	j = cJSON_Parse(out);
	free(out);
	return j;
}

static void
test_rewrite(void)
{
	struct chat_tts	 tts;
	const char	*err;
	int		 stream;
	cJSON		*j, *so;

	j = rewrite("{\"model\":\"m\",\"messages\":[],\"stream\":true,"
	    "\"tts_enabled\":false,\"tts_voice\":\"nova\",\"tts_model\":\"x\","
	    "\"tts_format\":\"mp3\",\"tts_speed\":1.5,\"tts_events\":true,"
	    "\"temperature\":0.2}", &tts, &stream, &err);
	CHECK(j != NULL);
	CHECK_INT(stream, 1);
	CHECK_INT(tts.enabled, 0);
	CHECK_INT(tts.events, 1);
	CHECK_STR(tts.voice, "nova");
	CHECK_STR(tts.model, "x");
	CHECK_STR(tts.format, "mp3");
	CHECK(tts.speed == 1.5);
	CHECK(cJSON_GetObjectItem(j, "tts_enabled") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_voice") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_model") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_format") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_speed") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_events") == NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
	/* A streaming client's request is not given stream_options. */
	CHECK(cJSON_GetObjectItem(j, "stream_options") == NULL);
	CHECK(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.2);
	CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "m");
	cJSON_Delete(j);
	chat_tts_clear(&tts);

	/* No stream field: upstream streams anyway, with usage. */
	j = rewrite("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}", &tts, &stream, &err);
	CHECK(j != NULL);
	CHECK_INT(stream, 0);
	CHECK_INT(tts.enabled, 1);
	CHECK(tts.voice == NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
	so = cJSON_GetObjectItem(j, "stream_options");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(so, "include_usage")));
	cJSON_Delete(j);
	chat_tts_clear(&tts);

	/* stream: false, with an existing stream_options. */
	j = rewrite("{\"messages\":[],\"stream\":false,\"stream_options\":"
	    "{\"include_usage\":false}}", &tts, &stream, &err);
	CHECK_INT(stream, 0);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
	so = cJSON_GetObjectItem(j, "stream_options");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(so, "include_usage")));
	CHECK_INT(cJSON_GetArraySize(so), 1);
	cJSON_Delete(j);
	chat_tts_clear(&tts);

	/* A repeated key of ours is taken out every time. */
	j = rewrite("{\"messages\":[],\"tts_voice\":\"a\",\"tts_voice\":\"b\","
	    "\"tts_enabled\":false,\"tts_enabled\":true}", &tts, &stream, &err);
	CHECK(j != NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_voice") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_enabled") == NULL);
	CHECK_STR(tts.voice, "a");
	cJSON_Delete(j);
	chat_tts_clear(&tts);

	/* Bad requests. */
	CHECK(rewrite("{\"messages\":[", &tts, &stream, &err) == NULL);
	CHECK_STR(err, "Request body is not valid JSON: send one JSON object.");
	CHECK(rewrite("[1,2]", &tts, &stream, &err) == NULL);
	CHECK_STR(err, "Request body must be a JSON object.");
	CHECK(rewrite("{\"model\":\"m\"}", &tts, &stream, &err) == NULL);
	CHECK_STR(err, "'messages' must be an array.");
	CHECK_STR(last.param, "messages");
	CHECK(rewrite("", &tts, &stream, &err) == NULL);
	/* Exact JSON: nothing after the object but whitespace. */
	CHECK(rewrite("{\"messages\":[]} x", &tts, &stream, &err) == NULL);
	CHECK_STR(last.code, "invalid_json");
	CHECK(last.param == NULL);
	CHECK(rewrite("{\"messages\":[]}{}", &tts, &stream, &err) == NULL);
	j = rewrite("{\"messages\":[]} \r\n\t", &tts, &stream, &err);
	CHECK(j != NULL);
	cJSON_Delete(j);
	chat_tts_clear(&tts);
	/* Our fields and stream of the wrong type: a 400 naming the field. */
	{
		static const struct {
			const char	*body;
			const char	*param;
		} t[] = {
			{ "{\"messages\":[],\"tts_enabled\":\"no\"}",
			  "tts_enabled" },
			{ "{\"messages\":[],\"tts_events\":\"yes\"}",
			  "tts_events" },
			{ "{\"messages\":[],\"tts_voice\":1}", "tts_voice" },
			{ "{\"messages\":[],\"tts_model\":[]}", "tts_model" },
			{ "{\"messages\":[],\"tts_format\":{}}", "tts_format" },
			{ "{\"messages\":[],\"tts_speed\":\"1\"}", "tts_speed" },
			{ "{\"messages\":[],\"stream\":\"true\"}", "stream" },
			{ "{\"messages\":[],\"stream\":1}", "stream" },
			{ "{\"messages\":[],\"stream_options\":true}",
			  "stream_options" },
			{ "{\"messages\":{}}", "messages" },
		};
		size_t	i;

		for (i = 0; i < sizeof t / sizeof t[0]; i++) {
			CHECK(rewrite(t[i].body, &tts, &stream, &err) == NULL);
			CHECK_STR(last.param, t[i].param);
			CHECK(strstr(last.msg, t[i].param) != NULL);
		}
	}
	/* null is as good as absent. */
	j = rewrite("{\"messages\":[],\"tts_enabled\":null,\"stream\":null,"
	    "\"tts_voice\":null}", &tts, &stream, &err);
	CHECK(j != NULL);
	CHECK_INT(tts.enabled, 1);
	CHECK_INT(stream, 0);
	CHECK(cJSON_GetObjectItem(j, "tts_voice") == NULL);
	cJSON_Delete(j);
	chat_tts_clear(&tts);
}

static void
test_content(void)
{
	static const struct {
		const char	*chunk;
		const char	*want;
	} t[] = {
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}",
		  "Hi" },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
		  "\"think\"}}]}", NULL },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"t\"}}]}",
		  NULL },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
		  "\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}", NULL },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"no\"}}]}",
		  NULL },
		{ "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}}]}",
		  NULL },
		{ "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}},"
		  "{\"index\":0,\"delta\":{\"content\":\"A\"}}]}", "A" },
		{ "{\"choices\":[{\"delta\":{\"content\":\"noindex\"}}]}",
		  "noindex" },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}",
		  NULL },
		{ "{\"choices\":[],\"usage\":{}}", NULL },
		{ "{\"error\":{\"message\":\"x\"}}", NULL },
	};
	size_t		 i;
	cJSON		*j;
	const char	*got;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		j = cJSON_Parse(t[i].chunk);
		got = chat_chunk_content(j);
		if (t[i].want == NULL)
			CHECK(got == NULL);
		else
			CHECK_STR(got, t[i].want);
		cJSON_Delete(j);
	}
}

static void
test_assemble(void)
{
	static const char *chunks[] = {
		"{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":"
		"1700000000,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"reasoning_content\":\"hmm\"}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"content\":\"Hel\"}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"content\":\"lo 你好\"}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
		"[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":"
		"{\"name\":\"get_b\",\"arguments\":\"\"}}]}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
		"[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":"
		"{\"name\":\"get_a\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
		"[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
		"[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}}]}",
		"{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
		"\"finish_reason\":\"tool_calls\"}]}",
		"{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
		"\"completion_tokens\":5,\"total_tokens\":8}}",
	};
	struct chat_asm	*a = chat_asm_new();
	cJSON		*j, *c, *m, *tc, *usage;
	char		*out;
	size_t		 i;

	CHECK(chat_asm_empty(a));
	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		j = cJSON_Parse(chunks[i]);
		CHECK(j != NULL);
		chat_asm_add(a, j);
		cJSON_Delete(j);
	}
	CHECK(!chat_asm_empty(a));
	out = chat_asm_result(a);
	j = cJSON_Parse(out);
	free(out);
	CHECK_STR(cJSON_GetObjectItem(j, "id")->valuestring, "c1");
	CHECK_STR(cJSON_GetObjectItem(j, "object")->valuestring,
	    "chat.completion");
	CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "gpt");
	CHECK(cJSON_GetObjectItem(j, "created")->valuedouble == 1700000000);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	CHECK_STR(cJSON_GetObjectItem(c, "finish_reason")->valuestring,
	    "tool_calls");
	m = cJSON_GetObjectItem(c, "message");
	CHECK_STR(cJSON_GetObjectItem(m, "role")->valuestring, "assistant");
	CHECK_STR(cJSON_GetObjectItem(m, "content")->valuestring, "Hello 你好");
	CHECK_STR(cJSON_GetObjectItem(m, "reasoning_content")->valuestring,
	    "hmm");
	tc = cJSON_GetObjectItem(m, "tool_calls");
	CHECK_INT(cJSON_GetArraySize(tc), 2);
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(tc, 0), "id")
	    ->valuestring, "call_a");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    tc, 0), "function"), "arguments")->valuestring, "{\"x\":1}");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    tc, 1), "function"), "name")->valuestring, "get_b");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    tc, 1), "function"), "arguments")->valuestring, "{}");
	usage = cJSON_GetObjectItem(j, "usage");
	CHECK_INT(cJSON_GetObjectItem(usage, "total_tokens")->valueint, 8);
	cJSON_Delete(j);
	chat_asm_free(a);

	/* A reply with no tool calls has content, never null. */
	a = chat_asm_new();
	j = cJSON_Parse("{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":"
	    "{\"role\":\"assistant\"},\"finish_reason\":\"stop\"}]}");
	chat_asm_add(a, j);
	cJSON_Delete(j);
	out = chat_asm_result(a);
	j = cJSON_Parse(out);
	free(out);
	m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "choices"), 0), "message");
	CHECK_STR(cJSON_GetObjectItem(m, "content")->valuestring, "");
	CHECK(cJSON_GetObjectItem(j, "usage") == NULL);
	cJSON_Delete(j);
	chat_asm_free(a);
}

/* sanitize IN: the result, or "=" when nothing was to change. */
static const char *
sanitized(const char *in, char *buf, size_t bufsz)
{
	size_t	 n = 0;
	char	*out = chat_sanitize(in, strlen(in), &n);

	if (out == NULL)
		return "=";
	CHECK_INT(n, strlen(out));
	snprintf(buf, bufsz, "%s", out);
	free(out);
	return buf;
}

static void
test_sanitize(void)
{
	char		 b[256];
	cJSON		*j;
	const char	*in = "{\"c\":\"a\\u0000b\"}";
	char		*out;
	size_t		 n;

	CHECK_STR(sanitized("{\"c\":\"plain\"}", b, sizeof b), "=");
	CHECK_STR(sanitized("{\"c\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82\"}",
	    b, sizeof b), "=");
	CHECK_STR(sanitized("{\"c\":\"\\u00e9 \\n \\\" \"}", b, sizeof b), "=");
	CHECK_STR(sanitized(in, b, sizeof b), "{\"c\":\"a\\ufffdb\"}");
	/* An escaped backslash then u0000: text, not a NUL. */
	CHECK_STR(sanitized("{\"c\":\"\\\\u0000\"}", b, sizeof b), "=");
	CHECK_STR(sanitized("{\"c\":\"\\\\\\u0000\"}", b, sizeof b),
	    "{\"c\":\"\\\\\\ufffd\"}");
	CHECK_STR(sanitized("{\"c\":\"x\xffy\"}", b, sizeof b),
	    "{\"c\":\"x\xef\xbf\xbdy\"}");
	CHECK_STR(sanitized("{\"c\":\"\xc0\xaf\"}", b, sizeof b),
	    "{\"c\":\"\xef\xbf\xbd\xef\xbf\xbd\"}");	/* overlong */
	CHECK_STR(sanitized("{\"c\":\"\xed\xa0\x80\"}", b, sizeof b),
	    "{\"c\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}"); /* surrogate */
	CHECK_STR(sanitized("\"\xe2\x82", b, sizeof b),
	    "\"\xef\xbf\xbd\xef\xbf\xbd");		/* cut at the end */
	/* Parsed, the text after the NUL is there. */
	out = chat_sanitize(in, strlen(in), &n);
	j = cJSON_ParseWithLength(out, n);
	CHECK(j != NULL);
	CHECK_STR(cJSON_GetObjectItem(j, "c")->valuestring, "a\xef\xbf\xbd" "b");
	cJSON_Delete(j);
	free(out);
}

int
main(void)
{
	test_rewrite();
	test_content();
	test_assemble();
	test_sanitize();
	return CHECK_DONE();
}
