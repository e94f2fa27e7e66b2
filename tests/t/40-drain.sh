#!/usr/bin/env bash
# tests/t/40-drain.sh — rp-drain against the stack: scenes built with the
# real kubectl on the Kubernetes stand-in (a burst node whose RunPod pod
# lives on the RunPod stand-in, pods of every kind on it), asserted through
# both stand-ins' request logs and the real kubectl.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RP_STACK_DIR:?}" "${SSH_HOSTS:?}" "${SSH_KEY:?}" "${SSH_USER:?}"
command -v kubectl >/dev/null || { fail "kubectl is missing"; done_testing; exit 1; }
command -v jq >/dev/null || { fail "jq is missing"; done_testing; exit 1; }

KCA="$(dirname "$KUBECONFIG")/ca.crt"
: >"$T_TMP/pods"
S=$$ # node names unique to this run
# (a JSON body says so: the stand-in answers 415 to a form-encoded one)
kadmin() { curl -sf --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
kreq() { kadmin "$KUBE_URL/_admin/requests" >"$T_TMP/kreq.json"; }
preq() { curl -sf "$RUNPOD_URL/_admin/requests" >"$T_TMP/preq.json"; }
# pstatus ID (tests/scene.sh): RunPod pod status; the API answers 404 for a TERMINATED pod
# the same from the stand-in's own state (TERMINATED pods are kept there)
pstate() { curl -sf "$RUNPOD_URL/_admin/state" | jq -r --arg id "$1" '.pods[] | select(.id == $id) | .status'; }
# new_pod NODE [worker] (tests/lib.sh): a ledgered pod of ours
# a pod of another team, on the same RunPod account: no ledger line of ours
team_pod() {
	curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
		"$RUNPOD_URL/v2/pods" -d "{\"name\":\"$1\",\"gpu\":{\"id\":\"NVIDIA RTX A6000\",\"count\":1},\"image\":\"rp/worker\"}" |
		jq -r .id | tee -a "$T_TMP/pods"
}
# everything a scene makes carries the label rp-test=$S, and goes at exit
# (ReplicaSets first, so their pending replacement pods go for good)
at_exit "scene_cleanup $S" # (tests/scene.sh)

kapi() { # METHOD PATH [JSON]: the Kubernetes API, without kubectl's start-up cost
	curl -s --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -X "$1" \
		-H 'Content-Type: application/merge-patch+json' "$KUBE_URL$2" ${3:+-d "$3"}
}
# node_yaml NAME POD_ID [ANNOTATION=VALUE]: a burst node
node_yaml() {
	local n=$1 id=$2 extra=${3:-}
	cat <<-Y
	---
	apiVersion: v1
	kind: Node
	metadata:
	  name: $n
	  labels: {gpu-type: runpod, nvidia.com/gpu: "true", kubernetes.io/hostname: $n, rp-scene: $n, rp-test: "$S"}
	  annotations: {rp.io/pod-id: "$id"${extra:+, ${extra%%=*}: \"${extra#*=}\"}}
	Y
}
# scene_yaml NAME POD_ID: a node with a ReplicaSet of 2 (label rp.io/job),
# an emptyDir pod, a bare pod, a mirror pod, a finished pod (made so
# below), and the stand-in's DaemonSet pod.
scene_yaml() {
	local n=$1
	node_yaml "$@"
	cat <<-Y
	---
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: web-$n, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  replicas: 2
	  selector: {matchLabels: {app: web-$n}}
	  template:
	    metadata: {labels: {app: web-$n, rp.io/job: job-$n, rp-test: "$S"}}
	    spec:
	      nodeSelector: {rp-scene: $n}
	      terminationGracePeriodSeconds: 1
	      containers: [{name: web, image: transcoder}]
	---
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: cache-$n, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  replicas: 1
	  selector: {matchLabels: {app: cache-$n}}
	  template:
	    metadata: {labels: {app: cache-$n, rp-test: "$S"}}
	    spec:
	      nodeSelector: {rp-scene: $n}
	      volumes: [{name: scratch, emptyDir: {}}]
	      containers: [{name: c, image: cache}]
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: bare-$n, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  nodeName: $n
	  containers: [{name: b, image: debian}]
	---
	apiVersion: v1
	kind: Pod
	metadata:
	  name: static-$n
	  namespace: kube-system
	  labels: {rp-test: "$S"}
	  annotations: {kubernetes.io/config.mirror: "0123abcd"}
	spec:
	  nodeName: $n
	  containers: [{name: s, image: static}]
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: done-$n, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  nodeName: $n
	  restartPolicy: Never
	  containers: [{name: d, image: batch}]
	Y
}
running() { # the number of this run's Running pods on node $1
	kapi GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$1,status.phase%3DRunning" | jq '.items | length'
}
pdb() { # NAME MIN: a PDB over the node's web pods
	kubectl apply -f - >/dev/null <<-Y
	apiVersion: policy/v1
	kind: PodDisruptionBudget
	metadata: {name: web-$1, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  minAvailable: $2
	  selector: {matchLabels: {app: web-$1}}
	Y
}
# evictions by one client (agent prefix) of pods named *-NODE*, as sorted
# "kind code" lines (kind = the pod name up to its first dash)
evictions() {
	jq -r --arg a "$1" --arg n "$2" '.[] | select(.verb == "POST" and (.path | endswith("/eviction"))
		and (.agent | startswith($a)) and (.path | contains("-" + $n)))
		| "\(.path | split("/")[6] | split("-")[0]) \(.code)"' "$T_TMP/kreq.json" | sort
}
unsched() { kapi GET "/api/v1/nodes/$1" | jq -r '.spec.unschedulable // empty'; }
taints() { kapi GET "/api/v1/nodes/$1" | jq -r '[.spec.taints[]? | "\(.key):\(.effect) "] | join("")'; }
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
node_code() { kapi GET "/api/v1/nodes/$1" | jq -r .code; }

# ---- the scenes, all made at once -------------------------------------------
a="drain-a-$S" b="drain-b-$S" c="drain-c-$S" k="twin-k-$S" tr="twin-r-$S" m1="multi-1-$S" m2="multi-2-$S"
i1="idle-1-$S" i2="idle-2-$S" tn="term-$S" pn="pre-1-$S"
pd=$(new_pod "optout-$S") pe=$(new_pod "karp-$S")
pa=$(new_pod "$a") pb=$(new_pod "$b") pc=$(new_pod "$c") pk=$(new_pod "$k") pr=$(new_pod "$tr")
p1=$(new_pod "$m1") p2=$(new_pod "$m2")
pi1=$(new_pod "$i1") pi2=$(new_pod "$i2") pt=$(new_pod "$tn")
# spot pods of a cluster of their own (t40x$S): one under node $pn, one
# with no node, one that keeps running
spot_pod() {
	curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' "$RUNPOD_URL/graphql" \
		-d "{\"query\":\"mutation { podRentInterruptable(input: {bidPerGpu: 1.0, gpuTypeId: \\\"NVIDIA RTX A6000\\\", imageName: \\\"rp/worker\\\", cloudType: SECURE, name: \\\"$1\\\"}) { id } }\"}" |
		jq -r .data.podRentInterruptable.id | tee -a "$T_TMP/pods"
}
sp1=$(spot_pod "t40x$S-burst-1") sp2=$(spot_pod "t40x$S-burst-2") sp3=$(spot_pod "t40x$S-burst-3")
ledger_pod "$sp1" "t40x$S-burst-1" "$pn" true
ledger_pod "$sp2" "t40x$S-burst-2" "" true
ledger_pod "$sp3" "t40x$S-burst-3" "" true
# not ours: a Node annotated with another team's pod id, and one annotated
# with the pod id of our node B (the ledger maps that pod to B)
tp=$(team_pod "team-x-$S") fo="foreign-$S" sw="swap-$S"
{
	node_yaml "optout-$S" "$pd" "cluster-autoscaler.kubernetes.io/scale-down-disabled=true"
	node_yaml "karp-$S" "$pe" "karpenter.sh/do-not-disrupt=true"
	scene_yaml "$a" "$pa"
	scene_yaml "$b" "$pb"
	scene_yaml "$c" "$pc"
	scene_yaml "$k" "$pk"
	scene_yaml "$tr" "$pr"
	node_yaml "$m1" "$p1"
	node_yaml "$m2" "$p2"
	node_yaml "$i1" "$pi1"
	node_yaml "$i2" "$pi2"
	node_yaml "$tn" "$pt"
	scene_yaml "$pn" "$sp1"
	node_yaml "$fo" "$tp"
	node_yaml "$sw" "$pb"
} >"$T_TMP/scene.yaml"
ok "scenes applied with kubectl" kubectl apply -f "$T_TMP/scene.yaml"
# started now, used later: the tunnel of pod A and two stub workers
mkdir -p "$RP_STATE_DIR/tunnel"
# the pod's tunnel, as rp-join --tunnel runs it (it writes tunnel/ID.pid)
h0=${SSH_HOSTS%% *}
lport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rp-join --tunnel "$pa" --host "${h0%:*}" --port "${h0##*:}" --forward "L:$lport:127.0.0.1:22" 2>"$T_TMP/tunnel.log" &
tpid=$!
at_exit "kill $tpid 2>/dev/null"
read -r -a hosts <<<"$SSH_HOSTS"
w1=${hosts[0]} w2=${hosts[1]}
pw1=$(new_pod "t40-worker-1-$S" worker) pw2=$(new_pod "t40-worker-2-$S" worker)
rssh() { # HOST:PORT CMD
	ssh -q -i "$SSH_KEY" -p "${1##*:}" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile="$T_TMP/known_hosts" "$SSH_USER@${1%:*}" "$2"
}
pod_dir() { echo "$RP_STACK_DIR/hosts/${1##*:}"; }
spids=()
for w in "$w1" "$w2"; do
	rm -f "$(pod_dir "$w")/.rp-worker/checkpointed"
	rssh "$w" 'rp-worker --daemon' &
	spids+=($!)
done
for n in "optout-$S" "karp-$S" "$a" "$b" "$c" "$k" "$tr" "$m1" "$m2" "$i1" "$i2" "$tn" "$pn"; do
	kadmin -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$n\",\"ready\":true}" >/dev/null
done
scenes_ready() {
	local n
	for n in "$a" "$b" "$c" "$k" "$tr" "$pn"; do
		[ "$(running "$n")" -ge 7 ] || return 1
	done
}
eventually 20 scenes_ready
for n in "$a" "$b" "$c" "$k" "$tr" "$pn"; do # done-* has finished
	kapi PATCH "/api/v1/namespaces/default/pods/done-$n/status" '{"status":{"phase":"Succeeded"}}' >/dev/null
done
is "scenes ready: 6 pods running on each node" "$(for n in "$a" "$b" "$c" "$k" "$tr" "$pn"; do running "$n"; done | tr '\n' ' ')" "6 6 6 6 6 6 "

# ---- refusals: nothing is touched -----------------------------------------
rc "baseline node refused (exit 2)" 2 rp-drain --node gpu-base-1
like "it says why" "$(cat "$T_TMP/.err")" "gpu-base-1: not a burst node"
rc "unknown node refused (exit 2)" 2 rp-drain --node "nosuch-$S"
like "it says so" "$(cat "$T_TMP/.err")" "no such node"
is "baseline not cordoned" "$(unsched gpu-base-1)" ""

rc "scale-down-disabled node named: exit 2" 2 rp-drain --node "optout-$S"
like "opt-out reported" "$(cat "$T_TMP/.err")" "scale-down-disabled=true"
printf '%s\n' '{"type":"cost","ts":"2026-11-28T08:00:00Z","spend":1.5}' \
	"{\"type\":\"decision\",\"action\":\"down\",\"nodes\":[\"karp-$S\"]}" >"$T_TMP/in.jsonl"
rc "do-not-disrupt node from a decision: skipped, exit 0" 0 rp-drain -o json <"$T_TMP/in.jsonl"
like "opt-out reported" "$(cat "$T_TMP/.err")" "karp-$S: opted out.*do-not-disrupt"
is "other records pass through byte for byte" "$(cat "$T_TMP/.out")" "$(head -1 "$T_TMP/in.jsonl")"
is "opted-out nodes not cordoned" "$(unsched "optout-$S")$(unsched "karp-$S")" ""
# a decision is read as strictly as rp-launch reads it (records.h)
printf '%s\n' '{"type":"cost","ts":"2026-11-28T08:00:00Z","spend":1.5}' \
	"{\"type\":\"decision\",\"action\":\"down\",\"count\":\"1\",\"nodes\":[\"$a\"]}" >"$T_TMP/in.jsonl"
rc "rp-drain < a decision whose count is a string: exit 2" 2 rp-drain -o json <"$T_TMP/in.jsonl"
like "it names line 2 and the field" "$(cat "$T_TMP/.err")" "<stdin>:2: decision record: count must be a whole number"
printf '%s\n' "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"nodes\":\"$a\"}" >"$T_TMP/in.jsonl"
rc "rp-drain < a decision whose nodes is a string: exit 2" 2 rp-drain -o json <"$T_TMP/in.jsonl"
like "it names line 1 and the field" "$(cat "$T_TMP/.err")" "<stdin>:1: decision record: nodes must be an array of strings"
is "a refused decision drains nothing" "$(unsched "$a")" ""
printf '%s\n' "{\"type\":\"node\",\"id\":\"x\",\"node\":\"$a\",\"ssh_port\":\"22\"}" >"$T_TMP/in.jsonl"
rc "rp-drain < a node record whose ssh_port is a string: exit 2" 2 rp-drain -o json <"$T_TMP/in.jsonl"
like "it names line 1, the type and the field" "$(cat "$T_TMP/.err")" "<stdin>:1: node record: ssh_port must be a whole number"
is "a refused node record drains nothing" "$(unsched "$a")" ""
unlike "their pods still bill" "$(pstatus "$pd") $(pstatus "$pe")" "TERMINATED"

# ---- only our pods are terminated: the ledger decides, not the Node --------
preq
n0=$(jq length "$T_TMP/preq.json")
rc "a Node annotated with another team's pod id: refused, exit 3" 3 rp-drain --node "$fo"
like "one line says why" "$(grep -c "not ours" "$T_TMP/.err"):$(grep "not ours" "$T_TMP/.err")" "^1:.*not ours per the ledger.*node=$fo.*pod=$tp.*no launch of pod $tp"
is "that pod still runs" "$(pstatus "$tp")" RUNNING
is "its node is not cordoned" "$(unsched "$fo")" ""
rc "a Node annotated with the pod id of our node B: refused, exit 3" 3 rp-drain --node "$sw"
like "it says the ledger maps that pod to B" "$(cat "$T_TMP/.err")" "not ours per the ledger.*node=$sw.*maps pod $pb to node $b, not $sw"
is "B's pod still runs" "$(pstatus "$pb")" RUNNING
is "that node is not cordoned" "$(unsched "$sw")" ""
printf '{"type":"decision","action":"down","nodes":["%s","%s"]}\n' "$fo" "$sw" >"$T_TMP/in.jsonl"
rc "both named by a down decision: exit 3" 3 rp-drain -o json <"$T_TMP/in.jsonl"
is "no drained record" "$(cat "$T_TMP/.out")" ""
preq
is "nothing terminated in the RunPod stand-in's log" \
	"$(jq --argjson n0 "$n0" '[.[$n0:][] | select(.method == "DELETE" or (.path | endswith("/action")))] | length' "$T_TMP/preq.json")" 0

# ---- blocked pods, then the full drain with a PDB that blocks, then allows -
rc "bare and emptyDir pods block without flags (exit 1)" 1 rp-drain --node "$a"
like "kubectl's reason: no controller" "$(cat "$T_TMP/.err")" "bare-$a: Pods that declare no controller \(use --force to override\)"
like "kubectl's reason: local storage" "$(cat "$T_TMP/.err")" "cache-$a-[a-z0-9]+: Pods with local storage \(use --delete-emptydir-data to override\)"
is "blocked node left uncordoned" "$(unsched "$a")" ""
kreq
is "nothing evicted while blocked" "$(evictions rp/ "$a")" ""

pdb "$a" 2
ok "rp-join --tunnel up, pid file written" eventually 10 grep -qx "$tpid" "$RP_STATE_DIR/tunnel/$pa.pid"
# shellcheck disable=SC2016
hook='date +%s.%N >"$HOOK_DIR/hook.ts"; echo "$RP_NODE|$RP_POD_ID|$RP_JOBS" >"$HOOK_DIR/hook.env"'
export HOOK_DIR=$T_TMP
# The stand-in's DaemonSet pod on this node: its name (generateName plus a
# suffix) does not carry the node's, so it is looked up, not matched.
dsp=$(kapi GET "/api/v1/pods?fieldSelector=spec.nodeName=$a" |
	jq -r '.items[] | select(any(.metadata.ownerReferences[]?; .kind == "DaemonSet")) | .metadata.name')
isnt "the node runs a DaemonSet pod (so the eviction check below can see it)" "$dsp" ""
t0=$(date +%s.%N)
rp-drain --node "$a" --force --delete-emptydir-data --checkpoint-command "$hook" -o json \
	>"$T_TMP/a.out" 2>"$T_TMP/a.err" &
dpid=$!
eventually 10 grep -q "eviction refused" "$T_TMP/a.err"; r=$?
is "a PDB 429 makes it wait" "$r" 0
is "node tainted and cordoned while draining" "$(unsched "$a") $(taints "$a")" "true rp.io/draining:NoSchedule node.kubernetes.io/unschedulable:NoSchedule "
kapi DELETE "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web-$a" >/dev/null
wait "$dpid"; r=$?
is "drain ends once the PDB allows (exit 0)" "$r" 0
t1=$(date +%s.%N)
num_ge "it waited for the 5 s retry" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')" 5
rec=$(cat "$T_TMP/a.out")
is "drained record" "$(jq -c '[.type,.id,.node,.evicted,.checkpointed,.terminated]' <<<"$rec")" \
	"[\"drained\",\"$pa\",\"$a\",5,true,true]"
num_ge "record says seconds" "$(jq .seconds <<<"$rec")" 5
is "hook env: node, pod id, jobs of the evicted pods" "$(cat "$T_TMP/hook.env")" "$a|$pa|job-$a"
kreq
preq
is "evicted: bare, cache, done and both web pods; not the DaemonSet or mirror pod" \
	"$(evictions rp/ "$a" | awk '{print $1}' | sort -u | tr '\n' ' ')" "bare cache done web "
is "the DaemonSet pod ($dsp) was not evicted" \
	"$(jq --arg p "/pods/$dsp/eviction" '[.[] | select(.verb == "POST" and (.path | endswith($p)))] | length' "$T_TMP/kreq.json")" 0
like "web evictions got 429 first" "$(evictions rp/ "$a")" "web 429"
is "web evictions then succeeded" "$(evictions rp/ "$a" | grep -c 'web 201')" 2
is "RunPod pod terminated (stand-in state)" "$(pstate "$pa")" "TERMINATED"
is "Node object deleted" "$(node_code "$a")" 404
# order: hook < DELETE pod < confirming GET < DELETE node
order=$(python3 - "$T_TMP" "$pa" "$a" <<-'PY'
	import json, sys, datetime
	d, pod, node = sys.argv[1:4]
	p = json.load(open(d + "/preq.json")); k = json.load(open(d + "/kreq.json"))
	t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
	hook = float(open(d + "/hook.ts").read())
	dr = [r for r in p if r["method"] == "DELETE" and r["path"] == "/v2/pods/" + pod]
	dels = [t(r["time"]) for r in dr]
	# the stand-in logs a request after answering it, so a GET sent right
	# after the DELETE's answer may be logged a moment before it
	gets = [t(r["time"]) for r in p if r["method"] == "GET" and r["path"] == "/v2/pods/" + pod
	        and r["status"] == 404 and dr and t(r["time"]) >= dels[0] - 0.05]
	nd = [r["ts"] for r in k if r["verb"] == "DELETE" and r["path"] == "/api/v1/nodes/" + node]
	if not (dels and gets and nd):
	    print("missing", bool(dels), bool(gets), bool(nd)); sys.exit()
	print("ok" if hook < dels[0] < nd[0] and gets[0] < nd[0] else "bad %f %f %f %f" % (hook, dels[0], gets[0], nd[0]))
	PY
)
is "hook < terminate < confirmed gone < node deleted" "$order" ok
ok "tunnel process stopped" eventually 5 gone "$tpid"
ok "tunnel pid file removed" test ! -e "$RP_STATE_DIR/tunnel/$pa.pid"
is "ledger: drained then terminated" \
	"$(jq -r --arg id "$pa" 'select(.id == $id and .event != "launched" and .event != "joined") | .event' "$RP_STATE_DIR/ledger.jsonl" | tr '\n' ' ')" "drained terminated "

# ---- timeout: left cordoned (or undone), pod not terminated ---------------
pdb "$b" 2
rc "timeout: exit 3" 3 rp-drain --node "$b" --force --delete-emptydir-data --timeout 2s
like "says global timeout" "$(cat "$T_TMP/.err")" "global timeout reached: [0-9]+ pods? not gone.*left cordoned"
is "timed-out node left cordoned and tainted" "$(unsched "$b") $(taints "$b")" \
	"true rp.io/draining:NoSchedule node.kubernetes.io/unschedulable:NoSchedule "
isnt "its pod still bills" "$(pstatus "$pb")" "TERMINATED"
is "its Node is still there" "$(node_code "$b")" null
rc "timeout with --undo-on-timeout: exit 3" 3 rp-drain --node "$b" --force --delete-emptydir-data --timeout 1s --undo-on-timeout
like "says uncordoned" "$(cat "$T_TMP/.err")" "uncordoned"
is "node uncordoned and untainted" "$(unsched "$b")|$(taints "$b")" "|"
preq
is "no terminate call for it" "$(jq --arg p "/v2/pods/$pb" '[.[] | select(.method == "DELETE" and .path == $p)] | length' "$T_TMP/preq.json")" 0

# ---- a failing hook stops before termination --------------------------------
rc "failing checkpoint hook: exit 1" 1 rp-drain --node "$c" --force --delete-emptydir-data --checkpoint-command 'exit 4'
like "says so" "$(cat "$T_TMP/.err")" "checkpoint hook exited 4: pod not terminated"
isnt "pod not terminated" "$(pstatus "$pc")" "TERMINATED"
is "Node kept" "$(node_code "$c")" null
rc "--skip-checkpoint goes on" 0 rp-drain --node "$c" --force --delete-emptydir-data --checkpoint-command 'exit 4' --skip-checkpoint -o json
is "checkpointed false, terminated" "$(jq -c '[.checkpointed,.terminated]' "$T_TMP/.out")" "[false,true]"
is "pod terminated" "$(pstatus "$pc")" "TERMINATED"

# ---- the same scene with the real kubectl drain evicts the same pods --------
ok "kubectl drain --ignore-daemonsets --delete-emptydir-data --force" \
	kubectl drain --ignore-daemonsets --delete-emptydir-data --force --timeout=60s "$k"
ok "rp-drain --force --delete-emptydir-data" rp-drain --node "$tr" --force --delete-emptydir-data
kreq
ek=$(evictions kubectl "$k")
er=$(evictions rp/ "$tr")
is "kubectl evicted 5 pods" "$(wc -l <<<"$ek")" 5
is "rp-drain evicted the same pods, same answers" "$er" "$ek"

# ---- several nodes at once from one decision, within scale.step -----------
printf '{"type":"decision","action":"down","nodes":["%s","%s"]}\n' "$m1" "$m2" >"$T_TMP/in.jsonl"
# shellcheck disable=SC2016
hook='echo "$RP_NODE start $(date +%s.%N)" >>"$HOOK_DIR/multi.log"; sleep 1; echo "$RP_NODE end $(date +%s.%N)" >>"$HOOK_DIR/multi.log"'
rc "two nodes from a decision, step 2: exit 0" 0 rp-drain --step 2 --checkpoint-command "$hook" -o json <"$T_TMP/in.jsonl"
is "two drained records" "$(jq -r .node "$T_TMP/.out" | sort | tr '\n' ' ')" "$m1 $m2 "
is "both pods terminated" "$(pstatus "$p1") $(pstatus "$p2")" "TERMINATED TERMINATED"
is "drained at once (hooks overlap)" "$(sort -k3 -n "$T_TMP/multi.log" | awk '{print $2}' | tr '\n' ' ')" "start start end end "

# ---- idle nodes: --idle, and a down decision without names ---------------
# idle since 2 minutes by the marks rp-lagwatch keeps; any other idle burst
# node of the stand-in gets a fresh mark and is not old enough
ago=$(date -u -d '-120 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"idle_since":{"%s":"%s"}}\n' "$i1" "$ago" >"$RP_STATE_DIR/idle.json"
rc "--idle 60s drains the node idle for 2 minutes" 0 rp-drain --idle 60s -o json
is "only that one" "$(jq -r .node "$T_TMP/.out" | tr '\n' ' ')" "$i1 "
is "its pod terminated" "$(pstatus "$pi1")" "TERMINATED"
printf '{"idle_since":{"%s":"%s"}}\n' "$i2" "$ago" >"$RP_STATE_DIR/idle.json"
echo '{"type":"decision","action":"down","count":1,"reason":"idle"}' >"$T_TMP/in.jsonl"
rc "a down decision without nodes takes the idle ones (scale.idle)" 0 rp-drain -o json <"$T_TMP/in.jsonl"
is "drained it" "$(jq -r .node "$T_TMP/.out" | tr '\n' ' ')" "$i2 "
is "busy node B untouched" "$(node_code "$b") $(unsched "$b")" "null "

# ---- a termination that fails is retried; the Node waits for it ----------
# 9 answers 500 for this pod: the first run gives up after one call (4
# attempts) within its 1 s budget; the next retries until it goes through
curl -sf "$RUNPOD_URL/_admin/config" -d "{\"fail_next\":[{\"match\":\"DELETE /v2/pods/$pt\",\"status\":500,\"count\":9}]}" >/dev/null
rc "terminate keeps failing: exit 75" 75 rp-drain --node "$tn" --set drain.terminate_timeout=1s
like "says the pod is not confirmed terminated" "$(cat "$T_TMP/.err")" "pod $pt not confirmed terminated.*node is kept"
is "Node kept while its pod bills" "$(node_code "$tn") $(unsched "$tn")" "null true"
isnt "pod still there" "$(pstatus "$pt")" "TERMINATED"
is "ledger: terminate_failed" "$(jq -r --arg id "$pt" 'select(.id == $id and .event != "launched" and .event != "joined") | .event' "$RP_STATE_DIR/ledger.jsonl" | tr '\n' ' ')" "drained terminate_failed "
rc "next run retries the terminate: exit 0" 0 rp-drain --node "$tn"
like "it retried" "$(cat "$T_TMP/.err")" "pod still billing, terminate again"
is "pod terminated" "$(pstatus "$pt")" "TERMINATED"
is "then the Node went" "$(node_code "$tn")" 404

# ---- spot pods RunPod preempted (rp-autoscale's every-tick step) -----------
curl -sf "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$sp1\"}" >/dev/null
curl -sf "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$sp2\"}" >/dev/null
kadmin -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$pn\",\"ready\":false}" >/dev/null
rc "--preempted: exit 0" 0 rp-drain --preempted --set "cluster=t40x$S" -o json
is "two drained records, preempted" "$(jq -r '"\(.id) \(.node) \(.preempted) \(.terminated)"' "$T_TMP/.out" | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$sp1 $pn true true" "$sp2 null true true" | sort | tr '\n' ' ')"
is "evicted what ran on its node, bare and emptyDir pods too" "$(jq -r "select(.id == \"$sp1\") | .evicted" "$T_TMP/.out")" 5
is "both terminated, the running one left" "$(pstatus "$sp1") $(pstatus "$sp2") $(pstatus "$sp3")" "TERMINATED TERMINATED RUNNING"
is "its Node deleted" "$(node_code "$pn")" 404
is "ledger: preempted once each" "$(jq -r 'select(.event == "preempted") | .id' "$RP_STATE_DIR/ledger.jsonl" | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$sp1" "$sp2" | sort | tr '\n' ' ')"
rc "next tick: nothing left to do" 0 rp-drain --preempted --set "cluster=t40x$S" -o json
is "no record" "$(cat "$T_TMP/.out")" ""
# stopped by RunPod too, but not ours: a spot pod named t40x$S-other (not
# our name), and one named like ours that our ledger never launched
so=$(spot_pod "t40x$S-other") sn=$(spot_pod "t40x$S-burst-9")
curl -sf "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$so\"}" >/dev/null
curl -sf "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$sn\"}" >/dev/null
preq
n0=$(jq length "$T_TMP/preq.json")
rc "--preempted, a stopped spot pod named like ours but not ledgered: exit 3" 3 rp-drain --preempted --set "cluster=t40x$S" -o json
is "no drained record" "$(cat "$T_TMP/.out")" ""
like "the unledgered one refused in one line" "$(grep -c "not ours" "$T_TMP/.err"):$(grep "not ours" "$T_TMP/.err")" "^1:.*not ours per the ledger.*pod=$sn"
unlike "the <cluster>-other pod is not even looked at" "$(cat "$T_TMP/.err")" "$so"
preq
is "neither terminated in the RunPod stand-in's log" \
	"$(jq --argjson n0 "$n0" '[.[$n0:][] | select(.method == "DELETE")] | length' "$T_TMP/preq.json")" 0
is "no ledger line about either" "$(jq -r --arg a "$so" --arg b "$sn" 'select(.id == $a or .id == $b) | .event' "$RP_STATE_DIR/ledger.jsonl")" ""

# ---- worker-mode pods: signalled over SSH, checkpoint marker, terminated ---
wait "${spids[@]}"
ok "stub workers started" test -s "$(pod_dir "$w1")/worker.pid" -a -s "$(pod_dir "$w2")/worker.pid"
wpid1=$(cat "$(pod_dir "$w1")/worker.pid")
rc "worker by --worker --host --port: exit 0" 0 \
	rp-drain --worker --id "$pw1" --host "${w1%:*}" --port "${w1##*:}" -o json
is "record: no node, checkpointed, terminated" "$(jq -c '[.id,.node,.checkpointed,.terminated]' "$T_TMP/.out")" \
	"[\"$pw1\",null,true,true]"
ok "the worker wrote its checkpoint marker" test -s "$(pod_dir "$w1")/.rp-worker/checkpointed"
ok "the worker process is gone" eventually 5 gone "$wpid1"
is "its pod terminated" "$(pstatus "$pw1")" "TERMINATED"
# the second one is found through the ledger (as rp-join leaves it)
printf '{"type":"ledger","event":"joined","ts":"2026-11-28T08:00:00Z","id":"%s","bootstrap":"worker","ssh_host":"%s","ssh_port":%s}\n' \
	"$pw2" "${w2%:*}" "${w2##*:}" >>"$RP_STATE_DIR/ledger.jsonl"
echo "{\"type\":\"node\",\"id\":\"$pw2\",\"bootstrap\":\"worker\",\"node\":null}" >"$T_TMP/in.jsonl"
rc "worker node record, address from the ledger: exit 0" 0 rp-drain -o json <"$T_TMP/in.jsonl"
is "drained it" "$(jq -c '[.id,.checkpointed,.terminated]' "$T_TMP/.out")" "[\"$pw2\",true,true]"
ok "its marker is there" test -s "$(pod_dir "$w2")/.rp-worker/checkpointed"
is "its pod terminated" "$(pstatus "$pw2")" "TERMINATED"
pw3=$(new_pod "t40-worker-3-$S" worker)
rc "a worker that never checkpoints: exit 3" 3 rp-drain --worker --id "$pw3" --host "${w1%:*}" --port "${w1##*:}" --timeout 2s
like "says so" "$(cat "$T_TMP/.err")" "no checkpoint marker"
isnt "that pod is not terminated" "$(pstatus "$pw3")" "TERMINATED"

# ---- a lost node (NotReady past scale.notready_grace): fenced, then forced --
# Its web pods have a PDB that allows no eviction, and the stand-in keeps a
# gracefully deleted pod on a NotReady node Terminating (no kubelet
# confirms it): only deleting with grace 0 after the fence ends the drain.
ln="lost-$S" lo="lostopt-$S" lr="lostready-$S"
pl=$(new_pod "$ln") plo=$(new_pod "$lo") plr=$(new_pod "$lr")
{
	scene_yaml "$ln" "$pl"
	node_yaml "$lo" "$plo" "karpenter.sh/do-not-disrupt=true"
	node_yaml "$lr" "$plr"
} >"$T_TMP/lost.yaml"
ok "lost scenes applied" kubectl apply -f "$T_TMP/lost.yaml"
applied=$(date +%s.%N)
pdb "$ln" 2
for n in "$ln" "$lo" "$lr"; do
	kadmin -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$n\",\"ready\":true}" >/dev/null
done
lost_scene() { [ "$(running "$ln")" -ge 7 ]; }
ok "lost scene running" eventually 20 lost_scene
kapi PATCH "/api/v1/namespaces/default/pods/done-$ln/status" '{"status":{"phase":"Succeeded"}}' >/dev/null
r0=$(running "$ln")
# past the stand-in's registration delay (1 s), which would make them Ready again
while awk -v a="$applied" -v n="$(date +%s.%N)" 'BEGIN{exit !(n - a < 2.5)}'; do sleep 0.2; done
for n in "$ln" "$lo"; do
	kadmin -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$n\",\"ready\":false}" >/dev/null
done
is "both NotReady" "$(kubectl get node "$ln" "$lo" --no-headers | awk '{print $2}' | tr '\n' ' ')" "NotReady NotReady "
rc "--lost goes alone: exit 2" 2 rp-drain --lost --node "$ln"
rc "--lost within the grace: exit 0" 0 rp-drain --lost --set scale.notready_grace=60s -o json
is "it is not drained" "$(jq -r --arg n "$ln" 'select(.node == $n) | .node' "$T_TMP/.out")" ""
is "the node untouched" "$(unsched "$ln")" ""
sleep 1.1
curl -sf "$RUNPOD_URL/_admin/config" -d "{\"fail_next\":[{\"match\":\"DELETE /v2/pods/$pl\",\"status\":500,\"count\":20}]}" >/dev/null
# a decision names lost nodes whatever its action
echo "{\"type\":\"decision\",\"action\":\"hold\",\"count\":0,\"nodes\":[],\"lost\":[\"$ln\",\"$lo\"]}" >"$T_TMP/dec.jsonl"
rc "lost, its pod cannot be terminated: exit 75" 75 rp-drain --set scale.notready_grace=0s --set drain.terminate_timeout=1s <"$T_TMP/dec.jsonl"
like "says the pod is not confirmed terminated" "$(cat "$T_TMP/.err")" "pod $pl not confirmed terminated"
like "an opted-out lost node is skipped, and the log says what it costs" "$(cat "$T_TMP/.err")" "node $lo: NotReady for [0-9]+s, but opted out.*still billing"
is "the opted-out one is not cordoned" "$(unsched "$lo")" ""
is "the lost one is left cordoned" "$(unsched "$ln")" true
is "not fenced: none of its pods deleted (the machine may still run them)" "$(running "$ln")" "$r0"
curl -sf "$RUNPOD_URL/_admin/config" -d '{"fail_next":[]}' >/dev/null
kadmin -X DELETE "$KUBE_URL/_admin/requests" >/dev/null
rc "lost, next run: exit 0" 0 rp-drain --lost --set scale.notready_grace=0s -o json
jq -c --arg n "$ln" 'select(.node == $n)' "$T_TMP/.out" >"$T_TMP/lost.rec"
is "its record: reason notready, terminated" "$(jq -r '"\(.node) \(.reason) \(.terminated)"' "$T_TMP/lost.rec")" "$ln notready true"
is "web, cache, bare and done pods deleted (mirror and DaemonSet pods left)" "$(jq -r .evicted "$T_TMP/lost.rec")" 5
num_le "without waiting on evictions" "$(jq -r '.seconds // 99' "$T_TMP/lost.rec")" 20
is "the opted-out one is still not drained" "$(jq -r --arg n "$lo" 'select(.node == $n) | .node' "$T_TMP/.out")" ""
is "its pod terminated" "$(pstatus "$pl")" TERMINATED
is "its Node deleted" "$(node_code "$ln")" 404
kreq
is "no eviction asked (the PDB would refuse, no kubelet would confirm)" \
	"$(jq --arg n "-$ln" '[.[] | select(.verb == "POST" and (.path | endswith("/eviction")) and (.path | contains($n)))] | length' "$T_TMP/kreq.json")" 0
is "five pods deleted with grace 0" \
	"$(jq --arg n "-$ln" '[.[] | select(.verb == "DELETE" and (.path | contains("/pods/")) and (.path | contains($n)))
		| .body | fromjson? | select(.gracePeriodSeconds == 0)] | length' "$T_TMP/kreq.json")" 5
is "its web pods are recreated by their ReplicaSet, off the lost node" \
	"$(kubectl get pods -l "app=web-$ln" -o json | jq --arg n "$ln" '[.items[] | select(.spec.nodeName != $n)] | length')" 2
is "ledger: terminated (the fence), then drained (notready)" \
	"$(jq -r --arg id "$pl" 'select(.id == $id and (.event == "drained" or .event == "terminated")) | "\(.event)\(.reason // "")"' "$RP_STATE_DIR/ledger.jsonl" | tr '\n' ' ')" \
	"terminated drainednotready "
# rp-drain looks again: a node named lost that is Ready now stays
echo "{\"type\":\"decision\",\"action\":\"up\",\"count\":1,\"nodes\":[],\"lost\":[\"$lr\"]}" >"$T_TMP/dec.jsonl"
rc "a decision naming a Ready node lost: exit 0" 0 rp-drain -o json --set scale.notready_grace=0s <"$T_TMP/dec.jsonl"
is "the up decision passes through for rp-launch" "$(jq -r '"\(.type) \(.action)"' "$T_TMP/.out")" "decision up"
like "the node is Ready again: not drained" "$(cat "$T_TMP/.err")" "not lost any more.*$lr"
is "and not cordoned" "$(unsched "$lr")" ""
is "its pod runs" "$(pstatus "$plr")" RUNNING
echo "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"nodes\":[\"$lr\"],\"lost\":[\"$lr\"]}" >"$T_TMP/dec.jsonl"
rc "a down decision naming it idle too: exit 0" 0 rp-drain -o json <"$T_TMP/dec.jsonl"
is "drained the normal way (idle wins over a stale lost)" "$(jq -r '"\(.node) \(.reason // "-") \(.terminated)"' "$T_TMP/.out")" "$lr - true"

done_testing
