#!/usr/bin/env bash
# 81-idle-tick: rp-autoscale's idle path.  With nothing of ours anywhere
# (no pod alive by the ledger, no burst node, fleet store local) and the
# lag low, a tick within 5 minutes of a full tick that went well is one
# process: rp-lagwatch --once --if-idle decides hold, and nothing else runs
# (no rp-cost, rp-drain, rp-launch, jq; RunPod is not asked).  Anything
# else, and every 5 minutes, the full tick runs.  rp-lagwatch --if-idle
# prints nothing and writes no decision state when it is not idle.
. "$(dirname "$0")/../lib.sh"
need_stack
AS="$RP_TOP/scripts/rp-autoscale"
A=$RUNPOD_URL/_admin
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
runpod_asked() { curl -sf "$A/requests" | jq length; }
LEDGER=$RP_STATE_DIR/ledger.jsonl

TOPIC=idlet-$$ GROUP=idlet-g-$$
"$KAFKACTL" topic "$TOPIC" 2 >/dev/null || { fail "kafkactl topic"; done_testing; exit 1; }
for p in 0 1; do "$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" 0 >/dev/null; done
sed -e "s/^cluster: .*/cluster: idlet/" \
    -e "s/^  group: .*/  group: [\"$GROUP\"]/" -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" \
    "$RP_CONFIG" >"$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
for n in $(kubectl get nodes -l gpu-type=runpod -o name); do diag "removing leftover $n"; kubectl delete "$n" >/dev/null; done
admin reset

# Wrappers note every tool the tick runs, then run the real one.
mkdir -p "$T_TMP/wrap"
for b in rp-lagwatch rp-launch rp-join rp-drain rp-cost rp-checkpoint jq; do
	real=$(command -v "$b")
	printf '#!/bin/sh\necho %s >>"%s"\nexec "%s" "$@"\n' "$b" "$T_TMP/ran" "$real" >"$T_TMP/wrap/$b"
	chmod +x "$T_TMP/wrap/$b"
done
tick() { : >"$T_TMP/ran"; curl -sf -X DELETE "$A/requests" >/dev/null; PATH="$T_TMP/wrap:$PATH" "$AS" -q; }
ran() { sort -u "$T_TMP/ran" | tr '\n' ' ' | sed 's/ $//'; }
last_tick() { find "$RP_STATE_DIR/ticks" -name '*.jsonl' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-; }
ts() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }

# ---- the first tick is a full one; the next is idle -----------------------
rm -f "$RP_STATE_DIR/autoscale.full"
rc "first tick exits 0" 0 tick
is "first tick holds" "$(jq -r .action "$T_TMP/.out")" hold
like "first tick is the full one (reap, cost metrics)" "$(ran)" 'rp-launch'
num_ge "the full tick asked RunPod" "$(runpod_asked)" 1
ok "a full tick that went well is stamped" test -s "$RP_STATE_DIR/autoscale.full"

rm -f "$RP_STATE_DIR/metrics/autoscale.prom"
rc "idle tick exits 0" 0 tick
is "idle tick: one tick record, hold, status 0" "$(jq -c '[.action, .status, .degraded]' "$T_TMP/.out")" '["hold",0,false]'
is "idle tick runs rp-lagwatch alone (no jq)" "$(ran)" rp-lagwatch
is "idle tick asks RunPod nothing" "$(runpod_asked)" 0
log=$(last_tick)
is "its log holds the decision" "$(jq -r 'select(.type=="decision") | .action' "$log")" hold
is "and the tick record" "$(jq -r 'select(.type=="tick") | .action' "$log")" hold
like "idle tick writes the metrics textfile" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom" 2>/dev/null)" \
	'rp_autoscale_tick_status 0'

# ---- a pod alive by the ledger: full; once terminated: idle again -------
printf '{"type":"ledger","event":"launched","ts":"%s","id":"idlet1","name":"idlet-burst-idlet1","gpu":"NVIDIA RTX A6000","cost_per_hr":0.49}\n' "$(ts)" >>"$LEDGER"
rc "tick with a pod alive by the ledger exits 0" 0 tick
like "pod alive: the full tick" "$(ran)" 'rp-launch'
printf '{"type":"ledger","event":"terminated","ts":"%s","id":"idlet1"}\n' "$(ts)" >>"$LEDGER"
rc "tick after its terminated line exits 0" 0 tick
is "pod gone: idle again" "$(ran)" rp-lagwatch

# a create under way (launching, no launched yet) is alive too
printf '{"type":"ledger","event":"launching","ts":"%s","name":"idlet-burst-idlet2"}\n' "$(ts)" >>"$LEDGER"
rc "tick with a create under way exits 0" 0 tick
like "create under way: the full tick" "$(ran)" 'rp-launch'
printf '{"type":"ledger","event":"launch_failed","ts":"%s","name":"idlet-burst-idlet2","reason":"no capacity"}\n' "$(ts)" >>"$LEDGER"
tick >/dev/null
rc "tick after launch_failed exits 0" 0 tick
is "create failed: idle again" "$(ran)" rp-lagwatch

# ---- a burst node in Kubernetes: full -------------------------------------
node=idlet-burst-n$$
burst_node "$node"
cp "$RP_STATE_DIR/lagwatch.json" "$T_TMP/state.before" 2>/dev/null
rc "rp-lagwatch --if-idle with a burst node exits 0" 0 rp-lagwatch --once --if-idle -q
is "and prints nothing" "$(cat "$T_TMP/.out")" ""
is "and leaves the decision state as it was" "$(cmp -s "$RP_STATE_DIR/lagwatch.json" "$T_TMP/state.before" && echo same)" same
rc "tick with a burst node exits 0" 0 tick
like "burst node: the full tick" "$(ran)" 'rp-launch'
kubectl delete node "$node" >/dev/null
tick >/dev/null

# ---- every 5 minutes a full tick, whatever -------------------------------
rc "tick exits 0" 0 tick
is "idle" "$(ran)" rp-lagwatch
echo $(( $(date +%s) - 301 )) >"$RP_STATE_DIR/autoscale.full"
rc "tick 5 min after the last full one exits 0" 0 tick
like "5 min since the last full tick: the full tick" "$(ran)" 'rp-launch'
echo $(( $(date +%s) + 3600 )) >"$RP_STATE_DIR/autoscale.full"
rc "tick with the stamp in the future (clock went back) exits 0" 0 tick
like "stamp in the future: the full tick" "$(ran)" 'rp-launch'

# ---- a replicated ledger, or the lease: never the idle path ---------------
rc "rp-lagwatch --if-idle with fleet.store kafka exits 0" 0 rp-lagwatch --once --if-idle -q --set fleet.store=kafka
is "and prints nothing" "$(cat "$T_TMP/.out")" ""
rc "--if-idle alone is a usage error" 2 rp-lagwatch --if-idle

# ---- no libcurl: http.c speaks HTTP/1.1 over OpenSSL itself (issue 21) -----
for b in rp-lagwatch rp-launch rp-join rp-drain rp-cost rp-checkpoint; do
	is "$b does not link libcurl" "$(readelf -d "$(command -v "$b")" | grep -c 'libcurl')" 0
done
# the dynamic loader says what it loads, dlopen included
LD_DEBUG=files rp-lagwatch --lag-only -q 2>"$T_TMP/lagonly.ld" >/dev/null
is "rp-lagwatch --lag-only (no HTTP question) never loads libcurl" "$(grep -c 'file=libcurl' "$T_TMP/lagonly.ld")" 0
LD_DEBUG=files rp-lagwatch --once -q 2>"$T_TMP/once.ld" >/dev/null
is "rp-lagwatch --once (Kubernetes, Prometheus) never loads libcurl either" "$(grep -c 'file=libcurl' "$T_TMP/once.ld")" 0
# librdkafka too (rdk.c): loaded only by the fleet store on Kafka
# (fleetlog.c, a producer); the lag poll speaks Kafka itself (kwire.c)
for b in rp-lagwatch rp-launch rp-join rp-drain rp-cost rp-checkpoint; do
	is "$b does not link librdkafka (rdk.c loads it)" "$(readelf -d "$(command -v "$b")" | grep -c 'librdkafka')" 0
done
is "rp-lagwatch --lag-only (the lag poll) never loads librdkafka" "$(grep -c 'file=librdkafka' "$T_TMP/lagonly.ld")" 0
is "rp-lagwatch --once never loads librdkafka either" "$(grep -c 'file=librdkafka' "$T_TMP/once.ld")" 0
LD_DEBUG=files rp-cost --set fleet.store=kafka sync -q 2>"$T_TMP/fleet.ld" >/dev/null
num_ge "rp-cost sync with fleet.store kafka loads librdkafka" "$(grep -c 'file=librdkafka' "$T_TMP/fleet.ld")" 1
LD_DEBUG=files rp-cost report -q 2>"$T_TMP/cost.ld" >/dev/null
is "rp-cost report (fleet store local) never loads librdkafka" "$(grep -c 'file=librdkafka' "$T_TMP/cost.ld")" 0
# a broken installation (dlopen searches LD_LIBRARY_PATH first): exit 1
# and one line naming the package, not a usage error
mkdir -p "$T_TMP/badlib"
printf 'not a library\n' >"$T_TMP/badlib/librdkafka.so.1"
rc "librdkafka that does not load: exit 1" 1 env LD_LIBRARY_PATH="$T_TMP/badlib" rp-cost --set fleet.store=kafka sync -q
like "... one line naming the Debian package" "$(cat "$T_TMP/.err")" '^rp-cost: fatal: cannot load librdkafka \(Debian package librdkafka1\)'
is "... and only that line" "$(wc -l <"$T_TMP/.err")" 1
rc "and the lag poll does not care: exit 0" 0 env LD_LIBRARY_PATH="$T_TMP/badlib" rp-lagwatch --lag-only -q
done_testing
