#!/usr/bin/env bash
# rp-lagwatch against the stack: the librdkafka mock cluster (through its
# control FIFO), real Prometheus scraping the test exporter, the Kubernetes
# stand-in (driven with the real kubectl).
. "$(dirname "$0")/../lib.sh"
need_stack

run=$$
exporter() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$EXPORTER_URL/set" >/dev/null; }
p95() { # the stack's query, straight from Prometheus
	curl -sf --get --data-urlencode "query=$1" "$PROM_URL/api/v1/query" | jq -r '.data.result[0].value[1] // "none"'
}
# The seed's query with a window short enough for a test.
query='histogram_quantile(0.95, sum(rate(ome_transcoding_duration_seconds_bucket[15s])) by (le))'
field() { jq -r "select(.type==\"$1\") | $2" "$T_TMP/.out"; }
lw() { rp-lagwatch "$@"; }
fresh() { RP_STATE_DIR="$T_TMP/state.$1"; mkdir -p "$RP_STATE_DIR"; export RP_STATE_DIR; }
nokube=(--nodes 0)

# ---- lag: committed, uncommitted and partially committed partitions ----
ta=lwa$run
ok "mock: topic with 4 partitions" kctl topic "$ta" 4
ok "mock: 10 messages to p0" kctl produce "$ta" 0 10
ok "mock: 4 messages to p1" kctl produce "$ta" 1 4
ok "mock: 6 messages to p2" kctl produce "$ta" 2 6
ok "mock: group A commits 7 on p0" kctl commit "ga$run" "$ta" 0 7
ok "mock: group A commits 6 on p2" kctl commit "ga$run" "$ta" 2 6
ok "mock: group B commits all" kctl commit "gb$run" "$ta" 0 10
kctl commit "gb$run" "$ta" 1 4 && kctl commit "gb$run" "$ta" 2 6

rc "lag-only poll" 0 lw --lag-only -v --group "ga$run" --topic "$ta"
is "group A total lag (3 partial + 1 uncommitted + 0 + 0 empty)" "$(field lag .lag)" 4
is "p0 partially committed: 10 - 7" "$(field lag_partition 'select(.partition==0) | .lag')" 3
is "p1 never committed, latest policy: 1" "$(field lag_partition 'select(.partition==1) | .lag')" 1
is "p1 committed is null" "$(field lag_partition 'select(.partition==1) | .committed')" null
is "p2 fully committed: 0" "$(field lag_partition 'select(.partition==2) | .lag')" 0
is "p3 empty and uncommitted: 0" "$(field lag_partition 'select(.partition==3) | .lag')" 0
is "p0 watermarks" "$(field lag_partition 'select(.partition==0) | "\(.lo)/\(.hi)/\(.committed)"')" "0/10/7"
is "partitions and committed counts" "$(field lag '"\(.partitions)/\(.committed)"')" "4/2"
rc "earliest policy" 0 lw --lag-only --group "ga$run" --topic "$ta" --set kafka.offset_policy=earliest
is "earliest counts the whole uncommitted log: 3 + 4" "$(field lag .lag)" 7
rc "two groups" 0 lw --lag-only --group "ga$run" --group "gb$run" --topic "$ta"
is "one record per group" "$(field lag '"\(.group)=\(.lag)"' | tr '\n' ' ')" "ga$run=4 gb$run=0 "
rc "table output" 0 lw --lag-only -o table --group "ga$run" --topic "$ta"
like "table has the per-partition detail" "$(cat "$T_TMP/.out")" 'lag_partition'
ok "mock: second topic" kctl topic "lwb$run" 2
kctl produce "lwb$run" 1 3 && kctl commit "gb$run" "lwb$run" 0 0
rc "group:topic binds a topic to one group" 0 lw --lag-only --group "ga$run" --group "gb$run" --topic "$ta" --topic "gb$run:lwb$run"
is "gb lag includes its own topic (3 uncommitted messages, latest: 1)" "$(field lag "select(.group==\"gb$run\") | .topics[\"lwb$run\"]")" 1
is "ga does not watch lwb" "$(field lag "select(.group==\"ga$run\") | .topics | has(\"lwb$run\")")" false
rc "unknown topic: exit 2" 2 lw --lag-only --group "ga$run" --topic "nosuch$run"
like "one line naming the topic" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: kafka topic 'nosuch$run' does not exist$"
rc "unknown group: exit 2" 2 lw --lag-only --group "nogroup$run" --topic "$ta"
like "one line naming the group" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: kafka group 'nogroup$run' has no committed offset"
rc "bad offset policy: exit 2" 2 lw --lag-only --group "ga$run" --topic "$ta" --set kafka.offset_policy=newest
rc "bad flag: exit 2" 2 lw --bogus

# ---- coordinator errors: retried with backoff; past the timeout, unknown ----
ok "mock: 2 x NOT_COORDINATOR on OffsetFetch" kctl errors 9 16 2
rc "coordinator errors retried" 0 lw --lag-only -v --group "ga$run" --topic "$ta"
is "lag still exact after retries" "$(field lag .lag)" 4
like "the retries are logged" "$(cat "$T_TMP/.err")" 'retrying.*Not coordinator'
ok "mock: COORDINATOR_NOT_AVAILABLE for good" kctl errors 9 15 64
rc "coordinator unavailable past kafka.timeout: exit 75" 75 lw --lag-only --group "ga$run" --topic "$ta" --set kafka.timeout=1s
like "lag unknown, with the reason" "$(cat "$T_TMP/.err")" 'lag unknown.*Coordinator not available'
is "no lag record for an unknown lag" "$(cat "$T_TMP/.out")" ""
ok "mock: clear the injected errors" kctl errors 9 clear

# ---- threshold edges: 5 holds, 6 goes up on the second poll, 10 at once ----
tt=lwt$run
kctl topic "$tt" 1 && kctl produce "$tt" 0 20
kctl commit "g5$run" "$tt" 0 15 && kctl commit "g6$run" "$tt" 0 14 && kctl commit "g10$run" "$tt" 0 10
dead="http://127.0.0.1:9" # nothing listens on the discard port here
fresh th5
rc "lag 5: decision" 0 lw --once "${nokube[@]}" --group "g5$run" --topic "$tt" --set prometheus.url=$dead
is "lag 5 is reported" "$(field decision .lag)" 5
is "lag 5 = threshold: hold" "$(field decision .action)" hold
rc "lag 5 again" 0 lw --once "${nokube[@]}" --group "g5$run" --topic "$tt" --set prometheus.url=$dead
is "lag 5 twice: still hold" "$(field decision .action)" hold
fresh th6
rc "lag 6: first poll" 0 lw --once "${nokube[@]}" --group "g6$run" --topic "$tt" --set prometheus.url=$dead
is "lag 6 once: hold (hysteresis)" "$(field decision .action)" hold
like "reason says why" "$(field decision .reason)" 'lag 6 > 5 on 1 poll: waiting for a second'
rc "lag 6: second poll" 0 lw --once "${nokube[@]}" --group "g6$run" --topic "$tt" --set prometheus.url=$dead
is "lag 6 twice: up" "$(field decision .action)" up
is "count = ceil(6/5)" "$(field decision .count)" 2
fresh th10
rc "lag 10: first poll" 0 lw --once --nodes 1 --group "g10$run" --topic "$tt" --set prometheus.url=$dead
is "lag 10 = 2x threshold: up at once" "$(field decision .action)" up
is "count = ceil(10/5) - 1 burst node" "$(field decision .count)" 1
is "burst_nodes from --nodes" "$(field decision .burst_nodes)" 1
fresh cap
rc "cap by max_nodes" 0 lw --once --nodes 3 --set runpod.max_nodes=3 --group "g10$run" --topic "$tt" --set prometheus.url=$dead
is "at max_nodes: hold" "$(field decision .action)" hold
like "reason names max_nodes" "$(field decision .reason)" 'max_nodes 3'

# ---- time lag: seconds behind, from samples kept in the state dir ----
fresh timelag
kctl topic "lwl$run" 1 && kctl produce "lwl$run" 0 10 && kctl commit "gl$run" "lwl$run" 0 0
rc "time lag: first poll" 0 lw --once "${nokube[@]}" --group "gl$run" --topic "lwl$run" --set prometheus.url=$dead
is "one sample: lag_s null" "$(field lag .lag_s)" null
sleep 1
kctl produce "lwl$run" 0 10
rc "time lag: second poll" 0 lw --once "${nokube[@]}" --group "gl$run" --topic "lwl$run" --set prometheus.url=$dead
num_ge "consumer stuck at 0 while the log grew: lag_s estimated" "$(field lag .lag_s)" 1
ok "samples kept in the state dir" jq -e ".[\"gl$run\"] | length == 2" "$RP_STATE_DIR/lagwatch-samples.json"

# ---- Prometheus down: decision from the lag alone, with the reason ----
fresh promdown
rc "prometheus unreachable: still a decision, exit 0" 0 lw --once "${nokube[@]}" --group "g10$run" --topic "$tt" --set prometheus.url=$dead
is "up from the lag alone" "$(field decision .action)" up
is "p95_s null" "$(field decision .p95_s)" null
like "reason says so" "$(field decision .reason)" 'prometheus unreachable.*decided from lag alone'

# ---- p95 from the real Prometheus ----
pq=(--set "prometheus.query=$query")
fresh nan
ok "exporter: no observations" exporter '{"mode":"normal","series":1,"rate":{}}'
eventually 20 sh -c "curl -sf --get --data-urlencode 'query=$query' '$PROM_URL/api/v1/query' | grep -q NaN" || diag "Prometheus never answered NaN"
rc "NaN: decision" 0 lw --once "${nokube[@]}" "${pq[@]}" --group "gb$run" --topic "$ta"
is "NaN is no latency signal (p95_s null, not 0)" "$(field decision .p95_s)" null
like "reason says NaN" "$(field decision .reason)" 'no latency signal \(prometheus returned NaN\)'
nodata='histogram_quantile(0.95, sum(rate(rp_test_no_such_metric_bucket[15s])) by (le))'
rc "no data: decision" 0 lw --once "${nokube[@]}" --group "gb$run" --topic "$ta" --set "prometheus.query=$nodata"
like "reason says no data" "$(field decision .reason)" 'prometheus returned no data'
is "no data: p95_s null" "$(field decision .p95_s)" null

ok "exporter: transcodes of 45 s" exporter '{"mode":"normal","rate":{"45":5}}'
above() { awk -v v="$(p95 "$query")" 'BEGIN{exit !(v+0 > 30)}'; }
ok "Prometheus p95 goes above 30 s" eventually 30 above
fresh p95hi
rc "p95 above: first poll" 0 lw --once "${nokube[@]}" "${pq[@]}" --group "gb$run" --topic "$ta"
num_ge "p95_s > 30 from Prometheus" "$(field decision .p95_s)" 30.001
is "lag 0, p95 high once: hold" "$(field decision .action)" hold
rc "p95 above: second poll" 0 lw --once "${nokube[@]}" "${pq[@]}" --group "gb$run" --topic "$ta"
is "p95 high twice: up" "$(field decision .action)" up
is "count 1 from latency alone" "$(field decision .count)" 1
like "reason names p95" "$(field decision .reason)" 'p95 [0-9.]+s > 30s on 2 polls'

ok "exporter: transcodes of 10 s" exporter '{"rate":{"10":400}}'
below() { awk -v v="$(p95 "$query")" 'BEGIN{exit !(v != "none" && v+0 < 30)}'; }
ok "Prometheus p95 goes below 30 s" eventually 30 below
rc "p95 below" 0 lw --once "${nokube[@]}" "${pq[@]}" --group "gb$run" --topic "$ta"
num_le "p95_s < 30" "$(field decision .p95_s)" 29.999
is "lag 0, p95 low, no burst node: hold" "$(field decision .action)" hold

ok "exporter: two series" exporter '{"series":2}'
two="histogram_quantile(0.95, rate(ome_transcoding_duration_seconds_bucket[15s]))"
twos() { curl -sf --get --data-urlencode "query=$two" "$PROM_URL/api/v1/query" | jq -e '.data.result | length == 2'; }
ok "Prometheus has two series" eventually 20 twos
rc "two series: still a decision from the lag" 0 lw --once "${nokube[@]}" --group "g10$run" --topic "$tt" --set "prometheus.query=$two"
like "the error names the query" "$(field decision .reason)" '2 series.*rate\(ome_transcoding_duration_seconds_bucket\[15s\]\)'
is "decided from lag alone: up" "$(field decision .action)" up
exporter '{"series":1,"rate":{}}'

# ---- Kafka down: hold, exit 75, never a false down ----
fresh kdown
ok "mock: all brokers down" kctl all-down
rc "Kafka down: exit 75" 75 lw --once "${nokube[@]}" --group "gb$run" --topic "$ta" --set kafka.timeout=2s
is "hold" "$(field decision .action)" hold
is "lag null, never 0" "$(field decision .lag)" null
like "reason names Kafka" "$(field decision .reason)" 'kafka'
rc "Kafka down, lag-only: exit 75" 75 lw --lag-only --group "gb$run" --topic "$ta" --set kafka.timeout=1s
ok "mock: brokers up" kctl all-up
ok "Kafka back: the poll works again" eventually 20 lw --lag-only -q --group "gb$run" --topic "$ta"

# ---- Kubernetes API down: burst nodes unknown, hold, exit 75 ----
sed 's#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:9#' "$KUBECONFIG" >"$T_TMP/dead.kubeconfig"
fresh kubedown
rc "Kubernetes API unreachable: exit 75" 75 lw --once --group "g10$run" --topic "$tt" --set prometheus.url=$dead --set "kube.kubeconfig=$T_TMP/dead.kubeconfig"
is "hold, not a blind up" "$(field decision .action)" hold
is "burst_nodes null" "$(field decision .burst_nodes)" null
like "reason names the API" "$(field decision .reason)" 'kubernetes'

# ---- scale down only after idle > scale.idle, and never within the cooldown ----
node=demo-burst-lw$run
burst_node "$node"
ok "burst node created with kubectl" kubectl get node "$node"
fresh idle
mine() { jq -r "select(.type==\"decision\") | .$1 | index(\"$node\") != null" "$T_TMP/.out"; }
rc "idle: first poll" 0 lw --once --group "gb$run" --topic "$ta" --set scale.idle=2s --set prometheus.url=$dead
is "not yet idle long enough: not named" "$(mine nodes)" false
num_ge "burst nodes counted from the API" "$(field decision .burst_nodes)" 1
[ "$(field decision .burst_nodes)" = 1 ] && is "only burst node not idle yet: hold" "$(field decision .action)" hold
ok "idle mark kept in the state dir" jq -e ".idle_since[\"$node\"]" "$RP_STATE_DIR/idle.json"
sleep 2.2
rc "idle: after 2 s" 0 lw --once --group "gb$run" --topic "$ta" --set scale.idle=2s --set prometheus.url=$dead
is "down" "$(field decision .action)" down
is "the idle node is named in nodes" "$(mine nodes)" true
is "and in idle" "$(mine idle)" true
kubectl annotate node "$node" karpenter.sh/do-not-disrupt=true >/dev/null
rc "opted-out node" 0 lw --once --group "gb$run" --topic "$ta" --set scale.idle=2s --set prometheus.url=$dead
is "an opted-out node is never named idle" "$(mine idle)" false
kubectl annotate node "$node" karpenter.sh/do-not-disrupt- >/dev/null
rc "lag above 0: no down" 0 lw --once --group "ga$run" --topic "$ta" --set scale.idle=2s --set prometheus.url=$dead
is "hold with lag 4" "$(field decision .action)" hold
is "nodes empty when not down" "$(field decision '.nodes | length')" 0
kubectl run "busy$run" --image=transcoder --restart=Never \
	--overrides="{\"apiVersion\":\"v1\",\"spec\":{\"nodeName\":\"$node\"}}" >/dev/null
rc "a workload pod on the node" 0 lw --once --group "gb$run" --topic "$ta" --set scale.idle=2s --set prometheus.url=$dead
is "busy node is not idle" "$(mine idle)" false
ok "its idle mark is gone" jq -e "(.idle_since[\"$node\"] // null) == null" "$RP_STATE_DIR/idle.json"
kubectl delete pod "busy$run" --wait=false >/dev/null
gone() { ! kubectl get pod "busy$run" >/dev/null 2>&1; }
ok "workload pod gone" eventually 20 gone

# ---- a busy burst node NotReady: capacity within the grace, lost past it ----
kadmin() { curl -sf -o /dev/null --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
	-X POST "$KUBE_URL/_admin/$1" -H 'Content-Type: application/json' --data "$2"; }
kubectl run "stuck$run" --image=transcoder --restart=Never \
	--overrides="{\"apiVersion\":\"v1\",\"spec\":{\"nodeName\":\"$node\"}}" >/dev/null
ok "the node goes NotReady" kadmin node-status "{\"node\":\"$node\",\"ready\":false}"
lost() { lw --once --group "$1" --topic "$2" --set prometheus.url=$dead --set "scale.notready_grace=$3" "${@:4}"; }
fresh lost1
rc "NotReady, within a 60 s grace" 0 lost "gb$run" "$ta" 60s
is "not lost within the grace" "$(mine lost)" false
sleep 1.1
fresh lost2
rc "past a 0 s grace" 0 lost "gb$run" "$ta" 0s -v
is "named in lost" "$(mine lost)" true
is "a busy lost node is not named idle" "$(mine idle)" false
num_ge "lost_nodes counts it" "$(field decision .lost_nodes)" 1
like "the reason counts it" "$(field decision .reason)" 'lost node'
like "-v names it in the log" "$(cat "$T_TMP/.err")" "msg=\"?lost node\"? node=$node"
fresh hot1
rc "hot, within the grace" 0 lost "g10$run" "$tt" 60s
up1=$(field decision .count) b1=$(field decision .burst_nodes)
fresh hot2
rc "hot, past the grace" 0 lost "g10$run" "$tt" 0s
up2=$(field decision .count)
is "hot: still up" "$(field decision .action)" up
if [ "$b1" = 1 ]; then # ours is the only burst node
	is "a lost node is not capacity: one more node asked" "$up2" "$((up1 + 1))"
	is "lost_nodes 1" "$(field decision .lost_nodes)" 1
fi
kubectl annotate node "$node" karpenter.sh/do-not-disrupt=true >/dev/null
fresh lost3
rc "opted out and lost" 0 lost "gb$run" "$ta" 0s
is "an opted-out lost node is not named for rp-drain" "$(mine lost)" false
num_ge "but still not counted as capacity" "$(field decision .lost_nodes)" 1
like "the log says it keeps billing" "$(cat "$T_TMP/.err")" 'opted out.*still billing'
kubectl annotate node "$node" karpenter.sh/do-not-disrupt- >/dev/null
ok "Ready again" kadmin node-status "{\"node\":\"$node\",\"ready\":true}"
fresh lost4
rc "Ready again, 0 s grace" 0 lost "gb$run" "$ta" 0s
is "not lost once Ready" "$(mine lost)" false
kubectl delete pod "stuck$run" --wait=false >/dev/null
stuck_gone() { ! kubectl get pod "stuck$run" >/dev/null 2>&1; }
ok "stuck pod gone" eventually 20 stuck_gone

fresh cool
rc "an up (surge)" 0 lw --once --group "g10$run" --topic "$tt" --set scale.idle=0s --set prometheus.url=$dead
is "up" "$(field decision .action)" up
rc "lag 0 right after, node idle" 0 lw --once --group "gb$run" --topic "$ta" --set scale.idle=0s --set prometheus.url=$dead
is "no down within the cooldown" "$(field decision .action)" hold
like "reason names the cooldown" "$(field decision .reason)" 'within cooldown'
rc "with a 1 s cooldown, 1 s later" 0 sh -c "sleep 1.1; rp-lagwatch --once --group gb$run --topic $ta --set scale.idle=0s --set scale.cooldown=1s --set prometheus.url=$dead"
is "down once the cooldown has passed" "$(field decision .action)" down

# ---- --serve: what KEDA's metrics-api scaler reads (more in 11-keda) ----
fresh serve
rp-lagwatch --serve 127.0.0.1:0 --watch 0.5s --set kafka.timeout=2s --group "ga$run" --group "gb$run" --topic "$ta" >"$T_TMP/serve.out" 2>"$T_TMP/serve.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
eventually 10 grep -q 'msg=listening' "$T_TMP/serve.err" || diag "server did not start: $(cat "$T_TMP/serve.err")"
addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/serve.err")
eventually 10 curl -sf "http://$addr/scaler" || diag "no first poll: $(cat "$T_TMP/serve.err")"
rc "GET /scaler" 0 curl -sf "http://$addr/scaler"
is "valueLocation lag: the total" "$(jq -r .lag "$T_TMP/.out")" 4
is "per group" "$(jq -r "\"\(.groups[\"ga$run\"])/\(.groups[\"gb$run\"])\"" "$T_TMP/.out")" "4/0"
is "desired_nodes = ceil(4/5)" "$(jq -r .desired_nodes "$T_TMP/.out")" 1
rc "GET /metrics" 0 curl -sf "http://$addr/metrics"
like "Prometheus text: the total" "$(cat "$T_TMP/.out")" '^rp_lagwatch_lag 4$'
like "Prometheus text: per group" "$(cat "$T_TMP/.out")" "^rp_lagwatch_group_lag\\{group=\"ga$run\"\\} 4$"
rc "GET /healthz" 0 curl -sf "http://$addr/healthz"
is "ok" "$(cat "$T_TMP/.out")" ok
is "unknown path: 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/nope")" 404
is "POST: 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$addr/scaler")" 405
kctl all-down
code503() { [ "$(curl -s -o "$T_TMP/503" -w '%{http_code}' --max-time 5 "http://$addr/scaler")" = 503 ] && grep -q kafka "$T_TMP/503"; }
ok "Kafka down: 503 within 3 polls and the poll's timeout, never a 0" eventually 20 code503
like "with the error" "$(cat "$T_TMP/503")" '"error":".*kafka'
unlike "no lag in it" "$(cat "$T_TMP/503")" '"lag"'
kctl all-up
eventually 20 curl -sf "http://$addr/scaler"
ok "answers again once Kafka is back" curl -sf "http://$addr/scaler" ||
	diag "the server's last words: $(tail -n 5 "$T_TMP/serve.err")"
kill "$spid"
wait "$spid"
is "SIGTERM: exit 0" "$?" 0

# ---- --watch: one record per interval until a signal ----
fresh watch
rp-lagwatch --watch 0.3s "${nokube[@]}" --group "gb$run" --topic "$ta" --set prometheus.url=$dead >"$T_TMP/watch.out" 2>/dev/null &
wpid=$!
eventually 10 sh -c "[ \$(grep -c '\"type\":\"decision\"' '$T_TMP/watch.out') -ge 3 ]"
kill "$wpid"
wait "$wpid"
is "watch: SIGTERM exits 0" "$?" 0
num_ge "watch: several decisions" "$(grep -c '"type":"decision"' "$T_TMP/watch.out")" 3

done_testing
