#!/usr/bin/env bash
# Every header has an include guard of its own: its first #ifndef is
# followed by the #define of the same name, and no two headers share one
# (two would hide each other's declarations when both are included).
. "$(dirname "$0")/lib.sh"
cd "$top" || exit 1
declare -A owner=()
n=0
while IFS= read -r h; do
	n=$((n + 1))
	guard=$(sed -n 's/^#ifndef[[:space:]]\{1,\}\([A-Za-z_0-9]*\).*/\1/p' "$h" | head -n 1)
	if [ -z "$guard" ]; then
		check "$h has an include guard" false
		continue
	fi
	def=$(grep -A1 "^#ifndef[[:space:]]*$guard\$" "$h" | sed -n 2p)
	eq "$h: the guard is defined at once" "$def" "#define $guard"
	if [ -n "${owner[$guard]:-}" ]; then
		echo "not ok - $h: guard $guard is also ${owner[$guard]}'s"
		fails=$((fails + 1))
	else
		owner[$guard]=$h
	fi
done < <(find . \( -path ./build -o -path ./.git -o -name node_modules \) -prune \
    -o -name '*.h' -print | sort)
check "headers found" test "$n" -gt 10
finish
