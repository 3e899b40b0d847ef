# shellcheck shell=bash
# bash completion for ttsaccelctl and ttsaccel (options as in their --help).

_ttsaccelctl()
{
	local cur prev words cword
	local opts='-s --socket --json -h --help -V --version'
	local cmds='stats health cache endpoints reload log watch replies say chat'
	local args=() sock=() i w

	if declare -F _get_comp_words_by_ref >/dev/null; then
		# bash-completion: keep URLs (with their colons) one word.
		_get_comp_words_by_ref -n := cur prev words cword
	else
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
		cur=${words[cword]} prev=
		[ "$cword" -gt 0 ] && prev=${words[cword - 1]}
	fi
	COMPREPLY=()
	case $prev in
	-s | --socket | -o | --output)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	-n | --max | --weight | -v | --voice | -m | --model | --player)
		return 0 ;;
	esac
	# The words so far that are not options: the command, its
	# subcommand and operands.  The socket given is kept for the daemon.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-s | --socket) sock=(-s "${words[i + 1]}"); i=$((i + 1)) ;;
		--socket=*) sock=(-s "${w#--socket=}") ;;
		-n | --max | --weight | -v | --voice | -m | --model | \
		    --player | -o | --output) i=$((i + 1)) ;;
		-*) ;;
		*) args+=("$w") ;;
		esac
	done
	# The earlier names: endpoint is endpoints, log-level is log level.
	case ${args[0]-} in
	endpoint) args[0]=endpoints ;;
	log-level) args=(log level "${args[@]:1}") ;;
	esac
	local words_=
	case ${#args[@]}:${args[*]} in
	0:*)
		case $cur in
		-*) words_=$opts ;;
		*) words_=$cmds ;;
		esac ;;
	1:cache) words_='clear list' ;;
	1:endpoints) words_='list add drain remove' ;;
	1:log) words_=level ;;
	1:replies) words_=cancel ;;
	2:log\ level) words_='DEBUG INFO WARNING ERROR' ;;
	2:cache\ list) words_='-n --json' ;;
	2:cache\ clear) words_='--shared --json' ;;
	2:endpoints\ list) words_='--names --json' ;;
	2:endpoints\ add) [ "${cur#-}" != "$cur" ] && words_='--max --weight --json' ;;
	3:endpoints\ add*) words_='--max --weight --json' ;;
	2:endpoints\ drain | 2:endpoints\ remove)
		case $cur in
		-*) words_=--json ;;
		*)
			mapfile -t COMPREPLY < <(compgen -W "$(ttsaccelctl \
			    "${sock[@]}" endpoints list --names 2>/dev/null)" \
			    -- "$cur")
			declare -F __ltrim_colon_completions >/dev/null &&
			    __ltrim_colon_completions "$cur"
			return 0 ;;
		esac ;;
	*:say | *:say\ *) [ "${cur#-}" != "$cur" ] &&
		words_='-v --voice -o --output --player --verbose' ;;
	*:chat | *:chat\ *) [ "${cur#-}" != "$cur" ] &&
		words_='-m --model -v --voice --player --no-audio -o --output
		    --verbose' ;;
	*) words_=--json ;;
	esac
	[ -n "$words_" ] &&
	    mapfile -t COMPREPLY < <(compgen -W "$words_" -- "$cur")
	return 0
}
complete -F _ttsaccelctl ttsaccelctl

_ttsaccel()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local flags='--check-config --split -h --help -V --version'
	# Options that take a value: the settings, their aliases and --config.
	local valued=(-c --config --upstream --listen --socket
	    --newapi-base-url --newapi-api-key --newapi-timeout --api-keys --host
	    --port --ttsaccel-listen --ttsaccel-socket --ttsaccel-cors-origin
	    --ttsaccel-shutdown-timeout --tts-endpoints --tts-api-key
	    --tts-default-model --tts-default-voice --tts-default-format
	    --tts-max-concurrent-per-endpoint --tts-request-timeout
	    --tts-retry-count --tts-max-audio-bytes --tts-health-interval
	    --tts-keepwarm-interval
	    --tts-model-map --tts-voice-map --tts-max-input-chars
	    --tts-max-segments --cache-max-size --cache-max-bytes
	    --cache-ttl --reply-max-bytes --reply-cancel-grace
	    --splitter-min-len --splitter-max-len
	    --splitter-first-len
	    --log-level --max-body-bytes --max-connections
	    --client-header-timeout --client-body-timeout --redis-url --redis-prefix
	    --redis-follow-max)
	local w

	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	case $prev in
	-c | --config | --ttsaccel-socket | --socket)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0 ;;
	--log-level)
		mapfile -t COMPREPLY < <(compgen -W 'DEBUG INFO WARNING ERROR' \
		    -- "$cur")
		return 0 ;;
	--tts-default-format)
		mapfile -t COMPREPLY < <(compgen -W 'mp3 opus aac flac wav pcm' \
		    -- "$cur")
		return 0 ;;
	esac
	# Any other value is free text.
	for w in "${valued[@]}"; do
		[ "$prev" = "$w" ] && return 0
	done
	mapfile -t COMPREPLY < <(compgen -W "$flags ${valued[*]}" -- "$cur")
}
complete -F _ttsaccel ttsaccel
