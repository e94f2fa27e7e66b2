#!/usr/bin/env bash
# Fault: RunPod answers 402 (insufficient balance) after the first creates
# of a multi-pod scale-up.  rp-launch stops creating at once, exits 1; the
# pods created before are ledgered and either joined or terminated —
# never paid and forgotten.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'concurrency: 1'
lag 25
reqs_clear
radmin config '{"latency":1}'
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err" & tp=$!
one_created() { [ "$(creates_ok)" -ge 1 ]; }
eventually 30 one_created || { fail "the first create never came"; kill "$tp"; exit 1; }
radmin config '{"fail_next":[{"match":"POST /v2/pods","status":402,"count":100}]}'
wait "$tp"; st=$?
radmin config '{"latency":0}'
is "the tick fails honestly: exit 1" "$st" 1
is "the tick record says status 1" "$(jq -r .status "$T_TMP/t1.out")" 1
n402=$(reqs '[.[] | select(.status==402)] | length')
is "one 402, then no create at all" "$n402" 1
# shellcheck disable=SC2016
is "the 402 was the last create" "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods")] | last | .status')" 402
made=$(creates_ok)
num_ge "some pods were created before the 402 ($made)" "$made" 1
num_le "fewer than the five asked for ($made)" "$made" 4
is "every created pod is ledgered launched" "$(ledger_n launched)" "$made"
alive=$(n_pods)
is "each is either alive or terminated, alive ones joined" \
	"$(kubectl get nodes -l gpu-type=runpod --no-headers 2>/dev/null | awk '$2=="Ready"' | wc -l)" "$alive"
is "terminated + alive = created" "$(( $(ledger_n terminated) + alive ))" "$made"
radmin config '{"fail_next":[]}'
drain_lag
invariant
done_testing
