#!/usr/bin/env bash
# tests/t/41-drain-k8s.sh — rp-drain against the Kubernetes stand-in where
# the cluster behaves as a real one does (issue 17): an eviction refused
# because the pod's namespace is terminating (403, details.causes[].reason
# NamespaceTerminating) is waited out as kubectl drain does; a node no
# kubelet answers for (NotReady, or under a preempted spot pod) keeps its
# gracefully deleted pods Terminating forever, so rp-drain takes the fenced
# path there (terminate confirmed, pods deleted with grace 0, then the
# Node) instead of waiting out drain.timeout.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
need_stack
command -v kubectl >/dev/null || { fail "kubectl is missing"; done_testing; exit 1; }
KCA="$(dirname "$KUBECONFIG")/ca.crt"
: >"$T_TMP/pods"
S=$$
kadmin() { curl -sf --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
kapi() { # METHOD PATH [JSON]
	curl -s --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -X "$1" \
		-H 'Content-Type: application/json' "$KUBE_URL$2" ${3:+-d "$3"}
}
# pstatus ID (tests/scene.sh): RunPod pod status
# new_pod NODE (tests/lib.sh): a ledgered pod of ours
at_exit "scene_cleanup $S" # (tests/scene.sh)
node_yaml() { # NAME POD_ID
	cat <<-Y
	---
	apiVersion: v1
	kind: Node
	metadata:
	  name: $1
	  labels: {gpu-type: runpod, nvidia.com/gpu: "true", kubernetes.io/hostname: $1, rp-scene: $1, rp-test: "$S"}
	  annotations: {rp.io/pod-id: "$2"}
	Y
}
rs_yaml() { # NAME NAMESPACE NODE REPLICAS
	cat <<-Y
	---
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: $1, namespace: $2, labels: {rp-test: "$S"}}
	spec:
	  replicas: $4
	  selector: {matchLabels: {app: $1}}
	  template:
	    metadata: {labels: {app: $1, rp-test: "$S"}}
	    spec:
	      nodeSelector: {rp-scene: $3}
	      terminationGracePeriodSeconds: 30
	      containers: [{name: w, image: transcoder}]
	Y
}
on_node() { kapi GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$1" | jq '[.items[] | select(.metadata.namespace != "kube-system")] | length'; }
running() { kapi GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$1,status.phase%3DRunning" | jq '[.items[] | select(.metadata.namespace != "kube-system")] | length'; }
ready() { kadmin -o /dev/null -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$1\",\"ready\":$2}"; }

# ---- NamespaceTerminating: the pod goes with its namespace; wait for it ------
# Gracefully deleted pods take 3 s here (the stand-in's evict_grace), so the
# pod is still Terminating when rp-drain asks to evict it.
kadmin -o /dev/null -X POST "$KUBE_URL/_admin/config" -d '{"evict_grace":3}'
at_exit "kadmin -o /dev/null -X POST '$KUBE_URL/_admin/config' -d '{\"evict_grace\":0.2}'"
ns=t41-$S nt=nsterm-$S
pnt=$(new_pod "$nt")
# (kubectl create namespace speaks protobuf, which the stand-in does not)
printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns" >"$T_TMP/ns.yaml"
ok "namespace made" kubectl apply -f "$T_TMP/ns.yaml"
{ node_yaml "$nt" "$pnt"; rs_yaml "w-$nt" "$ns" "$nt" 1; } | kubectl apply -f - >"$T_TMP/apply.out" 2>&1 ||
	fail "scene: $(cat "$T_TMP/apply.out")"
ready "$nt" true
ok "its pod runs on the node" eventually 10 sh -c "[ \"\$(kubectl get pods -n '$ns' --no-headers 2>/dev/null | grep -c Running)\" = 1 ]"
ok "the namespace is deleted (kubectl, no wait)" kubectl delete namespace "$ns" --wait=false
is "the namespace is Terminating" "$(kapi GET "/api/v1/namespaces/$ns" | jq -r .status.phase)" Terminating
pod=$(kapi GET "/api/v1/namespaces/$ns/pods" | jq -r '.items[0].metadata.name')
isnt "its pod is marked deleted (Terminating)" "$(kapi GET "/api/v1/namespaces/$ns/pods/$pod" | jq -r '.metadata.deletionTimestamp // empty')" ""
ev=$(kapi POST "/api/v1/namespaces/$ns/pods/$pod/eviction" "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$pod\",\"namespace\":\"$ns\"}}")
is "the stand-in refuses its eviction: 403 Forbidden" "$(jq -r '"\(.code) \(.reason)"' <<<"$ev")" "403 Forbidden"
is "... the cause in details.causes[].reason (StatusCause.Type's JSON name)" "$(jq -r '.details.causes[0].reason' <<<"$ev")" NamespaceTerminating
like "... as the API server words it" "$(jq -r .message <<<"$ev")" "unable to create new content in namespace $ns because it is being terminated"
is "creating in it is refused the same way" "$(kapi POST "/api/v1/namespaces/$ns/configmaps" '{"metadata":{"name":"x"}}' | jq -r '.details.causes[0].reason')" NamespaceTerminating
kadmin -o /dev/null -X DELETE "$KUBE_URL/_admin/requests"
t0=$(date +%s.%N)
rc "rp-drain of its node: exit 0" 0 rp-drain --node "$nt" -o json
t1=$(date +%s.%N)
like "it says it waits for the pod" "$(cat "$T_TMP/.err")" "namespace terminating, waiting for the pod to go"
is "drained: the pod counted gone, the RunPod pod terminated" "$(jq -r '"\(.node) \(.evicted) \(.terminated)"' "$T_TMP/.out")" "$nt 1 true"
kadmin "$KUBE_URL/_admin/requests" >"$T_TMP/kreq.json"
is "its eviction was answered 403" "$(jq -r --arg p "/pods/$pod/eviction" '[.[] | select(.verb=="POST" and (.path|endswith($p))) | .code] | join(" ")' "$T_TMP/kreq.json")" 403
num_ge "rp-drain waited for the pod to go (${t1} - ${t0})" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" 1
is "the pod is gone" "$(on_node "$nt")" 0
is "the namespace went once empty" "$(kapi GET "/api/v1/namespaces/$ns" | jq -r .code)" 404
is "the RunPod pod is terminated" "$(pstatus "$pnt")" TERMINATED
is "the Node is deleted" "$(kapi GET "/api/v1/nodes/$nt" | jq -r .code)" 404

# ---- a dead kubelet: every NotReady node keeps Terminating pods -------------
kadmin -o /dev/null -X POST "$KUBE_URL/_admin/config" -d '{"evict_grace":0.2}'
spot_pod() {
	curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' "$RUNPOD_URL/graphql" \
		-d "{\"query\":\"mutation { podRentInterruptable(input: {bidPerGpu: 1.0, gpuTypeId: \\\"NVIDIA RTX A6000\\\", imageName: \\\"rp/worker\\\", cloudType: SECURE, name: \\\"$1\\\"}) { id } }\"}" |
		jq -r .data.podRentInterruptable.id | tee -a "$T_TMP/pods"
}
pdb_yaml() { # NAME SELECTOR-APP
	cat <<-Y
	---
	apiVersion: policy/v1
	kind: PodDisruptionBudget
	metadata: {name: $1, namespace: default, labels: {rp-test: "$S"}}
	spec:
	  minAvailable: 2
	  selector: {matchLabels: {app: $2}}
	Y
}
np="spot-$S" ni="nrdy-$S"
sp=$(spot_pod "t41x$S-burst-1") pni=$(new_pod "$ni")
ledger_pod "$sp" "t41x$S-burst-1" "$np" true
{
	node_yaml "$np" "$sp"; rs_yaml "w-$np" default "$np" 2; pdb_yaml "w-$np" "w-$np"
	node_yaml "$ni" "$pni"; rs_yaml "w-$ni" default "$ni" 2; pdb_yaml "w-$ni" "w-$ni"
} | kubectl apply -f - >"$T_TMP/apply.out" 2>&1 || fail "scenes: $(cat "$T_TMP/apply.out")"
ready "$np" true
ready "$ni" true
scenes_run() { [ "$(running "$np")" -ge 2 ] && [ "$(running "$ni")" -ge 2 ]; }
ok "both scenes run" eventually 15 scenes_run
# past the stand-in's registration delay, which would make them Ready again
sleep 1.5
ready "$np" false
ready "$ni" false
# the stand-in, as a real cluster: a graceful delete on a NotReady node never completes
victim=$(kapi GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$ni" | jq -r '[.items[] | select(.metadata.namespace == "default")][0].metadata.name')
kapi DELETE "/api/v1/namespaces/default/pods/$victim" >/dev/null
sleep 1.5
isnt "a gracefully deleted pod on a NotReady node stays Terminating (no kubelet confirms it)" \
	"$(kapi GET "/api/v1/namespaces/default/pods/$victim" | jq -r '.metadata.deletionTimestamp // empty')" ""

# a preempted spot pod: its machine is gone
curl -sf -o /dev/null "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$sp\"}"
kadmin -o /dev/null -X DELETE "$KUBE_URL/_admin/requests"
rc "--preempted, drain.timeout 60s: exit 0" 0 rp-drain --preempted --set "cluster=t41x$S" --set drain.timeout=60s -o json
is "drained, preempted, terminated" "$(jq -r '"\(.node) \(.preempted) \(.terminated) \(.evicted)"' "$T_TMP/.out")" "$np true true 2"
num_le "without waiting out drain.timeout" "$(jq -r '.seconds // 99' "$T_TMP/.out")" 15
kadmin "$KUBE_URL/_admin/requests" >"$T_TMP/kreq.json"
is "no eviction asked (none could complete)" \
	"$(jq --arg n "w-$np-" '[.[] | select(.verb == "POST" and (.path | endswith("/eviction")) and (.path | contains($n)))] | length' "$T_TMP/kreq.json")" 0
is "its two pods deleted with grace 0" \
	"$(jq --arg n "/pods/w-$np-" '[.[] | select(.verb == "DELETE" and (.path | contains($n))) | .body | fromjson? | select(.gracePeriodSeconds == 0)] | length' "$T_TMP/kreq.json")" 2
first_del=$(jq -r --arg n "/pods/w-$np-" '[.[] | select(.verb == "DELETE" and (.path | contains($n)))][0].ts' "$T_TMP/kreq.json")
term=$(curl -sf "$RUNPOD_URL/_admin/requests" | jq -r --arg p "/v2/pods/$sp" '[.[] | select(.method == "DELETE" and .path == $p)][0].time')
num_le "fenced first: the RunPod pod terminated before its pods were deleted" "$(date -u -d "$term" +%s.%N)" "$first_del"
is "its pod terminated" "$(pstatus "$sp")" TERMINATED
is "its Node deleted" "$(kapi GET "/api/v1/nodes/$np" | jq -r .code)" 404
is "ledger: preempted, terminated, drained (reason preempted)" \
	"$(jq -r --arg id "$sp" 'select(.id == $id and .event != "launched" and .event != "joined") | "\(.event)\(.reason // "")"' "$RP_STATE_DIR/ledger.jsonl" | tr '\n' ' ')" \
	"preempted terminated drainedpreempted "

# a NotReady node drained by name, within scale.notready_grace (not lost)
kadmin -o /dev/null -X DELETE "$KUBE_URL/_admin/requests"
rc "a NotReady node by name, drain.timeout 60s: exit 0" 0 rp-drain --node "$ni" --set drain.timeout=60s --set scale.notready_grace=10m -o json
is "drained, reason notready, terminated" "$(jq -r '"\(.node) \(.reason) \(.terminated) \(.evicted)"' "$T_TMP/.out")" "$ni notready true 2"
num_le "without waiting out drain.timeout" "$(jq -r '.seconds // 99' "$T_TMP/.out")" 15
kadmin "$KUBE_URL/_admin/requests" >"$T_TMP/kreq.json"
is "no eviction asked" \
	"$(jq --arg n "w-$ni-" '[.[] | select(.verb == "POST" and (.path | endswith("/eviction")) and (.path | contains($n)))] | length' "$T_TMP/kreq.json")" 0
is "its pods deleted with grace 0 (the Terminating one too)" \
	"$(jq --arg n "/pods/w-$ni-" '[.[] | select(.verb == "DELETE" and (.path | contains($n))) | .body | fromjson? | select(.gracePeriodSeconds == 0)] | length' "$T_TMP/kreq.json")" 2
is "its RunPod pod terminated" "$(pstatus "$pni")" TERMINATED
is "its Node deleted" "$(kapi GET "/api/v1/nodes/$ni" | jq -r .code)" 404
is "ledger: terminated, then drained (reason notready)" \
	"$(jq -r --arg id "$pni" 'select(.id == $id and .event != "launched" and .event != "joined") | "\(.event)\(.reason // "")"' "$RP_STATE_DIR/ledger.jsonl" | tr '\n' ' ')" \
	"terminated drainednotready "

done_testing
