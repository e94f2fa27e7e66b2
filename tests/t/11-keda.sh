#!/usr/bin/env bash
# rp-lagwatch --serve as KEDA's metrics-api scaler reads it: answers from
# the last poll (a poller thread at the --watch interval), concurrently,
# while Kafka is down; a stale value is a 503, never a 0; the optional
# bearer token sent as KEDA's authMode: bearer sends it.
. "$(dirname "$0")/../lib.sh"
need_stack

run=$$
at_exit "echo all-up >'$KAFKA_CTL'"
dead="http://127.0.0.1:9"
t=kd$run g=gk$run
ok "mock: topic" kctl topic "$t" 2
kctl produce "$t" 0 10 && kctl produce "$t" 1 2 && kctl commit "$g" "$t" 0 6 && kctl commit "$g" "$t" 1 2

# serve NAME ARGS...: start rp-lagwatch --serve, wait for its address in $addr
serve() {
	local name=$1; shift
	rp-lagwatch --serve 127.0.0.1:0 --group "$g" --topic "$t" --set prometheus.url=$dead "$@" \
		>"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	spid=$!
	at_exit "kill $spid 2>/dev/null"
	eventually 10 grep -q 'msg=listening' "$T_TMP/$name.err" || diag "server did not start: $(cat "$T_TMP/$name.err")"
	addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/$name.err")
}
stop() { kill "$spid"; wait "$spid"; }
# burst N URL [CURL ARGS]: N requests at once from one curl (--parallel);
# per request i: $T_TMP/b.i (body); "code seconds" lines in $T_TMP/b.codes
burst() {
	local n=$1 url=$2 i args=(); shift 2
	rm -f "$T_TMP"/b.*
	for i in $(seq 1 "$n"); do args+=(-o "$T_TMP/b.$i" "$url"); done
	curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$n" --max-time 5 \
		-w '%{http_code} %{time_total}\n' "$@" "${args[@]}" >"$T_TMP/b.codes"
}
allbodies() { # JQ-FILTER: true for every body
	local i
	for i in $(seq 1 "$1"); do jq -e "$2" "$T_TMP/b.$i" >/dev/null || { diag "body $i: $(cat "$T_TMP/b.$i")"; return 1; }; done
}

# ---- the first poll, then answers from memory ----
serve s1 --watch 5s --set kafka.timeout=1s
have() { curl -sf "http://$addr/scaler"; }
ok "the first poll is served" eventually 10 have
rc "GET /scaler" 0 curl -sf "http://$addr/scaler"
is "lag: 4 + 0" "$(jq -r .lag "$T_TMP/.out")" 4
is "KEDA's valueLocation lag is a number" "$(jq -r '.lag | type' "$T_TMP/.out")" number
is "active (lag > 0)" "$(jq -r .active "$T_TMP/.out")" true
is "no latency signal: p95_s null" "$(jq -r .p95_s "$T_TMP/.out")" null
num_le "age_s: from the last poll (< 5 s interval)" "$(jq -r .age_s "$T_TMP/.out")" 5
rc "GET /metrics" 0 curl -sf -D "$T_TMP/h" "http://$addr/metrics"
like "Prometheus text format" "$(tr -d '\r' <"$T_TMP/h")" '^Content-Type: text/plain; version=0.0.4'
like "rp_lagwatch_lag gauge" "$(cat "$T_TMP/.out")" '^# TYPE rp_lagwatch_lag gauge$'
like "KEDA format: prometheus, valueLocation rp_lagwatch_lag" "$(cat "$T_TMP/.out")" '^rp_lagwatch_lag 4$'
like "desired nodes" "$(cat "$T_TMP/.out")" '^rp_lagwatch_desired_nodes 1$'
if command -v promtool >/dev/null; then
	ok "promtool accepts the exposition" sh -c "promtool check metrics <'$T_TMP/.out'"
fi

# ---- a silent client does not hold up another (concurrent connections) ----
exec 7<>"/dev/tcp/${addr%:*}/${addr##*:}"
rc "a request while another connection sends nothing" 0 curl -sf --max-time 1 -o /dev/null -w '%{time_total}' "http://$addr/scaler"
num_le "answered at once, not after the 2 s head timeout" "$(cat "$T_TMP/.out")" 0.9
exec 7>&-

# ---- Kafka down: 20 requests at once, each answered from the last poll ----
ok "mock: all brokers down" kctl all-down
failed_poll() { curl -sf "http://$addr/scaler" | jq -e '.poll_error | test("kafka|Kafka|broker|timed out|Timed out")'; }
ok "the next poll fails (its error is shown)" eventually 15 failed_poll
burst 20 "http://$addr/scaler"
is "20 answers, all 200 (the value is younger than 3 polls)" "$(cut -d' ' -f1 "$T_TMP/b.codes" | sort | uniq -c | awk '{print $1"x"$2}')" 20x200
ok "each body: the last known lag 4, with the poll's error" allbodies 20 '.lag == 4 and (.poll_error | length > 0)'
num_le "slowest of the 20 (s)" "$(cut -d' ' -f2 "$T_TMP/b.codes" | sort -n | tail -1)" 1
stop
is "SIGTERM: exit 0" "$?" 0

# ---- stale: a value older than three intervals is unknown, 503 ----
serve s2 --watch 0.3s --set kafka.timeout=1s
ok "served while Kafka is down: no value yet, 503" eventually 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$addr/scaler)\" = 503 ]"
ok "mock: brokers up" kctl all-up
ok "a value once Kafka is back" eventually 20 have
is "lag 4" "$(curl -sf "http://$addr/scaler" | jq -r .lag)" 4
ok "mock: all brokers down" kctl all-down
stale() { [ "$(curl -s -o "$T_TMP/stale" -w '%{http_code}' "http://$addr/scaler")" = 503 ]; }
ok "within a few polls: 503" eventually 10 stale
like "the error says how old the value is" "$(jq -r .error "$T_TMP/stale")" 'old \(older than 3 polls\)'
is "no lag in it (never a 0)" "$(jq -r 'has("lag")' "$T_TMP/stale")" false
burst 20 "http://$addr/scaler"
is "20 answers at once, all 503" "$(cut -d' ' -f1 "$T_TMP/b.codes" | sort | uniq -c | awk '{print $1"x"$2}')" 20x503
ok "each body: the error, no lag" allbodies 20 '(.error | test("older than 3 polls")) and (has("lag") | not)'
num_le "slowest of the 20 (s)" "$(cut -d' ' -f2 "$T_TMP/b.codes" | sort -n | tail -1)" 1
rc "Prometheus text: 503 too" 22 curl -sf "http://$addr/metrics"
ok "mock: brokers up" kctl all-up
ok "fresh again once Kafka is back" eventually 20 have
stop

# ---- bearer token (lagwatch.token_file) as KEDA's authMode: bearer sends it ----
tok=tok-$run-$RANDOM$RANDOM
printf '%s\n' "$tok" >"$T_TMP/token"
chmod 644 "$T_TMP/token"
rc "a token file readable by others: exit 2" 2 rp-lagwatch --serve 127.0.0.1:0 --set "lagwatch.token_file=$T_TMP/token"
like "naming the key and the mode" "$(cat "$T_TMP/.err")" 'lagwatch.token_file.*mode 0644'
chmod 600 "$T_TMP/token"
serve s3 --watch 1s --set "lagwatch.token_file=$T_TMP/token"
ok "up" eventually 10 curl -sf -H "Authorization: Bearer $tok" "http://$addr/scaler"
code() { curl -s -o "$T_TMP/.body" -D "$T_TMP/.hdr" -w '%{http_code}' "$@"; }
is "no token: 401" "$(code "http://$addr/scaler")" 401
like "with WWW-Authenticate: Bearer" "$(tr -d '\r' <"$T_TMP/.hdr")" '^WWW-Authenticate: Bearer'
is "no token on /metrics: 401" "$(code "http://$addr/metrics")" 401
is "a wrong token: 401" "$(code -H "Authorization: Bearer ${tok}x" "http://$addr/scaler")" 401
is "a prefix of the token: 401" "$(code -H "Authorization: Bearer ${tok%?}" "http://$addr/scaler")" 401
is "Basic, not Bearer: 401" "$(code -H "Authorization: Basic $tok" "http://$addr/scaler")" 401
is "the right token: 200" "$(code -H "Authorization: Bearer $tok" "http://$addr/scaler")" 200
is "and the data" "$(jq -r .lag "$T_TMP/.body")" 4
is "the scheme is case-insensitive (RFC 7235)" "$(code -H "authorization: bearer $tok" "http://$addr/metrics")" 200
is "/healthz needs none" "$(code "http://$addr/healthz")" 200
burst 20 "http://$addr/scaler" -H "Authorization: Bearer $tok"
is "20 at once with the token: all 200" "$(cut -d' ' -f1 "$T_TMP/b.codes" | sort | uniq -c | awk '{print $1"x"$2}')" 20x200
unlike "the token never in the log" "$(cat "$T_TMP/s3.err")" "$tok"
stop

# ---- lagwatch.listen: the address when --serve names none ----
rp-lagwatch --serve --set lagwatch.listen=127.0.0.1:0 --group "$g" --topic "$t" >/dev/null 2>"$T_TMP/s4.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
ok "--serve alone listens on lagwatch.listen" eventually 10 grep -q 'msg=listening addr=127.0.0.1:' "$T_TMP/s4.err"
stop
unit=$(cat "$RP_TOP/scripts/systemd/rp-lagwatch.service")
like "the systemd unit serves on lagwatch.listen" "$unit" '^ExecStart=.*rp-lagwatch --serve --watch [0-9]+s$'
like "whose default is loopback" "$(grep -A1 '^lagwatch:' "$RP_BUILD/config.yaml"; grep 'listen:' "$RP_BUILD/config.yaml")" 'listen: "?127\.0\.0\.1:9464'
rc "--serve with --once: usage, exit 2" 2 rp-lagwatch --serve 127.0.0.1:0 --once
rc "a bad lagwatch.listen: exit 2" 2 rp-lagwatch --serve --set lagwatch.listen=nope
like "naming where it came from" "$(cat "$T_TMP/.err")" 'flag'

done_testing
