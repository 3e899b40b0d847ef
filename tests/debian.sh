# Shared by tests/deploy/run.sh and tests/fresh/run.sh (source it).
# debian_mirror: the machine's Debian mirror, read from its own apt
# sources at run time (never written into the project), or
# $TTSACCEL_DEBIAN_MIRROR.
debian_mirror() {
	local codename f
	if [ -n "${TTSACCEL_DEBIAN_MIRROR:-}" ]; then
		echo "$TTSACCEL_DEBIAN_MIRROR"
		return
	fi
	codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
	[ -n "$codename" ] || return 1
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			awk -v c="$codename" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) {
					while (i <= NF && $i !~ /\]$/) i++
					i++
				}
				if ($(i + 1) == c) print $i
			}' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk -v c="$codename" 'BEGIN { RS = ""; FS = "\n" } {
				types = uris = suites = ""; on = 1
				for (k = 1; k <= NF; k++) {
					if ($k ~ /^#/) continue
					n = index($k, ":")
					if (n == 0) continue
					key = tolower(substr($k, 1, n - 1))
					val = " " substr($k, n + 1) " "
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "enabled" && val ~ /no/) on = 0
				}
				if (on && types ~ / deb / && suites ~ (" " c " ")) {
					split(uris, u, " ")
					print u[1]
				}
			}' "$f"
		done
	} | grep -E '^https?://' | head -n 1
}
