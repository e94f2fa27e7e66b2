#!/usr/bin/env bash
# Every binary: --help, --version, bad flag -> 2, config errors -> 2 with
# file:line:key, broken pipe -> no crash and no lie.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
export RP_CONFIG="$T_TMP/none.yaml"
printf 'cluster: t\n' >"$RP_CONFIG"
sub() { case $1 in rp-checkpoint) echo list ;; rp-cost) echo breakeven ;; esac; }
for t in rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost; do
	# shellcheck disable=SC2046 # the subcommand, if any, is one word
	set -- $(sub "$t")
	rc "$t --help exits 0" 0 "$t" --help
	like "$t --help prints its usage" "$(cat "$T_TMP/.out")" "^usage: $t"
	rc "$t --version exits 0" 0 "$t" --version
	like "$t --version names itself" "$(cat "$T_TMP/.out")" "^$t [0-9]+\.[0-9]+"
	rc "$t with a bad flag exits 2" 2 "$t" --no-such-flag
	like "$t bad flag: usage on stderr" "$(cat "$T_TMP/.err")" "usage: $t"
	rc "$t -o yaml exits 2" 2 "$t" -o yaml
	rc "$t --set with an unknown key exits 2" 2 "$t" --set nope.key=1 "$@"
	like "$t names the unknown key" "$(cat "$T_TMP/.err")" "^$t: fatal: .*nope\.key"
	printf 'cluster: t\nscale:\n  idle: soon\n' >"$T_TMP/bad.yaml"
	rc "$t with a bad config value exits 2" 2 env RP_CONFIG="$T_TMP/bad.yaml" "$t" "$@"
	like "$t config error names file, line and key" "$(cat "$T_TMP/.err")" "bad\.yaml:3: key 'scale\.idle'"
	rc "$t with a missing config file exits 2" 2 env RP_CONFIG="$T_TMP/missing.yaml" "$t" "$@"
	# --help into a closed pipe: no crash (no signal death), non-zero or zero but never a core
	( "$t" --help | true ); st=$?
	is "$t --help into a closed pipe does not crash" "$st" 0
done
# A full stdout is detected: /dev/full makes the write fail.
if [ -w /dev/full ]; then
	rp-lagwatch --version >/dev/full 2>"$T_TMP/full.err"; st=$?
	isnt "stdout on /dev/full exits non-zero" "$st" 0
	like "and says why" "$(cat "$T_TMP/full.err")" "unable to write standard output"
fi
done_testing
