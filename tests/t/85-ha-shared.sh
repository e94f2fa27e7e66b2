#!/usr/bin/env bash
# 85-ha-shared: two replicas of rp-autoscale --lock lease with a shared
# fleet (fleet.store kafka), separate state dirs, one RunPod and one
# Kubernetes stand-in: the state that damps scaling is the fleet's, not a
# host's.  An idle mark A's tick set (the Node's rp.io/idle-since) counts
# for B's tick; B does not scale A's wave down within A's cooldown (it
# lives in the fleet ledger), and does once it is over; a node seen busy
# loses its mark for every replica.  Without a fleet store the marks stay
# in the local idle.json (the one-host default; 80-autoscale, 40-drain).
. "$(dirname "$0")/../faults/lib.sh"
need_stack
f_setup
LEASE=has-$$ LD=2 FTOPIC=rp-ledger-$CL-$$
"$KAFKACTL" topic "$FTOPIC" 1 >/dev/null || { fail "kafkactl topic $FTOPIC"; exit 1; }
sed -i -e 's/^  idle: .*/  idle: 3s/' -e 's/^  cooldown: .*/  cooldown: 30s/' "$RP_CONFIG"
printf 'fleet:\n  store: kafka\n  topic: %s\n  timeout: 3s\n' "$FTOPIC" >>"$RP_CONFIG"
HA=$T_TMP/A HB=$T_TMP/B
mkdir -p "$HA" "$HB"
rep() { # WHO: one tick of replica WHO
	RP_STATE_DIR=$T_TMP/$1 "$AS" -q --backoff 30 --lock lease --lease-name "$LEASE" --lease-duration "$LD" --identity "$1"
}
holder() { kubectl get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
last_decision() { jq -c 'select(.type=="decision")' "$(find "$1/ticks" -name '*.jsonl' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)"; }
marks() { kubectl get nodes -l gpu-type=runpod -o json | jq -r '[.items[] | .metadata.annotations["rp.io/idle-since"] // empty] | sort | join(" ")'; }
# shellcheck disable=SC2016 # expanded at exit
at_exit 'kubectl delete lease "$LEASE" >/dev/null 2>&1'

# ---- 1. A's wave, and A's idle marks -------------------------------------------
lag 10
reqs_clear
rc "1: A's tick launches (exit 0)" 0 rep A
is "1: ... two pods, two nodes" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 2
t_up=$(date +%s)
drain_lag
rc "1: A ticks again, lag 0 (exit 0)" 0 rep A
is "1: ... and holds" "$(last_decision "$HA" | jq -r .action)" hold
AM=$(marks)
is "1: A's tick marked both nodes idle on the Nodes (rp.io/idle-since)" "$(wc -w <<<"$AM")" 2
like "1: ... RFC 3339 times" "$AM" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [0-9]'
is "1: ... and mirrored in A's idle.json" "$(jq -r '[.idle_since[]] | sort | join(" ")' "$HA/idle.json")" "$AM"

# ---- 2. B takes over within A's cooldown, after scale.idle -----------------------
t_mark=$(date -u -d "${AM%% *}" +%s)
left=$((t_mark + 4 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
acted=
for _ in $(seq 1 40); do
	rep B >"$T_TMP/b.out" 2>>"$T_TMP/b.err"
	if grep -q '"type":"tick"' "$T_TMP/b.out"; then acted=1; break; fi
	sleep 0.3
done
isnt "2: B takes over" "$acted" ""
is "2: the holder is B" "$(holder)" B
d=$(last_decision "$HB")
now=$(date +%s)
num_le "2: (B's tick is within A's cooldown: $((now - t_up))s < 30s)" "$((now - t_up))" 29
is "2: A's idle marks count for B's first tick: both nodes idle >= scale.idle" "$(jq -r '.idle | length' <<<"$d")" 2
is "2: ... the marks are A's, untouched" "$(marks)" "$AM"
is "2: B does not scale A's wave down within A's cooldown" "$(jq -r .action <<<"$d")" hold
like "2: ... saying why (the cooldown is the fleet's: B never launched)" "$(jq -r .reason <<<"$d")" "within cooldown"
is "2: nothing drained" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 2

# ---- 3. a node seen busy loses its mark, for every replica -----------------------
mark_of() { kubectl get node "$1" -o json | jq -r '.metadata.annotations["rp.io/idle-since"] // "none"'; }
n1=$(kubectl get nodes -l gpu-type=runpod -o name | head -n1); n1=${n1#node/}
n2=$(kubectl get nodes -l gpu-type=runpod -o name | tail -n1); n2=${n2#node/}
m2=$(mark_of "$n2")
ok "3: a workload pod on $n1" kubectl run "busy-$$" --image=transcoder --restart=Never \
	--overrides="{\"apiVersion\":\"v1\",\"spec\":{\"nodeName\":\"$n1\"}}"
rc "3: B ticks with a pod on $n1 (exit 0)" 0 rep B
is "3: $n1 lost its shared mark" "$(mark_of "$n1")" none
is "3: ... $n2 kept A's" "$(mark_of "$n2")" "$m2"
like "3: ... (one of A's marks)" " $AM " " $m2 "
kubectl delete pod "busy-$$" --wait=false >/dev/null 2>&1
gone() { ! kubectl get pod "busy-$$" >/dev/null 2>&1; }
ok "3: the workload pod gone" eventually 20 gone

# ---- 4. A's cooldown over: B scales down -------------------------------------------
left=$((t_up + 31 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
rc "4: B ticks after A's cooldown (exit 0)" 0 rep B
is "4: ... and scales down" "$(last_decision "$HB" | jq -r .action)" down
num_ge "4: ... at least the node A marked" "$(last_decision "$HB" | jq -r '.nodes | length')" 1
is "4: nothing created since A's wave" "$(creates_ok)" 2
LEDGER=$HB/ledger.jsonl invariant
done_testing
