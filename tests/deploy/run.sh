#!/usr/bin/env bash
# Deployment checks (slow; `make test-deploy`, and CI): the systemd unit,
# the Debian package, the container image and Docker Compose.
#
#   tests/deploy/run.sh [unit] [deb] [image] [compose] [systemd]   (default: all)
#
# unit     make install into a temp prefix; systemd-analyze verify and
#          security (offline) on the installed unit.
# deb      dpkg-buildpackage -b on a copy of the tree, lintian, then
#          apt-get install ./ttsaccel_*.deb in a Debian chroot made with
#          debootstrap, and ttsaccel --check-config from it.
# image    docker build with a base made from the same debootstrap tree
#          (docker import), docker run --network host against a fake
#          upstream and a fake TTS on 127.0.0.1.
# compose  the same with docker-compose, the example .env and the shipped
#          docker-compose.yml (its published ports dropped: host network).
# systemd  the .deb installed in a container that boots systemd: the
#          service started with its whole sandbox, speech from espeak-ng,
#          ttsaccelctl as root, reload, stop.
#
# A Docker engine already answering ($DOCKER_HOST or the default socket)
# is used; otherwise Debian's dockerd is started with its own data root
# and socket in the temp dir (no bridge, no iptables) and stopped by PID.
# When no engine can run here, the container checks are SKIPPED with the
# reason, loudly.  The Debian mirror is the machine's own (its apt
# sources), or $TTSACCEL_DEBIAN_MIRROR.  The debootstrap tree is kept in
# $TTSACCEL_DEPLOY_CACHE (build/deploy) for a day and reused.
# deploy_cleanup and wait_healthy are called indirectly (trap, check).
# shellcheck disable=SC2317
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=tests/debian.sh
. "$top/tests/debian.sh"

SUITE=bookworm
CACHE=${TTSACCEL_DEPLOY_CACHE:-$top/build/deploy}
BASE_TAR=$CACHE/$SUITE-minbase.tar
TAG=ttsaccel-deploy-$$
BASE_IMG=$TAG-base:$SUITE
IMG=$TAG:test
K=(-H 'Authorization: Bearer sk-deploy')
DOCKERD_PID=
CONTAINERS=()
COMPOSE_DIR=
OWN_ENGINE=0
skips=()
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(unit deb image compose systemd)
DEB=

want_part() {
	local p
	for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done
	return 1
}

say() { printf '\n=== %s\n' "$*"; }

skip() {
	skips+=("$1")
	printf '\n'
	printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
	printf '!!! SKIP %s\n' "$1"
	printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
}

deploy_cleanup() {
	local c
	if [ -n "$COMPOSE_DIR" ]; then
		(cd "$COMPOSE_DIR" && timeout 120 docker-compose -p "$TAG" down \
		    --rmi local -v -t 15 >/dev/null 2>&1)
	fi
	for c in "${CONTAINERS[@]}"; do
		timeout 60 docker rm -f "$c" >/dev/null 2>&1
	done
	if [ "$OWN_ENGINE" = 0 ] && [ -n "${DOCKER_OK:-}" ]; then
		# Someone else's engine: leave it as it was.
		timeout 60 docker rmi -f "$IMG" "$TAG-systemd:test" "$BASE_IMG" >/dev/null 2>&1
		timeout 120 docker image prune -f \
		    --filter "label=ttsaccel-deploy=$TAG" >/dev/null 2>&1
	fi
	if [ -n "$DOCKERD_PID" ]; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		for _ in $(seq 300); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DOCKERD_PID" 2>/dev/null
		wait "$DOCKERD_PID" 2>/dev/null
	fi
	# Whatever is still mounted under the temp dir (the engine's layers
	# after a kill) goes before the temp dir does.
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts |
	    sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	cleanup
}
trap deploy_cleanup EXIT

# A tar of a minimal Debian $SUITE (debootstrap --variant=minbase), made
# once and kept in $CACHE.
base_tar() {
	local mirror root
	if [ -s "$BASE_TAR" ] && [ -z "$(find "$BASE_TAR" -mmin +1440)" ]; then
		echo "reusing $BASE_TAR"
		return 0
	fi
	command -v debootstrap >/dev/null || { echo "debootstrap is not installed"; return 1; }
	if ! mirror=$(debian_mirror) || [ -z "$mirror" ]; then
		echo "no Debian mirror in /etc/apt/sources.list{,.d}; set TTSACCEL_DEBIAN_MIRROR"
		return 1
	fi
	root=$T/debootstrap
	echo "debootstrap --variant=minbase $SUITE from $mirror"
	if ! timeout 900 debootstrap --variant=minbase "$SUITE" "$root" "$mirror" \
	    >"$T/debootstrap.log" 2>&1; then
		tail -n 20 "$T/debootstrap.log"
		return 1
	fi
	mkdir -p "$CACHE"
	tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp" . &&
	    mv -f "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$root"
}

# ---------------------------------------------------------------- unit
part_unit() {
	local prefix=$T/prefix unit out score
	say "systemd unit"
	if ! command -v systemd-analyze >/dev/null; then
		echo "not ok - systemd-analyze is not installed (apt-get install systemd)"
		fails=$((fails + 1))
		return
	fi
	make -s -C "$top" install PREFIX="$prefix" SYSCONFDIR="$prefix/etc" >/dev/null
	unit=$prefix/lib/systemd/system/ttsaccel.service
	check "make install installs the unit" test -f "$unit"
	check "and the default configuration" test -f "$prefix/etc/ttsaccel/ttsaccel.conf"
	eq "ExecStart is the installed binary" "$(sed -n 's/^ExecStart=//p' "$unit")" "$prefix/bin/ttsaccel"
	# Documentation= is checked with man(1): point it at the man pages.
	out=$(MANPATH=$prefix/share/man systemd-analyze verify "$unit" 2>&1)
	eq "systemd-analyze verify is clean" "$out" ""
	out=$(systemd-analyze security --offline=yes "$unit" 2>&1)
	score=$(sed -n 's/.*Overall exposure level for ttsaccel.service: \([0-9.]*\).*/\1/p' <<<"$out")
	echo "systemd-analyze security: exposure $score"
	grep '^✗' <<<"$out" | sed 's/^/    /'
	check "exposure at most 2.0 (\"OK\")" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
	# shellcheck disable=SC2016 # expanded by the inner sh
	check "the daemon reads the default configuration" sh -c \
	    '"$1" --config "$2" --check-config >/dev/null' sh \
	    "$prefix/bin/ttsaccel" "$prefix/etc/ttsaccel/ttsaccel.conf"
	make -s -C "$top" uninstall PREFIX="$prefix" SYSCONFDIR="$prefix/etc" >/dev/null
	check "make uninstall removes the unit" test ! -e "$unit"
}

# ---------------------------------------------------------------- deb
part_deb() {
	local src=$T/src deb root out c f
	say "Debian package"
	for c in dpkg-buildpackage lintian; do
		if ! command -v "$c" >/dev/null; then
			echo "not ok - $c is not installed"
			fails=$((fails + 1))
			return
		fi
	done
	mkdir -p "$src"
	tar -C "$top" --exclude=./build --exclude=./.git --exclude=./ttsaccel \
	    --exclude=./ttsaccelctl --exclude=node_modules -cf - . | tar -C "$src" -xf -
	if ! (cd "$src" && dpkg-checkbuilddeps) >"$T/checkbuilddeps.log" 2>&1; then
		cat "$T/checkbuilddeps.log"
		echo "not ok - build dependencies missing"
		fails=$((fails + 1))
		return
	fi
	if ! (cd "$src" && timeout 900 dpkg-buildpackage -us -uc -b) >"$T/dpkg-buildpackage.log" 2>&1; then
		tail -n 40 "$T/dpkg-buildpackage.log"
		echo "not ok - dpkg-buildpackage -us -uc -b"
		fails=$((fails + 1))
		return
	fi
	echo "ok - dpkg-buildpackage -us -uc -b"
	deb=$(ls "$T"/ttsaccel_*.deb)
	DEB=$deb
	dpkg-deb -c "$deb" | awk '{ print "    " $1 " " $6 }'
	out=$(dpkg-deb -c "$deb")
	for f in ./usr/bin/ttsaccel ./usr/bin/ttsaccelctl \
	    ./usr/share/man/man8/ttsaccel.8.gz ./usr/share/man/man1/ttsaccelctl.1.gz \
	    ./usr/share/man/man5/ttsaccel.conf.5.gz \
	    ./usr/share/bash-completion/completions/ttsaccelctl \
	    ./usr/share/zsh/vendor-completions/_ttsaccelctl \
	    ./usr/share/fish/vendor_completions.d/ttsaccelctl.fish \
	    ./etc/ttsaccel/ttsaccel.conf ./etc/default/ttsaccel \
	    /systemd/system/ttsaccel.service; do
		contains "the package holds $f" "$out" "$f"
	done
	out=$(dpkg-deb -f "$deb" Depends Recommends)
	dpkg-deb -f "$deb" Depends Recommends | sed 's/^/    /'
	contains "Recommends espeak-ng" "$out" "Recommends: espeak-ng"

	# lintian: errors fail; the rest is shown.
	out=$(lintian --fail-on error "$T"/ttsaccel_*.changes 2>&1)
	local rc=$?
	echo "lintian: ${out:-(nothing)}" | sed 's/^/    /'
	eq "lintian has no errors" "$rc $(grep -c '^E:' <<<"$out")" "0 0"

	# Installed with apt-get into a Debian chroot, in a mount namespace
	# of its own (its /proc goes when the namespace does).
	if [ "$(id -u)" != 0 ]; then
		skip "deb install: a chroot needs root"
		return
	fi
	if ! base_tar; then
		echo "not ok - a $SUITE tree to install into (debootstrap)"
		fails=$((fails + 1))
		return
	fi
	root=$T/chroot
	mkdir -p "$root"
	tar -C "$root" -xf "$BASE_TAR"
	cp "$deb" "$root/tmp/"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	# No service is started in a chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2016 # expanded by the inner sh
	if ! timeout 900 unshare --mount --propagation private sh -c '
	    mount -t proc proc "$1/proc" &&
	    chroot "$1" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/$(basename "$2")"' \
	    sh "$root" "$deb" >"$T/chroot-install.log" 2>&1; then
		tail -n 30 "$T/chroot-install.log"
		echo "not ok - apt-get install ./$(basename "$deb") in a $SUITE chroot"
		fails=$((fails + 1))
		return
	fi
	echo "ok - apt-get install ./$(basename "$deb") in a $SUITE chroot"
	out=$(chroot "$root" ttsaccel --check-config 2>&1)
	local rc=$?
	eq "ttsaccel --check-config exits 0" "$rc" 0
	contains "and reads /etc/ttsaccel/ttsaccel.conf" "$out" "config file: /etc/ttsaccel/ttsaccel.conf"
	check "espeak-ng came along (Recommends)" chroot "$root" sh -c 'command -v espeak-ng'
	check "ttsaccelctl runs" chroot "$root" ttsaccelctl --version
	check "the unit is the one in deploy/" cmp -s "$top/deploy/ttsaccel.service" \
	    "$(find "$root/lib/systemd/system" "$root/usr/lib/systemd/system" \
	        -name ttsaccel.service 2>/dev/null | head -n 1)"
	check "/etc/default/ttsaccel is mode 0600" test "$(stat -c %a "$root/etc/default/ttsaccel")" = 600
	# shellcheck disable=SC2016 # a dpkg-query format
	out=$(chroot "$root" dpkg-query -W -f '${Conffiles}' ttsaccel)
	contains "ttsaccel.conf is a conffile" "$out" /etc/ttsaccel/ttsaccel.conf
	rm -rf "$root"
}

# ---------------------------------------------------------------- docker
# Is an engine answering, or can we start one?  Sets DOCKER_OK or says
# why not in $DOCKER_WHY.
docker_up() {
	DOCKER_WHY=
	if ! command -v docker >/dev/null; then
		DOCKER_WHY="no docker client (apt-get install docker.io)"
		return 1
	fi
	if timeout 20 docker info >/dev/null 2>&1; then
		echo "using the Docker engine that is running"
		DOCKER_OK=1
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		DOCKER_WHY="no Docker engine answers, and starting one needs root"
		return 1
	fi
	if ! command -v dockerd >/dev/null; then
		DOCKER_WHY="no Docker engine answers and dockerd is not installed (apt-get install docker.io)"
		return 1
	fi
	mkdir -p "$T/docker"
	dockerd --bridge=none --iptables=false --ip6tables=false \
	    --data-root "$T/docker/data" --exec-root "$T/docker/exec" \
	    -H "unix://$T/docker/docker.sock" --pidfile "$T/docker/dockerd.pid" \
	    >"$T/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	OWN_ENGINE=1
	export DOCKER_HOST=unix://$T/docker/docker.sock
	for _ in $(seq 120); do
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			DOCKER_WHY="dockerd exited: $(grep -iE 'level=(error|fatal)|failed' "$T/dockerd.log" | tail -n 3)"
			DOCKERD_PID=
			return 1
		fi
		if timeout 10 docker info >/dev/null 2>&1; then
			echo "started dockerd (PID $DOCKERD_PID, $DOCKER_HOST, $(docker info -f '{{.Driver}}' 2>/dev/null))"
			DOCKER_OK=1
			return 0
		fi
		sleep 0.5
	done
	DOCKER_WHY="dockerd did not answer within 60 s: $(tail -n 3 "$T/dockerd.log")"
	return 1
}

# The base image from the debootstrap tree, and a container that runs
# at all (namespaces, cgroups, mounts): else why not.
docker_base() {
	local out
	if ! base_tar; then
		DOCKER_WHY="no $SUITE tree for the base image (debootstrap failed)"
		return 1
	fi
	if ! out=$(timeout 300 docker import "$BASE_TAR" "$BASE_IMG" 2>&1); then
		DOCKER_WHY="docker import: $out"
		return 1
	fi
	if ! out=$(timeout 120 docker run --rm --network host "$BASE_IMG" true 2>&1); then
		DOCKER_WHY="docker run cannot run a container here: $out"
		return 1
	fi
	return 0
}

# wait_http URL SECONDS: until URL answers at all.
wait_http() {
	for _ in $(seq $(($2 * 4))); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.25
	done
	return 1
}

# wait_healthy CONTAINER: docker's health status becomes "healthy".
wait_healthy() {
	local s
	for _ in $(seq 60); do
		s=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)
		[ "$s" = healthy ] && return 0
		sleep 1
	done
	echo "    health status: $s" >&2
	return 1
}

rms() { sox "$1" -n stat 2>&1 | sed -n 's/^RMS *amplitude: *//p'; }

# serving_checks WHAT URL SOCKET: what every deployment must do.
serving_checks() {
	local what=$1 url=$2 sock=$3 out
	out=$(curl -sS -w '\n%{http_code}' "$url/health")
	eq "$what: /health is 200" "$(tail -n 1 <<<"$out")" 200
	eq "$what: the local voice is up" \
	    "$(head -n 1 <<<"$out" | jq -r '.endpoints[0].url + " " + .endpoints[0].state')" \
	    "exec:espeak-ng --stdout up"

	curl -sS -N -D "$T/chat.h" "${K[@]}" -H 'Content-Type: application/json' \
	    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
	    "$url/v1/chat/completions" >"$T/chat.out"
	contains "$what: streamed chat is SSE" "$(tr -d '\r' <"$T/chat.h")" "Content-Type: text/event-stream"
	contains "$what: a reply id" "$(cat "$T/chat.h")" "X-TTS-Reply-Id: r"
	out=$(sed -n 's/^data: *//p' "$T/chat.out" | grep -v '^\[DONE\]$' |
	    jq -rj '.choices[0].delta.content // empty')
	check "$what: the upstream's text came through" test -n "$out"
	contains "$what: the stream ends with [DONE]" "$(cat "$T/chat.out")" "data: [DONE]"

	out=$(curl -sS "${K[@]}" -D "$T/speech.h" -o "$T/speech.wav" -w '%{http_code}' \
	    -d '{"input":"Hello from the deployment test.","response_format":"wav"}' "$url/v1/audio/speech")
	eq "$what: speech is 200" "$out" 200
	contains "$what: as WAV" "$(tr -d '\r' <"$T/speech.h")" "Content-Type: audio/wav"
	check "$what: a valid WAV file" sh -c "soxi '$T/speech.wav' >/dev/null 2>&1"
	check "$what: with sound in it (espeak-ng; RMS > 0.01)" \
	    awk -v r="$(rms "$T/speech.wav")" 'BEGIN { exit !(r > 0.01) }'

	out=$("$TTSACCELCTL" -s "$sock" --json stats 2>&1)
	eq "$what: ttsaccelctl stats on the host through the mounted socket" \
	    "$(jq -r '.version + " " + (.usable | tostring)' <<<"$out" 2>/dev/null)" "0.1.0 true"
	check "$what: it counted our requests" test "$(jq -r .requests <<<"$out" 2>/dev/null)" -ge 3
}

part_image() {
	local c=$TAG-run run=$T/run port out
	say "container image"
	if ! timeout 1200 docker build --network host --build-arg BASE="$BASE_IMG" \
	    --label "ttsaccel-deploy=$TAG" -t "$IMG" "$top" >"$T/docker-build.log" 2>&1; then
		tail -n 40 "$T/docker-build.log"
		echo "not ok - docker build"
		fails=$((fails + 1))
		return
	fi
	echo "ok - docker build --build-arg BASE=$BASE_IMG"
	echo "    runtime packages: $(sed -n '/cat runtime-packages/,/^Removing/p' "$T/docker-build.log" |
	    grep -E '^[a-z0-9][a-z0-9.+-]+$' | tr '\n' ' ')"
	echo "    image: $(docker image inspect -f '{{.Size}}' "$IMG" | awk '{ printf "%.1f MB", $1 / 1e6 }')," \
	    "base: $(docker image inspect -f '{{.Size}}' "$BASE_IMG" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
	check "ttsaccel in the image is not built with -dev packages around" \
	    sh -c "! docker run --rm --entrypoint sh '$IMG' -c 'ls /usr/include/curl' >/dev/null 2>&1"

	start_upstream --delay-ms 5
	start_tts deploy
	mkdir -p "$run"
	port=$(free_port)
	CONTAINERS+=("$c")
	if ! out=$(docker run -d --name "$c" --network host -v "$run:/run/ttsaccel" \
	    --health-interval 2s \
	    -e HOST=127.0.0.1 -e PORT="$port" -e NEWAPI_BASE_URL="$UP_URL" \
	    -e NEWAPI_API_KEY=sk-deploy -e TTS_HEALTH_INTERVAL=5 "$IMG" 2>&1); then
		echo "not ok - docker run: $out"
		fails=$((fails + 1))
		return
	fi
	if ! wait_http "http://127.0.0.1:$port/health" 30; then
		docker logs "$c" 2>&1 | tail -n 20
		echo "not ok - the container listens on 127.0.0.1:$port"
		fails=$((fails + 1))
		return
	fi
	serving_checks image "http://127.0.0.1:$port" "$run/ttsaccel.sock"
	eq "the daemon runs as the ttsaccel user, without capabilities" \
	    "$(docker exec "$c" sh -c 'awk "/^(Uid|CapEff):/ { print \$2 }" /proc/1/status' | tr '\n' ' ')" \
	    "10001 0000000000000000 "
	check "docker reports it healthy (ttsaccelctl health)" wait_healthy "$c"

	# The host's ttsaccelctl steers it: a fake TTS added, the local voice
	# drained; the next speech comes from the fake.
	check "endpoint add through the socket" "$TTSACCELCTL" -s "$run/ttsaccel.sock" endpoint add "$TTS_URL"
	check "endpoint drain through the socket" "$TTSACCELCTL" -s "$run/ttsaccel.sock" endpoint drain "exec:espeak-ng --stdout"
	out=$(curl -sS "${K[@]}" -o "$T/fake.wav" -w '%{http_code}' \
	    -d '{"input":"Spoken by the fake.","response_format":"wav"}' "http://127.0.0.1:$port/v1/audio/speech")
	eq "speech through the added endpoint" "$out" 200
	check "the fake TTS was asked" grep -q 'Spoken by the fake' "$T/tts-deploy.jsonl"

	out=$(timeout 60 docker stop -t 20 "$c" >/dev/null && docker inspect -f '{{.State.ExitCode}}' "$c")
	eq "docker stop: the daemon exits 0 on SIGTERM" "$out" 0
	check "and removes its socket" test ! -e "$run/ttsaccel.sock"
}

part_compose() {
	local dir=$T/compose port out c
	say "docker-compose"
	if ! command -v docker-compose >/dev/null; then
		echo "not ok - docker-compose is not installed (apt-get install docker-compose)"
		fails=$((fails + 1))
		return
	fi
	[ -n "${UP_URL:-}" ] || start_upstream --delay-ms 5
	mkdir -p "$dir"
	tar -C "$top" --exclude=./build --exclude=./.git --exclude=./ttsaccel \
	    --exclude=./ttsaccelctl --exclude=node_modules -cf - . | tar -C "$dir" -xf -
	port=$(free_port)
	# As the README says: the example .env with the upstream filled in;
	# the daemon on 127.0.0.1 and a port of ours (host network here).
	cp "$dir/.env.example" "$dir/.env"
	sed -i "s|^NEWAPI_BASE_URL=.*|NEWAPI_BASE_URL=$UP_URL|; s|^NEWAPI_API_KEY=.*|NEWAPI_API_KEY=sk-deploy|; s|^#PORT=.*|PORT=$port|" "$dir/.env"
	printf 'HOST=127.0.0.1\nTTSACCEL_BASE_IMAGE=%s\n' "$BASE_IMG" >>"$dir/.env"
	# This engine has no bridge: host network, so no published ports
	# (compose refuses both), and an image name of our own.
	sed -i '/^    ports:$/,/^    [a-z]/{/^    ports:$/d;/^      - /d}' "$dir/docker-compose.yml"
	cat >"$dir/docker-compose.override.yml" <<EOF
services:
  ttsaccel:
    image: $TAG-compose:test
    build:
      network: host
      labels:
        ttsaccel-deploy: $TAG
    network_mode: host
    healthcheck:
      interval: 2s
EOF
	COMPOSE_DIR=$dir
	if ! (cd "$dir" && timeout 1200 docker-compose -p "$TAG" up -d --build) \
	    >"$T/compose-up.log" 2>&1; then
		tail -n 40 "$T/compose-up.log"
		echo "not ok - docker-compose up -d"
		fails=$((fails + 1))
		return
	fi
	echo "ok - docker-compose up -d"
	if ! wait_http "http://127.0.0.1:$port/health" 30; then
		(cd "$dir" && docker-compose -p "$TAG" logs) 2>&1 | tail -n 20
		echo "not ok - the compose service listens on 127.0.0.1:$port"
		fails=$((fails + 1))
		return
	fi
	serving_checks compose "http://127.0.0.1:$port" "$dir/run/ttsaccel.sock"
	out=$(cd "$dir" && docker-compose -p "$TAG" exec -T -u ttsaccel ttsaccel ttsaccelctl --json stats 2>&1)
	eq "docker-compose exec -u ttsaccel ttsaccel ttsaccelctl stats" \
	    "$(jq -r .version <<<"$out" 2>/dev/null)" 0.1.0
	c=$(cd "$dir" && docker-compose -p "$TAG" ps -q ttsaccel)
	check "docker reports it healthy" wait_healthy "$c"
	(cd "$dir" && timeout 60 docker-compose -p "$TAG" stop -t 20) >/dev/null 2>&1
	eq "docker-compose stop: the daemon exits 0 on SIGTERM" \
	    "$(docker inspect -f '{{.State.ExitCode}}' "$c")" 0
	if (cd "$dir" && timeout 120 docker-compose -p "$TAG" down --rmi local -t 20) \
	    >"$T/compose-down.log" 2>&1; then
		echo "ok - docker-compose down"
		COMPOSE_DIR=
	else
		tail -n 20 "$T/compose-down.log"
		echo "not ok - docker-compose down"
		fails=$((fails + 1))
	fi
	check "the socket is gone from ./run" test ! -e "$dir/run/ttsaccel.sock"
}

# ---------------------------------------------------------------- systemd
# The capabilities this machine lets a container have: --privileged when
# it can, else every capability in our bounding set (a sandbox may lack
# some, and then --privileged and --cap-add ALL fail).
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID
    SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW
    IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT
    SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD
    LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)
boot_systemd() {  # boot_systemd NAME IMAGE: a container with systemd as PID 1
	local bnd i args=(--cap-add ALL)
	local common=(-d --name "$1" --network host -e container=docker
	    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
	    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock
	    --tmpfs /tmp)
	CONTAINERS+=("$1")
	docker run "${common[@]}" --privileged "$2" >"$T/systemd-run.log" 2>&1 &&
	    return 0
	docker rm -f "$1" >/dev/null 2>&1
	bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
	for i in "${!CAPS[@]}"; do
		(( (bnd >> i) & 1 )) || args+=(--cap-drop "${CAPS[$i]}")
	done
	echo "    --privileged refused ($(tail -n 1 "$T/systemd-run.log")); ${args[*]}"
	docker run "${common[@]}" "${args[@]}" "$2" >"$T/systemd-run.log" 2>&1
}

part_systemd() {
	local ctx=$T/systemd c=$TAG-systemd port out i state
	say "systemd service (in a container booting systemd)"
	if [ -z "$DEB" ]; then
		echo "not ok - no .deb to install (the deb part failed)"
		fails=$((fails + 1))
		return
	fi
	mkdir -p "$ctx"
	cp "$DEB" "$ctx/ttsaccel.deb"
	port=$(free_port)
	cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMG
ARG DEBIAN_FRONTEND=noninteractive
COPY ttsaccel.deb /tmp/
RUN apt-get update && apt-get install -y --no-install-recommends systemd \\
        systemd-sysv dbus /tmp/ttsaccel.deb espeak-ng \\
 && rm -rf /var/lib/apt/lists/* /tmp/ttsaccel.deb \\
 && printf 'NEWAPI_API_KEY=sk-deploy\nPORT=$port\n' >>/etc/default/ttsaccel
CMD ["/sbin/init"]
EOF
	if ! timeout 900 docker build --network host --label "ttsaccel-deploy=$TAG" \
	    -t "$TAG-systemd:test" "$ctx" >"$T/systemd-build.log" 2>&1; then
		tail -n 30 "$T/systemd-build.log"
		echo "not ok - an image with systemd and the .deb"
		fails=$((fails + 1))
		return
	fi
	if ! boot_systemd "$c" "$TAG-systemd:test"; then
		skip "systemd service: no container can boot systemd here: $(tail -n 2 "$T/systemd-run.log")"
		return
	fi
	for i in $(seq 60); do
		state=$(docker exec "$c" systemctl is-active ttsaccel 2>/dev/null)
		[ "$state" = active ] && wait_http "http://127.0.0.1:$port/health" 1 && break
		sleep 1
	done
	if [ "$state" != active ]; then
		if ! docker exec "$c" systemctl list-units >/dev/null 2>&1; then
			skip "systemd service: systemd did not come up in the container: $(docker logs "$c" 2>&1 | tail -n 3)"
			return
		fi
		docker exec "$c" journalctl -u ttsaccel --no-pager 2>&1 | tail -n 20
		echo "not ok - the packaged service starts (state: $state)"
		fails=$((fails + 1))
		return
	fi
	echo "ok - the packaged service is enabled and starts under systemd"
	out=$(curl -sS "${K[@]}" -o "$T/systemd.wav" -w '%{http_code}' \
	    -d '{"input":"Spoken inside the sandbox.","response_format":"wav"}' "http://127.0.0.1:$port/v1/audio/speech")
	eq "speech from espeak-ng inside the sandbox" "$out" 200
	check "with sound in it (RMS > 0.01)" \
	    awk -v r="$(rms "$T/systemd.wav")" 'BEGIN { exit !(r > 0.01) }'
	eq "ttsaccelctl as root finds /run/ttsaccel/ttsaccel.sock" \
	    "$(docker exec "$c" ttsaccelctl --json stats | jq -r .usable)" true
	# shellcheck disable=SC2016 # for the container's shell
	out=$(docker exec "$c" sh -c 'awk "/^(Uid|CapEff|NoNewPrivs|Seccomp):/ { print \$1 \$2 }" \
	    /proc/$(systemctl show -p MainPID --value ttsaccel)/status' | tr '\n' ' ')
	contains "no capabilities, no new privileges, a system-call filter" \
	    "$out" "CapEff:0000000000000000 NoNewPrivs:1 Seccomp:2"
	check "a dynamic user, not root ($out)" test "${out#Uid:0 }" = "$out"
	docker exec "$c" systemctl reload ttsaccel
	for _ in $(seq 20); do
		docker exec "$c" journalctl -u ttsaccel --no-pager 2>/dev/null |
		    grep -q 'configuration reloaded' && break
		sleep 0.5
	done
	contains "systemctl reload: SIGHUP re-reads the file" \
	    "$(docker exec "$c" journalctl -u ttsaccel --no-pager 2>&1)" \
	    "configuration reloaded from /etc/ttsaccel/ttsaccel.conf"
	echo "    $(docker exec "$c" systemd-analyze security ttsaccel 2>&1 | tail -n 1)"
	docker exec "$c" systemctl stop ttsaccel
	eq "systemctl stop: exits 0" \
	    "$(docker exec "$c" systemctl show -p ExecMainStatus -p Result --value ttsaccel | tr '\n' ' ')" \
	    "success 0 "
	docker rm -f "$c" >/dev/null 2>&1
}

start=$SECONDS
want_part unit && part_unit
{ want_part deb || want_part systemd; } && part_deb
if want_part image || want_part compose || want_part systemd; then
	if docker_up && docker_base; then
		want_part image && part_image
		want_part compose && part_compose
		want_part systemd && part_systemd
	else
		skip "container image, compose and the systemd service: $DOCKER_WHY"
	fi
fi
say "deploy checks took $((SECONDS - start)) s"
for s in "${skips[@]}"; do echo "SKIPPED: $s"; done
finish
