/* Unit tests for configuration loading: sources, precedence, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "ttsmap.h"

static char	dir[] = "/tmp/ttsaccel-config-test.XXXXXX";

static void
write_file(const char *name, const char *text)
{
	FILE	*f = fopen(name, "w");

	fputs(text, f);
	fclose(f);
}

/* Load with argv and envp given as NULL-terminated lists. */
static int
load(struct config *cf, char **argv, char **envp, int *action, char **cause)
{
	int	argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return config_load(cf, argc, argv, envp, action, cause);
}

static void
test_defaults(void)
{
	struct config	 cf;
	char		*argv[] = { "ttsaccel", NULL };
	char		*envp[] = { "XDG_RUNTIME_DIR=/run/user/7", NULL };
	char		*cause;
	int		 action;

	CHECK_INT(load(&cf, argv, envp, &action, &cause), 0);
	CHECK_INT(action, CONFIG_ACT_RUN);
	CHECK(cf.upstream_url == NULL);
	CHECK_INT(cf.upstream_timeout, 120);
	CHECK_STR(cf.host, "127.0.0.1");
	CHECK_INT(cf.port, 8000);
	CHECK_STR(cf.tts_default_model, "liang");
	CHECK_STR(cf.tts_default_voice, "alloy");
	CHECK(cf.tts_default_format == NULL);	/* mp3 for speech, wav chats */
	CHECK_STR(params_default_format(&cf.params, PARAMS_SPEECH), "mp3");
	CHECK_INT(cf.tts_max_concurrent, 3);
	CHECK_INT(cf.tts_request_timeout, 60);
	CHECK_INT(cf.tts_retry_count, 2);
	CHECK_INT(cf.tts_health_interval, 30);
	CHECK_INT(cf.tts_keepwarm_interval, 0);
	CHECK_INT(cf.cache_max_size, 1000);
	CHECK(cf.cache_max_bytes == 256ULL * 1024 * 1024);
	CHECK_INT(cf.cache_ttl, 3600);
	CHECK_INT(cf.splitter_min_len, 5);
	CHECK_INT(cf.splitter_max_len, 40);
	CHECK_INT(cf.splitter_first_len, 10);
	CHECK_INT(cf.log_level, LOG_LVL_INFO);
	CHECK(cf.max_body_bytes == 4ULL * 1024 * 1024);
	CHECK_STR(cf.redis_prefix, "ttsaccel:");
	CHECK_STR(cf.socket_path, "/run/user/7/ttsaccel.sock");
	CHECK_INT(cf.nclient_keys, 0);
	CHECK_INT(ttsmap_count(cf.model_map), 0);
	CHECK_INT(ttsmap_count(cf.voice_map), 0);
	CHECK_STR(ttsmap_lookup(cf.model_map, "tts-1"), "tts-1");
	config_clear(&cf);
}

static void
test_precedence(void)
{
	struct config	 cf;
	char		*argv[] = { "ttsaccel", "--config", "t.conf",
			    "--cache-ttl", "40", "--port=9001", NULL };
	char		*envp[] = { "CACHE_TTL=30", "TTS_RETRY_COUNT=5",
			    "NEWAPI_API_KEY=sk-up", "UNRELATED=1", NULL };
	char		*cause = NULL;
	int		 action;

	write_file("t.conf",
	    "# a comment\n"
	    "cache_ttl = 10\n"
	    "tts_retry_count = 4\n"
	    "splitter_max_len = 60\n"
	    "newapi_base_url = http://up.example:11434/v1/\n"
	    "endpoint = http://tts1:8080 max=4\n"
	    "endpoint = exec:espeak-ng --stdout\n"
	    "CACHE_MAX_BYTES = 1M\n");
	write_file(".env",
	    "# dotenv\n"
	    "export CACHE_TTL=20\n"
	    "SPLITTER_MAX_LEN='50'\n"
	    "COMPOSE_PROJECT_NAME=x\n");
	CHECK_INT(load(&cf, argv, envp, &action, &cause), 0);
	if (cause != NULL)
		fprintf(stderr, "cause: %s\n", cause);
	CHECK_INT(cf.cache_ttl, 40);		/* option > env > .env > file */
	CHECK_INT(cf.tts_retry_count, 5);	/* env > file */
	CHECK_INT(cf.splitter_max_len, 50);	/* .env > file */
	CHECK_INT(cf.port, 9001);
	CHECK(cf.cache_max_bytes == 1024 * 1024);
	CHECK_STR(cf.upstream_url, "http://up.example:11434");
	CHECK_INT(cf.nendpoints, 2);
	CHECK_STR(cf.endpoints[0], "http://tts1:8080 max=4");
	CHECK_STR(cf.endpoints[1], "exec:espeak-ng --stdout");
	CHECK_STR(cf.file, "t.conf");
	/* API_KEYS defaults to NEWAPI_API_KEY. */
	CHECK_INT(cf.nclient_keys, 1);
	CHECK(config_key_ok(&cf, "sk-up"));
	CHECK(!config_key_ok(&cf, "sk-u"));
	CHECK(!config_key_ok(&cf, "sk-upp"));
	CHECK(!config_key_ok(&cf, ""));
	config_clear(&cf);
	unlink(".env");
	unlink("t.conf");
}

/* Load must fail with a cause containing every given word. */
static void
fails(char **argv, char **envp, const char *w1, const char *w2)
{
	struct config	 cf;
	char		*cause = NULL;
	int		 action;

	CHECK_INT(load(&cf, argv, envp, &action, &cause), -1);
	CHECK(cause != NULL);
	if (cause == NULL)
		return;
	if (strstr(cause, w1) == NULL || (w2 != NULL &&
	    strstr(cause, w2) == NULL)) {
		fprintf(stderr, "cause '%s' lacks '%s'/'%s'\n", cause, w1,
		    w2 ? w2 : "");
		CHECK(0);
	}
	free(cause);
	config_clear(&cf);
}

static void
test_errors(void)
{
	char	*none[] = { "ttsaccel", NULL };
	char	*noenv[] = { NULL };
	char	*bad_env[] = { "CACHE_TTL=abc", NULL };
	char	*bad_port[] = { "PORT=70000", NULL };
	char	*bad_level[] = { "LOG_LEVEL=LOUD", NULL };
	char	*bad_url[] = { "NEWAPI_BASE_URL=ftp://x", NULL };
	char	*open_any[] = { "HOST=0.0.0.0", "API_KEYS=none", NULL };
	char	*nokey_any[] = { "HOST=0.0.0.0", NULL };
	char	*minmax[] = { "SPLITTER_MIN_LEN=50", NULL };
	char	*badsize[] = { "MAX_BODY_BYTES=12X", NULL };
	char	*opt[] = { "ttsaccel", "--cache-size", "1", NULL };
	char	*optval[] = { "ttsaccel", "--cache-ttl", "-3", NULL };
	char	*nofile[] = { "ttsaccel", "--config", "missing.conf", NULL };
	char	*badfile[] = { "ttsaccel", "-c", "bad.conf", NULL };
	char	*badline[] = { "ttsaccel", "-c", "badline.conf", NULL };
	char	*stray[] = { "ttsaccel", "extra", NULL };
	char	*bad_mmap[] = { "TTS_MODEL_MAP=tts-1", NULL };
	char	*bad_vmap[] = { "TTS_VOICE_MAP=alloy=v0, =v1", NULL };
	char	*dup_vmap[] = { "TTS_VOICE_MAP=alloy=v0,alloy=v1", NULL };
	char	*bad_map3[] = { "TTS_MODEL_MAP=tts-1=", NULL };
	char	*badmapf[] = { "ttsaccel", "-c", "badmap.conf", NULL };

	fails(none, bad_env, "CACHE_TTL", "environment");
	fails(none, bad_port, "PORT", "too large");
	fails(none, bad_level, "LOG_LEVEL", "LOUD");
	fails(none, bad_url, "NEWAPI_BASE_URL", "http");
	fails(none, open_any, "API_KEYS", "loopback");
	fails(none, nokey_any, "API_KEYS", "0.0.0.0");
	fails(none, minmax, "SPLITTER_MIN_LEN", "SPLITTER_MAX_LEN");
	fails(none, badsize, "MAX_BODY_BYTES", "size");
	fails(opt, noenv, "unknown option", "--cache-size");
	fails(optval, noenv, "--cache-ttl", "too small");
	fails(nofile, noenv, "missing.conf", "cannot open");
	write_file("bad.conf", "\ncache_tll = 5\n");
	fails(badfile, noenv, "bad.conf line 2", "cache_tll");
	unlink("bad.conf");
	write_file("badline.conf", "port 80\n");
	fails(badline, noenv, "badline.conf line 1", "key = value");
	unlink("badline.conf");
	fails(stray, noenv, "extra", NULL);
	fails(none, bad_mmap, "TTS_MODEL_MAP", "'tts-1'");
	fails(none, bad_vmap, "TTS_VOICE_MAP", "'=v1'");
	fails(none, dup_vmap, "TTS_VOICE_MAP", "mapped twice");
	fails(none, bad_map3, "TTS_MODEL_MAP", "'tts-1='");
	write_file("badmap.conf", "tts_voice_map = alloy=v1, nova\n");
	fails(badmapf, noenv, "TTS_VOICE_MAP", "'nova'");
	unlink("badmap.conf");
}

static void
test_misc(void)
{
	struct config	 cf;
	char		*argv[] = { "ttsaccel", "--check-config", NULL };
	char		*help[] = { "ttsaccel", "--help", NULL };
	char		*envp[] = { "TTSACCEL_LISTEN=[::1]:8123",
			    "API_KEYS= k1 , k2,,", "NEWAPI_API_KEY=sk-secret",
			    "TTS_API_KEY=hf_secret",
			    "REDIS_URL=redis://:pw123@localhost:6379/0",
			    "LOG_LEVEL=warn",
			    "TTS_MODEL_MAP= tts-1 = liang ,,tts-1-hd=liang",
			    "TTS_VOICE_MAP=alloy=v1", NULL };
	char		*cause, *out = NULL;
	size_t		 outlen;
	int		 action;
	FILE		*f;

	CHECK_INT(load(&cf, help, envp, &action, &cause), 0);
	CHECK_INT(action, CONFIG_ACT_HELP);
	config_clear(&cf);

	CHECK_INT(load(&cf, argv, envp, &action, &cause), 0);
	CHECK_INT(action, CONFIG_ACT_CHECK);
	CHECK_STR(cf.host, "::1");
	CHECK_INT(cf.port, 8123);
	CHECK_INT(cf.log_level, LOG_LVL_WARN);
	CHECK_INT(cf.nclient_keys, 2);
	CHECK(config_key_ok(&cf, "k1"));
	CHECK(config_key_ok(&cf, "k2"));
	CHECK(!config_key_ok(&cf, "sk-secret"));
	CHECK_STR(ttsmap_lookup(cf.model_map, "tts-1-hd"), "liang");
	CHECK_STR(ttsmap_lookup(cf.voice_map, "alloy"), "v1");
	CHECK_STR(ttsmap_lookup(cf.voice_map, "nova"), "nova");
	f = open_memstream(&out, &outlen);
	config_print(&cf, f);
	fclose(f);
	CHECK(strstr(out, "sk-secret") == NULL);
	CHECK(strstr(out, "hf_secret") == NULL);
	CHECK(strstr(out, "pw123") == NULL);
	CHECK(strstr(out, "k1") == NULL);
	CHECK(strstr(out, "REDIS_URL=redis://:****@localhost:6379/0") != NULL);
	CHECK(strstr(out, "PORT=8123") != NULL);
	CHECK(strstr(out, "# model map (exact, case-sensitive): "
	    "tts-1=liang,tts-1-hd=liang\n") != NULL);
	CHECK(strstr(out, "# voice map (exact, case-sensitive): alloy=v1\n")
	    != NULL);
	free(out);
	config_clear(&cf);

	/* Every setting has an option shown in --help. */
	out = NULL;
	f = open_memstream(&out, &outlen);
	config_usage(f);
	fclose(f);
	CHECK(strstr(out, "--newapi-base-url") != NULL);
	CHECK(strstr(out, "--splitter-first-len") != NULL);
	CHECK(strstr(out, "--check-config") != NULL);
	free(out);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("temp dir");
		return 1;
	}
	log_level = LOG_LVL_ERROR;
	test_defaults();
	test_precedence();
	test_errors();
	test_misc();
	rmdir(dir);
	return CHECK_DONE();
}
