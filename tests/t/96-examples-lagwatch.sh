#!/usr/bin/env bash
# rp-lagwatch(1) EXAMPLES against the stack, run as the man page writes
# them (each line through bash), each with a check of what it printed.
# The config is the stack's with a group and topic of this test's own;
# --serve listens on port 0, not the page's 9464, which another stack on
# this machine may hold.  An example this file does not know fails.
. "$(dirname "$0")/../lib.sh"
need_stack
exec </dev/null
run=$$
examples() { # the first .nf/.fi block of EXAMPLES, unescaped
	awk '/^\.SH EXAMPLES/{e=1; next} e&&/^\.SH /{exit} e&&/^\.nf/{b=1; next} e&&b&&/^\.fi/{exit} e&&b' "$RP_TOP/man/$1" |
		sed 's/\\-/-/g'
}
kctl() { "$KAFKACTL" "$@" >/dev/null || diag "kafkactl $* failed"; }
sed -e "s/\"ome-transcoder-consumer\"/\"exg$run\"/" -e "s/\"video-transcode\"/\"ext$run\"/" "$RP_CONFIG" >"$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
kctl topic "ext$run" 2
kctl produce "ext$run" 0 3
kctl commit "exg$run" "ext$run" 0 3 # lag 0: p0 all committed, p1 empty
kctl topic invoices 2
kctl produce invoices 0 4
kctl commit billing invoices 0 1     # lag 3
mkdir -p "$T_TMP/ex" && cd "$T_TMP/ex" || exit 1

n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	n=$((n + 1))
	case "$ex" in
	"rp-lagwatch --serve "*)
		rp-lagwatch --serve 127.0.0.1:0 --watch 10s >"$T_TMP/serve.out" 2>"$T_TMP/serve.err" &
		spid=$!
		at_exit "kill $spid 2>/dev/null"
		eventually 10 grep -q 'msg=listening' "$T_TMP/serve.err" || diag "did not start: $(cat "$T_TMP/serve.err")"
		addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/serve.err")
		eventually 10 curl -sf "http://$addr/scaler"
		rc "example: $ex (port 0)" 0 curl -sf "http://$addr/scaler"
		is "  the metrics-api answer" "$(jq -r '"\(.lag) \(.desired_nodes)"' "$T_TMP/.out")" "0 0"
		kill "$spid"
		wait "$spid"
		is "  SIGTERM: exit 0" "$?" 0
		continue ;;
	esac
	rc "example: $ex" 0 bash -o pipefail -c "$ex"
	out=$(cat "$T_TMP/.out")
	case "$ex" in
	"rp-lagwatch --once | jq -r 'select(.type==\"decision\") | .action'")
		like "  the action" "$out" '^(up|down|hold)$'
		is "  and nothing else (no null per lag record)" "$(wc -l <<<"$out")" 1 ;;
	"rp-lagwatch --once -o table")
		like "  a table with the decision" "$out" 'hold|down|up' ;;
	"rp-lagwatch --lag-only -v --group billing --topic billing:invoices")
		is "  billing's lag on invoices" "$(jq -r 'select(.type=="lag") | "\(.group) \(.topics.invoices) \(.lag)"' <<<"$out")" "billing 3 3"
		is "  per partition (-v)" "$(jq -r 'select(.type=="lag_partition") | .lag' <<<"$out" | tr '\n' ' ')" "3 0 " ;;
	"rp-lagwatch --once | rp-launch | rp-join")
		unlike "  no lag: nothing launched" "$out" '"type":"pod"' ;;
	*) fail "rp-lagwatch(1) example not checked here: $ex" ;;
	esac
done < <(examples rp-lagwatch.1)
is "every example of rp-lagwatch(1) ran" "$n" 5
done_testing
