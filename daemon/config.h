/* config: settings from defaults, file, .env, environment and options. */
#ifndef TTSACCEL_CONFIG_H
#define TTSACCEL_CONFIG_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>

#include "params.h"

struct ttsmap;

struct config {
	char		*upstream_url;		/* NEWAPI_BASE_URL, no trailing / or /v1 */
	char		*upstream_key;		/* NEWAPI_API_KEY */
	long long	 upstream_timeout;	/* NEWAPI_TIMEOUT, seconds */
	char		*api_keys;		/* API_KEYS as given */
	char		*host;			/* HOST */
	long long	 port;			/* PORT */
	char		*listen;		/* TTSACCEL_LISTEN host:port */
	char		*socket_path;		/* TTSACCEL_SOCKET */
	char		*cors_origin;		/* TTSACCEL_CORS_ORIGIN */
	long long	 shutdown_timeout;	/* TTSACCEL_SHUTDOWN_TIMEOUT */
	char		*tts_endpoints;		/* TTS_ENDPOINTS */
	char		*tts_api_key;
	char		*tts_default_model;
	char		*tts_default_voice;
	char		*tts_default_format;	/* NULL: unset */
	long long	 tts_max_concurrent;
	long long	 tts_request_timeout;
	long long	 tts_retry_count;
	uint64_t	 tts_max_audio_bytes;	/* TTS_MAX_AUDIO_BYTES */
	long long	 tts_health_interval;
	long long	 tts_keepwarm_interval;
	char		*tts_model_map;
	char		*tts_voice_map;
	long long	 tts_max_input_chars;	/* TTS_MAX_INPUT_CHARS */
	long long	 tts_max_segments;	/* TTS_MAX_SEGMENTS */
	uint64_t	 reply_max_bytes;	/* REPLY_MAX_BYTES */
	long long	 reply_cancel_grace;	/* REPLY_CANCEL_GRACE */
	long long	 cache_max_size;
	uint64_t	 cache_max_bytes;
	long long	 cache_ttl;
	long long	 splitter_min_len;
	long long	 splitter_max_len;
	long long	 splitter_first_len;
	int		 log_level;
	uint64_t	 max_body_bytes;
	long long	 max_connections;	/* MAX_CONNECTIONS */
	long long	 client_header_timeout;	/* CLIENT_HEADER_TIMEOUT, s */
	long long	 client_body_timeout;	/* CLIENT_BODY_TIMEOUT, s */
	char		*redis_url;
	char		*redis_prefix;
	long long	 redis_follow_max;	/* REDIS_FOLLOW_MAX */

	char		**endpoints;		/* `endpoint =` lines of the file */
	size_t		 nendpoints;
	char		**client_keys;		/* API_KEYS split; NULL = no auth */
	size_t		 nclient_keys;
	char		*file;			/* the config file read, if any */
	char		*socket_private;	/* the default socket's private
						   directory, when it is used */
	struct ttsmap	*model_map;		/* TTS_MODEL_MAP parsed */
	struct ttsmap	*voice_map;		/* TTS_VOICE_MAP parsed */
	struct params_conf params;		/* the above, for params_* */
};

/* Is DIR (the admin socket's default directory, admin_proto.h) a
 * directory private to UID: not a symbolic link, owned by UID,
 * mode 0700?  With CREATE, a missing one is made so.  0, or -1 with
 * *cause saying what is wrong and what to do. */
int	 config_private_dir(const char *, uid_t, int, char **);

/* What the command line asked for besides settings. */
#define CONFIG_ACT_RUN		0
#define CONFIG_ACT_HELP		1
#define CONFIG_ACT_VERSION	2
#define CONFIG_ACT_CHECK	3
#define CONFIG_ACT_SPLIT	4

/*
 * Load the configuration: defaults < config file < .env in the working
 * directory < envp < argv.  Returns 0 and the action asked for in *action,
 * or -1 with *cause (to free) naming the key, the value and the source.
 */
int	 config_load(struct config *, int, char **, char **, int *, char **);
/* Release everything a loaded configuration holds. */
void	 config_clear(struct config *);
/* Print the effective configuration, secrets masked. */
void	 config_print(const struct config *, FILE *);
/* Print the options for --help. */
void	 config_usage(FILE *);
/* Is this client key one of API_KEYS?  Constant time per key. */
int	 config_key_ok(const struct config *, const char *);

#endif
