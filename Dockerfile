# ttsaccel in a container; see "Deploy" in README.md.
#   docker build -t ttsaccel .
#   docker run -d -p 127.0.0.1:8000:8000 -e NEWAPI_BASE_URL=... -e NEWAPI_API_KEY=... ttsaccel
# Any Debian base will do: --build-arg BASE=debian:trixie-slim.
# Configuration is the environment only (the names of ttsaccel.conf(5)).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
        libevent-dev libcurl4-openssl-dev libcjson-dev libreadline-dev \
        libutf8proc-dev libsndfile1-dev libhiredis-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY daemon/ daemon/
COPY cli/ cli/
COPY debian/control debian/
# The binaries, and the packages of the shared libraries they link
# (whatever they are called in this release), for the runtime stage.
RUN make -j"$(nproc)" ttsaccel ttsaccelctl \
 && strip ttsaccel ttsaccelctl \
 && dpkg-shlibdeps -O ttsaccel ttsaccelctl 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p' | tr ',' '\n' \
    | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep . >runtime-packages \
 && cat runtime-packages

FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
ARG TTSACCEL_UID=10001
COPY --from=build /src/runtime-packages /tmp/
# setpriv drops root in the entry point; some releases ship it apart.
RUN apt-get update \
 && if command -v setpriv >/dev/null; then s=; else s=setpriv; fi \
 && xargs -a /tmp/runtime-packages apt-get install -y --no-install-recommends \
        ca-certificates espeak-ng $s \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/runtime-packages \
 && groupadd --gid "$TTSACCEL_UID" ttsaccel \
 && useradd --uid "$TTSACCEL_UID" --gid ttsaccel --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin ttsaccel \
 && install -d -o ttsaccel -g ttsaccel -m 0755 /run/ttsaccel
COPY --from=build /src/ttsaccel /src/ttsaccelctl /usr/bin/
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
# Listen on every address of the container (this needs client keys:
# NEWAPI_API_KEY or API_KEYS); the admin socket in /run/ttsaccel, which
# may be a directory of the host mounted there.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    TTSACCEL_SOCKET=/run/ttsaccel/ttsaccel.sock
EXPOSE 8000
# The health check asks the daemon over its socket, as the daemon's user.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["docker-entrypoint", "ttsaccelctl", "health"]
# Started as root, the entry point gives /run/ttsaccel to the ttsaccel
# user and runs the daemon (or any command) as that user; started with
# --user, as that one.
ENTRYPOINT ["docker-entrypoint"]
CMD ["ttsaccel"]
