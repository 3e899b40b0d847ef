#!/usr/bin/env bash
# make test-fresh: the newcomer's path on a fresh Debian 12 (root only).
#
# 1. A `debootstrap --variant=minbase bookworm` root, from the machine's
#    own Debian mirror (its apt sources, read now), kept as a tar in
#    $TTSACCEL_FRESH_CACHE (default /var/cache/ttsaccel-fresh, else
#    $XDG_CACHE_HOME/ttsaccel-fresh) for a week; the .deb files apt
#    fetches are kept there too, so later runs download less.
# 2. A clean clone of the tree's HEAD in it, at /src.
# 3. What the host uses to reach the package registries, read from the
#    host now: its CA certificates, apt's proxy and date settings, its
#    apt sources (same release), npm's configuration, the proxy
#    variables of the environment.  Services do not start in the root
#    (policy-rc.d), as in any chroot.
# 4. The README's two quick-start commands, read from README.md (the
#    first two ```sh blocks under "## Quick start"): the first with the
#    daemon it starts put in the background, asked for its health by
#    ./ttsaccelctl, and stopped by PID; the second, which ends with
#    `make test`, must pass.
# /proc, /sys and /dev are mounted in a mount namespace of the run's
# own, and whatever is still mounted under the root is unmounted at exit.
# The time of each phase is printed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/debian.sh
. "$top/tests/debian.sh"

SUITE=bookworm
if [ -n "${TTSACCEL_FRESH_CACHE:-}" ]; then
	CACHE=$TTSACCEL_FRESH_CACHE
elif [ -w /var/cache ]; then
	CACHE=/var/cache/ttsaccel-fresh
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ttsaccel-fresh
fi
BASE_TAR=$CACHE/$SUITE-minbase.tar
ROOT=
phase_start=$SECONDS
t_all=$SECONDS
times=()

die() { echo "test-fresh: $*" >&2; exit 1; }
phase() {  # phase NAME: the previous phase ends, NAME begins
	if [ -n "${PHASE:-}" ]; then
		times+=("$(printf '%-50s %4d s' "$PHASE" $((SECONDS - phase_start)))")
	fi
	PHASE=$1
	phase_start=$SECONDS
	[ -n "$1" ] && printf '\n=== %s\n' "$1"
}
report() {
	phase ""
	echo
	echo "test-fresh: time per phase"
	printf '  %s\n' "${times[@]}"
	printf '  %-50s %4d s\n' total $((SECONDS - t_all))
}

fresh_cleanup() {
	local rc=$?
	[ "${#times[@]}" -gt 0 ] || [ -n "${PHASE:-}" ] && report
	if [ -n "$ROOT" ]; then
		# Anything still running in the root (a daemon left by a
		# failure) is stopped by its PID.
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] &&
			    kill -KILL "${p#/proc/}" 2>/dev/null
		done
		awk -v r="$ROOT/" 'index($2, r) == 1 { print $2 }' /proc/mounts |
		    sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
		rm -rf --one-file-system "$ROOT"
	fi
	exit "$rc"
}
trap fresh_cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
for c in debootstrap git unshare chroot; do
	command -v "$c" >/dev/null ||
	    die "$c is not installed (apt-get install debootstrap git util-linux)"
done

# --- the README's two commands -------------------------------------------
# The first two ```sh blocks after the "## Quick start" heading.
mapfile -t CMDS < <(awk '
	/^## / { inqs = ($0 ~ /^## Quick start/); next }
	inqs && /^```sh$/ { inb = 1; cmd = ""; next }
	inb && /^```$/ { inb = 0; print cmd; n++; if (n == 2) exit; next }
	inb { cmd = cmd (cmd == "" ? "" : "\n") $0 }' "$top/README.md")
[ "${#CMDS[@]}" -eq 2 ] ||
    die "README.md: two \`\`\`sh blocks under \"## Quick start\" wanted, ${#CMDS[@]} found"
# The first ends by starting the daemon: "... && VAR=x ... ./ttsaccel".
RUN_CMD=${CMDS[0]}
START=${RUN_CMD##*&& }
BUILD_CMD=${RUN_CMD%&& *}
case $START in
*./ttsaccel) ;;
*) die "README.md: the first command does not end by starting ./ttsaccel: $START" ;;
esac
TEST_CMD=${CMDS[1]}
case $TEST_CMD in
*"make test") ;;
*) die "README.md: the second command does not end with make test" ;;
esac
echo "the README's first command, the daemon start aside:"
echo "  $BUILD_CMD"
echo "the daemon start, run in the background: $START"
echo "the README's second command:"
echo "  $TEST_CMD"

# --- the base root ---------------------------------------------------------
phase "base root (debootstrap --variant=minbase $SUITE)"
mkdir -p "$CACHE/archives/partial"
if [ -s "$BASE_TAR" ] && [ -z "$(find "$BASE_TAR" -mmin +10080)" ]; then
	echo "reusing $BASE_TAR"
else
	mirror=$(debian_mirror) && [ -n "$mirror" ] ||
	    die "no Debian mirror in /etc/apt/sources.list{,.d}; set TTSACCEL_DEBIAN_MIRROR"
	tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ttsaccel-fresh-base.XXXXXX")
	echo "debootstrap from $mirror"
	if ! timeout 900 debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror" \
	    >"$CACHE/debootstrap.log" 2>&1; then
		tail -n 20 "$CACHE/debootstrap.log"
		rm -rf --one-file-system "$tmp"
		die "debootstrap failed"
	fi
	tar -C "$tmp" --numeric-owner -cf "$BASE_TAR.tmp" . &&
	    mv -f "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf --one-file-system "$tmp"
fi
ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/ttsaccel-fresh.XXXXXX")
tar -C "$ROOT" --numeric-owner -xf "$BASE_TAR" || die "cannot unpack $BASE_TAR"
chmod 0755 "$ROOT"	# it is /: every user crosses it

# --- the clone and the host's ways to the registries -----------------------
phase "clone of HEAD, the host's registry settings"
head=$(git -C "$top" rev-parse HEAD) || die "not a git tree: $top"
git clone -q --no-hardlinks "$top" "$ROOT/src" &&
    git -C "$ROOT/src" checkout -q --detach "$head" || die "git clone failed"
echo "HEAD $(git -C "$ROOT/src" log --oneline -1 | cut -c1-72)"
[ -n "$(git -C "$top" status --porcelain)" ] &&
    echo "(the tree has changes not committed: they are not in the clone)"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
cp /etc/hosts "$ROOT/etc/hosts" 2>/dev/null
# CA certificates: the bundle, and the local ones, which
# update-ca-certificates keeps when ca-certificates is installed there.
if [ -d /usr/local/share/ca-certificates ]; then
	mkdir -p "$ROOT/usr/local/share/ca-certificates"
	cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
fi
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	mkdir -p "$ROOT/etc/ssl/certs"
	cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
fi
# apt: the settings that reach a mirror (proxies, dates, TLS), and the
# sources of the host when it runs the same release.
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
	[ -f "$f" ] || continue
	grep -qiE 'proxy|check-valid-until|check-date|cainfo|verify-peer|verify-host' "$f" &&
	    cp "$f" "$ROOT/etc/apt/apt.conf.d/$(basename "$f")" && echo "apt: $f"
done
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
if [ "$codename" = "$SUITE" ]; then
	[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOT/etc/apt/"
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		cp "$f" "$ROOT/etc/apt/sources.list.d/" && echo "apt: $f"
		sed -n 's/^Signed-By: *\(\/.*\)/\1/p; s/.*signed-by=\([^] ]*\).*/\1/p' "$f" |
		while read -r k; do
			[ -e "$ROOT$k" ] || { [ -f "$k" ] && mkdir -p "$ROOT$(dirname "$k")" &&
			    cp "$k" "$ROOT$k"; }
		done
	done
	# Each source once: the host's replace debootstrap's own line.
	if compgen -G "$ROOT/etc/apt/sources.list.d/*" >/dev/null &&
	    [ ! -f /etc/apt/sources.list ]; then
		rm -f "$ROOT/etc/apt/sources.list"
	fi
fi
# npm: its global and user configuration, where Debian's npm reads them.
for f in /etc/npmrc /usr/etc/npmrc; do
	[ -f "$f" ] && cp "$f" "$ROOT/etc/npmrc" && echo "npm: $f" && break
done
[ -f "$HOME/.npmrc" ] && mkdir -p "$ROOT/root" && cp "$HOME/.npmrc" "$ROOT/root/.npmrc" &&
    echo "npm: ~/.npmrc"
# No service starts in a chroot (redis-server, for one, would listen on
# the host's network).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
# The environment inside: a login's, plus the host's proxy variables.
ENVV=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
    NODE_EXTRA_CA_CERTS $(compgen -e | grep -i '^npm_config_'); do
	[ -n "${!v:-}" ] && ENVV+=("$v=${!v}")
done

# in_root SCRIPT: run bash -c SCRIPT as root in /src of the root, with
# /proc, /sys and /dev mounted in a mount namespace of its own.
in_root() {
	unshare --mount --propagation private -- sh -c '
	    r=$1; shift
	    mount -t proc proc "$r/proc" &&
	    mount --rbind /sys "$r/sys" &&
	    mount --rbind /dev "$r/dev" &&
	    mkdir -p "$r/var/cache/apt/archives" &&
	    mount --bind "$0" "$r/var/cache/apt/archives" &&
	    exec chroot "$r" /usr/bin/env -i "$@"' \
	    "$CACHE/archives" "$ROOT" "${ENVV[@]}" /bin/bash -c "cd /src || exit 1
$1"
}

# --- the README's first command --------------------------------------------
phase "README command 1 (install, make)"
in_root "set -o pipefail; $BUILD_CMD" || die "the README's first command failed"

phase "the daemon: start, health, stop"
# The daemon as the README starts it, in the background (on a free port:
# the root shares the host's network); ./ttsaccelctl asks its health
# (speech from espeak-ng; no upstream at that address).
while :; do
	port=$((20000 + RANDOM % 12000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
# shellcheck disable=SC2016 # expanded inside
in_root '
	export PORT='"$port"' TTSACCEL_URL=http://127.0.0.1:'"$port"'
	'"$START"' >/tmp/ttsaccel.log 2>&1 &
	pid=$!
	ok=0
	for i in $(seq 100); do
		./ttsaccelctl health >/tmp/health.out 2>&1 && { ok=1; break; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	cat /tmp/health.out
	[ $ok = 1 ] || echo "not ok - ./ttsaccelctl health did not say it can serve"
	export TTSACCEL_API_KEY=sk-choose-a-key
	if ./ttsaccelctl say -o /tmp/hello.wav "Hello from a fresh Debian." &&
	    [ "$(head -c 4 /tmp/hello.wav)" = RIFF ]; then
		echo "ok - ./ttsaccelctl say -o: $(stat -c %s /tmp/hello.wav) bytes of WAV"
	else
		echo "not ok - ./ttsaccelctl say -o"; ok=0
	fi
	grep -q "upstream: unreachable" /tmp/health.out ||
	    { echo "not ok - health says the upstream cannot be reached"; ok=0; }
	grep -q "cannot be reached" /tmp/ttsaccel.log ||
	    { echo "not ok - the daemon logged that the upstream cannot be reached"; ok=0; }
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 0 ] || { echo "not ok - the daemon exited $rc"; ok=0; }
	[ $ok = 1 ] || { echo "--- the daemon log"; cat /tmp/ttsaccel.log; }
	[ $ok = 1 ]' || die "the daemon started by the README's first command is not healthy"

# --- the README's second command -------------------------------------------
phase "README command 2 (install, make test)"
in_root "set -o pipefail; $TEST_CMD" || die "the README's second command failed (make test in a fresh root)"
phase ""
echo
echo "test-fresh: the README's two commands work on a fresh $SUITE, and make test passes there"
