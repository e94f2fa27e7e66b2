#!/usr/bin/env bash
# scale.prewarm through the binaries on the stack: rp-cost prewarm writes
# the pre-warm floor from a ledger's history ($RP_STATE_DIR/prewarm.json),
# rp-lagwatch --once keeps it as the warm pool's floor when the key is on
# (the larger of the two), holds when it is off, and a missing, stale or
# broken file is one warning and no floor, never a failed tick.  The
# per-hour arithmetic is test-prewarm's; the clock is the real one (see
# 13-warmpool.sh).
. "$(dirname "$0")/../lib.sh"
need_stack

run=$$
field() { jq -r "select(.type==\"decision\") | $1" "$T_TMP/.out"; }
fresh() { RP_STATE_DIR="$T_TMP/state.$1"; mkdir -p "$RP_STATE_DIR"; export RP_STATE_DIR; }
warnings() { grep -c 'scale.prewarm' "$T_TMP/.err"; }
dead="http://127.0.0.1:9" # no Prometheus: the lag alone decides

# not within 2 minutes of the hour's end: now + the lead (30 s) stays in this hour
while [ "$(date -u +%M)" -ge 58 ]; do sleep 5; done
h=$((10#$(date -u +%H)))
now=$(printf '%02d-%02d' "$h" $((h + 1)))
hh=$(printf '%02d' "$h")
diag "the hour: $hh UTC"

t=pw$run
ok "mock: a topic" kctl topic "$t" 1
kctl produce "$t" 0 20
kctl commit "g0$run" "$t" 0 20
calm=(--group "g0$run" --topic "$t" --set "prometheus.url=$dead")

# ---- rp-cost prewarm: 9 pods busy this hour of day on each of the last 7 days ----
ts() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000Z; }
hour0=$(($(date -u +%s) / 3600 * 3600))
for d in 1 2 3 4 5 6 7; do
	for i in 1 2 3 4 5 6 7 8 9; do
		printf '{"type":"ledger","event":"launched","ts":"%s","id":"pw%s-%s","name":"t-burst-pw%s-%s","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":false,"cost_per_hr":0.89}\n' "$(ts $((hour0 - d * 86400)))" "$d" "$i" "$d" "$i"
		printf '{"type":"ledger","event":"terminated","ts":"%s","id":"pw%s-%s"}\n' "$(ts $((hour0 - d * 86400 + 3600)))" "$d" "$i"
	done
done >"$T_TMP/ledger.jsonl"
fresh cost
rc "rp-cost prewarm from the ledger" 0 rp-cost prewarm --ledger "$T_TMP/ledger.jsonl" --boot 30s
rec=$(jq -c 'select(.type=="prewarm")' "$T_TMP/.out")
is "one record" "$(jq -r .type <<<"$rec")" prewarm
is "the next 25 hours" "$(jq '.floors | length' <<<"$rec")" 25
is "from the current hour's start" "$(jq -r .from <<<"$rec")" "$(date -u -d "@$hour0" +%Y-%m-%dT%H):00:00.000Z"
fl=$(jq '.floors[0]' <<<"$rec")
diag "the floor this hour: $fl ($(jq -c . <<<"$rec"))"
num_ge "this hour: a floor of at least 2 nodes (9 pods busy at this hour every day)" "$fl" 2
is "Little's law: the 9 pods' slots (the baseline's come and go with them) over a node's" "$fl" $((9 / $(jq .jobs_per_node <<<"$rec")))
is "the next 23 hours: none (no pod then)" "$(jq -c '[.floors[1:24][] | select(. != 0)]' <<<"$rec")" "[]"
is "the 25th, this hour tomorrow: the same (the 6 days it has)" "$(jq '.floors[24]' <<<"$rec")" "$fl"
is "written to the state directory" "$(jq -r .file <<<"$rec")" "$RP_STATE_DIR/prewarm.json"
is "the file: the floors and the lead (--boot 30s)" "$(jq -c '[.lead, (.floors | length), .floors[0]]' "$RP_STATE_DIR/prewarm.json")" "[30,25,$fl]"
rc "runpod.max_nodes 1" 0 rp-cost prewarm --ledger "$T_TMP/ledger.jsonl" --boot 30s --set runpod.max_nodes=1
is "caps the floor" "$(jq -c .floors[0] "$RP_STATE_DIR/prewarm.json")" 1
rc "again as it was" 0 rp-cost prewarm --ledger "$T_TMP/ledger.jsonl" --boot 30s
file=$RP_STATE_DIR/prewarm.json

# ---- rp-lagwatch: on, off, beside the warm pool ----
fresh on && cp "$file" "$RP_STATE_DIR/"
rc "scale.prewarm on, no node" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set scale.prewarm=true
is "lag 0 under the pre-warm floor: up" "$(field .action)" up
is "count: up to the floor" "$(field .count)" "$fl"
like "the reason names the pre-warm floor" "$(field .reason)" "fleet 0 below the pre-warm floor $fl at $hh UTC"
is "no warning" "$(warnings)" 0
fresh off && cp "$file" "$RP_STATE_DIR/"
rc "scale.prewarm off (the default), the file there" 0 rp-lagwatch --once --nodes 0 "${calm[@]}"
is "hold" "$(field .action)" hold
unlike "no pre-warm in the reason" "$(field .reason)" 'pre-warm'
fresh pool && cp "$file" "$RP_STATE_DIR/"
rc "a warm pool above it" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set scale.prewarm=true --set "scale.warm_pool={\"$now\": $((fl + 1))}"
is "up to the larger floor" "$(field .count)" $((fl + 1))
like "which names the warm pool" "$(field .reason)" "fleet 0 below the warm pool floor $((fl + 1)) at $hh UTC"

# ---- a missing, stale or broken file: one warning, no floor, the tick goes on ----
nofloor() { # DESC WANT-IN-WARNING
	rc "$1: the tick still succeeds" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set scale.prewarm=true
	is "$1: hold" "$(field .action)" hold
	is "$1: one warning" "$(warnings)" 1
	like "$1: it says why" "$(grep 'scale.prewarm' "$T_TMP/.err")" "$2"
}
fresh missing
nofloor "no file" "prewarm.json: No such file"
fresh stale
jq -c '.from -= 2 * 86400' "$file" >"$RP_STATE_DIR/prewarm.json"
nofloor "a file two days old" "stale"
fresh broken
echo '{"from": ' >"$RP_STATE_DIR/prewarm.json"
nofloor "a broken file" "not rp-cost prewarm's"

done_testing
