#!/usr/bin/env bash
# rp-join through a tunnel (issue 17, item 2).  The pod is isolated (a
# RunPod container: its loopback holds only what a tunnel forwards into it,
# no node-network address), the tunnel gives it the API server's node
# listener -- the certificate with kubeadm's names (kubernetes,
# kubernetes.default, ..., 10.0.0.10), never 127.0.0.1 -- and cluster-info
# names the advertise address https://10.0.0.10:6443, as on a kubeadm
# cluster.  The old recipe (token discovery at the tunnel's 127.0.0.1
# port) fails as kubeadm fails; file discovery with a bootstrap kubeconfig
# (server https://127.0.0.1:PORT, tls-server-name, the CA, the token; 0600,
# by stdin) joins, and the Node becomes Ready with its labels.
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # RP_STACK_DIR, KUBE_* come from stack.env
S=$RP_STACK_DIR
N=$$
# a pod of its own: an isolated pod must not be one the other tests use
hp=$("$RP_TOP/tests/stack/sshd-add" "$S" 1 | tail -1)
host=${hp%:*} p=${hp##*:}
D=$S/hosts/$p
touch "$D/isolated"
APORT=$(cat "$S/kube/apiserver-port")
KPORT=${KUBE_URL##*:}
read -r TUN TUN2 < <(python3 -c 'import socket
ps=[]
for _ in range(2):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)')
ID=t32-$N
at_exit "kubectl delete nodes -l rp-test32=$N --wait=false >/dev/null 2>&1; $RP_TOP/tests/stack/sshd-ctl '$S' stop $p >/dev/null 2>&1"
kadmin() { curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
label() { kubectl label node "$1" "rp-test32=$N" --overwrite >/dev/null 2>&1; }

# ---- the pod's tunnel: R:TUN -> the API server's node listener; R:TUN2 -> the
# harness's listener (its certificate has 127.0.0.1)
rp-join --tunnel "$ID" --host "$host" --port "$p" --forward "R:$TUN:127.0.0.1:$APORT" \
	--forward "R:$TUN2:127.0.0.1:$KPORT" >"$T_TMP/tun.out" 2>"$T_TMP/tun.err" &
tun=$!
at_exit "kill $tun 2>/dev/null"
ok "the tunnel gives the pod 127.0.0.1:$TUN" eventually 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TUN"
ok "... and 127.0.0.1:$TUN2" eventually 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TUN2"

# ---- the old recipe: token discovery with the endpoint at the tunnel --------
rc "old recipe (endpoint 127.0.0.1:TUN, token discovery): exit 1" 1 \
	rp-join --host "$host" --port "$p" --id "t32old-$N" --name "t32-old-$N" \
	--set "kube.api_server_endpoint=127.0.0.1:$TUN"
like "... kubeadm: 127.0.0.1 is not a name in the API server's certificate" "$(cat "$T_TMP/.err")" \
	"x509: certificate is valid for 10\\.96\\.0\\.1, 10\\.0\\.0\\.10, not 127\\.0\\.0\\.1"
diag "$(grep -m1 'error:' "$T_TMP/.err")"
rc "old recipe, tunnel to a listener whose certificate names 127.0.0.1: exit 1" 1 \
	rp-join --host "$host" --port "$p" --id "t32old2-$N" --name "t32-old2-$N" \
	--set "kube.api_server_endpoint=127.0.0.1:$TUN2"
like "... discovery passes, but the TLS bootstrap goes to cluster-info's server" "$(cat "$T_TMP/.err")" \
	"https://10\\.0\\.0\\.10:6443.*dial tcp 10\\.0\\.0\\.10:6443"
diag "$(grep -m1 'error:' "$T_TMP/.err")"
is "... neither registered a Node" "$(kubectl get nodes -o name | grep -c "t32-old")" 0

# ---- configuration: a tunnel port no R: forward carries is refused -----------
rc "--api-tunnel without an R: forward to it: exit 2" 2 \
	rp-join --api-tunnel "$TUN" --host "$host" --port "$p" --id "t32cfg-$N"
like "... naming the key" "$(cat "$T_TMP/.err")" "kube.api_server_tunnel .*no R:$TUN:HOST:PORT in kube.forwards"

# ---- the new recipe: file discovery through the tunnel -----------------------
kadmin -o /dev/null -X DELETE "$KUBE_URL/_admin/requests"
: >"$D/commands.log"
rc "rp-join --api-tunnel TUN --forward R:TUN:...: exit 0" 0 \
	rp-join --api-tunnel "$TUN" --forward "R:$TUN:127.0.0.1:$APORT" --host "$host" --port "$p" \
	--id "$ID" --name "t32-new-$N" -o json
label "t32-new-$N"
is "node record ready" "$(jq -r 'select(.type=="node") | .ready' "$T_TMP/.out")" true
is "the Node is Ready" \
	"$(kubectl get node "t32-new-$N" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" True
is "... labelled" "$(kubectl get node "t32-new-$N" -o json | jq -r '.metadata.labels["gpu-type"] + "," + .metadata.labels["nvidia.com/gpu"]')" \
	"runpod,true"
is "... annotated with the pod id" "$(kubectl get node "t32-new-$N" -o jsonpath='{.metadata.annotations.rp\.io/pod-id}')" "$ID"
j=$(kadmin "$KUBE_URL/_admin/joins" | jq -c '[.[] | select(.node=="t32-new-'"$N"'")] | last')
is "the join came through the tunnel to the node listener, asking for tls-server-name kubernetes" \
	"$(jq -r '"\(.ok) \(.request.discovery) \(.listener) \(.sni)"' <<<"$j")" "true file apiserver kubernetes"
log=$(cat "$D/kubeadm.log")
cfg=$(awk '/^kubeadm join --config/{c=""; on=1; next} /^kubeadm /{on=0} on && /^  \| /{c=c substr($0,5) "\n"} END{printf "%s", c}' "$D/kubeadm.log")
like "the JoinConfiguration uses file discovery" "$(tr '\n' '|' <<<"$cfg")" \
	'\|discovery:\|  file:\|    kubeConfigPath: "\.rp-join/bootstrap-[a-z0-9]{6}\.conf"\|'
unlike "... with no tlsBootstrapToken (kubeadm would drop tls-server-name for it)" "$cfg" "tlsBootstrapToken"
like "the bootstrap kubeconfig was mode 0600 when kubeadm read it" "$log" \
	"# discovery file \.rp-join/bootstrap-[a-z0-9]{6}\.conf mode 0600"
kc=$(grep '^  kc| ' "$D/kubeadm.log" | cut -c7-)
like "... server https://127.0.0.1:TUN" "$kc" "^    server: \"https://127\\.0\\.0\\.1:$TUN\"$"
like "... tls-server-name kubernetes" "$kc" '^    tls-server-name: "kubernetes"$'
like "... the cluster CA inline" "$kc" "^    certificate-authority-data: $(base64 -w0 "$KUBE_CA")$"
tok=$(sed -n 's/^    token: "\(.*\)"$/\1/p' <<<"$kc")
like "... the bootstrap token" "$tok" '^[a-z0-9]{6}\.[a-z0-9]{16}$'
sec=${tok#*.}
is "the token is on no command line (the pod's commands.log)" "$(grep -cF "$sec" "$D/commands.log")" 0
is "... nor on kubeadm's argv" "$(grep '^kubeadm ' "$D/kubeadm.log" | grep -cF "$sec")" 0
is "... nor in the JoinConfiguration" "$(grep -cF "$sec" <<<"$cfg")" 0
is "... nor in rp-join's output" "$(cat "$T_TMP/.out" "$T_TMP/.err" | grep -cF "$sec")" 0
is "both files are gone from the pod" "$(find "$D/.rp-join" -type f | wc -l)" 0
is "the bootstrap token is deleted" "$(kubectl -n kube-system get secret "bootstrap-token-${tok%%.*}" -o name 2>/dev/null)" ""

# ---- no tunnel running: refused before any token, temporary ------------------
kill -TERM "$tun"
wait "$tun"
is "the tunnel ends on SIGTERM (exit 0)" "$?" 0
rc "the same join with no tunnel for the pod: exit 75" 75 \
	rp-join --api-tunnel "$TUN" --forward "R:$TUN:127.0.0.1:$APORT" --host "$host" --port "$p" \
	--id "$ID" --name "t32-none-$N"
like "... saying to start it" "$(cat "$T_TMP/.err")" "no tunnel for this pod .*rp-tunnel@$ID"
is "... and no Node" "$(kubectl get node "t32-none-$N" -o name 2>/dev/null)" ""

done_testing
