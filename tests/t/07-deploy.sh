#!/usr/bin/env bash
# deploy/ (ServiceAccount, RBAC, Deployment, Service, KEDA ScaledObject)
# applied to the Kubernetes stand-in with the real kubectl's
# --dry-run=server; every API call the rp tools made (in this test, and
# before it in the same suite run while the stand-in's request log held
# them) allowed by deploy/'s RBAC; the tools running with the in-cluster
# config (RP_TEST_SA_DIR standing in for the service-account mount) and
# with an exec credential plugin; the loop container's own command (the
# early trigger with --period, its ticks under the Lease) run as two
# replicas: one acts.
. "$(dirname "$0")/../lib.sh"
need_stack
PY=/usr/bin/python3
run=$$
KCA="$(dirname "$KUBECONFIG")/ca.crt"
"$KAFKACTL" topic "dp$run" 1 >/dev/null || diag "kafkactl topic failed"
"$KAFKACTL" commit "gdp$run" "dp$run" 0 0 >/dev/null || diag "kafkactl commit failed"
lwq=(--group "gdp$run" --topic "dp$run" --set prometheus.url=http://127.0.0.1:9)
kadmin() { curl -sf --cacert "$KCA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }

# ---- kubectl apply --dry-run=server ----
# as on a real API server, a dry-run Namespace does not exist for the
# objects in it: the namespace is created for real first
kubectl get namespace rp >/dev/null 2>&1 || kubectl create --save-config -f "$RP_TOP/deploy/00-namespace.yaml" >/dev/null
rc "kubectl apply --dry-run=server -f deploy/" 0 kubectl apply --dry-run=server -f "$RP_TOP/deploy/"
out=$(cat "$T_TMP/.out")
for o in serviceaccount/rp clusterrole.rbac.authorization.k8s.io/rp clusterrolebinding.rbac.authorization.k8s.io/rp \
	rolebinding.rbac.authorization.k8s.io/rp-bootstrap-tokens role.rbac.authorization.k8s.io/rp-lease \
	configmap/rp-config deployment.apps/rp service/rp-lagwatch \
	scaledobject.keda.sh/transcoder triggerauthentication.keda.sh/rp-lagwatch-token \
	serviceaccount/rp-virtual-node clusterrole.rbac.authorization.k8s.io/rp-virtual-node \
	clusterrolebinding.rbac.authorization.k8s.io/rp-virtual-node configmap/rp-virtual-node \
	persistentvolumeclaim/rp-virtual-node-state deployment.apps/rp-virtual-node; do
	like "  $o (server dry run)" "$out" "^$o (created|configured|unchanged) \(server dry run\)"
done
is "every object of deploy/ was sent" "$(grep -c '(server dry run)' <<<"$out")" \
	"$(cat "$RP_TOP"/deploy/*.yaml | grep -c '^kind:')"
ko "dry run: no ServiceAccount was created" kubectl -n rp get serviceaccount rp
ko "dry run: no ClusterRole was created" kubectl get clusterrole rp
ok "the Service names both ports" sh -c "grep -q 'name: grpc, port: 9465' '$RP_TOP/deploy/20-deployment.yaml'"

# ---- the tools' calls: a burst node seen by rp-lagwatch, drained by rp-drain ----
n=demo-burst-dp$run
id=$(curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
	"$RUNPOD_URL/v2/pods" -d "{\"name\":\"$n\",\"gpu\":{\"id\":\"NVIDIA RTX A6000\",\"count\":1},\"image\":\"rp/worker\"}" | jq -r .id)
ledger_pod "$id" "$n" "$n" # ours, as rp-launch and rp-join ledger it: rp-drain terminates only such pods
kubectl apply -f - >/dev/null <<Y
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {gpu-type: runpod, nvidia.com/gpu: "true", kubernetes.io/hostname: $n, rp-scene: $n}
  annotations: {rp.io/pod-id: "$id"}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: dp-$run, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: dp-$run}}
  template:
    metadata: {labels: {app: dp-$run}}
    spec:
      nodeSelector: {rp-scene: $n}
      terminationGracePeriodSeconds: 1
      containers: [{name: w, image: transcoder}]
Y
at_exit "kubectl delete rs dp-$run --wait=false >/dev/null 2>&1; kubectl delete node $n --wait=false >/dev/null 2>&1"
kadmin -H 'Content-Type: application/json' -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$n\",\"ready\":true}" >/dev/null
running() { [ "$(kubectl get pods -l "app=dp-$run" --field-selector "spec.nodeName=$n,status.phase=Running" -o name | wc -l)" -ge 1 ]; }
ok "a burst node with a workload pod" eventually 30 running
rc "rp-lagwatch sees it" 0 rp-lagwatch --once "${lwq[@]}"
num_ge "burst nodes counted" "$(jq -r 'select(.type=="decision") | .burst_nodes' "$T_TMP/.out")" 1

# in-cluster config: no kubeconfig, the service account's token and CA
mkdir -p "$T_TMP/sa" "$T_TMP/home"
printf '%s\n' "$KUBE_ADMIN_TOKEN" >"$T_TMP/sa/token"
cp "$KCA" "$T_TMP/sa/ca.crt"
port=${KUBE_URL##*:}
incluster() { env -u KUBECONFIG HOME="$T_TMP/home" RP_TEST_SA_DIR="$T_TMP/sa" \
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$port" "$@" --set kube.kubeconfig=; }
rc "in-cluster: rp-lagwatch with the service account" 0 incluster rp-lagwatch --once "${lwq[@]}"
num_ge "  the nodes, through the in-cluster config" "$(jq -r 'select(.type=="decision") | .burst_nodes' "$T_TMP/.out")" 1
rm "$T_TMP/sa/token"
rc "in-cluster, no token: exit 75 (nodes unknown)" 75 incluster rp-lagwatch --once "${lwq[@]}"
like "  the reason names the token file" "$(jq -r 'select(.type=="decision") | .reason' "$T_TMP/.out")" "$T_TMP/sa/token"

# exec credential plugin: the token from a command, no shell
cat >"$T_TMP/cred" <<SH
#!/bin/sh
echo run >>"$T_TMP/cred.runs"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "\$(cat "$T_TMP/cred.tok")"
SH
chmod 700 "$T_TMP/cred"
printf '%s' "$KUBE_ADMIN_TOKEN" >"$T_TMP/cred.tok"
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
cat >"$T_TMP/exec.kc" <<Y
apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "$server", certificate-authority: "$KCA"}}]
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./cred, interactiveMode: Never}
Y
rc "exec plugin: rp-lagwatch" 0 rp-lagwatch --once "${lwq[@]}" --set "kube.kubeconfig=$T_TMP/exec.kc"
num_ge "  nodes seen with the plugin's token" "$(jq -r 'select(.type=="decision") | .burst_nodes' "$T_TMP/.out")" 1
is "  the plugin ran once" "$(wc -l <"$T_TMP/cred.runs")" 1
unlike "  its token never in the log" "$(cat "$T_TMP/.err")" "$KUBE_ADMIN_TOKEN"

rc "rp-drain drains it" 0 rp-drain -q --node "$n" --force --timeout 60s --skip-checkpoint
like "drained record" "$(cat "$T_TMP/.out")" '"type":"drained"'

# ---- the loop container: the early trigger, every tick under the Lease ----
# (as rp-autoscale-trigger.service and the timer on a systemd host: no
# sleep loop waiting out a period before a hot queue is seen)
rc "the Deployment as the server takes it" 0 kubectl apply --dry-run=server -o json -f "$RP_TOP/deploy/20-deployment.yaml"
loop=$(jq -c '(.items // [.])[] | select(.kind=="Deployment" and .metadata.name=="rp")
	| .spec.template.spec.containers[] | select(.name=="loop")' "$T_TMP/.out")
mapfile -t lcmd < <(jq -r '.command[]' <<<"$loop")
is "the loop container runs rp-lagwatch itself (no shell around it)" "${lcmd[0]}" rp-lagwatch
unlike "  no sleep loop" "${lcmd[*]}" '(^|[ ;])(while|sleep|until)[ ;]'
like "  the early trigger, a poll every second" "${lcmd[*]}" ' --watch 1s( | .* )--trigger '
like "  and the timer: a tick every 15 s whatever the lag" "${lcmd[*]}" ' --period 15s( |$)'
trig=$(jq -r '.command as $c | ($c | index("--trigger")) as $i | if $i then $c[$i + 1] else "" end' <<<"$loop")
like "the trigger's command: rp-autoscale, taking the Lease" "$trig" '^rp-autoscale( .*)? --lock lease( |$)'
like "  in the namespace of deploy/'s Lease Role" "$trig" ' --lease-namespace rp( |$)'
is "  that Role is there" "$(awk '/^kind: Role$/{r=1} r && /name: rp-lease$/{n=1} n && /namespace:/{print $2; exit}' "$RP_TOP/deploy/10-rbac.yaml")" rp
# shellcheck disable=SC2016 # the pod's shell expands it, not this one
like "  as the pod, by name" "$trig" ' --identity "\$POD_NAME"( |$)'
is "  POD_NAME from the downward API" "$(jq -r '.env[] | select(.name=="POD_NAME") | .valueFrom.fieldRef.fieldPath' <<<"$loop")" metadata.name
# that very command, two replicas on the stand-in (a cluster name of its
# own: the reap sees none of the other tests' pods): each ticks at once,
# under its tick lock and the Lease; one holds it and acts, the other not
sed -e "s/^cluster: .*/cluster: dpl$run/" -e "s/^  group: .*/  group: [\"gdp$run\"]/" \
	-e "s/^  topic: .*/  topic: [\"dp$run\"]/" "$RP_CONFIG" >"$T_TMP/loop.yaml"
lpids=()
# shellcheck disable=SC2016 # expanded at exit
at_exit 'for p in "${lpids[@]}"; do kill -TERM "$p" 2>/dev/null; done; kubectl -n rp delete lease rp-autoscale >/dev/null 2>&1'
for r in a b; do
	mkdir -p "$T_TMP/r$r"
	env POD_NAME="rp-$r$run" RP_CONFIG="$T_TMP/loop.yaml" RP_STATE_DIR="$T_TMP/r$r" PATH="$RP_TOP/scripts:$PATH" \
		"${lcmd[@]}" >"$T_TMP/r$r.out" 2>"$T_TMP/r$r.err" &
	lpids+=($!)
done
lholder() { kubectl -n rp get lease rp-autoscale -o jsonpath='{.spec.holderIdentity}'; }
acted() { grep -q '"type":"tick"' "$T_TMP/ra.out" "$T_TMP/rb.out"; }
declined() { grep -q 'msg="lease held by another replica"' "$T_TMP/ra.err" "$T_TMP/rb.err"; }
ok "replicas: a tick acted" eventually 60 acted
ok "replicas: the other's tick found the Lease held" eventually 30 declined
h=$(lholder)
like "  the Lease rp/rp-autoscale is held by one of them" "$h" "^rp-[ab]$run\$"
w=${h#rp-}; w=${w%"$run"}; o=a; [ "$w" = a ] && o=b
num_ge "  the holder ticked and acted" "$(grep -c '"type":"tick"' "$T_TMP/r$w.out")" 1
is "  the other never acted" "$(grep -c '"type":"tick"' "$T_TMP/r$o.out")" 0
like "  it names the holder" "$(cat "$T_TMP/r$o.err")" "msg=\"lease held by another replica\" .*holder=$h"
like "  its tick ran with --lock lease" "$(cat "$T_TMP/r$w.err")" 'msg="tick" id=[^ ]+ lock=lease'
for p in "${lpids[@]}"; do kill -TERM "$p" 2>/dev/null; done
st=""
for p in "${lpids[@]}"; do wait "$p"; st="$st$?"; done
lpids=()
is "  both stop on SIGTERM with status 0" "$st" 00

# ---- every call of the tools allowed by deploy/'s RBAC ----
ok "the stand-in's request log" kadmin -o "$T_TMP/requests.json" "$KUBE_URL/_admin/requests"
rc "rbac-check: every call allowed" 0 "$PY" "$RP_TOP/tests/contract/rbac-check.py" "$RP_TOP/deploy" "$T_TMP/requests.json"
sed 's/^/# /' "$T_TMP/.out"
chk=$(cat "$T_TMP/.out")
for u in "list nodes" "patch nodes" "delete nodes" "list pods" "create pods/eviction" \
	"get coordination.k8s.io/leases" "update coordination.k8s.io/leases"; do
	like "  the calls include: $u" "$chk" "^used: $u\$"
done
# the check itself: a rule less, a call denied
mkdir -p "$T_TMP/deploy"
sed 's/  verbs: \[get, list, patch, delete\]/  verbs: [get, list, delete]/' "$RP_TOP/deploy/10-rbac.yaml" >"$T_TMP/deploy/10-rbac.yaml"
rc "without patch on nodes: denied" 1 "$PY" "$RP_TOP/tests/contract/rbac-check.py" "$T_TMP/deploy" "$T_TMP/requests.json"
like "  naming the call" "$(cat "$T_TMP/.out")" '^DENIED: PATCH /api/v1/nodes/'
done_testing
