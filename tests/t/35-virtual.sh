#!/usr/bin/env bash
# rp-join --virtual: a virtual kubelet against the stack.  Kubernetes pods
# bound to the virtual node run as RunPod pods (RunPod stand-in), their
# status is kept true (real kubectl reads it), deleting one stops and
# terminates its RunPod pod after the checkpoint hook, a preempted one
# fails, a killed virtual node goes NotReady, and a restart adopts.
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # KUBE_*, RUNPOD_URL come from stack.env
RA=$RUNPOD_URL/_admin
KA=$KUBE_URL/_admin
CL=vkt$$
VN=vk-$$
kadmin() { curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
kapi() { kadmin "$KUBE_URL$1"; }
kpost() { kadmin -X POST -H 'Content-Type: application/json' -d "$2" "$KUBE_URL$1" >/dev/null; }
radmin() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$RA/$1" >/dev/null; }
all_pods() { curl -sf "$RA/state" | jq -c "[.pods[] | select(.name | startswith(\"$CL-burst-\"))]"; }
our_pods() { all_pods | jq -c '[.[] | select(.status != "TERMINATED")]'; }
n_pods() { our_pods | jq length; }
rstatus() { all_pods | jq -r --arg i "$1" '.[] | select(.id==$i) | .status'; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
kpod() { kapi "/api/v1/namespaces/default/pods/$1"; }
phase() { kpod "$1" | jq -r .status.phase; }
ann() { kpod "$1" | jq -r --arg k "$2" '.metadata.annotations[$k] // empty'; }
gone() { ! kpod "$1" >/dev/null 2>&1; }
node_ready() { kapi "/api/v1/nodes/$VN" | jq -r '.status.conditions[] | select(.type=="Ready") | .status'; }

# The config: our own cluster name, a fast heartbeat, a checkpoint hook
# that says whether the RunPod pod still ran when it was called.
cp "$RP_CONFIG" "$T_TMP/rp.yaml"
export RP_CONFIG=$T_TMP/rp.yaml
cat >"$T_TMP/hook" <<EOF
#!/bin/sh
st=\$(curl -sf "$RA/state" | jq -r --arg i "\$RP_POD_ID" '.pods[] | select(.id==\$i) | .status')
echo "\$RP_POD_ID \$RP_NODE \$st" >>"$T_TMP/hook.log"
port=\$(curl -sf "$RA/state" | jq -r --arg i "\$RP_POD_ID" '.pods[] | select(.id==\$i) | ._internal.ssh' | sed 's/.*://')
if [ -e "$RP_STACK_DIR/hosts/\$port/.rp-worker/checkpointed" ]; then m=marker; else m=nomarker; fi
echo "\$RP_POD_ID \$m" >>"$T_TMP/marker.log"
EOF
chmod +x "$T_TMP/hook"
sed -i -e "s/^cluster: .*/cluster: $CL/" -e 's/^kube:$/kube:\n  virtual_interval: 1s/' "$RP_CONFIG"
printf 'drain:\n  checkpoint_command: "%s"\n' "$T_TMP/hook" >>"$RP_CONFIG"
grep -q 'virtual_interval: 1s' "$RP_CONFIG" || { fail "could not set kube.virtual_interval"; exit 1; }
VPID=
stop_vn() { [ -n "$VPID" ] && kill -9 "$VPID" 2>/dev/null; wait "$VPID" 2>/dev/null; VPID=; }
at_exit stop_vn
at_exit "kadmin -X POST -H 'Content-Type: application/json' -d '{\"node_monitor_grace\": 40}' \"$KA/config\" >/dev/null"
at_exit "kubectl delete node $VN --wait=false >/dev/null 2>&1"
at_exit "kubectl delete secret,configmap vk-$$ --wait=false >/dev/null 2>&1"
at_exit "for i in \$(our_pods | jq -r '.[].id'); do curl -sf -X DELETE -H \"Authorization: Bearer \$RUNPOD_API_KEY\" \"$RUNPOD_URL/v2/pods/\$i\" >/dev/null; done"

# ---- 1. the node, as a kubelet reports itself ----------------------------
rc "usage: --virtual takes no pod" 2 rp-join --virtual "$VN" --id x --host h
rc "usage: --once goes with --virtual" 2 rp-join --once
rc "a bad node name is exit 2" 2 rp-join --virtual "Bad_Name" --once
rc "one pass with no pods: exit 0" 0 rp-join --virtual "$VN" --once
node=$(kapi "/api/v1/nodes/$VN")
is "node registered, Ready" "$(node_ready)" True
is "label type=virtual-kubelet" "$(jq -r '.metadata.labels.type' <<<"$node")" virtual-kubelet
is "the labels of kube.labels" "$(jq -r '.metadata.labels["gpu-type"] + " " + .metadata.labels["nvidia.com/gpu"]' <<<"$node")" "runpod true"
is "taint virtual-kubelet.io/provider=runpod:NoSchedule" \
	"$(jq -r '.spec.taints[] | select(.key=="virtual-kubelet.io/provider") | .value + ":" + .effect' <<<"$node")" runpod:NoSchedule
is "capacity pods = runpod.max_nodes" "$(jq -r '.status.capacity.pods' <<<"$node")" 50
is "capacity nvidia.com/gpu = max_nodes x gpu_count" "$(jq -r '.status.capacity["nvidia.com/gpu"]' <<<"$node")" 50
lease=$(kapi "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$VN")
is "its Lease is held by the node" "$(jq -r .spec.holderIdentity <<<"$lease")" "$VN"
r1=$(jq -r .spec.renewTime <<<"$lease")
sleep 1.1
rp-join --virtual "$VN" --once 2>/dev/null
r2=$(kapi "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$VN" | jq -r .spec.renewTime)
isnt "the next pass renews the Lease" "$r2" "$r1"
like "kubectl get nodes shows it Ready" "$(kubectl get node "$VN" --no-headers)" "^$VN +Ready"
kadmin -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"taints":[]}}' "$KUBE_URL/api/v1/nodes/$VN" >/dev/null
rp-join --virtual "$VN" --once 2>/dev/null
is "a taint taken off is put back" \
	"$(kapi "/api/v1/nodes/$VN" | jq -r '[.spec.taints[]? | select(.key=="virtual-kubelet.io/provider")] | length')" 1

rc "rp-drain refuses to drain a virtual node" 2 rp-drain --node "$VN"
like "  saying why" "$(cat "$T_TMP/.err")" "virtual node"
if ! { "$KAFKACTL" topic "vk$$" 1 && "$KAFKACTL" commit "vkg$$" "vk$$" 0 0; } >/dev/null; then fail "kafkactl"; fi
burst() { rp-lagwatch --once --group "vkg$$" --topic "vk$$" 2>/dev/null | jq -r 'select(.type=="decision") | .burst_nodes'; }
b0=$(burst)

# ---- 2. three pods -> three RunPod pods with their image and env ---------
kpost /api/v1/namespaces/default/secrets "{\"metadata\":{\"name\":\"vk-$$\"},\"stringData\":{\"token\":\"s3cr3t-$$\"}}"
kpost /api/v1/namespaces/default/configmaps "{\"metadata\":{\"name\":\"vk-$$\"},\"data\":{\"level\":\"hd-$$\"}}"
mkpod() { # NAME
	kpost /api/v1/namespaces/default/pods "$(jq -nc --arg n "$1" --arg vn "$VN" --arg s "vk-$$" '{
	  metadata: {name: $n, labels: {app: ("vk-" + $vn), "rp.io/job": ("job-" + $n)}},
	  spec: {nodeName: $vn, terminationGracePeriodSeconds: 20,
	    tolerations: [{key: "virtual-kubelet.io/provider", operator: "Exists", effect: "NoSchedule"}],
	    containers: [{name: "transcoder", image: "registry.example.com/ome-transcoder:2.4.1",
	      command: ["rp-worker"], args: ["--queue", "video transcode"],
	      ports: [{containerPort: 8080, protocol: "TCP"}],
	      resources: {limits: {"nvidia.com/gpu": "1"}},
	      env: [{name: "GREETING", value: "hello"},
	            {name: "TOKEN", valueFrom: {secretKeyRef: {name: $s, key: "token"}}},
	            {name: "LEVEL", valueFrom: {configMapKeyRef: {name: $s, key: "level"}}},
	            {name: "MY_POD", valueFrom: {fieldRef: {fieldPath: "metadata.name"}}}]}]}}')"
}
for i in 1 2 3; do mkpod "vk-$$-$i" || fail "create pod $i"; done
rp-join --virtual "$VN" -v >"$T_TMP/vn.out" 2>"$T_TMP/vn.err" &
VPID=$!
running3() { [ "$(kubectl get pods -l "app=vk-$VN" --no-headers 2>/dev/null | awk '$3=="Running"' | wc -l)" = 3 ]; }
if eventually 90 running3; then pass "3 pods Running on the virtual node"; else fail "3 pods Running"; kubectl get pods -l "app=vk-$VN" -o wide; tail -20 "$T_TMP/vn.err"; fi
is "3 RunPod pods, not more (the DaemonSet pod is not run)" "$(n_pods)" 3
pods=$(our_pods)
is "each with the pod's image" "$(jq -r '[.[].image] | unique | join(",")' <<<"$pods")" "registry.example.com/ome-transcoder:2.4.1"
is "its literal env" "$(jq -r '[.[].env.GREETING] | unique | join(",")' <<<"$pods")" hello
is "its secretKeyRef env" "$(jq -r '[.[].env.TOKEN] | unique | join(",")' <<<"$pods")" "s3cr3t-$$"
is "its configMapKeyRef env" "$(jq -r '[.[].env.LEVEL] | unique | join(",")' <<<"$pods")" "hd-$$"
is "its fieldRef env" "$(jq -r '[.[].env.MY_POD] | sort | join(",")' <<<"$pods")" "vk-$$-1,vk-$$-2,vk-$$-3"
is "command + args, shell-quoted" "$(jq -r '[.[].args] | unique | join(",")' <<<"$pods")" "'rp-worker' '--queue' 'video transcode'"
is "its ports, 22/tcp added" "$(jq -r '[.[].ports | sort | join(" ")] | unique | join(",")' <<<"$pods")" "22/tcp 8080/tcp"
is "its GPU count" "$(jq -r '[.[].gpu.count] | unique | join(",")' <<<"$pods")" 1
unlike "the secret is not in the virtual node's logs" "$(cat "$T_TMP/vn.err")" "s3cr3t-$$"
ips_ok=0
wide=$(kubectl get pods -l "app=vk-$VN" -o wide --no-headers)
for i in 1 2 3; do
	p=vk-$$-$i
	id=$(ann "$p" rp.io/pod-id)
	host=$(jq -r --arg i "$id" '.[] | select(.id==$i) | .ssh.direct.host // ._internal.ssh' <<<"$pods" | cut -d: -f1)
	row=$(awk -v n="$p" '$1==n' <<<"$wide")
	[ -n "$id" ] && [ -n "$host" ] && [ "$(awk '{print $6}' <<<"$row")" = "$host" ] &&
		[ "$(awk '{print $7}' <<<"$row")" = "$VN" ] && ips_ok=$((ips_ok + 1))
done
is "kubectl get pods -o wide: each IP is its RunPod pod's address, on the node" "$ips_ok" 3
p1=$(kpod "vk-$$-1")
is "conditions PodScheduled Initialized ContainersReady Ready all True" \
	"$(jq -r '[.status.conditions[] | select(.type|IN("PodScheduled","Initialized","ContainersReady","Ready")) | .status] | join(" ")' <<<"$p1")" \
	"True True True True"
is "container state running, 0 restarts" "$(jq -r '.status.containerStatuses[0] | (.state|keys[0]) + " " + (.restartCount|tostring)' <<<"$p1")" "running 0"
like "kubectl describe pod shows where to look (ssh)" "$(kubectl describe pod "vk-$$-1" 2>&1)" "rp.io/ssh: +ssh -p [0-9]+"
is "ledger: 3 pods joined the virtual node" \
	"$(jq -r --arg n "$VN" 'select(.event=="joined" and .node==$n and .bootstrap=="virtual") | .k8s_uid' "$LEDGER" | sort -u | wc -l)" 3
is "ledger: their launching lines carry the Kubernetes pod" \
	"$(jq -r --arg n "$VN" 'select(.event=="launching" and .vnode==$n) | .k8s_pod' "$LEDGER" | sort -u | wc -l)" 3
is "rp-lagwatch counts each pod as one burst unit, not the node" "$(burst)" "$((b0 + 3))"
rc "the reaper keeps them (known to Kubernetes)" 0 rp-launch --reap
is "nothing reaped" "$(n_pods)" 3

# ---- 3. delete two -> hook, terminate, object gone -----------------------
id1=$(ann "vk-$$-1" rp.io/pod-id) id2=$(ann "vk-$$-2" rp.io/pod-id) id3=$(ann "vk-$$-3" rp.io/pod-id)
# stub workers on pods 1 and 2 (as the transcoder image runs rp-worker):
# the delete must stop them with drain.worker_stop_command over SSH, and
# their checkpoint marker be there before the checkpoint hook and the
# terminate
rssh() { # HOST:PORT CMD
	ssh -q -i "$SSH_KEY" -p "${1##*:}" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile="$T_TMP/known_hosts" "$SSH_USER@${1%:*}" "$2"
}
addr() { all_pods | jq -r --arg i "$1" '.[] | select(.id==$i) | ._internal.ssh'; }
a1=$(addr "$id1") a2=$(addr "$id2")
isnt "pods 1 and 2 have their own sshd" "$a1" "$a2"
for a in "$a1" "$a2"; do
	rm -f "$RP_STACK_DIR/hosts/${a##*:}/.rp-worker/checkpointed"
	rssh "$a" 'rp-worker --daemon' || fail "start the stub worker on $a"
	at_exit "kill \$(cat '$RP_STACK_DIR/hosts/${a##*:}/worker.pid' 2>/dev/null) 2>/dev/null"
done
ok "stub workers run on pods 1 and 2" test -s "$RP_STACK_DIR/hosts/${a1##*:}/worker.pid" -a -s "$RP_STACK_DIR/hosts/${a2##*:}/worker.pid"
ok "kubectl delete two pods" kubectl delete pod "vk-$$-1" "vk-$$-2" --wait=false
bothgone() { gone "vk-$$-1" && gone "vk-$$-2"; }
if eventually 60 bothgone; then pass "both pod objects gone"; else fail "pods still there"; tail -20 "$T_TMP/vn.err"; fi
is "their RunPod pods are terminated" "$(rstatus "$id1") $(rstatus "$id2")" "TERMINATED TERMINATED"
is "the hook ran for each while its pod still ran" \
	"$(grep -c -e "^$id1 $VN RUNNING\$" -e "^$id2 $VN RUNNING\$" "$T_TMP/hook.log" 2>/dev/null)" 2
is "ledger: drained, then terminated" \
	"$(jq -r --arg i "$id1" 'select(.id==$i and (.event=="drained" or .event=="terminated")) | .event' "$LEDGER" | tr '\n' ' ')" "drained terminated "
is "the worker stop command ran first: each marker was there when the hook ran" \
	"$(grep -c -e "^$id1 marker\$" -e "^$id2 marker\$" "$T_TMP/marker.log" 2>/dev/null)" 2
like "  the stub worker was told to stop (SIGTERM)" "$(cat "$RP_STACK_DIR/hosts/${a1##*:}/worker.log")" "TERM: checkpointed, exiting"
is "ledger: drained says the worker's marker came" \
	"$(jq -r --arg i "$id1" 'select(.id==$i and .event=="drained") | .worker_marker' "$LEDGER")" true
is "the third still runs" "$(phase "vk-$$-3") $(rstatus "$id3")" "Running RUNNING"

# ---- 4. a RunPod pod preempted -> its Kubernetes pod Failed ---------------
radmin preempt "{\"id\":\"$id3\",\"force\":true}" || fail "admin preempt"
failed3() { [ "$(phase "vk-$$-3")" = Failed ]; }
if eventually 30 failed3; then pass "the preempted pod's Kubernetes pod is Failed"; else fail "not Failed: $(phase "vk-$$-3")"; fi
is "with reason Preempted" "$(kpod "vk-$$-3" | jq -r .status.reason)" Preempted
is "container terminated" "$(kpod "vk-$$-3" | jq -r '.status.containerStatuses[0].state|keys[0]')" terminated
termd3() { [ "$(rstatus "$id3")" = TERMINATED ]; }
if eventually 20 termd3; then pass "the EXITED RunPod pod is terminated"; else fail "RunPod pod $id3: $(rstatus "$id3")"; fi
is "ledger: preempted" "$(jq -r --arg i "$id3" 'select(.id==$i and .event=="preempted") | .event' "$LEDGER" | head -1)" preempted

# ---- 5. the virtual node killed -> NotReady; a restart adopts ----------
mkpod "vk-$$-4" || fail "create pod 4"
run4() { [ "$(phase "vk-$$-4")" = Running ]; }
if eventually 60 run4; then pass "a replacement pod runs"; else fail "pod 4 not Running"; fi
id4=$(ann "vk-$$-4" rp.io/pod-id)
kadmin -X POST -H 'Content-Type: application/json' -d '{"node_monitor_grace": 3}' "$KA/config" >/dev/null
stop_vn
notready() { [ "$(node_ready)" = Unknown ]; }
if eventually 20 notready; then pass "killed: the node goes NotReady once its lease runs out"; else fail "node still $(node_ready)"; fi
like "kubectl sees NotReady" "$(kubectl get node "$VN" --no-headers)" "^$VN +NotReady"
is "nothing leaks: the running pod is still paid for and known" "$(n_pods) $(rstatus "$id4")" "1 RUNNING"
rc "the reaper keeps it while the virtual node is down" 0 rp-launch --reap
is "not reaped" "$(rstatus "$id4")" RUNNING
# (the control plane's grace back to normal: a one-shot pass has no heartbeat after it)
kadmin -X POST -H 'Content-Type: application/json' -d '{"node_monitor_grace": 40}' "$KA/config" >/dev/null
launching=$(grep -c '"event":"launching"' "$LEDGER")
# as if it had been killed between the launch and the annotation: the
# ledger alone must tell which RunPod pod runs this Kubernetes pod
kubectl annotate pod "vk-$$-4" rp.io/pod-id- >/dev/null || fail "annotation not removed"
rc "restart: one pass" 0 rp-join --virtual "$VN" --once
is "the restart adopts: no launch" "$(grep -c '"event":"launching"' "$LEDGER")" "$launching"
is "the pod is annotated with its RunPod pod again" "$(ann "vk-$$-4" rp.io/pod-id)" "$id4"
is "still one RunPod pod" "$(n_pods)" 1
is "the pod still Running on it" "$(phase "vk-$$-4")" Running
is "the node Ready again" "$(node_ready)" True

# A pod force-deleted while no virtual node ran: its RunPod pod must go.
kadmin -X DELETE -H 'Content-Type: application/json' -d '{"gracePeriodSeconds":0}' \
	"$KUBE_URL/api/v1/namespaces/default/pods/vk-$$-4" >/dev/null
rc "a pass after a force delete" 0 rp-join --virtual "$VN" --once
is "the orphaned RunPod pod is terminated" "$(rstatus "$id4")" TERMINATED
is "ledger says why" "$(jq -r --arg i "$id4" 'select(.id==$i and .event=="terminated") | .reason' "$LEDGER")" "kubernetes pod gone"

# A pod it cannot express stays Pending, costs nothing.
kpost /api/v1/namespaces/default/pods "$(jq -nc --arg vn "$VN" --arg n "vk-$$-5" '{metadata: {name: $n,
  annotations: {"rp.io/gpu-type": "NVIDIA H200"}}, spec: {nodeName: $vn, containers: [{name: "c", image: "x:1"}]}}')"
rc "a pod with an unknown GPU type: the pass goes on" 0 rp-join --virtual "$VN" --once
is "it stays Pending" "$(phase "vk-$$-5")" Pending
like "saying why" "$(kpod "vk-$$-5" | jq -r '.status.containerStatuses[0].state.waiting.message')" "not one of runpod.gpu_types"
is "no RunPod pod for it" "$(n_pods)" 0
kadmin -X DELETE "$KUBE_URL/api/v1/namespaces/default/pods/vk-$$-3" >/dev/null
kadmin -X DELETE -H 'Content-Type: application/json' -d '{"gracePeriodSeconds":0}' "$KUBE_URL/api/v1/namespaces/default/pods/vk-$$-5" >/dev/null
rc "a pass over the leftovers" 0 rp-join --virtual "$VN" --once
is "the Failed pod's object goes once deleted" "$(gone "vk-$$-3" && echo gone)" gone
is "no RunPod pod left" "$(n_pods)" 0
# Never on a guess: while RunPod cannot list its pods, a deleted pod is
# neither terminated nor let go.
mkpod "vk-$$-6" || fail "create pod 6"
rc "a pass launches pod 6" 0 rp-join --virtual "$VN" --once
id6=$(ann "vk-$$-6" rp.io/pod-id)
is "pod 6 Running" "$(phase "vk-$$-6") $(rstatus "$id6")" "Running RUNNING"
ok "kubectl delete pod 6" kubectl delete pod "vk-$$-6" --wait=false
radmin config '{"fail_next":[{"match":"GET /v2/pods","status":503,"count":50}]}' || fail "fail_next"
rc "RunPod unlistable: the pass is temporary (75)" 75 rp-join --virtual "$VN" --once
radmin config '{"fail_next":[]}'
is "the pod object stays (Terminating)" "$(kpod "vk-$$-6" | jq -r '.metadata.deletionTimestamp != null')" true
is "its RunPod pod untouched" "$(rstatus "$id6")" RUNNING
rc "RunPod back: the pass finishes the delete" 0 rp-join --virtual "$VN" --once
is "then terminated and gone" "$(rstatus "$id6") $(gone "vk-$$-6" && echo gone)" "TERMINATED gone"
# A terminate RunPod does not confirm: the pod object stays until it is.
mkpod "vk-$$-7" || fail "create pod 7"
rc "a pass launches pod 7" 0 rp-join --virtual "$VN" --once
id7=$(ann "vk-$$-7" rp.io/pod-id)
ok "kubectl delete pod 7" kubectl delete pod "vk-$$-7" --wait=false
radmin config '{"fail_next":[{"match":"DELETE /v2/pods*","status":503,"count":100}]}' || fail "fail_next"
ko "terminate unconfirmed: the pass fails" rp-join --virtual "$VN" --once --set drain.terminate_timeout=2s
radmin config '{"fail_next":[]}'
is "the pod object stays while its RunPod pod may bill" "$(kpod "vk-$$-7" | jq -r '.metadata.name')" "vk-$$-7"
is "ledger: terminate_failed" "$(jq -r --arg i "$id7" 'select(.id==$i and .event=="terminate_failed") | .event' "$LEDGER" | head -1)" terminate_failed
rc "the next pass terminates, then lets it go" 0 rp-join --virtual "$VN" --once
is "terminated and gone" "$(rstatus "$id7") $(gone "vk-$$-7" && echo gone)" "TERMINATED gone"
# RunPod's catalog down: the long-running node does not die of it; the
# pod waits, Pending, and runs once RunPod is back.
radmin config '{"fail_next":[{"match":"GET /v2/catalog*","status":503,"count":1000}]}' || fail "fail_next"
rp-join --virtual "$VN" >"$T_TMP/vn2.out" 2>"$T_TMP/vn2.err" &
VPID=$!
mkpod "vk-$$-8" || fail "create pod 8"
sawfail() { grep -q "launch not started" "$T_TMP/vn2.err"; }
if eventually 30 sawfail; then pass "a launch that cannot start is logged"; else fail "no 'launch not started'"; fi
ok "the virtual node lives on" kill -0 "$VPID"
is "the pod waits, Pending" "$(phase "vk-$$-8")" Pending
radmin config '{"fail_next":[]}'
run8() { [ "$(phase "vk-$$-8")" = Running ]; }
if eventually 60 run8; then pass "RunPod back: the pod runs"; else fail "pod 8 not Running"; fi
ok "kubectl delete pod 8" kubectl delete pod "vk-$$-8"
is "its RunPod pod terminated" "$(rstatus "$(jq -r --arg n "default/vk-$$-8" 'select(.event=="joined" and .k8s_pod==$n) | .id' "$LEDGER")")" TERMINATED
stop_vn
rc "rp-cost report --by pod" 0 rp-cost report --by pod -o json
is "  all four pods ended, their hours counted" \
	"$(jq -r --arg a "$id1" --arg b "$id2" --arg c "$id3" --arg d "$id4" \
		'select(.type=="cost" and .by=="pod" and (.key==$a or .key==$b or .key==$c or .key==$d) and (.running|not) and .hours > 0) | 1' "$T_TMP/.out" | wc -l)" 4

# ---- 6. a Deployment of 3 -> 3 RunPod pods; scaled to 1 -> 2 stopped ------
# (the stand-in's Deployment controller makes the ReplicaSet, its pods, and
# schedules them onto the node they select and whose taint they tolerate)
DEP=vkd-$$
at_exit "kubectl delete deployment $DEP --wait=false >/dev/null 2>&1"
kubectl apply -f - >/dev/null <<Y || fail "kubectl apply the Deployment"
apiVersion: apps/v1
kind: Deployment
metadata: {name: $DEP, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: $DEP}}
  template:
    metadata: {labels: {app: $DEP}}
    spec:
      nodeSelector: {type: virtual-kubelet, kubernetes.io/hostname: $VN}
      tolerations: [{key: virtual-kubelet.io/provider, operator: Equal, value: runpod, effect: NoSchedule}]
      terminationGracePeriodSeconds: 20
      containers:
      - name: transcoder
        image: registry.example.com/ome-transcoder:2.5.0
        resources: {limits: {nvidia.com/gpu: "1"}}
        env:
        - {name: GREETING, value: "deploy-$$"}
        - {name: TOKEN, valueFrom: {secretKeyRef: {name: vk-$$, key: token}}}
Y
is "deployment: the scheduler binds its 3 pods to the virtual node" \
	"$(kubectl get pods -l "app=$DEP" -o json | jq -r --arg n "$VN" '[.items[] | select(.spec.nodeName==$n)] | length')" 3
rc "deployment: a pass runs its pods" 0 rp-join --virtual "$VN" --once
is "deployment: 3 RunPod pods" "$(n_pods)" 3
dpods=$(our_pods)
is "deployment: each with the template's image" "$(jq -r '[.[].image] | unique | join(",")' <<<"$dpods")" "registry.example.com/ome-transcoder:2.5.0"
is "deployment: its literal env" "$(jq -r '[.[].env.GREETING] | unique | join(",")' <<<"$dpods")" "deploy-$$"
is "deployment: its secretKeyRef env" "$(jq -r '[.[].env.TOKEN] | unique | join(",")' <<<"$dpods")" "s3cr3t-$$"
wide=$(kubectl get pods -l "app=$DEP" -o wide --no-headers)
ips_ok=0
while read -r p _; do
	id=$(ann "$p" rp.io/pod-id)
	host=$(jq -r --arg i "$id" '.[] | select(.id==$i) | .ssh.direct.host // ._internal.ssh' <<<"$dpods" | cut -d: -f1)
	row=$(awk -v n="$p" '$1==n' <<<"$wide")
	[ -n "$id" ] && [ -n "$host" ] && [ "$(awk '{print $3}' <<<"$row")" = Running ] &&
		[ "$(awk '{print $6}' <<<"$row")" = "$host" ] && [ "$(awk '{print $7}' <<<"$row")" = "$VN" ] && ips_ok=$((ips_ok + 1))
done <<<"$wide"
is "deployment: kubectl get pods -o wide: 3 Running, each IP its RunPod pod's address" "$ips_ok" 3
before=$(kubectl get pods -l "app=$DEP" -o json | jq -r '.items[] | .metadata.name + " " + .metadata.annotations["rp.io/pod-id"]')
ok "kubectl scale deployment --replicas=1" kubectl scale deployment "$DEP" --replicas=1
is "scaled: 2 of its pods Terminating" \
	"$(kubectl get pods -l "app=$DEP" -o json | jq '[.items[] | select(.metadata.deletionTimestamp != null)] | length')" 2
rc "scaled: a pass stops them" 0 rp-join --virtual "$VN" --once
left=$(kubectl get pods -l "app=$DEP" -o json | jq -r '.items[] | .metadata.name')
is "scaled: 1 pod left, Running" "$(wc -w <<<"$left") $(phase "$left")" "1 Running"
stopped=0 hooked=0
while read -r p id; do
	[ "$p" = "$left" ] && continue
	[ "$(rstatus "$id")" = TERMINATED ] && gone "$p" && stopped=$((stopped + 1))
	jq -r --arg i "$id" 'select(.id==$i and (.event=="drained" or .event=="terminated")) | .event' "$LEDGER" |
		tr '\n' ' ' | grep -qx 'drained terminated ' && grep -qx "$id $VN RUNNING" "$T_TMP/hook.log" && hooked=$((hooked + 1))
done <<<"$before"
is "scaled: 2 RunPod pods terminated, their pod objects gone" "$stopped" 2
is "scaled: each after its checkpoint hook ran while it still ran" "$hooked" 2
is "scaled: 1 RunPod pod left running, the left pod's" \
	"$(n_pods) $(rstatus "$(ann "$left" rp.io/pod-id)")" "1 RUNNING"
is "scaled: no RunPod pod paid for without a Kubernetes pod" \
	"$(our_pods | jq -r '[.[].id] | sort | join(",")')" \
	"$(kubectl get pods -A -o json | jq -r '[.items[].metadata.annotations["rp.io/pod-id"] // empty] | sort | join(",")')"
ok "kubectl delete deployment" kubectl delete deployment "$DEP" --wait=false
rc "a pass after the Deployment is gone" 0 rp-join --virtual "$VN" --once
is "its last RunPod pod terminated" "$(n_pods)" 0

# ---- only our pods are terminated: a Kubernetes pod annotated with the id of
# a RunPod pod named like ours that our ledger never launched ---------------
sid=$(curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' "$RUNPOD_URL/v2/pods" \
	-d "{\"name\":\"$CL-burst-stray\",\"gpu\":{\"id\":\"NVIDIA RTX A6000\",\"count\":1},\"image\":\"x\"}" | jq -r .id)
at_exit "kubectl delete pod vk-$$-s --force --grace-period=0 --wait=false >/dev/null 2>&1"
strayrun() { [ "$(rstatus "$sid")" = RUNNING ]; }
eventually 30 strayrun || fail "the stray pod never came up: $(rstatus "$sid")" # booted, so 'still runs' means it
kpost /api/v1/namespaces/default/pods "$(jq -nc --arg n "vk-$$-s" --arg vn "$VN" --arg id "$sid" '{
  metadata: {name: $n, annotations: {"rp.io/pod-id": $id}},
  spec: {nodeName: $vn, terminationGracePeriodSeconds: 1,
    tolerations: [{key: "virtual-kubelet.io/provider", operator: "Exists", effect: "NoSchedule"}],
    containers: [{name: "c", image: "x"}]}}')" || fail "create the annotated pod"
ok "kubectl delete the annotated pod" kubectl delete pod "vk-$$-s" --wait=false
rc "not ours: a pass refuses to terminate its RunPod pod (exit 3)" 3 rp-join --virtual "$VN" --once
like "  in one line saying why" "$(grep -c 'not ours' "$T_TMP/.err"):$(grep 'not ours' "$T_TMP/.err")" \
	"^1:.*not ours per the ledger.*$sid.*no launch of pod $sid"
is "  that pod still runs" "$(rstatus "$sid")" RUNNING
# the test's own mess goes before the next scene's long-running node sees it
kubectl delete pod "vk-$$-s" --force --grace-period=0 --wait=false >/dev/null 2>&1
curl -sf -X DELETE -H "Authorization: Bearer $RUNPOD_API_KEY" "$RUNPOD_URL/v2/pods/$sid" >/dev/null

# ---- 7. kubectl logs: the kubelet API on the node's port, over SSH -------
# The API server (the stand-in) reaches the node at its InternalIP and
# daemonEndpoints port, checks its serving certificate against the cluster
# CA and presents its kubelet-client certificate; the node reads the
# container's output, captured into kube.virtual_log_file, over SSH.
KD=$(dirname "$KUBE_CA")
KP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkcert() { # OUT SUBJ CA-PREFIX EXT...
	local out=$1 subj=$2 ca=$3
	shift 3
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$out.key" -out "$out.crt" \
		-days 2 -subj "$subj" ${ca:+-CA "$ca.crt" -CAkey "$ca.key"} "$@" 2>/dev/null
}
mkcert "$T_TMP/kubelet" "/CN=$VN" "$KD/ca" -addext "subjectAltName=IP:127.0.0.1" \
	-addext "extendedKeyUsage=serverAuth" -addext "basicConstraints=critical,CA:FALSE" || fail "kubelet cert"
mkcert "$T_TMP/rogue-ca" "/CN=rogue" "" -addext "basicConstraints=critical,CA:TRUE" || fail "rogue CA"
mkcert "$T_TMP/rogue" "/O=system:masters/CN=kube-apiserver-kubelet-client" "$T_TMP/rogue-ca" \
	-addext "extendedKeyUsage=clientAuth" -addext "basicConstraints=critical,CA:FALSE" || fail "rogue client cert"
KL=(--set "kube.virtual_kubelet_port=$KP" --set kube.virtual_kubelet_address=127.0.0.1
	--set "kube.virtual_kubelet_cert=$T_TMP/kubelet.crt" --set "kube.virtual_kubelet_key=$T_TMP/kubelet.key"
	--set "kube.virtual_kubelet_client_ca=$KUBE_CA" --set kube.virtual_log_file=logs/container.log)
rc "the kubelet API without its client CA: exit 2" 2 rp-join --virtual "$VN" "${KL[@]:0:8}" --set kube.virtual_kubelet_client_ca=
like "  saying a client CA is needed" "$(cat "$T_TMP/.err")" "would serve anyone"
LP=vk-$$-log
kpost /api/v1/namespaces/default/pods "$(jq -nc --arg n "$LP" --arg vn "$VN" '{metadata: {name: $n},
  spec: {nodeName: $vn, containers: [{name: "transcoder", image: "registry.example.com/ome-transcoder:2.5.0",
    command: ["sh", "-c"], args: ["for i in 1 2 3 4 5; do echo line-$i; done; while [ ! -e more ]; do sleep 0.2; done; echo line-more; echo to-stderr >&2; while [ ! -e stop ]; do sleep 0.2; done"]}]}}')" ||
	fail "create the log pod"
rp-join --virtual "$VN" "${KL[@]}" >"$T_TMP/vn3.out" 2>"$T_TMP/vn3.err" &
VPID=$!
runL() { [ "$(phase "$LP")" = Running ]; }
if eventually 60 runL; then pass "the log pod runs"; else fail "log pod not Running"; tail -5 "$T_TMP/vn3.err"; fi
node=$(kapi "/api/v1/nodes/$VN")
is "the node advertises its kubelet port" "$(jq -r .status.daemonEndpoints.kubeletEndpoint.Port <<<"$node")" "$KP"
is "  and its InternalIP" "$(jq -r '.status.addresses[] | select(.type=="InternalIP") | .address' <<<"$node")" 127.0.0.1
idL=$(ann "$LP" rp.io/pod-id)
aL=$(addr "$idL")
dL=$RP_STACK_DIR/hosts/${aL##*:}
argsL=$(all_pods | jq -r --arg i "$idL" '.[] | select(.id==$i) | .args')
like "the RunPod pod's command is wrapped to capture its output" "$argsL" "^sh -c '.*mkfifo.*' rp-log 'logs/container.log' 'sh' '-c' 'for i in"
like "kubectl describe says kubectl logs is served" "$(kubectl describe pod "$LP" 2>&1)" "rp.io/logs: +kubectl logs is served"
# the container starts, as RunPod would start it: its args in the pod
rm -rf "$dL/logs" "$dL/more" "$dL/stop"
at_exit "touch '$dL/more' '$dL/stop'"
rssh "$aL" "$argsL" >"$T_TMP/container.out" 2>&1 &
five() { grep -q line-5 "$dL/logs/container.log" 2>/dev/null; }
ok "its output is captured in kube.virtual_log_file" eventually 10 five
is "kubectl logs: the container's output" "$(kubectl logs "$LP" 2>&1 | tr '\n' ' ')" "line-1 line-2 line-3 line-4 line-5 "
is "kubectl logs --tail=2" "$(kubectl logs "$LP" --tail=2 2>&1 | tr '\n' ' ')" "line-4 line-5 "
is "kubectl logs -c transcoder --limit-bytes=14" "$(kubectl logs "$LP" -c transcoder --limit-bytes=14 2>&1 | tr '\n' ' ')" "line-1 line-2 "
ko "kubectl logs --timestamps is refused" kubectl logs "$LP" --timestamps
like "  saying why" "$(kubectl logs "$LP" --timestamps 2>&1)" "timestamps is not served by the virtual node"
ko "kubectl logs -c nosuch is refused" kubectl logs "$LP" -c nosuch
kubectl logs -f "$LP" --tail=1 >"$T_TMP/follow.out" 2>&1 &
KF=$!
at_exit "kill $KF 2>/dev/null"
fol5() { grep -q line-5 "$T_TMP/follow.out"; }
ok "kubectl logs -f --tail=1: the last line at once" eventually 10 fol5
touch "$dL/more"
folm() { grep -q to-stderr "$T_TMP/follow.out"; }
ok "  then the new lines as they come (stderr too)" eventually 10 folm
is "  and not the older ones" "$(head -1 "$T_TMP/follow.out")" line-5
kill "$KF" 2>/dev/null
wait "$KF" 2>/dev/null
notail() { ! pgrep -f "tail -n 1 -F logs/container.log" >/dev/null; }
ok "the caller gone, the remote tail -F ends" eventually 10 notail
is "the stand-in reached the node with its kubelet-client certificate" \
	"$(openssl x509 -in "$KD/apiserver-kubelet-client.crt" -noout -subject 2>/dev/null | grep -c kube-apiserver-kubelet-client)" 1
KU=https://127.0.0.1:$KP/containerLogs/default/$LP/transcoder
is "kubelet API: no client certificate -> 401" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_CA" "$KU")" 401
is "kubelet API: a client certificate of another CA -> 401" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KUBE_CA" --cert "$T_TMP/rogue.crt" --key "$T_TMP/rogue.key" "$KU")" 401
is "kubelet API: the API server's client certificate -> the log" \
	"$(curl -s --cacert "$KUBE_CA" --cert "$KD/apiserver-kubelet-client.crt" --key "$KD/apiserver-kubelet-client.key" "$KU?tailLines=2")" line-more$'\n'to-stderr
kadmin -X POST -H 'Content-Type: application/json' -d "{\"kubelet_ca\": \"$T_TMP/rogue-ca.crt\"}" "$KA/config" >/dev/null
ko "a kubelet certificate the API server does not trust: kubectl logs fails" kubectl logs "$LP"
like "  on the certificate" "$(kubectl logs "$LP" 2>&1)" "certificate verify failed"
kadmin -X POST -H 'Content-Type: application/json' -d '{"kubelet_ca": ""}' "$KA/config" >/dev/null
touch "$dL/stop"
ok "kubectl delete the log pod" kubectl delete pod "$LP"
stop_vn
done_testing
