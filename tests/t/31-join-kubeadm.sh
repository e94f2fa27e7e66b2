#!/usr/bin/env bash
# rp-join and kubeadm's configuration API (issue 17, item 1): v1beta4 by
# default (kubeletExtraArgs a list of {name, value}, timeouts under
# `timeouts`), v1beta3 only for a pod whose `kubeadm version -o short` is
# below 1.31; and the stub kubeadm reads a configuration as kubeadm does
# (v1beta3 refused from 1.36, strict decoding, token and hash formats).
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # RP_STACK_DIR, SSH_HOSTS, KUBE_* come from stack.env
S=$RP_STACK_DIR
read -r -a H <<<"$SSH_HOSTS"
kadmin() { curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
h=${H[2]} p=${H[2]##*:}
D=$S/hosts/$p
N=$$
at_exit "rm -f '$D/kubeadm-version'; kubectl delete nodes -l rp-test31=$N --wait=false >/dev/null 2>&1"
podrec() { # ID NAME
	printf '{"type":"pod","id":"%s","name":"%s","gpu":"NVIDIA RTX A6000","ssh_host":"%s","ssh_port":%s,"status":"RUNNING"}\n' \
		"$1" "$2" "${h%:*}" "$p"
}
# the JoinConfiguration of the pod's last join (the stub logs it, "  | " prefixed)
lastcfg() { awk '/^kubeadm join --config/{c=""; on=1; next} /^kubeadm /{on=0} on && /^  \| /{c=c substr($0,5) "\n"} END{printf "%s", c}' "$D/kubeadm.log"; }
label() { kubectl label node "$1" "rp-test31=$N" --overwrite >/dev/null 2>&1; }

# ---- a kubeadm 1.36 pod: v1beta4, as kubeadm 1.36 reads nothing else ----
echo v1.36.0 >"$D/kubeadm-version"
podrec k31a "k31-new-$N" >"$T_TMP/in"
rc "kubeadm 1.36: join exit 0" 0 rp-join -o json <"$T_TMP/in"
label "k31-new-$N"
is "node record ready" "$(jq -r 'select(.type=="node") | .ready' "$T_TMP/.out")" true
like "rp-join asked the pod's kubeadm its version" "$(cat "$D/kubeadm.log")" "^kubeadm version -o short"
c=$(lastcfg)
like "the JoinConfiguration is kubeadm.k8s.io/v1beta4" "$c" "^apiVersion: kubeadm.k8s.io/v1beta4$"
like "kubeletExtraArgs is a list of {name, value}" "$(grep -A2 '^  kubeletExtraArgs:' <<<"$c" | tr '\n' '|')" \
	'^  kubeletExtraArgs:\|  - name: "node-labels"\|    value: "[^"]*gpu-type=runpod'
like "the timeouts are v1beta4's" "$(grep -A2 '^timeouts:' <<<"$c" | tr '\n' '|')" \
	'^timeouts:\|  discovery: "[0-9]+s"\|  tlsBootstrap: "[0-9]+s"\|$'
unlike "no v1beta3 discovery.timeout" "$c" '^  timeout:'
is "the stand-in registered it" "$(kubectl get node "k31-new-$N" -o jsonpath='{.metadata.labels.gpu-type}')" runpod

# ---- a kubeadm 1.30 pod: v1beta3 (v1beta4 came with 1.31) ------------------
echo v1.30.6 >"$D/kubeadm-version"
podrec k31b "k31-old-$N" >"$T_TMP/in"
rc "kubeadm 1.30: join exit 0" 0 rp-join -o json <"$T_TMP/in"
label "k31-old-$N"
c=$(lastcfg)
like "the JoinConfiguration is kubeadm.k8s.io/v1beta3" "$c" "^apiVersion: kubeadm.k8s.io/v1beta3$"
like "kubeletExtraArgs is a map" "$(grep -A1 '^  kubeletExtraArgs:' <<<"$c" | tr '\n' '|')" \
	'^  kubeletExtraArgs:\|    node-labels: "[^"]*gpu-type=runpod'
like "the discovery timeout is under discovery" "$c" '^  timeout: "[0-9]+s"$'
unlike "no timeouts (a v1beta4 field)" "$c" '^timeouts:'

# ---- no version file: the stub's default (1.32) gets v1beta4 ---------------
rm -f "$D/kubeadm-version"
podrec k31c "k31-def-$N" >"$T_TMP/in"
rc "kubeadm 1.32: join exit 0" 0 rp-join -o json <"$T_TMP/in"
label "k31-def-$N"
like "v1beta4" "$(lastcfg)" "^apiVersion: kubeadm.k8s.io/v1beta4$"

# ---- issue 17 item 8: waiting for Ready asks for the one node ---------------
# (fieldSelector=metadata.name=NAME, never a list of every node), and a
# re-join under the name of an old NotReady Node -- which the kubelet keeps,
# with the drain's taint and unschedulable -- takes those back.
rn="k31-re-$N"
podrec k31d "$rn" >"$T_TMP/in"
rc "a first join under $rn: exit 0" 0 rp-join -o json <"$T_TMP/in"
label "$rn"
# a drain of it was cut short: cordoned, tainted rp.io/draining, NotReady
kubectl cordon "$rn" >/dev/null 2>&1
kubectl taint node "$rn" rp.io/draining=true:NoSchedule >/dev/null 2>&1
kadmin -o /dev/null -H 'Content-Type: application/json' -X POST "$KUBE_URL/_admin/node-status" -d "{\"node\":\"$rn\",\"ready\":false}"
uid0=$(kubectl get node "$rn" -o jsonpath='{.metadata.uid}')
is "the old Node: NotReady, cordoned, tainted" \
	"$(kubectl get node "$rn" -o json | jq -r '"\(.spec.unschedulable) \([.spec.taints[].key] | index("rp.io/draining") != null)"')" "true true"
kadmin -o /dev/null -X DELETE "$KUBE_URL/_admin/requests"
podrec k31e "$rn" >"$T_TMP/in"
rc "a re-join under the old NotReady Node's name: exit 0" 0 rp-join -o json <"$T_TMP/in"
is "node record ready" "$(jq -r 'select(.type=="node") | .ready' "$T_TMP/.out")" true
is "the kubelet kept the old Node (same uid)" "$(kubectl get node "$rn" -o jsonpath='{.metadata.uid}')" "$uid0"
n=$(kubectl get node "$rn" -o json)
is "Ready" "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' <<<"$n")" True
is "no longer unschedulable" "$(jq -r '.spec.unschedulable // false' <<<"$n")" false
is "no rp.io/draining taint" "$(jq -r '[.spec.taints[]?.key] | index("rp.io/draining")' <<<"$n")" null
is "annotated with the new pod" "$(jq -r '.metadata.annotations["rp.io/pod-id"]' <<<"$n")" k31e
kadmin "$KUBE_URL/_admin/requests?agent=rp/" >"$T_TMP/kreq.json"
is "rp-join never listed every node" \
	"$(jq '[.[] | select(.verb=="GET" and .path=="/api/v1/nodes" and ((.query // "") | contains("fieldSelector=metadata.name") | not))] | length' "$T_TMP/kreq.json")" 0
num_ge "it asked for its node with fieldSelector=metadata.name=$rn" \
	"$(jq --arg q "fieldSelector=metadata.name%3D$rn" '[.[] | select(.verb=="GET" and .path=="/api/v1/nodes" and ((.query // "") | contains($q)))] | length' "$T_TMP/kreq.json")" 1
# a node found already joined (ours, Ready) is not uncordoned: a drain of it may be under way
kubectl cordon "$rn" >/dev/null 2>&1
rc "a re-run on the joined node: exit 0" 0 rp-join -o json <"$T_TMP/in"
is "it stays cordoned" "$(kubectl get node "$rn" -o jsonpath='{.spec.unschedulable}')" true

# ---- issue 21: the pod's SSH session ends with kubeadm join ----------------
# Nothing more runs on the pod after kubeadm join: rp-join closes its
# session then, and does not hold it (libssh2's ~55 KiB, and the pod's sshd
# process) through the wait for Ready.  The stand-in makes the Node Ready 6 s
# after it registered; meanwhile the pod's sshd has no connection left.
sp=$(cat "$S/pids/sshd-$p.pid")
kcfg() { kadmin -o /dev/null -H 'Content-Type: application/json' -X POST "$KUBE_URL/_admin/config" -d "{\"ready_delay\": $1}"; }
kcfg 6
at_exit "kadmin -o /dev/null -H 'Content-Type: application/json' -X POST '$KUBE_URL/_admin/config' -d '{\"ready_delay\": 1}'"
podrec k31f "k31-wait-$N" >"$T_TMP/in"
rp-join -o json <"$T_TMP/in" >"$T_TMP/wait.out" 2>"$T_TMP/wait.err" &
jp=$!
registered() { kubectl get node "k31-wait-$N" >/dev/null 2>&1; }
no_session() { [ "$(pgrep -P "$sp" | wc -l)" = 0 ]; }
not_ready() { [ "$(kubectl get node "k31-wait-$N" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ]; }
if eventually 30 registered && eventually 3 no_session && not_ready && kill -0 "$jp" 2>/dev/null; then
	pass "the Node registered, not Ready yet, rp-join waiting: no SSH session left on the pod"
else
	fail "an SSH session on the pod while rp-join waits for Ready ($(pgrep -P "$sp" | wc -l) sshd children)"
fi
# ... and it joins with glibc's per-thread malloc cache off (ssh.concurrency
# threads each kept ~25 KiB of freed memory there): it executed itself
# again with the tunable set.
like "... rp-join runs with glibc's tcache off (GLIBC_TUNABLES)" \
	"$(tr '\0' '\n' <"/proc/$jp/environ" 2>/dev/null)" '^GLIBC_TUNABLES=(.*:)?glibc\.malloc\.tcache_count=0$'
wait "$jp"
is "... and the join ends well: exit 0" "$?" 0
kcfg 1
label "k31-wait-$N"

# ---- the stub reads a configuration as kubeadm does --------------------------
export KUBE_URL KUBE_ADMIN_TOKEN KUBE_CA RP_POD_DIR=$T_TMP/pod
mkdir -p "$RP_POD_DIR"
KA=$RP_TOP/tests/fakes/kubeadm
PIN=sha256:$(openssl x509 -pubkey -noout -in "$KUBE_CA" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
cfg() { # API-VERSION TOKEN HASH [EXTRA discovery line] [EXTRA top-level line]
	cat <<-Y
	apiVersion: kubeadm.k8s.io/$1
	kind: JoinConfiguration
	discovery:
	  bootstrapToken:
	    apiServerEndpoint: "127.0.0.1:${KUBE_URL##*:}"
	    token: "$2"
	    caCertHashes: ["$3"]
	${4:-}
	nodeRegistration:
	  name: k31-stub-$N
	${5:-}
	Y
}
tok=abcdef.0123456789abcdef
echo v1.36.0 >"$RP_POD_DIR/kubeadm-version"
cfg v1beta3 "$tok" "$PIN" >"$T_TMP/c1.yaml"
rc "kubeadm 1.36 refuses v1beta3" 1 "$KA" join --config "$T_TMP/c1.yaml"
like "... as kubeadm says" "$(cat "$T_TMP/.err")" 'old API spec: "kubeadm.k8s.io/v1beta3"'
is "... kubeadm version -o short says 1.36" "$("$KA" version -o short)" v1.36.0
echo v1.30.6 >"$RP_POD_DIR/kubeadm-version"
cfg v1beta4 "$tok" "$PIN" >"$T_TMP/c2.yaml"
rc "kubeadm 1.30 does not know v1beta4" 1 "$KA" join --config "$T_TMP/c2.yaml"
like "... as kubeadm says" "$(cat "$T_TMP/.err")" 'no kind "JoinConfiguration" is registered for version "kubeadm.k8s.io/v1beta4"'
rm -f "$RP_POD_DIR/kubeadm-version"
cfg v1beta4 "$tok" "$PIN" "  timeout: 5m0s" >"$T_TMP/c3.yaml"
rc "v1beta4 has no discovery.timeout: strict decoding refuses it" 1 "$KA" join --config "$T_TMP/c3.yaml"
like "... naming the field" "$(cat "$T_TMP/.err")" 'strict decoding error: unknown field "discovery.timeout"'
cfg v1beta4 "$tok" "$PIN" "" "colour: blue" >"$T_TMP/c4.yaml"
rc "an unknown top-level field is refused" 1 "$KA" join --config "$T_TMP/c4.yaml"
like "... naming it" "$(cat "$T_TMP/.err")" 'unknown field "colour"'
cfg v1beta3 "$tok" "$PIN" "" "timeouts: {discovery: 5m0s}" >"$T_TMP/c5.yaml"
rc "v1beta3 has no timeouts" 1 "$KA" join --config "$T_TMP/c5.yaml"
like "... naming it" "$(cat "$T_TMP/.err")" 'unknown field "timeouts"'
cfg v1beta4 "$tok" "$PIN" "" "timeouts: {discovery: soon}" >"$T_TMP/c6.yaml"
rc "a timeout that is not a duration is refused" 1 "$KA" join --config "$T_TMP/c6.yaml"
cfg v1beta4 "ABCDEF.0123456789abcdef" "$PIN" >"$T_TMP/c7.yaml"
rc "a token not [a-z0-9]{6}.[a-z0-9]{16} is refused" 1 "$KA" join --config "$T_TMP/c7.yaml"
like "... by kubeadm's validation" "$(cat "$T_TMP/.err")" 'discovery.bootstrapToken.token: Invalid value: "": the bootstrap token is invalid'
cfg v1beta4 "$tok" "sha256:abc" >"$T_TMP/c8.yaml"
rc "a CA hash that is not 64 hex digits is refused" 1 "$KA" join --config "$T_TMP/c8.yaml"
like "... saying so" "$(cat "$T_TMP/.err")" 'expected a "sha256" hash of 64 hex digits'
# a live token, signed in cluster-info: only the pin is wrong
tid=k31$(printf '%03d' $((N % 1000))) tsec=0123456789abcdef
exp=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)
kadmin -o /dev/null -H 'Content-Type: application/json' -X POST "$KUBE_URL/api/v1/namespaces/kube-system/secrets" -d \
	"{\"metadata\":{\"name\":\"bootstrap-token-$tid\"},\"type\":\"bootstrap.kubernetes.io/token\",\"stringData\":{\"token-id\":\"$tid\",\"token-secret\":\"$tsec\",\"expiration\":\"$exp\",\"usage-bootstrap-authentication\":\"true\",\"usage-bootstrap-signing\":\"true\",\"auth-extra-groups\":\"system:bootstrappers:kubeadm:default-node-token\"}}"
at_exit "kadmin -o /dev/null -X DELETE '$KUBE_URL/api/v1/namespaces/kube-system/secrets/bootstrap-token-$tid'"
signed() { kadmin "$KUBE_URL/api/v1/namespaces/kube-public/configmaps/cluster-info" | grep -q "jws-kubeconfig-$tid"; }
ok "a live token is signed" eventually 5 signed
cfg v1beta4 "$tid.$tsec" "sha256:$(printf x | sha256sum | cut -d' ' -f1)" >"$T_TMP/c9.yaml"
rc "a CA hash that does not pin the cluster's CA is refused" 1 "$KA" join --config "$T_TMP/c9.yaml"
like "... as kubeadm says" "$(cat "$T_TMP/.err")" "none of the public keys \"$PIN\" are pinned"
is "none of them registered a node" "$(kubectl get node "k31-stub-$N" -o name 2>/dev/null)" ""
done_testing
