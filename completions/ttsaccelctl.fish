# fish completion for ttsaccelctl and ttsaccel (options as in their --help).

# ttsaccelctl: global options, commands, subcommands and their options;
# endpoint URLs come from the daemon.
function __ttsaccelctl_endpoints
	set -l tokens (commandline -opc)
	set -l sock
	for i in (seq (count $tokens))
		switch $tokens[$i]
			case -s --socket
				set sock -s $tokens[(math $i + 1)]
			case '--socket=*'
				set sock -s (string replace -- --socket= '' $tokens[$i])
		end
	end
	ttsaccelctl $sock endpoints list --names 2>/dev/null
end

# The words after the command (options and their values left out); the
# earlier names endpoint and log-level as endpoints and log level.
function __ttsaccelctl_args
	set -l tokens (commandline -opc)
	set -e tokens[1]
	set -l skip 0
	set -l first 1
	for t in $tokens
		if test $skip -eq 1
			set skip 0
			continue
		end
		switch $t
			case -s --socket -n --max --weight -v --voice -m --model -o --output --player
				set skip 1
			case '-*'
			case '*'
				if test $first -eq 1
					set first 0
					switch $t
						case endpoint
							set t endpoints
						case log-level
							set t log level
					end
				end
				printf '%s\n' $t
		end
	end
end

# __ttsaccelctl_at WORDS...: the words so far are exactly these.
function __ttsaccelctl_at
	set -l args (__ttsaccelctl_args)
	test "$args" = "$argv"
end

# __ttsaccelctl_in CMD SUB: within CMD SUB (any operands after).
function __ttsaccelctl_in
	set -l args (__ttsaccelctl_args)
	test (count $args) -ge 2; and test "$args[1]" = $argv[1]; and test "$args[2]" = $argv[2]
end

# __ttsaccelctl_cmd CMD...: the command is one of these.
function __ttsaccelctl_cmd
	set -l args (__ttsaccelctl_args)
	test (count $args) -ge 1; and contains -- $args[1] $argv
end

set -l c complete -c ttsaccelctl
$c -f
$c -n '__ttsaccelctl_at ""' -s s -l socket -r -F -d "The daemon's admin socket"
$c -n 'not __ttsaccelctl_cmd say chat' -l json -d "Print the daemon's data as one line of JSON"
$c -n '__ttsaccelctl_at ""' -s h -l help -d 'Print the usage and exit'
$c -n '__ttsaccelctl_at ""' -s V -l version -d 'Print the version and exit'

$c -n '__ttsaccelctl_at ""' -a stats -d 'Cache and endpoint figures'
$c -n '__ttsaccelctl_at ""' -a health -d 'Exit 0 if the daemon can serve'
$c -n '__ttsaccelctl_at ""' -a cache -d 'Clear or list the cache'
$c -n '__ttsaccelctl_at ""' -a endpoints -d 'List, add, drain or remove TTS endpoints'
$c -n '__ttsaccelctl_at ""' -a reload -d 'Re-read the configuration'
$c -n '__ttsaccelctl_at ""' -a log -d 'Set the log level (log level LEVEL)'
$c -n '__ttsaccelctl_at ""' -a watch -d 'Print events as they happen'
$c -n '__ttsaccelctl_at ""' -a replies -d 'Cancel a chat reply (replies cancel ID)'
$c -n '__ttsaccelctl_at ""' -a say -d 'Speak TEXT through the daemon'
$c -n '__ttsaccelctl_at ""' -a chat -d 'Chat with spoken replies'

$c -n '__ttsaccelctl_at cache' -a clear -d 'Empty the cache'
$c -n '__ttsaccelctl_at cache' -a list -d 'The newest cache entries'
$c -n '__ttsaccelctl_in cache list' -s n -x -d 'The number of entries to list'
$c -n '__ttsaccelctl_in cache clear' -l shared -d 'Also remove this cluster\'s keys from Redis'

$c -n '__ttsaccelctl_at endpoints' -a list -d 'The TTS endpoints'
$c -n '__ttsaccelctl_at endpoints' -a add -d 'Add a TTS endpoint'
$c -n '__ttsaccelctl_at endpoints' -a drain -d 'Give an endpoint no new work'
$c -n '__ttsaccelctl_at endpoints' -a remove -d 'Remove an endpoint'
$c -n '__ttsaccelctl_in endpoints list' -l names -d 'Print only the URLs'
$c -n '__ttsaccelctl_in endpoints add' -l max -x -d 'Requests in flight at most'
$c -n '__ttsaccelctl_in endpoints add' -l weight -x -d 'The share of the work'
$c -n '__ttsaccelctl_at endpoints drain' -a '(__ttsaccelctl_endpoints)' -d 'Endpoint'
$c -n '__ttsaccelctl_at endpoints remove' -a '(__ttsaccelctl_endpoints)' -d 'Endpoint'

$c -n '__ttsaccelctl_at log' -a level -d 'Set the log level'
$c -n '__ttsaccelctl_at replies' -a cancel -d 'Cancel a reply\'s audio not made yet'
$c -n '__ttsaccelctl_at log level' -a 'DEBUG INFO WARNING ERROR' -d 'Log level'

# say and chat: options anywhere after the command.
$c -n '__ttsaccelctl_cmd chat' -s m -l model -x -d 'The chat model'
$c -n '__ttsaccelctl_cmd say chat' -s v -l voice -x -d 'The TTS voice'
$c -n '__ttsaccelctl_cmd say chat' -s o -l output -r -F -d 'Write the audio (WAV) to FILE'
$c -n '__ttsaccelctl_cmd say chat' -l player -x -a '(__fish_complete_command)' -d 'Play with CMD (sh -c)'
$c -n '__ttsaccelctl_cmd chat' -l no-audio -d 'Print the text only'
$c -n '__ttsaccelctl_cmd say chat' -l verbose -d 'Say on stderr how the daemon served it'

complete -c ttsaccel -f
complete -c ttsaccel -s h -l help -d 'Print the usage and exit'
complete -c ttsaccel -s V -l version -d 'Print the version and exit'
complete -c ttsaccel -l check-config -d 'Validate, print the effective configuration and exit'
complete -c ttsaccel -l split -d 'Print the speakable segments of standard input'
complete -c ttsaccel -s c -l config -r -F -d 'Read the configuration from FILE'
complete -c ttsaccel -l newapi-base-url -l upstream -x -d 'NEWAPI_BASE_URL: upstream OpenAI-compatible base URL'
complete -c ttsaccel -l newapi-api-key -x -d 'NEWAPI_API_KEY: key sent upstream (and accepted from clients without API_KEYS)'
complete -c ttsaccel -l newapi-timeout -x -d 'NEWAPI_TIMEOUT: seconds for an upstream request'
complete -c ttsaccel -l api-keys -x -d 'API_KEYS: keys clients may present; \'none\' disables auth (loopback only)'
complete -c ttsaccel -l host -x -d 'HOST: HTTP listen address'
complete -c ttsaccel -l port -x -d 'PORT: HTTP listen port'
complete -c ttsaccel -l ttsaccel-listen -l listen -x -d 'TTSACCEL_LISTEN: HTTP listen address and port (overrides HOST and PORT)'
complete -c ttsaccel -l ttsaccel-socket -l socket -r -F -d 'TTSACCEL_SOCKET: admin socket path'
complete -c ttsaccel -l ttsaccel-cors-origin -x -d 'TTSACCEL_CORS_ORIGIN: Access-Control-Allow-Origin sent to browsers'
complete -c ttsaccel -l ttsaccel-shutdown-timeout -x -d 'TTSACCEL_SHUTDOWN_TIMEOUT: seconds streams may take to finish on SIGTERM'
complete -c ttsaccel -l tts-endpoints -x -d 'TTS_ENDPOINTS: comma-separated TTS backends'
complete -c ttsaccel -l tts-api-key -x -d 'TTS_API_KEY: bearer key sent to HTTP TTS endpoints'
complete -c ttsaccel -l tts-default-model -x -d 'TTS_DEFAULT_MODEL: TTS model when a request names none'
complete -c ttsaccel -l tts-default-voice -x -d 'TTS_DEFAULT_VOICE: voice when a request names none'
complete -c ttsaccel -l tts-default-format -x -a 'mp3 opus aac flac wav pcm' -d 'TTS_DEFAULT_FORMAT: audio format when a request names none'
complete -c ttsaccel -l tts-max-concurrent-per-endpoint -x -d 'TTS_MAX_CONCURRENT_PER_ENDPOINT: in-flight requests per endpoint'
complete -c ttsaccel -l tts-request-timeout -x -d 'TTS_REQUEST_TIMEOUT: seconds per backend request'
complete -c ttsaccel -l tts-retry-count -x -d 'TTS_RETRY_COUNT: retries on another endpoint after a failure'
complete -c ttsaccel -l tts-max-audio-bytes -x -d 'TTS_MAX_AUDIO_BYTES: largest backend answer (larger fails, is not cached)'
complete -c ttsaccel -l tts-health-interval -x -d 'TTS_HEALTH_INTERVAL: seconds between health probes (0 = off)'
complete -c ttsaccel -l tts-keepwarm-interval -x -d 'TTS_KEEPWARM_INTERVAL: seconds between warm-up requests (0 = off)'
complete -c ttsaccel -l tts-model-map -x -d 'TTS_MODEL_MAP: client model names mapped to backend ones'
complete -c ttsaccel -l tts-voice-map -x -d 'TTS_VOICE_MAP: client voice names mapped to backend ones'
complete -c ttsaccel -l tts-max-input-chars -x -d 'TTS_MAX_INPUT_CHARS: characters of a speech request\'s input'
complete -c ttsaccel -l tts-max-segments -x -d 'TTS_MAX_SEGMENTS: segments a speech request\'s input may be cut into'
complete -c ttsaccel -l reply-max-bytes -x -d 'REPLY_MAX_BYTES: text of one chat reply prefetched and kept for its audio'
complete -c ttsaccel -l reply-cancel-grace -x -d 'REPLY_CANCEL_GRACE: seconds before a reply whose audio reader left early is cancelled'
complete -c ttsaccel -l cache-max-size -x -d 'CACHE_MAX_SIZE: cache entries'
complete -c ttsaccel -l cache-max-bytes -x -d 'CACHE_MAX_BYTES: audio bytes held in the cache (K, M, G suffixes)'
complete -c ttsaccel -l cache-ttl -x -d 'CACHE_TTL: seconds a cache entry lives'
complete -c ttsaccel -l splitter-min-len -x -d 'SPLITTER_MIN_LEN: segments shorter than this are merged with the next'
complete -c ttsaccel -l splitter-max-len -x -d 'SPLITTER_MAX_LEN: segments longer than this are cut at a soft boundary'
complete -c ttsaccel -l splitter-first-len -x -d 'SPLITTER_FIRST_LEN: first segment may end at a comma once this long (0 = off)'
complete -c ttsaccel -l log-level -x -a 'DEBUG INFO WARNING ERROR' -d 'LOG_LEVEL: DEBUG, INFO, WARNING or ERROR'
complete -c ttsaccel -l max-body-bytes -x -d 'MAX_BODY_BYTES: largest request body accepted'
complete -c ttsaccel -l max-connections -x -d 'MAX_CONNECTIONS: HTTP connections open at once'
complete -c ttsaccel -l client-header-timeout -x -d 'CLIENT_HEADER_TIMEOUT: seconds to send the headers'
complete -c ttsaccel -l client-body-timeout -x -d 'CLIENT_BODY_TIMEOUT: seconds to send the body'
complete -c ttsaccel -l redis-url -x -d 'REDIS_URL: Redis shared by several instances'
complete -c ttsaccel -l redis-prefix -x -d 'REDIS_PREFIX: namespace of the shared cache\'s keys'
complete -c ttsaccel -l redis-follow-max -x -d 'REDIS_FOLLOW_MAX: Redis connections following other instances\' syntheses'
