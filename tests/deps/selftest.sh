#!/bin/sh
# check.py on small fixture trees: one without a cycle passes, one with a
# cycle (through a header's include) fails naming it, one whose cycle hides
# behind a header implemented by another file (server.h by http.c) fails
# too, and an include found nowhere is an error.
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; printf '%s\n' "$2" | sed 's/^/    | /'; fails=$((fails + 1)); }

out=$(python3 check.py fixtures/acyclic 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok "no cycle: exit 0" || nok "no cycle: exit 0 (got $rc)" "$out"
case $out in
*"fixtures/acyclic/main -> fixtures/acyclic/b"*"no include cycle among 3 modules"*)
	ok "no cycle: the edges, then the verdict" ;;
*)	nok "no cycle: the edges, then the verdict" "$out" ;;
esac

out=$(python3 check.py fixtures/cycle 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok "a cycle: exit 1" || nok "a cycle: exit 1 (got $rc)" "$out"
case $out in
*"cycle: fixtures/cycle/a -> fixtures/cycle/b -> fixtures/cycle/c -> fixtures/cycle/a"*)
	ok "a cycle through a header's include is named" ;;
*)	nok "a cycle through a header's include is named" "$out" ;;
esac

out=$(python3 check.py -q fixtures/hidden 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok "a header implemented elsewhere: exit 1" ||
    nok "a header implemented elsewhere: exit 1 (got $rc)" "$out"
case $out in
"cycle: fixtures/hidden/api -> fixtures/hidden/http -> fixtures/hidden/api"*)
	ok "-q: only the cycle, through the implementing file" ;;
*)	nok "-q: only the cycle, through the implementing file" "$out" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deps-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '#include "nowhere.h"\n' >"$tmp/x.c"
out=$(python3 check.py "$tmp" 2>&1); rc=$?
[ "$rc" -eq 2 ] && ok "an include found nowhere: exit 2" ||
    nok "an include found nowhere: exit 2 (got $rc)" "$out"
mkdir "$tmp/inc"
printf 'int\tnowhere(void);\n' >"$tmp/inc/nowhere.h"
out=$(python3 check.py -I "$tmp/inc" "$tmp" 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok "found with -I, outside the checked directories: left out" ||
    nok "found with -I: exit 0 (got $rc)" "$out"

[ "$fails" -eq 0 ] && echo "all checks passed" && exit 0
echo "$fails check(s) failed"
exit 1
