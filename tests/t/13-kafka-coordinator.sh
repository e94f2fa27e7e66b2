#!/usr/bin/env bash
# A group's coordinator down while its partitions' leaders stay up, then
# back: the long-running modes (--serve, --watch) keep one Kafka handle
# (common/kafka.c over kwire.c) across polls.  While the coordinator is
# away every poll fails (stale, 503, exit 75: lag unknown, never 0); its
# connection is dropped and reopened at the next use, and the polls
# answer again once it is back, on the same handle and process.
# (librdkafka, which rp used until issue 21, aborted here: #3663, #4605.)
# MALLOC_PERTURB_ makes glibc fill freed memory, so a use of freed state
# shows every time instead of now and then.
. "$(dirname "$0")/../lib.sh"
need_stack
at_exit "echo all-up >'$KAFKA_CTL'"

run=$$
t=kc$run g=gkc$run
ok "mock: topic" kctl topic "$t" 2
ok "mock: partition 0 led by broker 1" kctl leader "$t" 0 1
ok "mock: partition 1 led by broker 2" kctl leader "$t" 1 2
ok "mock: broker 3 coordinates the group" kctl coordinator "$g" 3
kctl produce "$t" 0 10 && kctl produce "$t" 1 2 && kctl commit "$g" "$t" 0 6 && kctl commit "$g" "$t" 1 2

export MALLOC_PERTURB_=165
RP_LOG_LEVEL=debug rp-lagwatch --serve 127.0.0.1:0 --watch 0.5s --set kafka.timeout=1s --group "$g" --topic "$t" \
	>"$T_TMP/serve.out" 2>"$T_TMP/serve.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
eventually 10 grep -q 'msg=listening' "$T_TMP/serve.err" || diag "server did not start: $(cat "$T_TMP/serve.err")"
addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/serve.err")
lag4() { curl -sf "http://$addr/scaler" | jq -e '.lag == 4' >/dev/null; }
ok "first polls: lag 4" eventually 10 lag4

ok "mock: the coordinator goes down" kctl broker-down 3
code503() { [ "$(curl -s -o "$T_TMP/503" -w '%{http_code}' --max-time 5 "http://$addr/scaler")" = 503 ]; }
ok "the value goes stale: 503" eventually 20 code503
like "it names the group" "$(cat "$T_TMP/503")" "\"error\":\".*$g"
# several polls time out while the coordinator is away
sleep 3
cbroker=$(sed -n "s/.*msg=\"kafka: retrying\" group=$g error=\"kafka group '$g': broker \([0-9.]*:[0-9]*\): .*/\1/p" "$T_TMP/serve.err" | tail -1)
like "a poll that lost its coordinator: the group's error names its broker" "$cbroker" '^127\.0\.0\.1:[0-9]+$'
like "... whose connection failed (dropped; reopened at the next use)" \
	"$(grep -c "msg=\"kafka: connection failed\" broker=$cbroker " "$T_TMP/serve.err")" '^[1-9]'
ok "mock: the coordinator is back" kctl broker-up 3
ok "the server answers again" eventually 20 lag4
sleep 2 # a poll or four after the coordinator came back
ok "and still runs" kill -0 "$spid"
num_ge "the coordinator's connection was reopened (connected twice at least)" \
	"$(grep -c "msg=\"kafka: connected\" broker=$cbroker\$" "$T_TMP/serve.err")" 2
unlike "no librdkafka assertion" "$(cat "$T_TMP/serve.err")" 'Assertion|refcnt'
kill "$spid"
wait "$spid"
is "SIGTERM: exit 0" "$?" 0

# --once: one poll, the coordinator away: lag unknown (75), not 0, no abort.
ok "mock: the coordinator goes down again" kctl broker-down 3
rc "--once, coordinator down: exit 75" 75 rp-lagwatch --once --lag-only --set kafka.timeout=1s --group "$g" --topic "$t"
like "one error line: lag unknown" "$(cat "$T_TMP/.err")" 'msg="lag unknown" error="kafka'
ok "mock: the coordinator is back" kctl broker-up 3
rc "--once after: exit 0" 0 rp-lagwatch --once --lag-only --set kafka.timeout=5s --group "$g" --topic "$t"
is "lag 4" "$(jq -r 'select(.type=="lag") | .lag' "$T_TMP/.out")" 4

done_testing
