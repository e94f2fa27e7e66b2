#!/usr/bin/env bash
# Fault: a joined burst node goes NotReady (kubelet gone, network cut).
# What the loop does, by the tools' current rules:
#  - rp-lagwatch still counts it among the burst nodes (burst_nodes), so
#    while the lag is hot it is taken as capacity; the "at least 1" rule of
#    an up keeps the loop adding nodes, so the lag still gets served;
#  - with no workload on it, it is idle like any other: once the lag is
#    gone and scale.idle has passed, rp-drain drains it, terminates its pod
#    and deletes the Node — it is not paid for forever.
# (A NotReady node that still has workload pods bound to it is never idle
# and is never drained by the current rules: reported, not asserted here.)
. "$(dirname "$0")/lib.sh"
f_setup
lag 10
tick >/dev/null 2>&1
is "up: two burst nodes" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 2
sick=$(kubectl get nodes -l gpu-type=runpod -o name | head -n1); sick=${sick#node/}
kadmin node-status "{\"node\":\"$sick\",\"ready\":false}" || { fail "node-status"; exit 1; }
is "kubectl sees it NotReady" "$(kubectl get node "$sick" --no-headers | awk '{print $2}')" NotReady
# hot: the sick node is counted; an up still adds one
rc "lagwatch while hot: exit 0" 0 rp-lagwatch --once
dec=$(jq -c 'select(.type=="decision")' "$T_TMP/.out")
diag "decision with one NotReady node: $dec"
is "the decision still goes up" "$(jq -r .action <<<"$dec")" up
num_ge "and asks for at least one node" "$(jq -r .count <<<"$dec")" 1
# the lag drains: the sick node (idle) is drained, its pod terminated
drain_lag; sleep 2.5
tick >"$T_TMP/t.out" 2>"$T_TMP/t.err"; st=$?
is "down tick: exit 0" "$st" 0
is "down tick drains" "$(jq -r .action "$T_TMP/t.out")" down
sick_pod=$(jq -r --arg n "$sick" 'select(.event=="launched" and .name==$n) | .id' "$LEDGER")
is "the NotReady node's pod is terminated" "$(curl -sf "$RA/state" | jq -r --arg i "$sick_pod" '.pods[] | select(.id==$i) | .status')" TERMINATED
ok "its Node is deleted" eventually 10 sh -c "! kubectl get node '$sick' >/dev/null 2>&1"
invariant
done_testing
