#!/usr/bin/env bash
# Man pages and completions are in step with the code: every option and
# environment variable that `ttsaccel --help` prints is documented and
# completed, every option of `ttsaccelctl --help` too, the pages are clean
# under mandoc -Tlint, and `make install` puts everything in place.
. "$(dirname "$0")/lib.sh"

MAN8=$top/man/ttsaccel.8
MAN5=$top/man/ttsaccel.conf.5
MAN1=$top/man/ttsaccelctl.1
BASHC=$top/completions/ttsaccelctl.bash
ZSHC=$top/completions/_ttsaccelctl
FISHC=$top/completions/ttsaccelctl.fish

# render PAGE: the page as plain text on one long line per paragraph, so
# that no option is split at a hyphen.
render() { mandoc -Tascii -O width=1000 "$1" | sed 's/.\x08//g'; }

# has TEXT WORD: WORD occurs in TEXT as a whole option or name.
has_opt() { grep -qE -- "(^|[^A-Za-z0-9-])$2([^a-z0-9-]|\$)" <<<"$1"; }
has_name() { grep -qE -- "(^|[^A-Za-z0-9_])$2([^A-Za-z0-9_]|\$)" <<<"$1"; }

# opts_of TEXT: the options (-x and --long-name) that TEXT mentions.
opts_of() {
	tr -s ' ,|[]()' '\n' <<<"$1" | grep -xE -- '-[A-Za-z]|--[a-z][a-z0-9-]*' |
	    sort -u
}

# --- mandoc -Tlint (and mandoc renders the pages for what follows)
need mandoc mandoc || finish
lint=$(mandoc -Tlint -Wwarning "$top"/man/*.[0-9] 2>&1)
eq "mandoc -Tlint -Wwarning is clean" "$lint" ""

help=$("$TTSACCEL" --help)
ctlhelp=$("$TTSACCELCTL" --help)
man8=$(render "$MAN8")
man5=$(render "$MAN5")
man1=$(render "$MAN1")

# --- ttsaccel options and environment in the pages
mapfile -t opts < <(opts_of "$help")
check "ttsaccel --help lists its options (${#opts[@]} found)" \
    test "${#opts[@]}" -ge 40
for o in "${opts[@]}"; do
	has_opt "$man8" "$o" || { echo "not ok - ttsaccel.8 documents $o";
	    fails=$((fails + 1)); }
done
echo "ok - ttsaccel.8 checked for ${#opts[@]} options"

# The settings: "  --option METAVAR   ENV_NAME", and $VARIABLES in the text.
mapfile -t settings < <(awk '/^  --[a-z0-9-]+ +[^ ]+ +[A-Z][A-Z0-9_]*$/ {
    print $1, $3 }' <<<"$help")
check "ttsaccel --help lists its settings (${#settings[@]} found)" \
    test "${#settings[@]}" -ge 30
mapfile -t envs < <({ for s in "${settings[@]}"; do echo "${s#* }"; done
    grep -oE '\$[A-Z][A-Z0-9_]+' <<<"$help" | tr -d '$'; } | sort -u)
for e in "${envs[@]}"; do
	has_name "$man8" "$e" || { echo "not ok - ttsaccel.8 names $e";
	    fails=$((fails + 1)); }
	has_name "$man5" "$e" || { echo "not ok - ttsaccel.conf.5 names $e";
	    fails=$((fails + 1)); }
done
echo "ok - ttsaccel.8 and ttsaccel.conf.5 checked for ${#envs[@]} variables"

# Each setting: its option is derived from its name, and its config key
# (the name in lower case) is in ttsaccel.conf.5.
for s in "${settings[@]}"; do
	opt=${s% *} env=${s#* }
	want=--$(tr 'A-Z_' 'a-z-' <<<"$env")
	[ "$opt" = "$want" ] || { echo "not ok - $env is $want, not $opt";
	    fails=$((fails + 1)); }
	key=$(tr '[:upper:]' '[:lower:]' <<<"$env")
	has_name "$man5" "$key" || { echo "not ok - ttsaccel.conf.5 has key $key";
	    fails=$((fails + 1)); }
done
echo "ok - config keys checked"

# The other way round: what the pages list as options and keys exists.
mapfile -t doc8 < <(sed -n 's/^\.It Fl \\\(-[a-z0-9-]*\).*/-\1/p' "$MAN8")
for o in "${doc8[@]}"; do
	has_opt "$help" "$o" || { echo "not ok - $o in ttsaccel.8 is not in --help";
	    fails=$((fails + 1)); }
done
mapfile -t doc5 < <(sed -n 's/^\.It Ic \([a-z0-9_]*\).*/\1/p' "$MAN5")
check "ttsaccel.conf.5 describes every setting" \
    test "${#doc5[@]}" -eq "${#settings[@]}"
for k in "${doc5[@]}"; do
	has_name "$help" "$(tr '[:lower:]' '[:upper:]' <<<"$k")" || {
	    echo "not ok - key $k in ttsaccel.conf.5 is not a setting";
	    fails=$((fails + 1)); }
done

# --- ttsaccelctl options in its page
mapfile -t ctlopts < <(opts_of "$ctlhelp")
check "ttsaccelctl --help lists its options" test "${#ctlopts[@]}" -ge 2
for o in "${ctlopts[@]}"; do
	has_opt "$man1" "$o" || { echo "not ok - ttsaccelctl.1 documents $o";
	    fails=$((fails + 1)); }
done
# The options ttsaccelctl accepts today: its "  -x, --long" lines.
mapfile -t ctlacc < <(opts_of "$(grep -E '^  -' <<<"$ctlhelp")")

# --- completions
check "bash completion parses" bash -n "$BASHC"
need zsh zsh && check "zsh completion parses" zsh -n "$ZSHC"
have_fish=0
need fish fish && have_fish=1 && check "fish completion parses" fish -n "$FISHC"

# bash: ask the completion functions themselves.
complete_bash() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    "_$1"; printf "%s\n" "${COMPREPLY[@]}"' _ "$BASHC" "$@"
}
got=$(complete_bash ttsaccel -)
for o in "${opts[@]}"; do
	grep -qxF -- "$o" <<<"$got" || { echo "not ok - bash completes ttsaccel $o";
	    fails=$((fails + 1)); }
done
eq "bash completes --log-level" "$(complete_bash ttsaccel --log-level W)" WARNING
got=$(complete_bash ttsaccelctl -)
for o in "${ctlacc[@]}"; do
	grep -qxF -- "$o" <<<"$got" || { echo "not ok - bash completes ttsaccelctl $o";
	    fails=$((fails + 1)); }
done

# zsh: the _arguments specs name each option.
zsh_text=$(cat "$ZSHC")
for o in "${opts[@]}" "${ctlacc[@]}"; do
	has_opt "$zsh_text" "$o" || { echo "not ok - zsh completes $o";
	    fails=$((fails + 1)); }
done

# fish: its -s/-l flags as the file writes them, on `complete -c NAME`
# lines or on lines that start with a variable set to that (`set -l c
# complete -c NAME` then `$c -s x ...`); and fish's own answer when fish
# is there (without it, the missing package has failed above).
fish_read() {
	awk -v name="$1" '
	$1 == "set" && $2 == "-l" && $4 == "complete" && $5 == "-c" && $6 == name {
		alias["$" $3] = 1; next }
	($1 == "complete" && $2 == "-c" && $3 == name) || ($1 in alias) {
		for (i = 2; i < NF; i++) {
			if ($i == "-s") print "-" $(i + 1)
			else if ($i == "-l") print "--" $(i + 1)
		}
	}' "$FISHC" | sort -u
}
fish_ask() { fish -c "source '$FISHC'; complete -C '$1 -'" | cut -f1; }
fish_srcs=(read)
[ "$have_fish" = 1 ] && fish_srcs+=(ask)
for how in "${fish_srcs[@]}"; do
	got=$("fish_$how" ttsaccel)
	for o in "${opts[@]}"; do
		grep -qxF -- "$o" <<<"$got" || {
		    echo "not ok - fish completes ttsaccel $o (fish_$how)";
		    fails=$((fails + 1)); }
	done
	got=$("fish_$how" ttsaccelctl)
	for o in "${ctlacc[@]}"; do
		grep -qxF -- "$o" <<<"$got" || {
		    echo "not ok - fish completes ttsaccelctl $o (fish_$how)";
		    fails=$((fails + 1)); }
	done
done
echo "ok - completions checked for ${#opts[@]} + ${#ctlacc[@]} options"

# --- make install (without rebuilding: -o all keeps the binaries of
# whichever variant the suite is testing).
R=$T/root
check "make install" make -s -C "$top" -o all install DESTDIR="$R" PREFIX=/usr
for f in bin/ttsaccel bin/ttsaccelctl; do
	check "installs /usr/$f" test -x "$R/usr/$f"
done
while read -r src dst; do
	check "installs /usr/$dst" cmp -s "$top/$src" "$R/usr/$dst"
done <<'EOF'
man/ttsaccel.8 share/man/man8/ttsaccel.8
man/ttsaccel.conf.5 share/man/man5/ttsaccel.conf.5
man/ttsaccelctl.1 share/man/man1/ttsaccelctl.1
completions/ttsaccelctl.bash share/bash-completion/completions/ttsaccelctl
completions/_ttsaccelctl share/zsh/site-functions/_ttsaccelctl
completions/ttsaccelctl.fish share/fish/vendor_completions.d/ttsaccelctl.fish
EOF
eq "installed ttsaccel runs" "$("$R/usr/bin/ttsaccel" --version)" \
    "$("$TTSACCEL" --version)"
check "make uninstall" make -s -C "$top" uninstall DESTDIR="$R" PREFIX=/usr
check "uninstall leaves the tree" test -d "$R/usr"
eq "uninstall leaves no files" "$(find "$R" -type f)" ""

finish
