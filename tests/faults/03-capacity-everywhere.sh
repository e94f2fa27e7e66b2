#!/usr/bin/env bash
# Fault: every GPU type in every data centre answers the capacity 400.
# rp-launch exits 75 (temporary), the tick goes degraded (the baseline
# carries the load, no retry storm), nothing is paid, nothing is left; the
# capacity back and the backoff over, the next tick scales up.
. "$(dirname "$0")/lib.sh"
f_setup
lag 10
reqs_clear
radmin config '{"capacity":"*"}'
rc "rp-launch with no capacity anywhere exits 75" 75 rp-launch --count 2
num_le "at most one fatal line" "$(grep -c fatal "$T_TMP/.err")" 1
BACKOFF=10 tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
is "the tick: exit 0 (degraded is not a failure)" "$st" 0
is "the tick: degraded" "$(jq -r .degraded "$T_TMP/t1.out")" true
like "the degraded metric for the alert" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_autoscale_degraded 1"
is "every create was a capacity 400" "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods") | .status] | unique | join(",")' | tr -d '"')" 400
is "nothing was created, not even briefly" "$(curl -sf "$RA/state" | jq "[.pods[] | select(.name | startswith(\"$CL-\"))] | length")" 0
is "nothing was ledgered launched" "$(ledger_n launched)" 0
is "no burst node" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 0
reqs_clear
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"
is "within the backoff: no create at all" "$(reqs '[.[] | select(.method=="POST")] | length')" 0
radmin config '{"capacity":[]}'
until_t=$(cat "$RP_STATE_DIR/autoscale.degraded" 2>/dev/null || echo 0)
num_le "the backoff ends when --backoff says" "$until_t" "$(( $(date +%s) + 10 ))"
while [ "$(date +%s)" -le "$until_t" ]; do sleep 0.5; done
tick >"$T_TMP/t3.out" 2>"$T_TMP/t3.err"; st=$?
is "capacity back, backoff over: exit 0" "$st" 0
is "not degraded any more" "$(jq -r .degraded "$T_TMP/t3.out")" false
num_ge "pods launched" "$(n_pods)" 2
drain_lag
invariant
done_testing
