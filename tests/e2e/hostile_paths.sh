#!/usr/bin/env bash
# Hostile request paths: what is routed and authenticated is exactly what
# reaches the upstream; NULs, encoded slashes, dot segments and the like
# are refused with an OpenAI-shaped 400 and never forwarded.
. "$(dirname "$0")/lib.sh"

start_upstream
NEWAPI_BASE_URL=$UP_URL NEWAPI_API_KEY=sk-operator API_KEYS=sk-client \
    start_daemon
wait_probe
UPLOG=$T/upstream-requests.jsonl
touch "$UPLOG"
K=(-H 'Authorization: Bearer sk-client')

# refused DESC METHOD PATH [curl args]: 400, OpenAI-shaped, nothing upstream.
refused() {
	local desc=$1 method=$2 path=$3; shift 3
	local before after code
	before=$(wc -l <"$UPLOG")
	if [ "$method" = HEAD ]; then
		code=$(curl -sS --path-as-is -m 5 -I -o "$T/resp" -w '%{http_code}' \
		    "$@" "$URL$path")
	else
		code=$(curl -sS --path-as-is -m 5 -X "$method" -o "$T/resp" \
		    -w '%{http_code}' "$@" "$URL$path")
	fi
	after=$(wc -l <"$UPLOG")
	eq "$desc: status" "$code" 400
	if [ "$method" != HEAD ]; then
		check "$desc: OpenAI error shape" jq -e \
		    '(.error.message|type=="string") and (.error.type=="invalid_request_error") and (.error.code=="invalid_path")' \
		    "$T/resp"
	fi
	eq "$desc: nothing reached the upstream" "$after" "$before"
}

# The reported attacks: the public /v1/models cut at a NUL, and a client
# key climbing out of /v1/.
refused "NUL then dot-dot, no key" GET '/v1/models%00/../files'
refused "NUL then dot-dot, no key, HEAD" HEAD '/v1/models%00/../files'
refused "NUL then dot-dot out of /v1, no key" GET '/v1/models%00/../../admin'
refused "dot-dot out of /v1 with a key" GET '/v1/../admin' "${K[@]}"
refused "dot-dot out of /v1 with a key, POST" POST '/v1/../admin' "${K[@]}" -d '{}'
refused "dot-dot inside /v1, no key" GET '/v1/models/../files'
# Encoded and variant forms.
refused "encoded dot-dot" GET '/v1/%2e%2e/admin' "${K[@]}"
refused "encoded dot-dot, upper case" GET '/v1/%2E%2E/admin' "${K[@]}"
refused "half-encoded dot-dot" GET '/v1/.%2e/admin' "${K[@]}"
refused "double-encoded dot-dot" GET '/v1/%252e%252e/admin' "${K[@]}"
refused "encoded slash" GET '/v1/models%2F..%2F..%2Fadmin'
refused "encoded slash, lower case" GET '/v1/models%2ffiles' "${K[@]}"
refused "double-encoded slash" GET '/v1/models%252F..%252Fadmin' "${K[@]}"
refused "dot segment" GET '/v1/./models' "${K[@]}"
refused "raw backslash" GET '/v1/models\..\admin' "${K[@]}"
refused "encoded backslash" GET '/v1/%5c..%5cadmin' "${K[@]}"
refused "empty segment" GET '/v1//models' "${K[@]}"
refused "dot-dot with a parameter" GET '/v1/..;/admin' "${K[@]}"
refused "encoded NUL alone" GET '/v1/models%00' "${K[@]}"
refused "encoded newline" GET '/v1/models%0aX' "${K[@]}"
refused "bad escape" GET '/v1/models%zz' "${K[@]}"

# No upstream request ever went outside /v1/ or carried a dot segment.
check "upstream saw no path outside /v1/ nor a dot segment" jq -se \
    'all(.[]; (.path|startswith("/v1/")) and ((.path|test("(^|/)\\.\\.?(/|$)"))|not))' \
    "$UPLOG"

# Plain paths still work and arrive as sent.
before=$(wc -l <"$UPLOG")
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/v1/models")
eq "GET /v1/models without a key" "$code" 200
code=$(curl -sS -o /dev/null -w '%{http_code}' "${K[@]}" -X POST -d '{}' \
    "$URL/v1/embeddings")
eq "POST /v1/embeddings with a key" "$code" 200
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' \
    "$URL/v1/embeddings")
eq "POST /v1/embeddings without a key" "$code" 401
eq "upstream paths" "$(tail -n +$((before + 1)) "$UPLOG" | jq -r .path | paste -sd' ')" \
    "/v1/models /v1/embeddings"
# A query is passed on; an encoded character that is not a slash is fine.
code=$(curl -sS -o "$T/resp" -w '%{http_code}' "${K[@]}" \
    "$URL/v1/files/a%20b?purpose=x%2Fy")
eq "encoded space in a segment" "$code" 200
eq "its upstream path and query" "$(tail -n 1 "$UPLOG" | jq -r '.path + "?" + .query')" \
    "/v1/files/a%20b?purpose=x%2Fy"
eq "still serving" "$(curl -sS -m 5 "$URL/health" | jq -r .status)" ok
stop_daemon
finish
