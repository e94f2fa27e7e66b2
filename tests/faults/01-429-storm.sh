#!/usr/bin/env bash
# Fault: RunPod answers 429 with Retry-After to most calls for a while.
# The tick waits Retry-After (never hammers), launches what it can, never
# creates a pod twice, and says so in its exit status: partly done (3), or
# degraded when nothing at all could be launched; the storm over, the next
# tick completes the scale-up.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'concurrency: 1'
lag 10
reqs_clear
# four 429s on creates: the first pod's create waits three times and gives
# up, the second goes through
radmin config '{"fail_next":[{"match":"POST /v2/pods","status":429,"retry_after":1,"count":4}]}'
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
is "storm tick: exit 3 (partly done), not 0" "$st" 3
is "the tick record says status 3" "$(jq -r .status "$T_TMP/t1.out")" 3
is "four 429s answered" "$(reqs '[.[] | select(.status==429)] | length')" 4
# every create sent again after a 429 (same name) came Retry-After (1 s) later
# shellcheck disable=SC2016
gaps=$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods")
	| {n: .body.name, s: .status, t: ((.time[0:19] + "Z" | fromdate) + (.time[19:23] | tonumber))}]
	| group_by(.n) | [.[] | . as $g | range(1; length) as $i | select($g[$i-1].s == 429) | $g[$i].t - $g[$i-1].t] | min')
num_ge "every create after a 429 waited Retry-After ($gaps s)" "$gaps" 0.95
is "one create succeeded" "$(creates_ok)" 1
is "one pod exists" "$(n_pods)" 1
is "it is ledgered launched, once" "$(ledger_n launched "$(our_pods | jq -r '.[0].id')")" 1
is "and joined" "$(kubectl get nodes -l gpu-type=runpod --no-headers 2>/dev/null | awk '$2=="Ready"' | wc -l)" 1
# a storm longer than the retries: nothing launched, degraded, honest
radmin config '{"fail_next":[{"match":"*","status":429,"retry_after":1,"count":100000}]}'
reqs_clear
BACKOFF=3 tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
diag "full storm tick: exit $st, $(cat "$T_TMP/t2.out")"
is "full storm: no create succeeded" "$(creates_ok)" 0
n=$(reqs 'length')
num_le "full storm: RunPod asked a handful of times, not hammered ($n)" "$n" 20
is "still one pod" "$(n_pods)" 1
# the storm ends: the next tick after the backoff launches the rest
radmin config '{"fail_next":[]}'
sleep 3
reqs_clear
tick >"$T_TMP/t3.out" 2>"$T_TMP/t3.err"; st=$?
is "storm over: exit 0" "$st" 0
is "storm over: the tick scaled up" "$(jq -r .action "$T_TMP/t3.out")" up
num_ge "storm over: more pods" "$(n_pods)" 2
is "no pod created twice: creates == pods" "$(( $(creates_ok) + 1 ))" "$(n_pods)"
is "every create named once" "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods" and .status==201) | .body.name] | (length == (unique | length))')" true
drain_lag
invariant
done_testing
