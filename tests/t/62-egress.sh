#!/usr/bin/env bash
# 62-egress: each burst pod's transmitted bytes, measured.  rp-join
# --egress reads the stack's sshd "pods" over SSH (their counters are a
# file in the pod dir, named by ssh.egress_counters, in /proc/net/dev
# format); the counter grows across readings, does not go down when a
# pod's counters begin again, goes on from the ledger after our restart;
# rp-lagwatch --serve exports it, the stack's Prometheus scrapes it,
# promtool accepts it; rp-cost report prices it at cost.egress_per_gb.
# A reading is ledgered only when it matters (a pod's first, a reset, 1 GB
# moved, a last line 1 h old; egress.h): quiet ticks add no lines.
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # RP_STACK_DIR, SSH_HOSTS, PROM_URL come from stack.env
S=$RP_STACK_DIR
read -r -a H <<<"$SSH_HOSTS"
port() { echo "${1##*:}"; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
F=net-dev-$$ # the counters file, in each pod's dir (the session's cwd)
export RP_CONFIG="$T_TMP/rp.yaml"
sed "s|^  connect_timeout: .*|  connect_timeout: 2s\n  egress_counters: $F|" "$RP_STACK_DIR/rp.yaml" >"$RP_CONFIG"
ADA="NVIDIA RTX 6000 Ada Generation"

# counters PORT ETH0_TX [WG0_TX]: the pod's /proc/net/dev (lo sends a lot:
# never egress)
counters() {
	{
		echo 'Inter-|   Receive                                                |  Transmit'
		echo ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed'
		echo "    lo: 777000 10 0 0 0 0 0 0 999999999 10 0 0 0 0 0 0"
		echo "  eth0: 5000 40 0 0 0 0 0 0 $2 70 0 0 0 0 0 0"
		[ -z "${3:-}" ] || echo "   wg0: 10 1 0 0 0 0 0 0 $3 1 0 0 0 0 0 0"
	} >"$S/hosts/$1/$F"
}
p0=$(port "${H[0]}") p1=$(port "${H[1]}") p2=$(port "${H[2]}")
at_exit "rm -f '$S/hosts/$p0/$F' '$S/hosts/$p1/$F' '$S/hosts/$p2/$F'"
ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# ledger ID EVENT [HOST:PORT]: a pod line as rp-launch writes it
ledger() {
	local extra=''
	[ -z "${3:-}" ] || extra=$(printf ',"ssh_host":"%s","ssh_port":%s' "${3%:*}" "$(port "$3")")
	printf '{"type":"ledger","event":"%s","ts":"%s","id":"%s","name":"demo-burst-%s","gpu":"%s","gpu_count":1,"spot":false,"cost_per_hr":0.69%s}\n' \
		"$2" "$(ts)" "$1" "$1" "$ADA" "$extra" >>"$LEDGER"
}
total() { jq -r --arg id "$2" 'select(.type=="egress" and .id==$id) | .bytes' "$1"; }
sample() { rp-join --egress -o json; }

for id in eg0 eg1 eg2; do ledger "$id" launched; done
ledger eg0 ready "${H[0]}"
ledger eg1 ready "${H[1]}" # the address is the ready line's; the last event says up
ledger eg1 joined
ledger eg2 ready "${H[2]}"
ledger eg2 terminated # gone: never read

# ---- 1. first reading: everything since the pod booted ----------------------
counters "$p0" 1000000000 500
counters "$p1" 40000000000
counters "$p2" 123
rc "first reading: exit 0" 0 sample
cp "$T_TMP/.out" "$T_TMP/s1"
is "one egress record per pod that is up" "$(jq -r 'select(.type=="egress") | .id' "$T_TMP/s1" | sort | tr '\n' ' ')" "eg0 eg1 "
is "eg0: tx of eth0 + wg0, lo not counted" "$(total "$T_TMP/s1" eg0)" 1000000500
is "eg1: tx of eth0" "$(total "$T_TMP/s1" eg1)" 40000000000
is "the record names pod and gpu" "$(jq -r 'select(.id=="eg0") | "\(.name)|\(.gpu)|\(.delta)|\(.reset)"' "$T_TMP/s1")" \
	"demo-burst-eg0|$ADA|1000000500|false"
reads() { local n; n=$(grep -c -- "$F" "$S/hosts/$1/commands.log" 2>/dev/null); echo "${n:-0}"; }
is "the pod's counters were read over its SSH session" "$(reads "$p0")" 1
is "a terminated pod is not read" "$(reads "$p2")" 0
lines() { grep -c '"type":"egress"' "$LEDGER"; }
is "ledger: a pod's first reading is ledgered" "$(lines)" 2
is "the state file" "$(jq -r '.pods.eg1.bytes' "$RP_STATE_DIR/egress.json")" 40000000000
is "egress.json is 0600" "$(stat -c %a "$RP_STATE_DIR/egress.json")" 600
t1=$(ts)
sleep 0.05

# ---- 2. it grows; a pod restart does not take it back -----------------------
counters "$p0" 1500000000 700 # +500000200
counters "$p1" 7000000000     # eg1 restarted: counters began again at 0
rc "second reading: exit 0" 0 sample
cp "$T_TMP/.out" "$T_TMP/s2"
is "eg0 grew by what eth0 and wg0 sent" "$(total "$T_TMP/s2" eg0)" 1500000700
is "eg1 restarted: the new reading counts whole, the total never goes down" "$(total "$T_TMP/s2" eg1)" 47000000000
is "and the record says so" "$(jq -r 'select(.id=="eg1") | "\(.reset) \(.delta)"' "$T_TMP/s2")" "true 7000000000"
is "ledgered: the reset, not eg0's 500000200 bytes (less than 1 GB)" \
	"$(jq -r 'select(.type=="egress") | "\(.id) \(.ledgered)"' "$T_TMP/s2" | sort | tr '\n' ' ')" "eg0 false eg1 true "
is "one line more" "$(lines)" 3
counters "$p1" 9000000000 # +2000000000
rc "third reading: exit 0" 0 sample
is "eg1 goes on from its new counters" "$(total "$T_TMP/.out" eg1)" 49000000000
is "2 GB moved: ledgered" "$(jq -r 'select(.id=="eg1") | .ledgered' "$T_TMP/.out")" true
is "eg1's line, none of eg0" "$(lines)" 4
t3=$(ts)
sleep 0.05

# ---- 3. our restart: the state file gone, the ledger goes on ------------------
rm -f "$RP_STATE_DIR/egress.json"
counters "$p0" 1600000000 700 # +100000000
rc "a reading with an empty state directory (but the ledger): exit 0" 0 sample
is "eg0 goes on from its last ledgered total, not from 0" "$(total "$T_TMP/.out" eg0)" 1600000700
is "eg1 too" "$(total "$T_TMP/.out" eg1)" 49000000000
# a stale state file (another replica read since) loses to the newer ledger line
jq -c '.pods.eg0.bytes = 5 | .pods.eg0.ts = "2026-01-01T00:00:00.000Z"' \
	"$RP_STATE_DIR/egress.json" >"$T_TMP/stale" && cp "$T_TMP/stale" "$RP_STATE_DIR/egress.json"
rc "a reading over a stale state file: exit 0" 0 sample
is "the newer reading (the ledger's) wins" "$(total "$T_TMP/.out" eg0)" 1600000700
is "eg0's last line is still its first (moved 600000200 since)" "$(jq -r 'select(.type=="egress" and .id=="eg0") | .bytes' "$LEDGER" | tail -n 1)" 1000000500

# ---- 3b. quiet ticks add no ledger lines; an hour-old line, a reset, 1 GB do --
n0=$(lines)
for _ in 1 2 3 4 5; do sample >/dev/null 2>&1; done
is "5 quiet readings: no ledger line" "$(lines)" "$n0"
is "egress.json has the newest reading" "$(jq -r '.pods.eg0.bytes' "$RP_STATE_DIR/egress.json")" 1600000700
# eg0's last ledgered line made 2 h old (its bytes and raw as its first line's)
old=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000Z)
printf '{"type":"egress","ts":"%s","id":"eg0","name":"demo-burst-eg0","gpu":"%s","bytes":1000000500,"raw":1000000500}\n' \
	"$old" "$ADA" >>"$LEDGER"
rc "a reading after an hour-old line: exit 0" 0 sample
is "the quiet pod's reading is ledgered (one line an hour)" "$(jq -r 'select(.id=="eg0") | "\(.ledgered) \(.bytes)"' "$T_TMP/.out")" \
	"true 1600000700"
is "only eg0's" "$(lines)" $((n0 + 2))
rc "and the next one: exit 0" 0 sample
is "is not" "$(lines)" $((n0 + 2))

# ---- 4. a pod not read: the others are, its total waits ----------------------
mv "$S/hosts/$p1/$F" "$S/hosts/$p1/$F.away"
rc "one pod's counters unreadable: exit 3 (partly)" 3 sample
like "it is named on stderr" "$(cat "$T_TMP/.err")" "level=warn.*id=eg1"
is "the other is read" "$(jq -r 'select(.type=="egress") | .id' "$T_TMP/.out")" eg0
is "its total is kept" "$(jq -r '.pods.eg1.bytes' "$RP_STATE_DIR/egress.json")" 49000000000
printf 'eth0 is down\n' >"$S/hosts/$p1/$F"
rc "counters that are not /proc/net/dev text: exit 3" 3 sample
like "said why" "$(cat "$T_TMP/.err")" "not /proc/net/dev text"
mv "$S/hosts/$p1/$F.away" "$S/hosts/$p1/$F"
ledger eg9 launched
ledger eg9 ready 127.0.0.1:9 # nothing listens
rc "a pod that does not answer: exit 3" 3 sample
ledger eg9 terminated
# a host key nobody recorded is not learnt here
cp "$SSH_KNOWN_HOSTS" "$T_TMP/kh"
grep -v "^\[127.0.0.1\]:$p0 " "$T_TMP/kh" >"$T_TMP/kh0"
rc "an unknown host key: that pod not read (exit 3)" 3 rp-join --egress --known-hosts "$T_TMP/kh0"
like "refused, not learnt" "$(cat "$T_TMP/.err")" "recorded at join"
is "known_hosts unchanged" "$(grep -c "^\[127.0.0.1\]:$p0 " "$T_TMP/kh0")" 0
# two samplers at once never add the same bytes twice: the second stops
exec 8>"$RP_STATE_DIR/egress.lock"
flock 8
rc "a second sampler while one runs: exit 75" 75 sample
exec 8>&-
total_now=$(jq -r '.pods.eg0.bytes' "$RP_STATE_DIR/egress.json")

# ---- 5. rp-cost report prices it ----------------------------------------------
# the test's own arithmetic: eg0 1600000700 + eg1 49000000000 bytes
rc "report: exit 0" 0 rp-cost report --set cost.egress_per_gb=0.05
tot=$(grep '"by":"total"' "$T_TMP/.out")
is "measured bytes" "$(jq -r .egress_bytes <<<"$tot")" 50600000700
is "GB = 10^9 bytes" "$(jq -r .egress_gb <<<"$tot")" "$(awk 'BEGIN{printf "%.7f", 50600000700/1e9}' | sed 's/0*$//')"
is "priced at cost.egress_per_gb" "$(jq -r .egress_cost <<<"$tot")" "$(awk 'BEGIN{printf "%.2f", 50600000700/1e9*0.05}')"
rc "report with the default price" 0 rp-cost report
is "default cost.egress_per_gb 0: RunPod charges none" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_cost)" 0
# a window: since the first reading (t1) to the third (t3): eg1 +9000000000
# (ledgered: its reset, then 2 GB); eg0's +500000200 was read but not
# ledgered (less than 1 GB): it counts where its next ledgered reading is
rc "report --since --until" 0 rp-cost report --since "$t1" --until "$t3" --set cost.egress_per_gb=1
tot=$(grep '"by":"total"' "$T_TMP/.out")
is "the window's bytes: the total at until minus the total at since" "$(jq -r .egress_bytes <<<"$tot")" 9000000000
is "priced" "$(jq -r .egress_cost <<<"$tot")" 9
# since t3 to now: eg0 1000000500 -> 1600000700 (its hour-old line and the
# reading after it), eg1 none
rc "report --since t3" 0 rp-cost report --since "$t3" --set cost.egress_per_gb=1
is "after t3: what eg0 moved since its first line" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" 600000200
# the whole: 50600000700, the same as the two windows' sum
rc "report --until t3" 0 rp-cost report --until "$t3" --set cost.egress_per_gb=1
is "until t3 + since t3 = the whole" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" $((50600000700 - 600000200))
rc "--egress-gb still wins over the measurement" 0 rp-cost report --egress-gb 100 --set cost.egress_per_gb=0.08
tot=$(grep '"by":"total"' "$T_TMP/.out")
is "the number given" "$(jq -r '"\(.egress_gb) \(.egress_cost) \(.egress_bytes)"' <<<"$tot")" "100 8 null"

# ---- 6. exported: rp-lagwatch --serve, promtool, the stack's Prometheus -------
TOPIC=eg-$$ GROUP=egg-$$
"$KAFKACTL" topic "$TOPIC" 1 >/dev/null && "$KAFKACTL" commit "$GROUP" "$TOPIC" 0 0 >/dev/null
serve() {
	rp-lagwatch --serve 127.0.0.1:0 --group "$GROUP" --topic "$TOPIC" --set prometheus.url=http://127.0.0.1:9 \
		--watch 1s >"$T_TMP/serve.out" 2>"$T_TMP/serve.err" &
	spid=$!
	at_exit "kill $spid 2>/dev/null"
	eventually 10 grep -q 'msg=listening' "$T_TMP/serve.err" || diag "server did not start: $(cat "$T_TMP/serve.err")"
	addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/serve.err")
}
serve
have() { curl -sf "http://$addr/metrics" >"$T_TMP/m"; }
ok "GET /metrics" eventually 10 have
m=$(cat "$T_TMP/m")
like "TYPE counter" "$m" '^# TYPE runpod_egress_bytes_total counter$'
like "HELP" "$m" '^# HELP runpod_egress_bytes_total '
like "eg0: labels pod, id, gpu and its total" "$m" \
	"^runpod_egress_bytes_total\{pod=\"demo-burst-eg0\",id=\"eg0\",gpu=\"$ADA\"\} $total_now\$"
like "eg1" "$m" '^runpod_egress_bytes_total\{pod="demo-burst-eg1",id="eg1",.*\} 49000000000$'
ok "promtool check metrics accepts it" sh -c "'$PROMTOOL' check metrics <'$T_TMP/m'"
kill "$spid"; wait "$spid" 2>/dev/null
serve
ok "a restarted server" eventually 10 have
like "serves the same total" "$(cat "$T_TMP/m")" "id=\"eg0\",.*\} $total_now\$"
# the stack's Prometheus scrapes it (a job added, the config restored after)
cp "$S/prom/prometheus.yml" "$T_TMP/prometheus.yml"
at_exit "cp '$T_TMP/prometheus.yml' '$S/prom/prometheus.yml'; curl -sf -X POST '$PROM_URL/-/reload'"
printf '  - job_name: rp-egress-%s\n    static_configs:\n      - targets: ["%s"]\n' "$$" "$addr" >>"$S/prom/prometheus.yml"
ok "Prometheus takes the job" curl -sf -X POST "$PROM_URL/-/reload"
scraped() {
	curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=runpod_egress_bytes_total{job=\"rp-egress-$$\",id=\"eg1\"}" |
		jq -e '.data.result[0].value[1] == "49000000000"'
}
ok "Prometheus scraped runpod_egress_bytes_total{id=\"eg1\"}" eventually 15 scraped
kill "$spid"; wait "$spid" 2>/dev/null

# ---- 7. the tick reads it; a pod missed does not fail the tick ----------------
# its own cluster name and node labels: nothing of other tests is ours here
sed -e "s/^cluster: .*/cluster: egtick/" -e "s/^  group: .*/  group: [\"$GROUP\"]/" \
	-e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" -e "s|^  kubeconfig: .*|&\n  labels: [\"rp.io/egress-test=t$$\"]|" \
	"$RP_CONFIG" >"$T_TMP/tick.yaml"
mv "$S/hosts/$p1/$F" "$S/hosts/$p1/$F.away"
counters "$p0" 1700000000 700 # +100000000
rc "a tick with one pod's counters unreadable: exit 0" 0 env RP_CONFIG="$T_TMP/tick.yaml" "$RP_TOP/scripts/rp-autoscale" -q
is "tick status 0: the pod is caught up next tick" "$(jq -r .status "$T_TMP/.out")" 0
tlog=$(find "$RP_STATE_DIR/ticks" -name '*.jsonl' | head -n 1)
is "the tick log has the reading" "$(jq -r 'select(.type=="egress") | "\(.id) \(.bytes)"' "$tlog")" "eg0 1700000700"
mv "$S/hosts/$p1/$F.away" "$S/hosts/$p1/$F"
total_now=1700000700
# eg0's +100000000 is in egress.json only (less than 1 GB): the report has it
rc "report after the tick" 0 rp-cost report --set cost.egress_per_gb=1
is "the newest readings count, ledgered or not: 1700000700 + 49000000000" \
	"$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" 50700000700
rc "report over a ledger file given" 0 rp-cost report --ledger "$LEDGER" --set cost.egress_per_gb=1
is "its lines only: 1600000700 + 49000000000" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" 50600000700

# ---- 8. a pod that is gone leaves the export ------------------------------------
ledger eg1 terminated
eg1_ts=$(jq -r '.pods.eg1.ts' "$RP_STATE_DIR/egress.json") # its last reading, not ledgered (no movement)
rc "a reading after eg1 terminated: exit 0" 0 sample
is "only eg0 read" "$(jq -r 'select(.type=="egress") | .id' "$T_TMP/.out")" eg0
is "eg1 left the state file" "$(jq -r '.pods | keys | join(" ")' "$RP_STATE_DIR/egress.json")" eg0
is "its last reading ledgered as it left (it was newer than its last line)" \
	"$(jq -r 'select(.type=="egress" and .id=="eg1") | "\(.ts) \(.bytes)"' "$LEDGER" | tail -n 1)" "$eg1_ts 49000000000"
n1=$(lines)
rc "another reading: exit 0" 0 sample
is "no line more: a reading leaves the ledger once" "$(lines)" "$n1"
rc "its bytes stay priced" 0 rp-cost report --set cost.egress_per_gb=1
num_ge "report counts eg1's bytes still" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" 49000000000
rc "--egress with a pod: usage" 2 rp-join --egress --host 127.0.0.1 --id x

# ---- 9. a reset is ledgered however little it adds ------------------------------
n1=$(lines)
counters "$p0" 300 # eg0 restarted: 300 bytes since
rc "a reading after eg0 restarted: exit 0" 0 sample
is "a reset of 300 bytes is ledgered" "$(jq -r 'select(.id=="eg0") | "\(.reset) \(.delta) \(.ledgered) \(.bytes)"' "$T_TMP/.out")" \
	"true 300 true 1700001000"
is "one line more" "$(lines)" $((n1 + 1))

done_testing
