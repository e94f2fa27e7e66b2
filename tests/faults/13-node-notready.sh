#!/usr/bin/env bash
# Fault: a joined burst node goes NotReady (kubelet gone, network cut)
# while a workload pod runs on it.  The rules (issue 11):
#  - within scale.notready_grace nothing happens: a blink costs nothing,
#    and the grace counts from the Ready condition's last transition, not
#    from the first time the node was seen NotReady;
#  - past the grace the node is lost: rp-lagwatch names it and counts it
#    out of capacity, so the hot queue gets a replacement in the same
#    tick; rp-drain runs the checkpoint hook, terminates its RunPod pod
#    (confirmed), only then deletes its pods with grace 0 (no kubelet is
#    left to confirm an eviction: the stand-in keeps gracefully deleted
#    pods Terminating, as a real API server does), so the ReplicaSet
#    recreates the workload on a node that serves; then the Node goes.
# The test sets the clock, it does not race it: the stand-in backdates the
# Ready condition's lastTransitionTime ("since": seconds ago), so every
# case is on its side of the grace by a margin no slow machine erases
# (half the grace within it, past it from the start), with no sleeping.
. "$(dirname "$0")/lib.sh"
f_setup
G=300 # scale.notready_grace, seconds
f_conf scale "notready_grace: ${G}s"
sed -i 's/^  cooldown: .*/  cooldown: 60s/' "$RP_CONFIG" # no "at least 1" ups between our ticks
# shellcheck disable=SC2016 # the hook expands them
printf '#!/bin/sh\necho "$RP_NODE $RP_JOBS" >>"%s/hook.log"\n' "$T_TMP" >"$T_TMP/hook"
chmod +x "$T_TMP/hook"
printf 'drain:\n  timeout: 40s\n  checkpoint_command: "%s/hook"\n' "$T_TMP" >>"$RP_CONFIG"
at_exit "kubectl delete rs 'work-$CL' --wait=false >/dev/null 2>&1"
kget() { curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_URL$1"; }
# since when the node's Ready condition is what it is (the API's word), in epoch seconds
transition() { date -u -d "$(kubectl get node "$1" -o json | jq -r '.status.conditions[] | select(.type=="Ready") | .lastTransitionTime')" +%s; }
# the sick node NotReady since $1 seconds ago (its lastTransitionTime backdated)
notready() { kadmin node-status "{\"node\":\"$sick\",\"ready\":false,\"since\":$1}"; }
pods_of() { kubectl get pods -l "app=work-$CL" -o json | jq -c '[.items[] | select(.metadata.deletionTimestamp == null)]'; }
placed() { [ -n "$(pods_of | jq -r '.[0].spec.nodeName // empty')" ]; }
decision() { jq -c 'select(.type=="decision")' "$1" | tail -n 1; }

kubectl apply -f - >/dev/null <<EOF || { fail "ReplicaSet"; exit 1; }
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: work-$CL, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: work-$CL}}
  template:
    metadata: {labels: {app: work-$CL, rp.io/job: job-$CL}}
    spec:
      nodeSelector: {gpu-type: runpod}
      containers: [{name: transcode, image: transcoder}]
EOF

lag 10
rc "tick 1: up" 0 tick
is "two Ready burst nodes" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 2
ok "the workload runs on a burst node" eventually 20 placed
sick=$(pods_of | jq -r '.[0].spec.nodeName')
wname=$(pods_of | jq -r '.[0].metadata.name')
wuid=$(pods_of | jq -r '.[0].metadata.uid')
sick_pod=$(jq -r --arg n "$sick" 'select(.event=="launched" and .name==$n) | .id' "$LEDGER")
isnt "its RunPod pod is in the ledger" "$sick_pod" ""

# ---- NotReady, within the grace: nothing happens ------------------------
# NotReady for half the grace: within it until G/2 s from now, whatever the tick costs
notready $((G / 2)) || { fail "node-status"; exit 1; }
first=$(transition "$sick")
num_le "its Ready condition went NotReady half the grace ago" "$first" "$(($(date +%s) - G / 2))"
is "kubectl sees it NotReady" "$(kubectl get node "$sick" --no-headers | awk '{print $2}')" NotReady
rc "tick 2, within the grace: exit 0" 0 tick
log2=$(last_tick_log)
diag "tick 2 ended $(($(date +%s) - first))s after the transition (grace ${G}s)"
is "not lost yet: lost_nodes 0" "$(decision "$log2" | jq -r .lost_nodes)" 0
is "still counted as capacity" "$(decision "$log2" | jq -r .burst_nodes)" 2
is "no drain" "$(jq -r 'select(.type=="drained") | .node' "$log2" | wc -l)" 0
is "its pod still runs" "$(curl -sf "$RA/state" | jq -r --arg i "$sick_pod" '.pods[] | select(.id==$i) | .status')" RUNNING
is "its Node is there" "$(kubectl get node "$sick" -o name)" "node/$sick"
is "the workload pod is untouched" "$(pods_of | jq -r '.[0].metadata.uid')" "$wuid"

# ---- a blink: Ready again, NotReady again; the grace starts over --------
# the first NotReady now began past the grace ago; the blink is now
notready $((G + 60)) || { fail "node-status"; exit 1; }
first=$(transition "$sick")
kadmin node-status "{\"node\":\"$sick\",\"ready\":true}"
kadmin node-status "{\"node\":\"$sick\",\"ready\":false}"
second=$(transition "$sick")
num_ge "the transition time moved on past the grace" "$second" "$((first + G))"
# a look between ticks, from its own state dir: its up must not count in the tick's
look() { mkdir -p "$T_TMP/look.$1" && RP_STATE_DIR="$T_TMP/look.$1" rp-lagwatch --once; }
rc "lagwatch past the grace since the first NotReady: exit 0" 0 look blink
is "not lost: the grace counts from the last transition" "$(decision "$T_TMP/.out" | jq -r .lost_nodes)" 0

# ---- past the grace: lost, replaced, fenced, removed --------------------
# the last transition set just past the grace ago: past it from now on
notready $((G + 1)) || { fail "node-status"; exit 1; }
num_ge "NotReady since just past the grace" "$(($(date +%s) - $(transition "$sick")))" "$((G + 1))"
rc "lagwatch: exit 0" 0 look lost
is "lost: lost_nodes 1" "$(decision "$T_TMP/.out" | jq -r .lost_nodes)" 1
is "named in lost" "$(decision "$T_TMP/.out" | jq -c .lost)" "[\"$sick\"]"
is "still a burst node present" "$(decision "$T_TMP/.out" | jq -r .burst_nodes)" 2
is "hot, one node serving of two needed: up 1" "$(decision "$T_TMP/.out" | jq -r '"\(.action) \(.count)"')" "up 1"
curl -sf -o /dev/null -X DELETE "$KUBE_URL/_admin/requests" --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN"
reqs_clear
rc "tick 3, past the grace: exit 0" 0 tick
log3=$(last_tick_log)
d=$(decision "$log3")
diag "decision: $d"
is "the tick's decision names it lost" "$(jq -c .lost <<<"$d")" "[\"$sick\"]"
is "and still goes up" "$(jq -r .action <<<"$d")" up
like "the tick's metrics count it (alert RpBurstNodeLost)" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_burst_lost_nodes 1"
dr=$(jq -c --arg n "$sick" 'select(.type=="drained" and .node==$n)' "$log3")
is "drained in the same tick, reason notready" "$(jq -r '"\(.reason) \(.terminated) \(.evicted)"' <<<"$dr")" "notready true 1"
num_le "without waiting on evictions a dead kubelet never confirms" "$(jq -r .seconds <<<"$dr")" 20
is "its RunPod pod is terminated" "$(curl -sf "$RA/state" | jq -r --arg i "$sick_pod" '.pods[] | select(.id==$i) | .status')" TERMINATED
ok "its Node is deleted" eventually 10 sh -c "! kubectl get node '$sick' >/dev/null 2>&1"
is "a replacement: two pods of ours serve" "$(n_pods)" 2
is "two Ready burst nodes" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 2
kget "/_admin/requests" >"$T_TMP/kreq.json"
is "no eviction was asked for the workload pod" \
	"$(jq --arg p "/pods/$wname/eviction" '[.[] | select(.verb=="POST" and (.path | endswith($p)))] | length' "$T_TMP/kreq.json")" 0
del=$(jq -c --arg p "/pods/$wname" '[.[] | select(.verb=="DELETE" and (.path | endswith($p)))] | first' "$T_TMP/kreq.json")
is "it was deleted with grace 0" "$(jq -r '(.body | fromjson? | .gracePeriodSeconds) // .params.gracePeriodSeconds // "none"' <<<"$del")" 0
term=$(reqs "[.[] | select(.method==\"DELETE\" and .path==\"/v2/pods/$sick_pod\")] | first | .time" | tr -d '"')
num_le "fenced first: the RunPod pod was terminated before its pods were deleted" \
	"$(date -u -d "$term" +%s.%N)" "$(jq -r .ts <<<"$del")"
gone_from() { [ "$(pods_of | jq -r --arg u "$wuid" --arg n "$sick" '[.[] | select(.metadata.uid==$u or .spec.nodeName==$n)] | length')" = 0 ]; }
ok "the workload pod is gone from the lost node" eventually 10 gone_from
ok "and recreated on a node that serves" eventually 20 placed
isnt "elsewhere" "$(pods_of | jq -r '.[0].spec.nodeName')" "$sick"
is "ledger: drained, reason notready" "$(jq -r --arg i "$sick_pod" 'select(.event=="drained" and .id==$i) | .reason' "$LEDGER")" notready
is "ledger: terminated" "$(ledger_n terminated "$sick_pod")" 1
is "the checkpoint hook ran for its job" "$(cat "$T_TMP/hook.log" 2>/dev/null)" "$sick job-$CL"
invariant

# ---- the queue drains, the work ends: the loop scales to zero as before ----
kubectl delete rs "work-$CL" >/dev/null 2>&1
sed -i 's/^  cooldown: .*/  cooldown: 1s/' "$RP_CONFIG"
drain_lag; sleep 2.5
tick >"$T_TMP/t.out" 2>"$T_TMP/t.err"; st=$?
is "down tick: exit 0" "$st" 0
is "down tick drains" "$(jq -r .action "$T_TMP/t.out")" down
sleep 2.5; tick >/dev/null 2>&1 # the node the work left last: idle long enough now
is "nothing of ours is paid for any more" "$(n_pods)" 0
invariant
done_testing
