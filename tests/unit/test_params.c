/* Unit tests for params: formats, what can be made, resolution, the wire
 * form. */
#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "params.h"
#include "ttsmap.h"

#define BIT(f)	PARAMS_BIT(params_format_index(f))

static void
test_formats(void)
{
	size_t	i;

	CHECK_INT(params_format_index("mp3"), 0);
	CHECK_INT(params_format_index("pcm"), 5);
	CHECK_INT(params_format_index("ogg"), -1);
	CHECK_INT(params_format_index("MP3"), -1);
	CHECK_INT(params_format_index(""), -1);
	CHECK_INT(params_format_index(NULL), -1);
	for (i = 0; i < PARAMS_NFORMATS; i++) {
		CHECK_INT(params_format_index(params_format_name(i)), i);
		CHECK(strstr(PARAMS_FORMAT_LIST, params_format_name(i)) !=
		    NULL);
	}
	CHECK(params_format_name(PARAMS_NFORMATS) == NULL);
	CHECK_STR(params_content_type("mp3"), "audio/mpeg");
	CHECK_STR(params_content_type("opus"), "audio/ogg");
	CHECK_STR(params_content_type("aac"), "audio/aac");
	CHECK_STR(params_content_type("flac"), "audio/flac");
	CHECK_STR(params_content_type("wav"), "audio/wav");
	CHECK_STR(params_content_type("pcm"), "audio/pcm");
	CHECK(params_content_type("ogg") == NULL);
	CHECK(params_content_type(NULL) == NULL);
	CHECK(params_speed_ok(0.25) && params_speed_ok(4.0) &&
	    params_speed_ok(1.0));
	CHECK(!params_speed_ok(0.24) && !params_speed_ok(4.01) &&
	    !params_speed_ok(0));
}

static void
test_making(void)
{
	struct params_can	 all = { 0x3f, BIT("wav") | BIT("pcm") |
				    BIT("flac") | BIT("mp3") | BIT("opus") };
	struct params_can	 wavonly = { BIT("wav"), all.conv };
	struct params_can	 mp3only = { BIT("mp3"), all.conv };
	struct params_can	 none = { 0, all.conv };
	char			*s;

	CHECK_INT(params_making(&all, "aac"), PARAMS_DIRECT);
	CHECK_INT(params_making(&wavonly, "wav"), PARAMS_DIRECT);
	CHECK_INT(params_making(&wavonly, "mp3"), PARAMS_FROM_WAV);
	CHECK_INT(params_making(&wavonly, "aac"), PARAMS_UNCONVERTIBLE);
	CHECK_INT(params_making(&wavonly, "ogg"), PARAMS_UNCONVERTIBLE);
	CHECK_INT(params_making(&mp3only, "mp3"), PARAMS_DIRECT);
	CHECK_INT(params_making(&mp3only, "flac"), PARAMS_NO_WAV);
	CHECK_INT(params_making(&none, "wav"), PARAMS_NO_WAV);

	CHECK(params_converts(&none, "mp3"));
	CHECK(!params_converts(&all, "aac"));
	CHECK(params_from_wav(&wavonly, "mp3"));
	CHECK(params_from_wav(&all, "mp3"));	/* even where it is made */
	CHECK(!params_from_wav(&wavonly, "wav"));
	CHECK(!params_from_wav(&wavonly, "aac"));
	CHECK(!params_from_wav(&mp3only, "opus"));	/* no WAV to start from */
	CHECK(!params_from_wav(&wavonly, "ogg"));

	s = params_can_text(&wavonly);
	CHECK_STR(s, "wav, pcm, flac, mp3 or opus");
	free(s);
	s = params_can_text(&all);
	CHECK_STR(s, "wav, pcm, flac, mp3, opus or aac");
	free(s);
	s = params_can_text(&mp3only);
	CHECK_STR(s, "mp3");
	free(s);
	s = params_can_text(&none);
	CHECK_STR(s, "");
	free(s);
}

static void
test_dup_same(void)
{
	struct tts_params	 p = { "liang", "alloy", "wav", NULL, 1.5 };
	struct tts_params	 q = p;
	struct tts_params	*d;

	d = params_dup(&p);
	CHECK(d->model != p.model);
	CHECK_STR(d->model, "liang");
	CHECK_STR(d->voice, "alloy");
	CHECK_STR(d->format, "wav");
	CHECK(d->instructions == NULL);
	CHECK(d->speed == 1.5);
	CHECK(params_same(d, &p, 0));
	free(d);

	p.instructions = "calm";
	d = params_dup(&p);
	CHECK_STR(d->instructions, "calm");
	CHECK_STR(d->format, "wav");
	CHECK(params_same(d, &p, 0));
	CHECK(!params_same(d, &q, 0));	/* instructions differ */
	free(d);

	q = p;
	q.format = "mp3";
	CHECK(!params_same(&p, &q, 0));
	CHECK(params_same(&p, &q, 1));
	q.voice = "nova";
	CHECK(!params_same(&p, &q, 1));
	q = p;
	q.speed = 1.0;
	CHECK(!params_same(&p, &q, 1));
}

static void
test_resolve(void)
{
	struct params_conf	 c;
	struct params_can	 wavonly = { BIT("wav"), BIT("mp3") };
	struct params_ask	 a;
	struct tts_params	 p;
	struct ttsmap		*mm, *vm;
	char			*cause = NULL;

	memset(&c, 0, sizeof c);
	c.model = "liang";
	c.voice = "alloy";
	c.format = "wav";

	/* Nothing asked: the defaults. */
	memset(&a, 0, sizeof a);
	CHECK_INT(params_resolve(&c, PARAMS_SPEECH, &a, &wavonly, &p),
	    PARAMS_DIRECT);
	CHECK_STR(p.model, "liang");
	CHECK_STR(p.voice, "alloy");
	CHECK_STR(p.format, "wav");
	CHECK(p.speed == 1.0);
	CHECK(p.instructions == NULL);

	/* Empty is as good as none. */
	a.model = "";
	a.voice = "";
	params_resolve(&c, PARAMS_CHAT, &a, &wavonly, &p);
	CHECK_STR(p.model, "liang");
	CHECK_STR(p.voice, "alloy");

	/* Asked: kept; a format made from WAV says so. */
	a.model = "kokoro";
	a.voice = "af_heart";
	a.format = "mp3";
	a.speed = 1.25;
	a.instructions = "slowly";
	CHECK_INT(params_resolve(&c, PARAMS_SPEECH, &a, &wavonly, &p),
	    PARAMS_FROM_WAV);
	CHECK_STR(p.model, "kokoro");
	CHECK_STR(p.voice, "af_heart");
	CHECK_STR(p.format, "mp3");
	CHECK(p.speed == 1.25);
	CHECK_STR(p.instructions, "slowly");
	a.format = "aac";
	CHECK_INT(params_resolve(&c, PARAMS_SPEECH, &a, &wavonly, &p),
	    PARAMS_UNCONVERTIBLE);
	a.format = "ogg";
	CHECK_INT(params_resolve(&c, PARAMS_SPEECH, &a, &wavonly, &p),
	    PARAMS_UNCONVERTIBLE);

	/* The maps: the names asked and the defaults alike. */
	mm = ttsmap_parse("tts-1=liang,liang=liang-v2", &cause);
	vm = ttsmap_parse("nova=v1", &cause);
	CHECK(mm != NULL && vm != NULL);
	c.model_map = mm;
	c.voice_map = vm;
	CHECK_STR(params_model(&c, "tts-1"), "liang");
	CHECK_STR(params_model(&c, NULL), "liang-v2");
	CHECK_STR(params_model(&c, "kokoro"), "kokoro");
	CHECK_STR(params_voice(&c, "nova"), "v1");
	CHECK_STR(params_voice(&c, "echo"), "echo");
	ttsmap_free(mm);
	ttsmap_free(vm);
}

/* Issue 16: OpenAI's stock names out of the box. */
static void
test_stock_names(void)
{
	struct params_conf	 c;
	struct ttsmap		*mm, *vm;
	char			*cause = NULL;

	memset(&c, 0, sizeof c);
	c.model = "liang";
	c.voice = "af_heart";

	/* No maps: the stock names and nothing are the defaults. */
	CHECK_STR(params_model(&c, "tts-1"), "liang");
	CHECK_STR(params_model(&c, "tts-1-hd"), "liang");
	CHECK_STR(params_model(&c, "gpt-4o-mini-tts"), "liang");
	CHECK_STR(params_model(&c, NULL), "liang");
	CHECK_STR(params_model(&c, ""), "liang");
	CHECK_STR(params_voice(&c, "alloy"), "af_heart");
	CHECK_STR(params_voice(&c, NULL), "af_heart");
	/* Any other name is its own: another model, another voice (OpenAI's
	 * other voices are a user's choice), another case. */
	CHECK_STR(params_model(&c, "kokoro"), "kokoro");
	CHECK_STR(params_model(&c, "TTS-1"), "TTS-1");
	CHECK_STR(params_model(&c, "tts-1 "), "tts-1 ");
	CHECK_STR(params_voice(&c, "nova"), "nova");
	CHECK_STR(params_voice(&c, "echo"), "echo");
	CHECK_STR(params_voice(&c, "Alloy"), "Alloy");

	/* The default is one of OpenAI's own: each name is its own. */
	c.model = "tts-1";
	c.voice = "nova";
	CHECK_STR(params_model(&c, "tts-1-hd"), "tts-1-hd");
	CHECK_STR(params_model(&c, "gpt-4o-mini-tts"), "gpt-4o-mini-tts");
	CHECK_STR(params_model(&c, "tts-1"), "tts-1");
	CHECK_STR(params_model(&c, NULL), "tts-1");
	CHECK_STR(params_voice(&c, "alloy"), "alloy");
	CHECK_STR(params_voice(&c, NULL), "nova");
	c.voice = "alloy";
	CHECK_STR(params_voice(&c, "alloy"), "alloy");

	/* The operator's map wins; a stock name it does not name is still
	 * the default, mapped in turn. */
	c.model = "liang";
	c.voice = "af_heart";
	mm = ttsmap_parse("tts-1-hd=liang-hd,liang=liang-v2", &cause);
	vm = ttsmap_parse("alloy=af_bella", &cause);
	CHECK(mm != NULL && vm != NULL);
	c.model_map = mm;
	c.voice_map = vm;
	CHECK_STR(params_model(&c, "tts-1-hd"), "liang-hd");
	CHECK_STR(params_model(&c, "tts-1"), "liang-v2");
	CHECK_STR(params_model(&c, NULL), "liang-v2");
	CHECK_STR(params_model(&c, "kokoro"), "kokoro");
	CHECK_STR(params_voice(&c, "alloy"), "af_bella");
	CHECK_STR(params_voice(&c, NULL), "af_heart");
	ttsmap_free(mm);
	ttsmap_free(vm);
	/* A stock name mapped to itself is kept, not the default. */
	mm = ttsmap_parse("tts-1=tts-1", &cause);
	c.model_map = mm;
	CHECK_STR(params_model(&c, "tts-1"), "tts-1");
	CHECK_STR(params_model(&c, "tts-1-hd"), "liang");
	ttsmap_free(mm);
}

static void
test_default_format(void)
{
	struct params_conf	 c;
	struct params_can	 all = { 0x3f, 0x1f };
	struct params_ask	 a;
	struct tts_params	 p;

	memset(&c, 0, sizeof c);
	memset(&a, 0, sizeof a);
	c.model = "liang";
	c.voice = "alloy";
	/* Unset: mp3 for speech, as OpenAI's; wav for a chat. */
	CHECK_STR(params_default_format(&c, PARAMS_SPEECH), "mp3");
	CHECK_STR(params_default_format(&c, PARAMS_CHAT), "wav");
	c.format = "";
	CHECK_STR(params_default_format(&c, PARAMS_SPEECH), "mp3");
	params_resolve(&c, PARAMS_SPEECH, &a, &all, &p);
	CHECK_STR(p.format, "mp3");
	params_resolve(&c, PARAMS_CHAT, &a, &all, &p);
	CHECK_STR(p.format, "wav");
	/* Set: it decides for both. */
	c.format = "opus";
	CHECK_STR(params_default_format(&c, PARAMS_SPEECH), "opus");
	CHECK_STR(params_default_format(&c, PARAMS_CHAT), "opus");
	a.format = "flac";
	params_resolve(&c, PARAMS_SPEECH, &a, &all, &p);
	CHECK_STR(p.format, "flac");
}

static void
test_json(void)
{
	struct tts_params	 p = { "liang", "alloy", "wav", "calm", 1.5 };
	struct tts_params	 q;
	const char		*asked;
	cJSON			*o;

	o = params_json(&p, "mp3");
	CHECK_INT(params_from_json(o, &q, &asked), 0);
	CHECK(params_same(&p, &q, 0));
	CHECK_STR(asked, "mp3");
	cJSON_Delete(o);

	p.instructions = NULL;
	o = params_json(&p, "wav");		/* asked as made: not sent */
	CHECK(cJSON_GetObjectItem(o, "asked") == NULL);
	CHECK(cJSON_GetObjectItem(o, "instructions") == NULL);
	CHECK_INT(params_from_json(o, &q, &asked), 0);
	CHECK(params_same(&p, &q, 0));
	CHECK(asked == NULL);
	/* Not ours: a speed out of range, a field missing. */
	cJSON_ReplaceItemInObject(o, "speed", cJSON_CreateNumber(9));
	CHECK_INT(params_from_json(o, &q, &asked), -1);
	cJSON_ReplaceItemInObject(o, "speed", cJSON_CreateString("1"));
	CHECK_INT(params_from_json(o, &q, &asked), -1);
	cJSON_ReplaceItemInObject(o, "speed", cJSON_CreateNumber(1));
	CHECK_INT(params_from_json(o, &q, &asked), 0);
	cJSON_DeleteItemFromObject(o, "voice");
	CHECK_INT(params_from_json(o, &q, &asked), -1);
	cJSON_Delete(o);
}

int
main(void)
{
	test_formats();
	test_making();
	test_dup_same();
	test_resolve();
	test_stock_names();
	test_default_format();
	test_json();
	return CHECK_DONE();
}
