#!/usr/bin/env bash
# 02-kube-fake: the Kubernetes API stand-in is good enough for the real
# kubectl (get, label, cordon, taint, drain with a PodDisruptionBudget,
# apply, delete), for bootstrap tokens + the cluster-info JWS (checked here
# with openssl, not with the stand-in's code), for the stub kubeadm's joins
# (valid and refused), and for Lease optimistic concurrency.  It starts its
# own instance; no full stack needed.
. "$(dirname "$0")/../lib.sh"

for t in kubectl openssl python3 curl jq; do
	command -v "$t" >/dev/null || { echo "not ok 1 - $T_NAME: $t is not installed"; exit 1; }
done
D=$T_TMP/kube
mkdir -p "$D" "$T_TMP/pod"
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
$PY "$RP_TOP/tests/fakes/kube.py" --dir "$D" --port-file "$D/port" --ready-delay 1.5 2>"$T_TMP/fake.err" &
FPID=$!
at_exit "kill $FPID 2>/dev/null; wait $FPID 2>/dev/null"
for _ in $(seq 100); do [ -s "$D/port" ] && break; sleep 0.1; done
if [ ! -s "$D/port" ]; then
	cat "$T_TMP/fake.err" >&2
	echo "not ok 1 - $T_NAME: the Kubernetes stand-in did not start"; exit 1
fi
PORT=$(cat "$D/port")
URL=https://127.0.0.1:$PORT
TOKEN=$(cat "$D/admin-token")
export KUBECONFIG=$D/kubeconfig KUBECACHEDIR=$T_TMP/kcache
K() { kubectl --request-timeout=10s "$@"; }

# api METHOD PATH [BODY [CONTENT-TYPE]] : body -> $T_TMP/b, prints the status
api() {
	curl -s -o "$T_TMP/b" -w '%{http_code}' --cacert "$D/ca.crt" -X "$1" -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: ${4:-application/json}" ${3+--data "$3"} "$URL$2"
}
jb() { jq -r "$1" "$T_TMP/b"; }
admin() { api POST "/_admin/$1" "${2:-{\}}" >/dev/null; }
evictions() { # the pods kubectl or anyone asked to evict, sorted
	api GET /_admin/requests >/dev/null
	jq -r '.[] | select(.verb=="POST" and (.path|endswith("/eviction"))) | .path' "$T_TMP/b" |
		awk -F/ '{print $(NF-1)}' | sort -u | tr '\n' ' '
}
on_node() { # the pods bound to node $1, by the API's fieldSelector
	curl -s --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/pods?fieldSelector=spec.nodeName%3D$1" |
		jq -j '.items[] | .metadata.name + " "'
}
# jget PATH JQ : one field of an object, read with curl (faster than kubectl)
jget() { curl -s --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" "$URL$1" | jq -j "$2"; }
# true when the object's Ready condition (node) or phase (pod) says so
node_ready() { [ "$(jget "/api/v1/nodes/$1" '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }

# --- TLS, token, discovery --------------------------------------------------
is "TLS verifies against the generated CA (SAN 127.0.0.1)" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/nodes")" 200
is "a wrong bearer token is refused" \
	"$(curl -s -o "$T_TMP/b" -w '%{http_code}' --cacert "$D/ca.crt" -H "Authorization: Bearer nope" "$URL/api/v1/nodes")" 401
is "... with a Status object" "$(jb '.kind + " " + .reason')" "Status Unauthorized"
is "kubeconfig points at the stand-in" "$(K config view --minify -o jsonpath='{.clusters[0].cluster.server}')" "$URL"
rc "kubectl version talks to the server" 0 K version
like "... and sees v1.32" "$(cat "$T_TMP/.out")" 'Server Version: v1\.32'

# --- kubectl get ------------------------------------------------------------
rc "kubectl get nodes" 0 K get nodes
out=$(cat "$T_TMP/.out")
like "three nodes, all Ready" "$(echo "$out" | awk 'NR>1 && $2=="Ready"' | wc -l)" '^3$'
like "cp-1 is the control plane" "$out" 'cp-1 +Ready +control-plane'
is "get nodes -l gpu-type=local-baseline" "$(K get nodes -l gpu-type=local-baseline -o name | tr '\n' ' ')" \
	"node/gpu-base-1 node/gpu-base-2 "
is "get nodes -l gpu-type=runpod is empty" "$(K get nodes -l gpu-type=runpod -o name)" ""
is "the baseline taint" "$(jget /api/v1/nodes/gpu-base-1 '.spec.taints[0] | .key + "=" + .value + ":" + .effect')" \
	"gpu-type=local-baseline:NoSchedule"
rc "kubectl get pods -A -o wide" 0 K get pods -A -o wide
out=$(cat "$T_TMP/.out")
like "wide output has the NODE column" "$(echo "$out" | head -1)" 'NAMESPACE +NAME +READY +STATUS .* NODE '
like "a DaemonSet pod on every node" "$(echo "$out" | grep -c nvidia-device-plugin)" '^3$'
like "the transcoder pair runs on the baselines" "$(echo "$out" | grep transcoder | awk '{print $8}' | sort | tr '\n' ' ')" \
	'^gpu-base-1 gpu-base-2 $'
is "the mirror pod is marked" "$(K -n kube-system get pod kube-apiserver-cp-1 -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.mirror}' | wc -c | tr -d ' ')" 32
is "the PDB allows one disruption" "$(jget /apis/policy/v1/namespaces/default/poddisruptionbudgets/transcoder '.status | "\(.disruptionsAllowed)/\(.currentHealthy)/\(.desiredHealthy)"')" "1/2/1"
is "get nonexistent node: NotFound" "$(K get node nope 2>&1)" 'Error from server (NotFound): nodes "nope" not found'

# --- label, selectors, cordon, taint ----------------------------------------
ok "kubectl label node" K label node gpu-base-1 rp-test=yes
is "label selector =" "$(K get nodes -l rp-test=yes -o name)" "node/gpu-base-1"
is "label selector in + !exists" "$(K get nodes -l 'gpu-type in (local-baseline,runpod),!rp-test' -o name)" "node/gpu-base-2"
is "label selector !=" "$(K get nodes -l 'rp-test!=yes,gpu-type' -o name)" "node/gpu-base-2"
ok "kubectl label node (remove)" K label node gpu-base-1 rp-test-
is "... removed" "$(K get nodes -l rp-test -o name)" ""
ok "kubectl cordon" K cordon gpu-base-2
like "cordoned node shows SchedulingDisabled" "$(K get node gpu-base-2)" 'Ready,SchedulingDisabled'
is "spec.unschedulable is set" "$(jget /api/v1/nodes/gpu-base-2 .spec.unschedulable)" true
api GET /_admin/requests >/dev/null
is "kubectl cordon sent a strategic merge patch" \
	"$(jq -r '[.[] | select(.verb=="PATCH" and .path=="/api/v1/nodes/gpu-base-2")][-1] | .content_type + " " + .body' "$T_TMP/b")" \
	'application/strategic-merge-patch+json {"spec":{"unschedulable":true}}'
ok "kubectl uncordon" K uncordon gpu-base-2
is "spec.unschedulable is gone" "$(jget /api/v1/nodes/gpu-base-2 '.spec.unschedulable // ""')" ""
ok "kubectl taint" K taint node gpu-base-2 rp-test=x:NoSchedule
is "taints replaced as a list" "$(jget /api/v1/nodes/gpu-base-2 '.spec.taints[] | .key + ":" + .effect + " "')" \
	"rp-test:NoSchedule gpu-type:NoSchedule "
ok "kubectl taint (remove)" K taint node gpu-base-2 rp-test-
is "... removed" "$(jget /api/v1/nodes/gpu-base-2 '.spec.taints[] | .key + " "')" "gpu-type "
is "fieldSelector spec.nodeName" "$(on_node cp-1 | tr ' ' '\n' | sed 's/-[a-z0-9]*$//' | sort | tr '\n' ' ')" \
	"kube-apiserver-cp nvidia-device-plugin-daemonset "
is "unsupported field selector: 400" "$(api GET '/api/v1/nodes?fieldSelector=spec.foo%3Dx')" 400

# --- drain --------------------------------------------------------------------
api DELETE /_admin/requests >/dev/null
rc "drain without --delete-emptydir-data refuses (local storage)" 1 K drain gpu-base-1 --ignore-daemonsets --timeout=10s
like "... naming the emptyDir pod" "$(cat "$T_TMP/.err")" 'Pods with local storage.*segment-cache'
is "... and evicted nothing" "$(evictions)" ""
rc "kubectl drain --dry-run=server" 0 K drain gpu-base-1 --ignore-daemonsets --delete-emptydir-data --dry-run=server
is "... asks for the evictions" "$(evictions)" "segment-cache-5f8c6d9b7-h2vwd transcoder-6d4b9c7f8-x7k2p "
is "... but evicts nothing" "$(on_node gpu-base-1 | wc -w | tr -d ' ')" 3
api DELETE /_admin/requests >/dev/null
rc "kubectl drain --ignore-daemonsets --delete-emptydir-data" 0 K drain gpu-base-1 --ignore-daemonsets --delete-emptydir-data --timeout=20s
like "... reports drained" "$(cat "$T_TMP/.out")" 'node/gpu-base-1 drained'
is "... evicted exactly the transcoder and the cache" "$(evictions)" \
	"segment-cache-5f8c6d9b7-h2vwd transcoder-6d4b9c7f8-x7k2p "
like "only the DaemonSet pod is left on the node" "$(on_node gpu-base-1)" '^nvidia-device-plugin-daemonset-[a-z0-9]+ $'
api GET /_admin/requests >/dev/null
is "... kubectl looked the DaemonSet up" \
	"$(jq -r '[.[] | select(.path=="/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin-daemonset")] | length > 0' "$T_TMP/b")" true
is "... eviction body is a policy/v1 Eviction" \
	"$(jq -r '[.[] | select(.path|endswith("/eviction"))][0].body | fromjson | .apiVersion + " " + .kind' "$T_TMP/b")" "policy/v1 Eviction"
is "the ReplicaSet replaced the transcoder on gpu-base-2" "$(on_node gpu-base-2 | tr ' ' '\n' | grep -c '^transcoder-')" 2
rc "drain of a node with a bare pod needs --force" 1 K drain gpu-base-2 --ignore-daemonsets --delete-emptydir-data --timeout=10s
like "... kubectl says so" "$(cat "$T_TMP/.err")" 'declare no controller.*debug-shell'

# the PodDisruptionBudget: disallowed -> drain times out; allowed -> drain completes
admin pdb '{"name":"transcoder","allow":false}'
is "PDB override: no disruption allowed" "$(jget /apis/policy/v1/namespaces/default/poddisruptionbudgets/transcoder .status.disruptionsAllowed)" 0
t0=$(date +%s)
rc "drain --timeout=3s fails while the PDB disallows" 1 K drain gpu-base-2 --ignore-daemonsets --delete-emptydir-data --force --timeout=3s
like "... on the disruption budget" "$(cat "$T_TMP/.err")" "Cannot evict pod as it would violate the pod's disruption budget"
like "... global timeout" "$(cat "$T_TMP/.err")" 'global timeout reached: 3s'
num_le "... without waiting much past it" $(( $(date +%s) - t0 )) 15
is "the transcoders are still there" "$(on_node gpu-base-2 | tr ' ' '\n' | grep -c '^transcoder-')" 2
K drain gpu-base-2 --ignore-daemonsets --delete-emptydir-data --force --timeout=30s >"$T_TMP/drain.out" 2>&1 &
DPID=$!
sleep 1.5
admin pdb '{"name":"transcoder","allow":true}'
t0=$(date +%s)
wait $DPID; drc=$?
is "a drain that waited on the PDB completes once it allows" "$drc" 0
like "... kubectl retried after its 5 s back-off" "$(cat "$T_TMP/drain.out")" 'will retry after 5s'
num_le "... promptly" $(( $(date +%s) - t0 )) 15
like "gpu-base-2 has only its DaemonSet pod" "$(on_node gpu-base-2)" '^nvidia-device-plugin-daemonset-[a-z0-9]+ $'
admin pdb '{"name":"transcoder","allow":null}'

# a PDB computed from live pods, with kubectl apply building the scene
cat >"$T_TMP/scene.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: burst-t, labels: {gpu-type: runpod}}
---
apiVersion: v1
kind: Pod
metadata: {name: solo-1, namespace: default, labels: {app: solo}}
spec: {nodeName: burst-t, containers: [{name: c, image: busybox}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: solo, namespace: default}
spec: {minAvailable: 1, selector: {matchLabels: {app: solo}}}
EOF
ok "kubectl apply -f (node, pod, PDB)" K apply -f "$T_TMP/scene.yaml"
ok "the applied node becomes Ready" eventually 5 node_ready burst-t
pod_running() { [ "$(jget "/api/v1/namespaces/default/pods/$1" .status.phase)" = Running ]; }
ok "... and its pod Running" eventually 5 pod_running solo-1
EV='{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"solo-1","namespace":"default"}}'
is "evicting the only pod of a minAvailable=1 budget: 429" "$(api POST /api/v1/namespaces/default/pods/solo-1/eviction "$EV")" 429
is "... with the real message" "$(jb .message)" "Cannot evict pod as it would violate the pod's disruption budget."
is "... and the budget as cause" "$(jb '.details.causes[0].message')" "The disruption budget solo needs 1 healthy pods and has 1 currently"
K run solo-2 --image=busybox --labels=app=solo --overrides='{"spec":{"nodeName":"burst-t"}}' >/dev/null 2>&1
pdb_allows() { [ "$(jget "/apis/policy/v1/namespaces/default/poddisruptionbudgets/$1" .status.disruptionsAllowed)" = "$2" ]; }
ok "a second pod makes one disruption allowed" eventually 5 pdb_allows solo 1
is "now the eviction is accepted" "$(api POST /api/v1/namespaces/default/pods/solo-1/eviction "$EV")" 201
pod_gone() { [ "$(api GET "/api/v1/namespaces/default/pods/$1")" = 404 ]; }
ok "... and the pod goes away" eventually 3 pod_gone solo-1
is "evicting a missing pod: 404" "$(api POST /api/v1/namespaces/default/pods/solo-1/eviction "$EV")" 404
ok "kubectl delete pod (waits with a watch)" K delete pod solo-2 --timeout=10s
ok "kubectl delete node" K delete node burst-t
is "... it is gone" "$(api GET /api/v1/nodes/burst-t)" 404
is "... with a NotFound Status" "$(jb '.reason + " " + .message')" 'NotFound nodes "burst-t" not found'

# --- bootstrap tokens and cluster-info ----------------------------------------
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
EXP=$(date -u -d '+15 min' +%Y-%m-%dT%H:%M:%SZ)
tok_secret() { # ID SECRET EXPIRATION
	printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bootstrap-token-%s","namespace":"kube-system"},"type":"bootstrap.kubernetes.io/token","stringData":{"token-id":"%s","token-secret":"%s","expiration":"%s","usage-bootstrap-authentication":"true","usage-bootstrap-signing":"true","auth-extra-groups":"system:bootstrappers:kubeadm:default-node-token"}}' "$1" "$1" "$2" "$3"
}
TID=k7x2m9 TSEC=q4w8e2r6t0y5u1i3
is "create a bootstrap token Secret" "$(api POST /api/v1/namespaces/kube-system/secrets "$(tok_secret $TID $TSEC "$EXP")")" 201
is "... stored as base64 data" "$(jb '.data["token-secret"]' | base64 -d)" "$TSEC"
is "... without stringData" "$(jb '.stringData')" null
is "the same name again: 409 AlreadyExists" "$(api POST /api/v1/namespaces/kube-system/secrets "$(tok_secret $TID $TSEC "$EXP")")" 409
is "... reason" "$(jb .reason)" AlreadyExists
jws_of() { api GET /api/v1/namespaces/kube-public/configmaps/cluster-info >/dev/null; jb ".data[\"jws-kubeconfig-$1\"] // empty"; }
ok "the signer adds jws-kubeconfig-<id> to cluster-info" eventually 5 sh -c "[ -n \"\$(curl -s --cacert '$D/ca.crt' '$URL/api/v1/namespaces/kube-public/configmaps/cluster-info' | jq -r '.data[\"jws-kubeconfig-$TID\"] // empty')\" ]"
JWS=$(jws_of $TID)
KC=$(jb '.data.kubeconfig')
jq -j '.data.kubeconfig' "$T_TMP/b" >"$T_TMP/kc"
is "cluster-info is readable without a token (as in kubeadm clusters)" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" "$URL/api/v1/namespaces/kube-public/configmaps/cluster-info")" 200
# as kubeadm writes it: the API server's advertise address (reachable from the
# node network only), not the 127.0.0.1 address the harness uses
like "cluster-info's kubeconfig names the advertise address" "$KC" "server: https://10\.0\.0\.10:6443"
unlike "... not a loopback address" "$KC" "server: https://(127\.|localhost)"
APORT=$(cat "$D/apiserver-port")
SANS=$(openssl s_client -connect "127.0.0.1:$APORT" -servername kubernetes </dev/null 2>/dev/null |
	openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
is "the node listener's certificate has kubeadm's names" "$SANS" \
	"DNS:cp-1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IPAddress:10.96.0.1,IPAddress:10.0.0.10"
is "... signed by the cluster CA" "$(openssl s_client -connect "127.0.0.1:$APORT" -CAfile "$D/ca.crt" -verify_return_error \
	-verify_hostname kubernetes </dev/null 2>/dev/null | grep -m1 -c 'Verify return code: 0 (ok)')" 1
is "... and 127.0.0.1 is not one of them" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" \
	"https://127.0.0.1:$APORT/version" 2>/dev/null)" 000
is "... but kubernetes is (curl --connect-to)" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" \
	--connect-to "kubernetes:$APORT:127.0.0.1:$APORT" "https://kubernetes:$APORT/version")" 200
H=${JWS%%.*} S=${JWS##*.}
like "the JWS is detached (header..signature)" "$JWS" '^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$'
is "... header" "$(printf '%s' "$H" | tr '_-' '/+' | base64 -d 2>/dev/null)" "{\"alg\":\"HS256\",\"kid\":\"$TID\"}"
WANT=$(printf '%s.%s' "$H" "$(b64url <"$T_TMP/kc")" | openssl dgst -sha256 -mac HMAC -macopt "key:$TSEC" -binary | b64url)
is "... signature = HMAC-SHA256(token secret, header.payload) (openssl)" "$S" "$WANT"
TID2=e9d8c7 TSEC2=z1x2c3v4b5n6m7l8
api POST /api/v1/namespaces/kube-system/secrets "$(tok_secret $TID2 $TSEC2 2020-01-01T00:00:00Z)" >/dev/null
sleep 1.5
is "an expired token is not signed" "$(jws_of $TID2)" ""
ok "... and the token cleaner deletes it" eventually 3 sh -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$D/ca.crt' -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/namespaces/kube-system/secrets/bootstrap-token-$TID2')\" = 404 ]"

# --- the stub kubeadm -----------------------------------------------------------
HASH=sha256:$(openssl x509 -pubkey -noout -in "$D/ca.crt" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
export KUBE_URL=$URL KUBE_ADMIN_TOKEN=$TOKEN KUBE_CA=$D/ca.crt RP_POD_DIR=$T_TMP/pod
# The stub computes the CA pin in Python (walking the certificate's DER, no
# openssl process per join): it must equal openssl's for the stand-in's CA,
# an EC and an RSA certificate (v3), a v1 one (no version field), the first
# of a bundle; and text without a certificate pins the empty input, as
# openssl's empty output did.
pin_openssl() { echo "sha256:$(openssl x509 -pubkey -noout -in "$1" 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)"; }
pin_stub() { # FILE...: the stub's pin of each, one a line
	$PY -I -S - "$RP_TOP/tests/fakes" "$@" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
import kubeadm_stub
for f in sys.argv[2:]:
    with open(f) as fh:
        print(kubeadm_stub.spki_pin(fh.read()))
PYEOF
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_TMP/ec.key" -out "$T_TMP/ec.crt" -subj /CN=pin-ec -days 1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T_TMP/rsa.key" -out "$T_TMP/rsa.crt" -subj /CN=pin-rsa -days 1 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T_TMP/v1.key" -subj /CN=pin-v1 2>/dev/null |
	openssl x509 -req -signkey "$T_TMP/v1.key" -days 1 -out "$T_TMP/v1.crt" 2>/dev/null
cat "$T_TMP/rsa.crt" "$T_TMP/ec.crt" >"$T_TMP/bundle.crt"
echo "no certificate here" >"$T_TMP/none.crt"
cp "$D/ca.crt" "$T_TMP/stand-in-CA.crt"
for c in stand-in-CA ec rsa v1 bundle none; do
	is "CA pin in Python = openssl's: $c" "$(pin_stub "$T_TMP/$c.crt")" "$(pin_openssl "$T_TMP/$c.crt")"
done
isnt "... and the stand-in's CA pins to a key, not to the empty input" "$HASH" "sha256:$(printf '' | sha256sum | cut -d' ' -f1)"
# kubeadm.log quotes each argument as shlex.quote does (the stub has its own, without re)
is "the stub's quoting = shlex.quote" "$($PY -I -S - "$RP_TOP/tests/fakes" <<'PYEOF'
import shlex, sys
sys.path.insert(0, sys.argv[1])
import kubeadm_stub
words = ["", "plain", "a b", "it's", "--config=x.yaml", "é", "$HOME", "a_b@c%d+e=f:g,h.i/j-k", "tab\tx", "*"]
print(sum(kubeadm_stub._quote(w) != shlex.quote(w) for w in words))
PYEOF
)" 0
mkdir -p "$T_TMP/bin"   # the pod's GPUs, as the stub kubeadm asks nvidia-smi
printf '#!/bin/sh\necho "GPU 0: NVIDIA A100 (UUID: GPU-0)"\necho "GPU 1: NVIDIA A100 (UUID: GPU-1)"\n' >"$T_TMP/bin/nvidia-smi"
chmod +x "$T_TMP/bin/nvidia-smi"
PATH=$T_TMP/bin:$PATH
KA=$RP_TOP/tests/fakes/kubeadm
joincfg() { # NAME TOKEN HASH [extra bootstrapToken line]
	cat <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "127.0.0.1:$PORT"
    token: "$2"
    caCertHashes: ["$3"]
${4:-}
nodeRegistration:
  name: $1
  taints:
  - {key: "gpu-burst/initializing", value: "true", effect: "NoSchedule"}
  kubeletExtraArgs:
  - {name: node-labels, value: "gpu-type=runpod,nvidia.com/gpu=true"}
EOF
}
joincfg burst-j1 "$TID.$TSEC" "$HASH" >"$T_TMP/j1.yaml"
rc "kubeadm join --config (valid token, pinned CA)" 0 "$KA" join --config "$T_TMP/j1.yaml"
like "... prints kubeadm's success" "$(cat "$T_TMP/.out")" 'This node has joined the cluster'
is "... the node is registered" "$(api GET /api/v1/nodes/burst-j1)" 200
is "... NotReady at first" "$(jb '.status.conditions[] | select(.type=="Ready") | .status')" False
is "... with the node-labels" "$(jb '.metadata.labels["gpu-type"] + "," + .metadata.labels["nvidia.com/gpu"]')" "runpod,true"
is "... and the registration taint" "$(jb '.spec.taints[0].key + "=" + .spec.taints[0].value + ":" + .spec.taints[0].effect')" \
	"gpu-burst/initializing=true:NoSchedule"
ok "... and becomes Ready after the delay" eventually 5 node_ready burst-j1
is "... with the pod's GPUs allocatable" "$(jget /api/v1/nodes/burst-j1 '.status.allocatable["nvidia.com/gpu"]')" 2
is "kubeadm.log: the invocation on one line" "$(head -1 "$T_TMP/pod/kubeadm.log")" "kubeadm join --config $T_TMP/j1.yaml"
like "kubeadm.log: then the JoinConfiguration" "$(cat "$T_TMP/pod/kubeadm.log")" "  \| kubeadm.k8s.io/v1beta4|  \| apiVersion: kubeadm.k8s.io/v1beta4"
api GET /_admin/joins >/dev/null
is "the stand-in recorded the join" "$(jb '.[-1] | "\(.ok) \(.node) \(.token_id)"')" "true burst-j1 $TID"
rc "joining the same Ready node name again is refused" 1 "$KA" join --config "$T_TMP/j1.yaml"
like "... as kubeadm says" "$(cat "$T_TMP/.err")" 'a Node with name "burst-j1" and status "Ready" already exists'
rc "kubeadm join, flag form" 0 "$KA" join "127.0.0.1:$PORT" --token "$TID.$TSEC" --discovery-token-ca-cert-hash "$HASH" --node-name burst-j2
is "... registered" "$(api GET /api/v1/nodes/burst-j2)" 200

WRONG=sha256:$(printf x | sha256sum | cut -d' ' -f1)
joincfg burst-bad "$TID.$TSEC" "$WRONG" >"$T_TMP/bad1.yaml"
rc "a wrong CA hash is refused" 1 "$KA" join --config "$T_TMP/bad1.yaml"
like "... with kubeadm's message" "$(cat "$T_TMP/.err")" "none of the public keys \"$HASH\" are pinned"
joincfg burst-bad "zzzzzz.$TSEC" "$HASH" >"$T_TMP/bad2.yaml"
rc "an unknown token is refused" 1 "$KA" join --config "$T_TMP/bad2.yaml"
like "... (no JWS for it)" "$(cat "$T_TMP/.err")" 'could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"'
joincfg burst-bad "$TID.0000000000000000" "$HASH" >"$T_TMP/bad3.yaml"
rc "a wrong token secret is refused" 1 "$KA" join --config "$T_TMP/bad3.yaml"
rc "--discovery-token-unsafe-skip-ca-verification is refused" 1 "$KA" join "127.0.0.1:$PORT" --token "$TID.$TSEC" \
	--discovery-token-unsafe-skip-ca-verification --node-name burst-bad
like "... saying why" "$(cat "$T_TMP/.err")" 'unsafe-skip-ca-verification'
joincfg burst-bad "$TID.$TSEC" "$HASH" "    unsafeSkipCAVerification: true" >"$T_TMP/bad4.yaml"
rc "unsafeSkipCAVerification: true in the config is refused" 1 "$KA" join --config "$T_TMP/bad4.yaml"
rc "no CA hash at all is refused" 1 "$KA" join "127.0.0.1:$PORT" --token "$TID.$TSEC" --node-name burst-bad
like "... with kubeadm's validation message" "$(cat "$T_TMP/.err")" 'without caCertHashes can be unsafe'
rc "the wrong API endpoint is refused" 1 "$KA" join "127.0.0.1:1" --token "$TID.$TSEC" --discovery-token-ca-cert-hash "$HASH" --node-name burst-bad
sed 's/v1beta4/v1beta3/; s/kubeletExtraArgs:/kubeletExtraArgs: {node-labels: "gpu-type=runpod"}/; /- {name: node-labels/d' \
	"$T_TMP/j1.yaml" | sed 's/burst-j1/burst-j3/' >"$T_TMP/j3.yaml"
rc "a v1beta3 JoinConfiguration (kubeletExtraArgs as a map) is accepted" 0 "$KA" join --config "$T_TMP/j3.yaml"
sed 's/v1beta3/v1beta4/' "$T_TMP/j3.yaml" | sed 's/burst-j3/burst-j4/' >"$T_TMP/j4.yaml"
rc "... but a map under v1beta4 is a decoding error" 1 "$KA" join --config "$T_TMP/j4.yaml"
is "none of the refused joins registered a node" "$(api GET /api/v1/nodes/burst-bad)" 404
is "... nor burst-j4" "$(api GET /api/v1/nodes/burst-j4)" 404
rc "kubeadm reset -f" 0 "$KA" reset -f
is "kubeadm.log has one line per invocation" "$(grep -c '^kubeadm ' "$T_TMP/pod/kubeadm.log")" 13
is "... the last is the reset" "$(grep '^kubeadm ' "$T_TMP/pod/kubeadm.log" | tail -1)" "kubeadm reset -f"
is "kubeadm version -o short" "$("$KA" version -o short)" "v1.32.4"
api DELETE /api/v1/namespaces/kube-system/secrets/bootstrap-token-$TID >/dev/null
ok "deleting the token removes its signature" eventually 3 sh -c \
	"! curl -s --cacert '$D/ca.crt' '$URL/api/v1/namespaces/kube-public/configmaps/cluster-info' | grep -q 'jws-kubeconfig-$TID'"
joincfg burst-j5 "$TID.$TSEC" "$HASH" >"$T_TMP/j5.yaml"
rc "... after which the token no longer joins" 1 "$KA" join --config "$T_TMP/j5.yaml"

# --- leases, patches, watch ------------------------------------------------------
LEASE='{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"rp-autoscale","namespace":"default"},"spec":{"holderIdentity":"a","leaseDurationSeconds":30}}'
LP=/apis/coordination.k8s.io/v1/namespaces/default/leases
is "create a Lease" "$(api POST $LP "$LEASE")" 201
RV1=$(jb .metadata.resourceVersion)
is "PUT with the current resourceVersion" "$(api PUT $LP/rp-autoscale "$(jq -c --arg rv "$RV1" '.metadata.resourceVersion=$rv | .spec.holderIdentity="b"' <<<"$LEASE")")" 200
RV2=$(jb .metadata.resourceVersion)
isnt "... bumps the resourceVersion" "$RV2" "$RV1"
is "PUT with a stale resourceVersion: 409" "$(api PUT $LP/rp-autoscale "$(jq -c --arg rv "$RV1" '.metadata.resourceVersion=$rv | .spec.holderIdentity="c"' <<<"$LEASE")")" 409
is "... Conflict" "$(jb .reason)" Conflict
like "... the apiserver's wording" "$(jb .message)" 'Operation cannot be fulfilled on leases.coordination.k8s.io "rp-autoscale": the object has been modified'
is "merge-patch with a stale resourceVersion: 409" \
	"$(api PATCH $LP/rp-autoscale "{\"metadata\":{\"resourceVersion\":\"$RV1\"},\"spec\":{\"holderIdentity\":\"d\"}}" application/merge-patch+json)" 409
is "the holder is still b" "$(api GET $LP/rp-autoscale >/dev/null; jb .spec.holderIdentity)" b
is "json-patch: test + replace" \
	"$(api PATCH /api/v1/nodes/gpu-base-2 '[{"op":"test","path":"/metadata/name","value":"gpu-base-2"},{"op":"add","path":"/metadata/labels/rp-jp","value":"1"}]' application/json-patch+json)" 200
is "... applied" "$(jb '.metadata.labels["rp-jp"]')" 1
is "json-patch with a failing test: 422" \
	"$(api PATCH /api/v1/nodes/gpu-base-2 '[{"op":"test","path":"/metadata/name","value":"x"}]' application/json-patch+json)" 422
is "merge-patch null removes a label" \
	"$(api PATCH /api/v1/nodes/gpu-base-2 '{"metadata":{"labels":{"rp-jp":null}}}' application/merge-patch+json; jb '.metadata.labels["rp-jp"] // "gone"')" "200gone"
RV=$(api GET /api/v1/pods >/dev/null; jb .metadata.resourceVersion)
curl -sN --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/namespaces/default/pods?watch=true&resourceVersion=$RV&timeoutSeconds=2&fieldSelector=metadata.name%3Dwatched" >"$T_TMP/watch" &
WPID=$!
sleep 0.3
K run watched --image=busybox --overrides='{"spec":{"nodeName":"cp-1"}}' >/dev/null 2>&1
wait $WPID
like "watch=true streams the ADDED event" "$(head -1 "$T_TMP/watch")" '"type":"ADDED".*"name":"watched"'
unlike "... and only the selected object" "$(cat "$T_TMP/watch")" '"name":"(debug-shell|transcoder)'
ok "kubectl taint ... :NoExecute" K taint node cp-1 rp-evict=now:NoExecute
ok "... evicts the pod that does not tolerate it" eventually 3 pod_gone watched
is "... not the ones that do" "$(on_node cp-1 | wc -w | tr -d ' ')" 2
is "list with limit gives a continue token" "$(api GET '/api/v1/pods?limit=2' >/dev/null; jb '(.items|length|tostring) + " " + (.metadata.continue != null|tostring)')" "2 true"
C=$(jb .metadata.continue)
is "... and the next page follows" "$(api GET "/api/v1/pods?limit=100&continue=$C" >/dev/null; jb '.items[0].metadata.name != null')" true

# --- admin -----------------------------------------------------------------------
admin node-status '{"node":"cp-1","ready":false}'
like "admin node-status: NotReady" "$(K get node cp-1)" 'cp-1 +NotReady'
is "... its pods are not Ready any more" "$(jget /api/v1/namespaces/kube-system/pods/kube-apiserver-cp-1 '.status.conditions[] | select(.type=="Ready") | .status')" False
ready_since() { date -u -d "$(jget "/api/v1/nodes/$1" '.status.conditions[] | select(.type=="Ready") | .lastTransitionTime')" +%s; }
admin node-status '{"node":"cp-1","ready":false,"since":600}'
s_ago=$(($(date +%s) - $(ready_since cp-1)))
num_ge "admin node-status since: the NotReady transition backdated 600 s" "$s_ago" 600
num_le "... not more" "$s_ago" 610
like "... and still NotReady" "$(K get node cp-1)" 'cp-1 +NotReady'
is "admin node-status since: a negative age is refused (400)" "$(api POST /_admin/node-status '{"node":"cp-1","ready":false,"since":-1}')" 400
admin node-status '{"node":"burst-j2","ready":true,"allocatable":{"nvidia.com/gpu":null}}'
is "admin node-status: a GPU that went away" "$(jget /api/v1/nodes/burst-j2 '.status.allocatable["nvidia.com/gpu"] // "none"')" none
admin reset
is "admin reset: the initial cluster again" "$(K get nodes -o name | tr '\n' ' ')" "node/cp-1 node/gpu-base-1 node/gpu-base-2 "
is "... with its pods" "$(on_node gpu-base-1 | wc -w | tr -d ' ')" 3

done_testing
