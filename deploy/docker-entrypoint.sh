#!/bin/sh
# The container's entry point.  As root (the image's default), run the
# command as the ttsaccel user, without capabilities; for the daemon, make
# the admin socket's directory (a directory of the host may be mounted
# there) that user's first.  As any other user (docker run --user), run
# the command as it is.
set -eu
if [ "$(id -u)" = 0 ]; then
	if [ "${1:-}" = ttsaccel ]; then
		dir=$(dirname "${TTSACCEL_SOCKET:-/run/ttsaccel/ttsaccel.sock}")
		mkdir -p "$dir"
		chown ttsaccel:ttsaccel "$dir"
	fi
	exec setpriv --reuid=ttsaccel --regid=ttsaccel --init-groups \
	    --inh-caps=-all --no-new-privs -- "$@"
fi
exec "$@"
