#!/usr/bin/env bash
# Fault: RunPod takes back a spot pod mid-job ("Outbid").  The next tick
# ledgers the preemption, drains and deletes the node, terminates the pod,
# launches a replacement because the lag still asks for it, and the job
# resumes from its checkpoint on the new pod, bit for bit.
. "$(dirname "$0")/lib.sh"
f_setup
sed -i 's/^  spot: false$/  spot: true\n  max_bid_per_gpu: 2.0/' "$RP_CONFIG" # the stack sets on-demand
grep -q '^  spot: true' "$RP_CONFIG" || { fail "could not turn spot on"; exit 1; }
lag 10
rc "tick 1: up with spot pods" 0 tick
is "two spot pods" "$(our_pods | jq '[.[] | select(.interruptible == true or .podType == "INTERRUPTABLE")] | length')" 2
is "two Ready burst nodes" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 2
victim=$(our_pods | jq -r '.[0].id')
vname=$(our_pods | jq -r '.[0].name')
# a job runs on the victim and checkpoints its progress
job=$T_TMP/job; mkdir -p "$job"
for i in 1 2 3 4; do head -c 150000 /dev/urandom >"$job/seg_$i.ts"; done
printf '#EXTM3U\nseg_1.ts\nseg_2.ts\nseg_3.ts\nseg_4.ts\n' >"$job/index.m3u8"
ok "the job checkpoints" rp-checkpoint save "pre-$CL-$$" "$job" --segments-complete 4 --bitrate-level 1
radmin preempt "{\"id\":\"$victim\"}" || { fail "admin preempt"; exit 1; }
like "RunPod says Outbid" "$(curl -sf "$RA/state" | jq -r --arg i "$victim" '.pods[] | select(.id==$i) | .lastStatusChange')" "Outbid"
sleep 2.5 # past the cooldown of tick 1's up
rc "tick 2 after the preemption" 0 tick
is "tick counted one preemption" "$(jq -r .preempted "$T_TMP/.out")" 1
is "and still decided up" "$(jq -r .action "$T_TMP/.out")" up
grep -q "\"event\":\"preempted\".*\"id\":\"$victim\"\|\"id\":\"$victim\".*\"event\":\"preempted\"" "$LEDGER"; st=$?
is "ledger: the victim is preempted" "$st" 0
is "the victim's node is gone" "$(kubectl get node "$vname" -o name 2>/dev/null | wc -l)" 0
is "the victim is no longer paid for" "$(curl -sf "$RA/state" | jq -r --arg i "$victim" '.pods[] | select(.id==$i) | .status')" TERMINATED
is "a replacement: two spot pods serve again" "$(n_pods)" 2
is "two Ready burst nodes again" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 2
ok "the job resumes from its checkpoint on the new pod" rp-checkpoint restore "pre-$CL-$$" "$T_TMP/resumed"
ok "bit for bit" diff -r "$job" "$T_TMP/resumed"
like "with its progress" "$(rp-checkpoint list "pre-$CL-$$" 2>/dev/null)" '"segments_complete":4|segments_complete'
drain_lag; sleep 2.5
tick >/dev/null; sleep 2.5; tick >/dev/null
is "and scaled down at the end" "$(n_pods)" 0
invariant
done_testing
