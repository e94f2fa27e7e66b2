#!/usr/bin/env bash
# rp-join(1) EXAMPLES, run against the stack as a user types them (the
# documentation's 203.0.113.7:40123 is one of the stack's sshd "pods").
# Not run here: `systemctl start rp-tunnel@abc123.service` and
# `systemctl start rp-virtual-node@prod-runpod.service` (no systemd);
# the --tunnel example's forwards go to free local ports instead of 9092
# and 9000, which belong to this machine.
. "$(dirname "$0")/../faults/lib.sh"
need_stack # tests/run starts the stack for a script that says so (faults/lib.sh did it already)
f_setup
# shellcheck disable=SC2153 # SSH_HOSTS comes from stack.env
read -r -a H <<<"$SSH_HOSTS"
h0=${H[0]%:*} p0=${H[0]##*:} h1=${H[1]%:*} p1=${H[1]##*:}
cd "$T_TMP" || exit 1

# rp-lagwatch | rp-launch | rp-join | tee -a /var/log/rp/nodes.jsonl
lag 10
rc "rp-lagwatch | rp-launch | rp-join | tee -a nodes.jsonl" 0 \
	bash -o pipefail -c 'rp-lagwatch | rp-launch | rp-join | tee -a nodes.jsonl'
is "  the pipe ends in node records, every one Ready" \
	"$(jq -s '[.[] | select(.type=="node")] | length > 0 and all(.ready)' nodes.jsonl)" true
cmp -s nodes.jsonl "$T_TMP/.out"; is "  tee kept what it printed" "$?" 0
bad=0
for n in $(jq -r 'select(.type=="node") | .node' nodes.jsonl); do
	[ "$(kubectl get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] ||
		bad=$((bad + 1))
done
is "  kubectl sees every one of those nodes Ready" "$bad" 0
drain_lag

# rp-join --host 203.0.113.7 --port 40123 --id abc123 --name prod-burst-abc123
rc "rp-join --host H --port P --id abc123 --name prod-burst-abc123" 0 \
	rp-join --host "$h0" --port "$p0" --id abc123 --name prod-burst-abc123
is "  node record ready" "$(jq -r 'select(.type=="node" and .id=="abc123") | .ready' "$T_TMP/.out")" true
is "  the node carries the pod id" \
	"$(kubectl get node prod-burst-abc123 -o jsonpath='{.metadata.annotations.rp\.io/pod-id}')" abc123
at_exit "kubectl delete node prod-burst-abc123 >/dev/null 2>&1"

# rp-join --check --host 203.0.113.7 --port 40123 --id abc123 -o table
rc "rp-join --check --host H --port P --id abc123 -o table" 0 \
	rp-join --check --host "$h0" --port "$p0" --id abc123 -o table
like "  a table with a FINGERPRINT column" "$(cat "$T_TMP/.out")" "^ID +HOST +PORT +FINGERPRINT"
unlike "  not JSON" "$(cat "$T_TMP/.out")" "^\\{"
like "  the row names the pod" "$(cat "$T_TMP/.out")" "abc123"

# rp-join --bootstrap worker < pods.jsonl
printf '{"type":"pod","id":"wkex1","name":"wk-ex-1","ssh_host":"%s","ssh_port":%s}\n' "$h1" "$p1" >pods.jsonl
at_exit "[ -s '$RP_STACK_DIR/hosts/$p1/worker.pid' ] && kill \$(cat '$RP_STACK_DIR/hosts/$p1/worker.pid') 2>/dev/null"
rc "rp-join --bootstrap worker < pods.jsonl" 0 sh -c 'rp-join --bootstrap worker < pods.jsonl'
is "  worker ready" "$(jq -r 'select(.type=="node" and .id=="wkex1") | .ready' "$T_TMP/.out")" true
is "  ledgered as a worker" "$(jq -r 'select(.event=="joined" and .id=="wkex1") | .bootstrap' "$LEDGER")" worker

# rp-join --tunnel abc123 --forward R:9092:kafka.internal:9092 --forward R:9000:minio.internal:9000
read -r ep r1 r2 < <(python3 -c 'import socket
ps=[]
for _ in range(3):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)')
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(8)
while True:
    c,_=s.accept(); c.sendall(b"pong\n"); c.close()' "$ep" &
srv=$!
at_exit "kill $srv 2>/dev/null"
rp-join --tunnel abc123 --forward "R:$r1:127.0.0.1:$ep" --forward "R:$r2:127.0.0.1:$ep" \
	>"$T_TMP/tun.out" 2>"$T_TMP/tun.err" &
tun=$!
at_exit "kill $tun 2>/dev/null"
pong() { [ "$(python3 -c 'import socket,sys
c=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=3); print(c.recv(16).decode().strip())' "$1")" = pong ]; }
ok "rp-join --tunnel abc123 --forward R:... --forward R:... (the address from the ledger)" eventually 15 pong "$r1"
ok "  the second forward carries too" eventually 5 pong "$r2"
is "  its pid file" "$(cat "$RP_STATE_DIR/tunnel/abc123.pid" 2>/dev/null)" "$tun"
kill -TERM "$tun"
wait "$tun"; is "  SIGTERM: exit 0" "$?" 0
ok "  pid file removed" test ! -e "$RP_STATE_DIR/tunnel/abc123.pid"

# rp-join --tunnel abc123 --forward R:6443:10.0.0.10:6443 &
# rp-join --api-tunnel 6443 --forward R:6443:10.0.0.10:6443 \
#         --host 203.0.113.7 --port 40123 --id abc123 --name prod-burst-abc123
# The pod is isolated here (it reaches the API server only through its
# tunnel), 10.0.0.10:6443 is the stand-in's node listener (kubeadm's
# certificate names, cluster-info's address) and 6443 a free port.
kubectl delete node prod-burst-abc123 >/dev/null 2>&1 # joined by the --host example above
touch "$RP_STACK_DIR/hosts/$p0/isolated"
at_exit "rm -f '$RP_STACK_DIR/hosts/$p0/isolated'"
api=127.0.0.1:$(cat "$RP_STACK_DIR/kube/apiserver-port")
tp=$(python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rp-join --tunnel abc123 --forward "R:$tp:$api" >"$T_TMP/tun2.out" 2>"$T_TMP/tun2.err" &
tun=$!
at_exit "kill $tun 2>/dev/null"
ok "rp-join --tunnel abc123 --forward R:6443:10.0.0.10:6443 & (the pod has the API server at 127.0.0.1:6443)" \
	eventually 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$tp"
rc "rp-join --api-tunnel 6443 --forward R:6443:10.0.0.10:6443 --host H --port P --id abc123 --name prod-burst-abc123" 0 \
	rp-join --api-tunnel "$tp" --forward "R:$tp:$api" --host "$h0" --port "$p0" --id abc123 --name prod-burst-abc123
is "  node record ready" "$(jq -r 'select(.type=="node" and .id=="abc123") | .ready' "$T_TMP/.out")" true
is "  the Node is Ready and labelled" "$(kubectl get node prod-burst-abc123 -o json |
	jq -r '"\(.status.conditions[] | select(.type=="Ready") | .status) \(.metadata.labels["gpu-type"])"')" "True runpod"
like "  kubeadm used file discovery" "$(cat "$RP_STACK_DIR/hosts/$p0/kubeadm.log")" "# discovery file .* mode 0600"
kill -TERM "$tun"
wait "$tun"; is "  the tunnel: SIGTERM, exit 0" "$?" 0
rm -f "$RP_STACK_DIR/hosts/$p0/isolated"
# rp-join --virtual prod-runpod --once -v
at_exit "kubectl delete node prod-runpod >/dev/null 2>&1"
rc "rp-join --virtual prod-runpod --once -v" 0 rp-join --virtual prod-runpod --once -v
is "  the virtual node is Ready" \
	"$(kubectl get node prod-runpod -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" True
is "  labelled type=virtual-kubelet" "$(kubectl get node prod-runpod -o jsonpath='{.metadata.labels.type}')" virtual-kubelet
like "  said so on stderr" "$(cat "$T_TMP/.err")" "virtual node registered"
# Not run here: systemctl start rp-virtual-node@prod-runpod.service (no systemd).

invariant
done_testing
