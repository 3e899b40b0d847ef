/* Unit tests for the Responses API: request rewriting and the text that
 * is spoken of its events and of a whole response. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "request.h"
#include "responses.h"

static void
test_rewrite(void)
{
	struct chat_tts		 tts;
	struct req_error	 e;
	const char		*in;
	char			*out;
	size_t			 n;
	int			 stream;
	cJSON			*j;

	/* No field of ours: the very bytes, stream as the client said. */
	in = "{ \"model\":\"m\", \"input\":\"hi\", \"stream\":true,"
	    " \"temperature\":0.30000000000000004 }";
	memset(&e, 0, sizeof e);
	out = responses_rewrite(in, strlen(in), &tts, &stream, &n, &e);
	CHECK(out != NULL);
	CHECK_INT(n, strlen(in));
	CHECK_STR(out, in);
	CHECK_INT(stream, 1);
	CHECK_INT(tts.enabled, 1);
	free(out);
	chat_tts_clear(&tts);

	/* Ours taken out, stream false kept false (not forced). */
	in = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"stream\":false,\"tts_enabled\":false,\"tts_voice\":\"nova\","
	    "\"tts_model\":\"t\",\"tts_format\":\"mp3\",\"tts_speed\":1.5,"
	    "\"tts_events\":true,\"tts_voice\":\"dup\"}";
	out = responses_rewrite(in, strlen(in), &tts, &stream, &n, &e);
	CHECK(out != NULL);
	CHECK_INT(n, strlen(out));
	CHECK_INT(stream, 0);
	CHECK_INT(tts.enabled, 0);
	CHECK_INT(tts.events, 1);
	CHECK_STR(tts.voice, "nova");
	CHECK_STR(tts.model, "t");
	CHECK_STR(tts.format, "mp3");
	CHECK(tts.speed == 1.5);
	j = cJSON_Parse(out);
	CHECK(j != NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_voice") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_enabled") == NULL);
	CHECK(cJSON_GetObjectItem(j, "tts_speed") == NULL);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "stream")));
	CHECK(cJSON_IsArray(cJSON_GetObjectItem(j, "input")));
	cJSON_Delete(j);
	free(out);
	chat_tts_clear(&tts);

	/* Refused: not an object, our field or stream of the wrong type. */
	in = "[1]";
	CHECK(responses_rewrite(in, strlen(in), &tts, &stream, &n, &e) ==
	    NULL);
	in = "{\"input\":\"x\",\"tts_speed\":\"fast\"}";
	CHECK(responses_rewrite(in, strlen(in), &tts, &stream, &n, &e) ==
	    NULL);
	CHECK_STR(e.param, "tts_speed");
	in = "{\"input\":\"x\",\"stream\":\"yes\"}";
	CHECK(responses_rewrite(in, strlen(in), &tts, &stream, &n, &e) ==
	    NULL);
	CHECK_STR(e.param, "stream");
}

/* The spoken text of event JSON, given the position so far. */
static const char *
text_of(const char *json, struct responses_pos *pos, int *newpart,
    cJSON **hold)
{
	cJSON_Delete(*hold);
	*hold = cJSON_Parse(json);
	return responses_event_text(*hold, pos, newpart);
}

static void
test_events(void)
{
	struct responses_pos	 pos;
	const char		*t;
	cJSON			*hold = NULL;
	int			 np;

	memset(&pos, 0, sizeof pos);
	t = text_of("{\"type\":\"response.output_text.delta\",\"item_id\":"
	    "\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":"
	    "\"Hello \"}", &pos, &np, &hold);
	CHECK_STR(t, "Hello ");
	CHECK_INT(np, 0);
	t = text_of("{\"type\":\"response.output_text.delta\","
	    "\"output_index\":1,\"content_index\":0,\"delta\":\"there.\"}",
	    &pos, &np, &hold);
	CHECK_STR(t, "there.");
	CHECK_INT(np, 0);
	/* Not spoken: reasoning, refusals, tool calls, the rest. */
	CHECK(text_of("{\"type\":\"response.reasoning_summary_text.delta\","
	    "\"output_index\":0,\"summary_index\":0,\"delta\":\"think\"}",
	    &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.reasoning_text.delta\","
	    "\"delta\":\"think\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.refusal.delta\",\"delta\":"
	    "\"no\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.function_call_arguments.delta\","
	    "\"delta\":\"{\\\"a\\\":1}\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.output_text.done\",\"text\":"
	    "\"Hello there.\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.output_text.delta\",\"delta\":"
	    "\"\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"type\":\"response.output_text.delta\",\"delta\":"
	    "7}", &pos, &np, &hold) == NULL);
	CHECK(text_of("{\"delta\":\"no type\"}", &pos, &np, &hold) == NULL);
	CHECK(text_of("[\"response.output_text.delta\"]", &pos, &np,
	    &hold) == NULL);
	CHECK(text_of("\"x\"", &pos, &np, &hold) == NULL);
	/* Another part, then another item: each said to be new. */
	t = text_of("{\"type\":\"response.output_text.delta\","
	    "\"output_index\":1,\"content_index\":1,\"delta\":\"Part two\"}",
	    &pos, &np, &hold);
	CHECK_STR(t, "Part two");
	CHECK_INT(np, 1);
	t = text_of("{\"type\":\"response.output_text.delta\","
	    "\"output_index\":3,\"content_index\":1,\"delta\":\"Item two\"}",
	    &pos, &np, &hold);
	CHECK_STR(t, "Item two");
	CHECK_INT(np, 1);
	t = text_of("{\"type\":\"response.output_text.delta\","
	    "\"output_index\":3,\"content_index\":1,\"delta\":\" more\"}",
	    &pos, &np, &hold);
	CHECK_INT(np, 0);
	cJSON_Delete(hold);

	hold = cJSON_Parse("{\"type\":\"error\",\"code\":\"x\"}");
	CHECK_INT(responses_event_failed(hold), 1);
	cJSON_Delete(hold);
	hold = cJSON_Parse("{\"type\":\"response.failed\"}");
	CHECK_INT(responses_event_failed(hold), 1);
	cJSON_Delete(hold);
	hold = cJSON_Parse("{\"type\":\"response.incomplete\"}");
	CHECK_INT(responses_event_failed(hold), 0);
	cJSON_Delete(hold);
}

static void
test_output(void)
{
	cJSON	*j;
	char	*t;

	j = cJSON_Parse("{\"object\":\"response\",\"output\":["
	    "{\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\","
	    "\"text\":\"secret\"}],\"content\":[{\"type\":\"output_text\","
	    "\"text\":\"not a message\"}]},"
	    "{\"type\":\"message\",\"role\":\"assistant\",\"content\":["
	    "{\"type\":\"output_text\",\"text\":\"One.\"},"
	    "{\"type\":\"refusal\",\"refusal\":\"no\",\"text\":\"nope\"},"
	    "{\"type\":\"output_text\",\"text\":\"\"},"
	    "{\"type\":\"output_text\",\"text\":\"Two.\"}]},"
	    "{\"type\":\"function_call\",\"arguments\":\"{}\"},"
	    "{\"type\":\"message\",\"content\":[{\"type\":\"output_text\","
	    "\"text\":\"Three.\"}]}]}");
	t = responses_output_text(j);
	CHECK_STR(t, "One." RESPONSES_SEP "Two." RESPONSES_SEP "Three.");
	free(t);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"output\":[{\"type\":\"function_call\"}]}");
	CHECK(responses_output_text(j) == NULL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"output\":{\"type\":\"message\"}}");
	CHECK(responses_output_text(j) == NULL);
	cJSON_Delete(j);
	CHECK(responses_output_text(NULL) == NULL);
}

int
main(void)
{
	test_rewrite();
	test_events();
	test_output();
	return CHECK_DONE();
}
