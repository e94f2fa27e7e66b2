#!/usr/bin/env bash
# Fault: RunPod answers 5xx to a create; and a create that did create the
# pod but whose answer never came (timed out, or the connection dropped).
# A 5xx or a lost answer is never blindly retried: rp-launch lists the pods
# by name first, adopts what exists, so there is exactly one pod per name,
# and every pod is ledgered.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'concurrency: 1'
f_conf runpod 'request_timeout: 2s'
lag 10
reqs_clear
radmin config '{"fail_next":[{"match":"POST /v2/pods","status":503,"count":1}]}'
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
is "503 tick: exit 0" "$st" 0
is "503 tick: two pods (lag 10)" "$(n_pods)" 2
# the name that got the 503: a pod list came between its 503 and its next create
# shellcheck disable=SC2016
is "503 tick: the pods were listed before that create was sent again" \
	"$(reqs '. as $r | [$r[] | select(.method=="POST" and .status==503)][0] as $f
	| [$r[] | select(.method=="POST" and .path=="/v2/pods" and .body.name==$f.body.name and .seq > $f.seq)][0] as $n
	| [$r[] | select(.method=="GET" and .path=="/v2/pods" and .seq > $f.seq and .seq < $n.seq)] | length > 0')" true
is "503 tick: that name was created once" "$(reqs '[.[] | select(.method=="POST" and .status==201) | .body.name] | (length == (unique | length))')" true
is "503 tick: two creates succeeded, no more" "$(creates_ok)" 2
is "503 tick: two launched lines" "$(ledger_n launched)" 2
# a create that creates, then hangs past runpod.request_timeout
radmin config '{"create_then_timeout":{"count":1,"sleep":4}}'
reqs_clear
lag 5
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
is "lost answer (timeout): exit 0" "$st" 0
is "lost answer (timeout): three pods, none twice" "$(n_pods)" 3
posts_in() { [ "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods")] | length')" -ge 1 ]; }
ok "the hung create reached the stand-in's log" eventually 8 posts_in
is "lost answer (timeout): one create sent, adopted, not repeated" "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods")] | length')" 1
is "lost answer (timeout): three launched lines, one per pod" "$(ledger_n launched)" 3
# the connection drops after the create
radmin config '{"create_then_timeout":{"count":1,"mode":"drop"}}'
reqs_clear
lag 5
tick >"$T_TMP/t3.out" 2>"$T_TMP/t3.err"; st=$?
is "lost answer (dropped): exit 0" "$st" 0
is "lost answer (dropped): four pods" "$(n_pods)" 4
is "lost answer (dropped): one create sent" "$(reqs '[.[] | select(.method=="POST" and .path=="/v2/pods")] | length')" 1
is "every live pod has exactly one launched line" \
	"$(for i in $(our_pods | jq -r '.[].id'); do ledger_n launched "$i"; done | sort -u | paste -sd,)" 1
drain_lag
invariant
done_testing
