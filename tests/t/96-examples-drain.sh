#!/usr/bin/env bash
# tests/t/96-examples-drain.sh — rp-drain(1)'s EXAMPLES, taken from the man
# page itself and run against the stack, so the page cannot drift from the
# tool again (its hook once called `rp-checkpoint save "$j"` without DIR:
# exit 2, so the pod was never terminated).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
need_stack
command -v kubectl >/dev/null || { fail "kubectl is missing"; done_testing; exit 1; }
command -v jq >/dev/null || { fail "jq is missing"; done_testing; exit 1; }

KCA="$(dirname "$KUBECONFIG")/ca.crt"
S=$$
: >"$T_TMP/pods"
at_exit "scene_cleanup ex$S" # (tests/scene.sh)
kadmin() { curl -sf --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
kapi() { curl -s --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_URL$1"; }
pstate() { curl -sf "$RUNPOD_URL/_admin/state" | jq -r --arg id "$1" '.pods[] | select(.id == $id) | .status'; }
# new_pod NODE (tests/lib.sh): a ledgered pod of ours
# a burst node NAME (pod POD_ID) running one transcoder pod of job JOB
scene() {
	kubectl apply -f - >/dev/null <<-Y
	apiVersion: v1
	kind: Node
	metadata:
	  name: $1
	  labels: {gpu-type: runpod, nvidia.com/gpu: "true", rp-scene: $1, rp-test: "ex$S"}
	  annotations: {rp.io/pod-id: "$2"}
	---
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: tx-$1, namespace: default, labels: {rp-test: "ex$S"}}
	spec:
	  replicas: 1
	  selector: {matchLabels: {app: tx-$1}}
	  template:
	    metadata: {labels: {app: tx-$1, rp.io/job: $3, rp-test: "ex$S"}}
	    spec:
	      nodeSelector: {rp-scene: $1}
	      terminationGracePeriodSeconds: 1
	      containers: [{name: tx, image: transcoder}]
	Y
	kadmin -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$1\",\"ready\":true}" >/dev/null
}
running() { kapi "/api/v1/pods?fieldSelector=spec.nodeName%3D$1,status.phase%3DRunning" | jq '.items | length'; }
# the man page's EXAMPLES, as the shell commands a reader would type:
# one file each, $T_TMP/ex.1, ex.2, ...
awk -v d="$T_TMP" '/^\.SH EXAMPLES/ {on = 1; next} /^\.SH/ {on = 0}
	on && /^\.EX/ {ex = 1; n++; next} on && /^\.EE/ {ex = 0; next}
	on && ex {gsub(/\\-/, "-"); gsub(/\\e/, "\\"); print > (d "/ex." n)}' "$RP_TOP/man/rp-drain.1"
is "rp-drain(1) has two examples" "$(find "$T_TMP" -maxdepth 1 -name 'ex.[0-9]*' | wc -l)" 2
like "the first drains demo-burst-7f3a with a checkpoint hook" "$(tr -d '\\\n' <"$T_TMP/ex.1")" \
	'^rp-drain --node demo-burst-7f3a .*--checkpoint-command'
# shellcheck disable=SC2016 # a regex matching the literal $j
like "whose hook saves each job with its DIR" "$(cat "$T_TMP/ex.1")" 'rp-checkpoint save "\$j" "[^"]+"'

# ---- 1: drain one node, saving checkpoints first ---------------------------
n1="ex-burst-$S" j1="exjob-$S"
p1=$(new_pod "$n1")
scene "$n1" "$p1" "$j1"
ok "the node's transcoder is running" eventually 20 test "$(running "$n1")" -ge 1
# the job's working directory, where the example says jobs live
jobs=$T_TMP/srv/jobs
mkdir -p "$jobs/$j1"
head -c 50000 /dev/urandom >"$jobs/$j1/seg_1.ts"
printf '#EXTM3U\nseg_1.ts\n' >"$jobs/$j1/index.m3u8"
sed -e "s/demo-burst-7f3a/$n1/" -e "s|/srv/jobs|$jobs|g" "$T_TMP/ex.1" >"$T_TMP/ex1.sh"
rc "rp-drain --node NODE --force --delete-emptydir-data --checkpoint-command 'for j in \$RP_JOBS; do rp-checkpoint save ...': exit 0" \
	0 bash "$T_TMP/ex1.sh"
like "the hook saved the job" "$(cat "$T_TMP/.err")" "checkpoint hook done.*$j1"
ok "rp-checkpoint list $j1 shows the checkpoint" rp-checkpoint list "$j1"
like "its objects are in the store" "$(aws --endpoint-url "$S3_ENDPOINT" s3 ls --recursive "s3://checkpoint/$j1/")" "manifests/"
is "the pod terminated" "$(pstate "$p1")" TERMINATED
is "the Node deleted" "$(kapi "/api/v1/nodes/$n1" | jq -r .code)" 404

# ---- 1 as it was: without DIR the save fails, and nothing is terminated ----
n2="ex-burst-old-$S" j2="exjob-old-$S"
p2=$(new_pod "$n2")
scene "$n2" "$p2" "$j2"
ok "the second node's transcoder is running" eventually 20 test "$(running "$n2")" -ge 1
# shellcheck disable=SC2016
rc "the old hook (rp-checkpoint save \"\$j\", no DIR): exit 1" 1 rp-drain --node "$n2" --force \
	--delete-emptydir-data --checkpoint-command 'for j in $RP_JOBS; do rp-checkpoint save "$j"; done'
like "the hook failed" "$(cat "$T_TMP/.err")" "checkpoint hook exited 2: pod not terminated"
isnt "its pod still runs" "$(pstate "$p2")" TERMINATED
is "its Node is kept" "$(kapi "/api/v1/nodes/$n2" | jq -r .code)" null

# ---- 2: the loop's scale-down step ------------------------------------------
# its own topic and group (no lag), and a fresh state dir: no node is idle
# long enough, so the decision passes through to the tick log
TOPIC=ex-$S GROUP=ex-g-$S
"$KAFKACTL" topic "$TOPIC" 1 >/dev/null || fail "kafkactl topic"
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 0 >/dev/null || fail "kafkactl commit"
sed -e "s/^  group: .*/  group: [\"$GROUP\"]/" -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" "$RP_CONFIG" >"$T_TMP/rp.yaml"
RP_CONFIG="$T_TMP/rp.yaml" RP_STATE_DIR="$T_TMP/state2"
mkdir -p "$RP_STATE_DIR"
export RP_CONFIG RP_STATE_DIR
rc "rp-lagwatch --once | rp-drain | tee -a \"\$RP_STATE_DIR/tick.log\": exit 0" 0 \
	bash -o pipefail "$T_TMP/ex.2"
is "the tick log holds the decision, passed through" \
	"$(jq -r 'select(.type == "decision") | .action' "$RP_STATE_DIR/tick.log")" hold
is "and it is what rp-drain printed" "$(cat "$T_TMP/.out")" "$(cat "$RP_STATE_DIR/tick.log")"
done_testing
