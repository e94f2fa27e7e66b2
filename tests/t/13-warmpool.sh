#!/usr/bin/env bash
# scale.warm_pool through rp-lagwatch on the stack (the librdkafka mock
# cluster, the Kubernetes stand-in): the decision record of the floor of
# the current UTC hour.  The clock is the real one (libfaketime cannot
# run rp-lagwatch: see tests/faults/16-clock-jump.sh); the test picks the
# hour the floor names instead, so the hour is still the test's to set.
# The rule's every edge, with set times, is test-decide's.
. "$(dirname "$0")/../lib.sh"
need_stack

run=$$
answered() { [ "$(wc -l <"$KAFKA_CTL_OUT")" -gt "$1" ]; }
kctl() { # send one command to the mock cluster, wait for its answer line
	local n
	n=$(wc -l <"$KAFKA_CTL_OUT")
	echo "$*" >"$KAFKA_CTL"
	eventually 10 answered "$n" || { diag "kafka ctl: no answer to: $*"; return 1; }
	tail -n 1 "$KAFKA_CTL_OUT" | grep -q '^ok' || { diag "kafka ctl: $(tail -n 1 "$KAFKA_CTL_OUT")"; return 1; }
}
field() { jq -r "select(.type==\"decision\") | $1" "$T_TMP/.out"; }
fresh() { RP_STATE_DIR="$T_TMP/state.$1"; mkdir -p "$RP_STATE_DIR"; export RP_STATE_DIR; }
dead="http://127.0.0.1:9" # no Prometheus: the lag alone decides

# Not within 2 minutes of the hour's end: the hour the ranges name stays
# the hour of every tick below.
while [ "$(date -u +%M)" -ge 58 ]; do sleep 5; done
h=$((10#$(date -u +%H)))
now=$(printf '%02d-%02d' "$h" $((h + 1)))
next=$(printf '%02d-%02d' $(((h + 1) % 24)) $(((h + 1) % 24 + 1)))
hh=$(printf '%02d' "$h")
diag "the hour: $hh UTC (range $now; the next: $next)"

t=wp$run
ok "mock: a topic" kctl topic "$t" 1
kctl produce "$t" 0 20
kctl commit "g0$run" "$t" 0 20 && kctl commit "g10$run" "$t" 0 10
calm=(--group "g0$run" --topic "$t" --set "prometheus.url=$dead")
hot=(--group "g10$run" --topic "$t" --set "prometheus.url=$dead")

# ---- up to the floor, with --nodes ----
fresh up
rc "no node, floor 2 this hour" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set "scale.warm_pool={\"$now\": 2}"
is "lag 0 under the floor: up" "$(field .action)" up
is "count: up to the floor" "$(field .count)" 2
like "the reason names the warm pool and the hour" "$(field .reason)" "fleet 0 below the warm pool floor 2 at $hh UTC"
rc "the next tick, the nodes booting" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set "scale.warm_pool={\"$now\": 2}"
is "within the cooldown they count: hold" "$(field .action)" hold
fresh next
rc "floor 2 the next hour only" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set "scale.warm_pool={\"$next\": 2}"
is "not this hour's: hold" "$(field .action)" hold
unlike "and no warm pool in the reason" "$(field .reason)" 'warm pool'
fresh enough
rc "2 nodes, floor 2" 0 rp-lagwatch --once --nodes 2 "${calm[@]}" --set "scale.warm_pool={\"$now\": 2}"
is "at the floor: hold" "$(field .action)" hold
fresh raise
rc "lag 10 (surge, 3 nodes at lag 4), floor 5" 0 rp-lagwatch --once --nodes 0 "${hot[@]}" --set "scale.warm_pool={\"$now\": 5}"
is "up" "$(field .action)" up
is "the lag's 3 raised to the floor's 5" "$(field .count)" 5
like "both reasons" "$(field .reason)" "surge.*fleet 0 below the warm pool floor 5 at $hh UTC"

# ---- downs: only the idle nodes above the floor (nodes of the stand-in) ----
lbl="gpu-type=wp$run"
for i in 1 2 3; do
	kubectl create --validate=false -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: demo-burst-wp$run-$i
  labels: {gpu-type: wp$run}
YAML
	at_exit kubectl delete node "demo-burst-wp$run-$i" --wait=false
done
ok "3 burst nodes" kubectl get node "demo-burst-wp$run-3"
idle=(--set "kube.labels=$lbl" --set scale.idle=0s)
fresh down
rc "3 idle nodes, floor 2" 0 rp-lagwatch --once "${calm[@]}" "${idle[@]}" --set "scale.warm_pool={\"$now\": 2}"
is "the nodes are counted" "$(field .burst_nodes)" 3
is "all 3 idle" "$(field '.idle | length')" 3
is "down" "$(field .action)" down
is "count 1: the idle node above the floor" "$(field .count)" 1
is "one node named to drain" "$(field '.nodes | length')" 1
like "the reason names the floor" "$(field .reason)" "3 burst node\(s\) idle, 1 down: warm pool floor 2 at $hh UTC"
rc "floor 3" 0 rp-lagwatch --once "${calm[@]}" "${idle[@]}" --set "scale.warm_pool={\"$now\": 3}"
is "no down below the floor: hold" "$(field .action)" hold
is "no node named" "$(field '.nodes | length')" 0
like "the reason says they are kept" "$(field .reason)" "3 idle node\(s\), all kept: warm pool floor 3 at $hh UTC"
rc "the floor the next hour" 0 rp-lagwatch --once "${calm[@]}" "${idle[@]}" --set "scale.warm_pool={\"$next\": 3}"
is "not this hour's: every idle node goes" "$(field .count)" 3
is "all 3 named" "$(field '.nodes | length')" 3

# ---- a bad key: one line, exit 2 ----
bad() { # DESC VALUE WANT
	rc "$1: exit 2" 2 rp-lagwatch --once --nodes 0 "${calm[@]}" --set "scale.warm_pool=$2"
	is "$1: one line" "$(wc -l <"$T_TMP/.err")" 1
	like "$1: says why" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: key 'scale.warm_pool' \(flag\): $3"
}
bad "hour 25" '{"25-26": 1}' "'25-26': want hours A-B"
bad "overlap" '{"08-18": 1, "12-20": 1}' "'12-20' overlaps another range at hour 12"
bad "negative" '{"08-18": -1}' "'08-18': want a whole number of nodes from 0 to runpod.max_nodes"
rc "above max_nodes 3: exit 2" 2 rp-lagwatch --once --nodes 0 "${calm[@]}" --set runpod.max_nodes=3 --set 'scale.warm_pool={"08-18": 4}'
like "above max_nodes: says the cap" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: key 'scale.warm_pool' \(flag\): '08-18': want a whole number of nodes from 0 to runpod.max_nodes \(3\)$"
rc "not a map: exit 2" 2 rp-lagwatch --once --nodes 0 "${calm[@]}" --set 'scale.warm_pool=[1]'
like "not a map: one line" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: key 'scale.warm_pool': expected a JSON object$"

# ---- rp-cost writes the value; rp-lagwatch takes it ----
rp-cost trace --kind bursty --days 2 --seed 1 >"$T_TMP/trace.csv"
rc "rp-cost simulate --policy warmpool" 0 rp-cost simulate "$T_TMP/trace.csv" --policy warmpool
wp=$(jq -c .warm_pool "$T_TMP/.out")
fig() { jq -c '[.cost_per_1000_jobs, .wait_p95_s, .launches]' "$T_TMP/.out"; }
pool=$(fig)
like "it prints the floor as scale.warm_pool" "$wp" '^\{"[0-9]{2}-[0-9]{2}":[0-9]+'
rc "default with that key" 0 rp-cost simulate "$T_TMP/trace.csv" --set "scale.warm_pool=$wp"
is "the same figures as warmpool (one rule)" "$(fig)" "$pool"
is "and it says the floor it kept" "$(jq -c .warm_pool "$T_TMP/.out")" "$wp"
rc "rp-lagwatch takes the value as it is" 0 rp-lagwatch --once --nodes 0 "${calm[@]}" --set "scale.warm_pool=$wp"
rc "rp-cost: a bad key is exit 2 too" 2 rp-cost simulate "$T_TMP/trace.csv" --set 'scale.warm_pool={"08-08": 1}'

done_testing
