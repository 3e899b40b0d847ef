# shellcheck shell=bash
# bash completion for ttsaccelctl and ttsaccel (options as in their --help).

_ttsaccelctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]}

	COMPREPLY=()
	# This version has no commands: only its options, as first word.
	[ "$COMP_CWORD" -eq 1 ] || return 0
	mapfile -t COMPREPLY < <(compgen -W '-h --help -V --version' -- "$cur")
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
	    --tts-retry-count --tts-health-interval --tts-keepwarm-interval
	    --tts-model-map --tts-voice-map --cache-max-size --cache-max-bytes
	    --cache-ttl --splitter-min-len --splitter-max-len --splitter-first-len
	    --log-level --max-body-bytes --redis-url --redis-prefix)
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
