#!/usr/bin/env bash
# rp-join against the stack: real sshd "pods" with the stub kubeadm, the
# Kubernetes stand-in (validates token, CA pin, endpoint), real kubectl.
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # RP_STACK_DIR, SSH_HOSTS, KUBE_* come from stack.env
S=$RP_STACK_DIR
read -r -a H <<<"$SSH_HOSTS"
A=$KUBE_URL/_admin
kadmin() { curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
kapi() { kadmin "$KUBE_URL$1"; }
host() { echo "${1%:*}"; }
port() { echo "${1##*:}"; }
podrec() { # ID NAME HOST:PORT
	printf '{"type":"pod","id":"%s","name":"%s","gpu":"NVIDIA RTX 6000 Ada Generation","ssh_host":"%s","ssh_port":%s,"status":"RUNNING"}\n' \
		"$1" "$2" "$(host "$3")" "$(port "$3")"
}
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
field() { jq -r "select(.type==\"node\" and .id==\"$2\") | .$3" "$1"; }
# The stack's sshd for PORT: stop it with every session and forward below
# it (SIGKILL after 5 s, returns once the port refuses), start it again.
sshd_stop() { "$RP_TOP/tests/stack/sshd-ctl" "$S" stop "$1"; }
sshd_start() { "$RP_TOP/tests/stack/sshd-ctl" "$S" start "$1"; }
ca_pin() {
	echo "sha256:$(openssl x509 -pubkey -noout -in "$KUBE_CA" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)"
}

# ---- 1. one pod record -> one Ready, labelled node ----------------------
h0=${H[0]} p0=$(port "${H[0]}")
log0=$S/hosts/$p0/kubeadm.log
{ echo '{"type":"decision","action":"up","count":1}'; podrec j1abc "demo-burst-j1abc" "$h0"; } >"$T_TMP/in1"
rc "join one pod: exit 0" 0 rp-join -o json <"$T_TMP/in1"
cp "$T_TMP/.out" "$T_TMP/out1"; cp "$T_TMP/.err" "$T_TMP/err1"
is "the decision record passes through" "$(grep -c '"type":"decision"' "$T_TMP/out1")" 1
is "node record ready" "$(field "$T_TMP/out1" j1abc ready)" true
is "node record names the node" "$(field "$T_TMP/out1" j1abc node)" demo-burst-j1abc
is "node record bootstrap" "$(field "$T_TMP/out1" j1abc bootstrap)" kubeadm
is "node record labels" "$(field "$T_TMP/out1" j1abc 'labels["gpu-type"]')" runpod
like "stub kubeadm ran join --config" "$(cat "$log0")" "kubeadm join --config \.rp-join/join-[a-z0-9]{6}\.yaml"
pin=$(ca_pin)
like "the JoinConfiguration pins the stand-in's CA (openssl's SPKI hash)" "$(cat "$log0")" "caCertHashes:.*|.*\"$pin\""
unlike "never the unsafe skip" "$(cat "$log0")" "unsafe-skip|unsafeSkipCAVerification: true"
tok=$(grep -oE 'token: "[a-z0-9]{6}\.[a-z0-9]{16}"' "$log0" | head -1 | cut -d'"' -f2)
tid=${tok%%.*}
like "kubeadm got a bootstrap token" "$tok" '^[a-z0-9]{6}\.[a-z0-9]{16}$'
joins=$(kadmin "$A/joins")
is "the stand-in accepted that token's join (live token, pinned CA)" \
	"$(jq -r --arg t "$tid" '[.[] | select(.token_id==$t and .ok)] | length' <<<"$joins")" 1
unlike "the token secret is not on stdout" "$(cat "$T_TMP/out1")" "${tok#*.}"
unlike "nor on stderr" "$(cat "$T_TMP/err1")" "${tok#*.}"
unlike "nor in the ledger" "$(cat "$RP_STATE_DIR/ledger.jsonl")" "${tok#*.}"
unlike "nor on any remote command line" "$(cat "$S/hosts/$p0/commands.log")" "${tok#*.}"
st=$(kadmin -o /dev/null -w '%{http_code}' "$KUBE_URL/api/v1/namespaces/kube-system/secrets/bootstrap-token-$tid" || true)
is "the token Secret is deleted afterwards" "$st" 404
reqs=$(kadmin "$A/requests")
post=$(jq -c --arg n "bootstrap-token-$tid" '[.[] | select(.verb=="POST" and (.path|endswith("/secrets")) and (.body|tostring|contains($n)))][0]' <<<"$reqs")
ttl=$(jq -r '(.body | if type=="string" then fromjson else . end | .stringData.expiration | fromdateiso8601) - .ts' <<<"$post")
num_le "token TTL <= 1 h (${ttl}s)" "$ttl" 3600
num_ge "token TTL > 0" "$ttl" 1
is "token usages and group" "$(jq -r '.body | if type=="string" then fromjson else . end | .stringData | [."usage-bootstrap-authentication", ."usage-bootstrap-signing", ."auth-extra-groups"] | join(" ")' <<<"$post")" \
	"true true system:bootstrappers:kubeadm:default-node-token"
node=$(kapi /api/v1/nodes/demo-burst-j1abc)
is "node Ready in the API" "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' <<<"$node")" True
is "label gpu-type=runpod" "$(jq -r '.metadata.labels["gpu-type"]' <<<"$node")" runpod
is "label nvidia.com/gpu=true" "$(jq -r '.metadata.labels["nvidia.com/gpu"]' <<<"$node")" true
is "annotation rp.io/pod-id" "$(jq -r '.metadata.annotations["rp.io/pod-id"]' <<<"$node")" j1abc
is "startup taint removed" "$(jq -r '[.spec.taints[]? | select(.key=="rp.io/starting")] | length' <<<"$node")" 0
like "the startup taint was registered at join" "$(cat "$log0")" 'key: "rp\.io/starting"'
like "kubectl get nodes -l gpu-type=runpod shows it" "$(kubectl get nodes -l gpu-type=runpod -o name)" "node/demo-burst-j1abc"
is "ledger: joined" "$(jq -r 'select(.event=="joined" and .id=="j1abc") | .node' "$RP_STATE_DIR/ledger.jsonl")" demo-burst-j1abc
is "the uploaded JoinConfiguration is gone from the pod" "$(find "$S/hosts/$p0/.rp-join" -type f | wc -l)" 0

# A re-run on a joined node: no second token, no second kubeadm join.
n_before=$(grep -c '^kubeadm join' "$log0")
rc "re-run on a joined node: exit 0" 0 rp-join -o json <"$T_TMP/in1"
is "re-run: still ready" "$(field "$T_TMP/.out" j1abc ready)" true
is "re-run: no second kubeadm join" "$(grep -c '^kubeadm join' "$log0")" "$n_before"

# The join lock ($RP_STATE_DIR/join/ID.lock, see rp-join(1)): gone once the
# ledger says how the join ended; a pod another rp-join holds is not joined
# twice; the same pod twice in one input is joined once.
jl() { echo "$RP_STATE_DIR/join/$1.lock"; }
is "no join lock left once the joins ended" "$(find "$RP_STATE_DIR/join" -type f 2>/dev/null | wc -l)" 0
( exec 9>"$(jl j1abc)" && flock -x 9 && exec sleep 60 ) & jh=$!
# shellcheck disable=SC2016 # expanded at exit
at_exit 'kill -9 "$jh" 2>/dev/null'
ok "another joiner holds j1abc's lock" eventually 10 sh -c "! flock -n '$(jl j1abc)' true"
c_before=$(lines "$S/hosts/$p0/commands.log") l_before=$(lines "$RP_STATE_DIR/ledger.jsonl")
rc "a pod another rp-join holds: exit 75" 75 rp-join -o json <"$T_TMP/in1"
is "held elsewhere: ready false" "$(field "$T_TMP/.out" j1abc ready)" false
like "held elsewhere: the error says so" "$(field "$T_TMP/.out" j1abc error)" "another rp-join is joining this pod.*join/j1abc\.lock"
is "held elsewhere: nothing run on the pod" "$(lines "$S/hosts/$p0/commands.log")" "$c_before"
is "held elsewhere: no ledger line (the holder writes it)" "$(lines "$RP_STATE_DIR/ledger.jsonl")" "$l_before"
is "held elsewhere: the holder's lock file is left alone" "$(test -e "$(jl j1abc)" && echo there)" there
rc "--check takes no lock: exit 0" 0 rp-join --check --host "$(host "$h0")" --port "$p0" --id j1abc
kill -9 "$jh"; wait "$jh" 2>/dev/null
{ podrec j1abc demo-burst-j1abc "$h0"; podrec j1abc demo-burst-j1abc "$h0"; } >"$T_TMP/in-dup"
rc "the same pod twice: exit 0" 0 rp-join -o json <"$T_TMP/in-dup"
is "the same pod twice: one node record" "$(grep -c '"type":"node"' "$T_TMP/.out")" 1
like "the same pod twice: said" "$(cat "$T_TMP/.err")" "pod given twice; joined once.*j1abc"
is "the same pod twice: its lock is gone" "$(test -e "$(jl j1abc)" && echo there || echo gone)" gone

# ---- 2. changed host key: refused, nothing run ----------------------------
h1=${H[1]} p1=$(port "${H[1]}")
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/other" -C other
printf '[127.0.0.1]:%s %s\n' "$p1" "$(cut -d' ' -f1,2 "$T_TMP/other.pub")" >"$T_TMP/kh-bad"
cmds_before=$(lines "$S/hosts/$p1/commands.log")
klog_before=$(wc -l <"$S/hosts/$p1/kubeadm.log")
rc "changed host key: exit 1" 1 rp-join --known-hosts "$T_TMP/kh-bad" --host "$(host "$h1")" --port "$p1" --id hk1
like "says the key changed, with the host" "$(cat "$T_TMP/.err")" "127\.0\.0\.1:$p1.*host key changed"
is "record: ready false" "$(field "$T_TMP/.out" hk1 ready)" false
is "nothing ran on the host" "$(lines "$S/hosts/$p1/commands.log")" "$cmds_before"
is "kubeadm.log unchanged" "$(wc -l <"$S/hosts/$p1/kubeadm.log")" "$klog_before"
is "ledger: join_failed" "$(jq -r 'select(.event=="join_failed" and .id=="hk1") | .event' "$RP_STATE_DIR/ledger.jsonl")" join_failed

# Trust on first use: an empty known_hosts learns the key and logs it.
rc "first contact: --check exit 0" 0 rp-join --known-hosts "$T_TMP/kh-new" --check --host "$(host "$h1")" --port "$p1" --id c1
like "first contact is logged with the fingerprint" "$(cat "$T_TMP/.err")" "trust on first use.*SHA256:"
like "and recorded" "$(cat "$T_TMP/kh-new")" "^\[127\.0\.0\.1\]:$p1 ssh-ed25519 "
fp=$(ssh-keyscan -p "$p1" -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -lf - | awk '{print $2}')
is "--check fingerprint = ssh-keyscan | ssh-keygen -l" "$(jq -r .fingerprint "$T_TMP/.out")" "$fp"
is "--check GPU model" "$(jq -r '.gpus[0].name' "$T_TMP/.out")" "NVIDIA RTX 6000 Ada Generation"
is "--check GPU count" "$(jq -r .gpu_count "$T_TMP/.out")" 1
like "--check finds kubeadm" "$(jq -r .kubeadm "$T_TMP/.out")" "/kubeadm$"
is "--check: no kubelet" "$(jq -r .kubelet "$T_TMP/.out")" false
like "--check ran nvidia-smi as asked" "$(cat "$S/hosts/$p1/nvidia-smi.log")" "--query-gpu=name,memory.total --format=csv"

# ---- 3. kubeadm refusing: reported with its reason, token still deleted ----
rc "kubeadm failing remotely: exit 1" 1 rp-join --set kube.api_server_endpoint=127.0.0.1:1 \
	--host "$(host "$h1")" --port "$p1" --id kf1 --name kf-1
like "its stderr is reported with the host" "$(cat "$T_TMP/.err")" "127\.0\.0\.1:$p1.*kubeadm join failed.*validate the identity"
tid2=$(grep -oE 'token: "[a-z0-9]{6}\.' "$S/hosts/$p1/kubeadm.log" | tail -1 | cut -c9-14)
st=$(kadmin -o /dev/null -w '%{http_code}' "$KUBE_URL/api/v1/namespaces/kube-system/secrets/bootstrap-token-$tid2" || true)
is "the failed join's token is deleted too" "$st" 404

# The API refusing the token: one line with the host, exit 1, nothing run.
sed 's/^\(    token: \).*/\1not-the-admin-token/' "$KUBECONFIG" >"$T_TMP/kc-badtoken"
klog_before=$(lines "$S/hosts/$p1/kubeadm.log")
rc "API refusing the token: exit 1" 1 rp-join --set kube.kubeconfig="$T_TMP/kc-badtoken" \
	--host "$(host "$h1")" --port "$p1" --id at1
like "says the API refused it, with the host" "$(cat "$T_TMP/.err")" "127\.0\.0\.1:$p1 \(at1\): bootstrap token refused by the API: .*HTTP 401"
is "no kubeadm run" "$(lines "$S/hosts/$p1/kubeadm.log")" "$klog_before"
# The API not answering at all: temporary, exit 75.
sed 's|^\(    server: https://127\.0\.0\.1:\).*|\11|' "$KUBECONFIG" >"$T_TMP/kc-down"
rc "API not answering: exit 75" 75 rp-join --set kube.kubeconfig="$T_TMP/kc-down" \
	--host "$(host "$h1")" --port "$p1" --id at2

# Unreachable host: one line with the host, exit 1.
rc "unreachable host: exit 1" 1 rp-join --host 127.0.0.1 --port 1 --id un1
like "one line naming the host" "$(cat "$T_TMP/.err")" "^rp-join: error: 127\.0\.0\.1:1 \(un1\): connect"

# ---- 4. worker bootstrap ---------------------------------------------------
h2=${H[2]} p2=$(port "${H[2]}")
at_exit "[ -s '$S/hosts/$p2/worker.pid' ] && kill \$(cat '$S/hosts/$p2/worker.pid') 2>/dev/null"
rc "worker mode: exit 0" 0 rp-join --bootstrap worker --host "$(host "$h2")" --port "$p2" --id wk1 --name wk-1
is "worker: ready" "$(field "$T_TMP/.out" wk1 ready)" true
is "worker: bootstrap worker" "$(field "$T_TMP/.out" wk1 bootstrap)" worker
ok "worker: the process is alive" eventually 5 bash -c "kill -0 \$(cat '$S/hosts/$p2/worker.pid')"
like "worker got KAFKA_BOOTSTRAP" "$(cat "$S/hosts/$p2/worker.log")" "env: KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP"
like "worker got S3_ENDPOINT" "$(cat "$S/hosts/$p2/worker.log")" "env: S3_ENDPOINT=$S3_ENDPOINT"
like "worker got KAFKA_GROUP" "$(cat "$S/hosts/$p2/worker.log")" "env: KAFKA_GROUP=ome-transcoder-consumer"
is "worker env file is 0600" "$(stat -c %a "$S/hosts/$p2/.rp-worker/env")" 600
unlike "no S3 secret on the remote command line" "$(cat "$S/hosts/$p2/commands.log")" "$AWS_SECRET_ACCESS_KEY"
is "no Kubernetes node for a worker" "$(kadmin -o /dev/null -w '%{http_code}' "$KUBE_URL/api/v1/nodes/wk-1" || true)" 404
is "ledger: joined as worker" "$(jq -r 'select(.event=="joined" and .id=="wk1") | .bootstrap' "$RP_STATE_DIR/ledger.jsonl")" worker

# ---- 5. tunnel: echo both ways, survives an sshd restart -------------------
read -r ep lp rp < <(python3 -c 'import socket
ps=[]
for _ in range(3):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)')
python3 -c 'import socket,sys,threading
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(16)
def h(c):
    while True:
        d=c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c,_=s.accept(); threading.Thread(target=h,args=(c,),daemon=True).start()' "$ep" &
echo_pid=$!
at_exit "kill $echo_pid 2>/dev/null"
echo_via() { # PORT -> the echo of 200 KiB of random bytes matches
	python3 -c 'import os,socket,sys,threading
d=os.urandom(200*1024); c=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=3)
t=threading.Thread(target=lambda:(c.sendall(d),c.shutdown(socket.SHUT_WR))); t.start()
b=bytearray()
while True:
    x=c.recv(65536)
    if not x: break
    b+=x
t.join(); sys.exit(0 if bytes(b)==d else 1)' "$1"
}
rp-join --tunnel tun1 --host "$(host "$h2")" --port "$p2" --forward "L:$lp:127.0.0.1:$ep" \
	--forward "R:$rp:127.0.0.1:$ep" >"$T_TMP/tun.out" 2>"$T_TMP/tun.err" &
tun_pid=$!
at_exit "kill $tun_pid 2>/dev/null"
ok "tunnel: L forward echoes (direct-tcpip)" eventually 10 echo_via "$lp"
ok "tunnel: R forward echoes (tcpip-forward)" eventually 10 echo_via "$rp"
is "tunnel pid file" "$(cat "$RP_STATE_DIR/tunnel/tun1.pid")" "$tun_pid"
sshd_stop "$p2"
if eventually 10 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$rp)"; then pass "with sshd down the R forward is gone"
else fail "with sshd down the R forward is gone"; diag "still listening: $(ss -Hltnp "sport = :$rp")"; fi
sshd_start "$p2"
ok "after the sshd restart: L forward echoes again" eventually 20 echo_via "$lp"
ok "after the sshd restart: R forward echoes again" eventually 20 echo_via "$rp"
like "the tunnel said it reconnected" "$(cat "$T_TMP/tun.err")" "session lost; reconnecting"
kill "$tun_pid"
ok "SIGTERM ends the tunnel" eventually 5 bash -c "! kill -0 $tun_pid"
wait "$tun_pid"; is "tunnel exit 0 on SIGTERM" "$?" 0
ok "tunnel pid file removed" test ! -e "$RP_STATE_DIR/tunnel/tun1.pid"

# ---- 6. ten hosts at once, one of them failing -----------------------------
mapfile -t more < <("$RP_TOP/tests/stack/sshd-add" "$S" 10)
is "ten more sshd hosts" "${#more[@]}" 10
# One of them alone first, for the time of one join.
podrec solo demo-burst-solo "${more[0]}" >"$T_TMP/in-solo"
t0=$(date +%s.%N)
rc "one new host alone: exit 0" 0 rp-join -o json --label gpu-type=runpod \
	--label node-role.kubernetes.io/gpu-burst=true <"$T_TMP/in-solo"
t1=$(date +%s.%N)
one_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
solo_log=$(cat "$S/hosts/$(port "${more[0]}")/kubeadm.log")
# (v1beta4: kubeletExtraArgs is a list of {name, value})
solo_kl=$(grep -A1 'name: "node-labels"' <<<"$solo_log" | grep -o 'value: .*')
like "node-labels carry what a kubelet may set" "$solo_kl" '^value: "gpu-type=runpod"$'
unlike "but not node-role.kubernetes.io (NodeRestriction)" "$solo_kl" 'node-role'
is "node-role label set by rp-join after join" \
	"$(kapi /api/v1/nodes/demo-burst-solo | jq -r '.metadata.labels["node-role.kubernetes.io/gpu-burst"]')" true
kubectl delete node demo-burst-solo >/dev/null
: >"$T_TMP/in10"
for i in $(seq 0 9); do podrec "ten$i" "demo-burst-ten$i" "${more[$i]}" >>"$T_TMP/in10"; done
t0=$(date +%s.%N)
rc "ten hosts at once: exit 0" 0 rp-join -o json <"$T_TMP/in10"
t1=$(date +%s.%N)
is "ten node records, all ready" "$(grep -c '"ready":true' "$T_TMP/.out")" 10
is "ten Ready nodes labelled gpu-type=runpod" \
	"$(kubectl get nodes -l gpu-type=runpod --no-headers | grep -c '^demo-burst-ten[0-9] *Ready ')" 10
ten_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
diag "one host ${one_s}s, ten at once ${ten_s}s"
# Concurrent, not one after another (that would be ~10x); the benchmark
# (tests/bench/join) has the exact figures.
num_le "ten at once take < 5x one host (${ten_s}s vs ${one_s}s)" "$ten_s" "$(awk -v o="$one_s" 'BEGIN{print 5*o + 1}')"
is "no bootstrap token left behind" "$(kapi /api/v1/namespaces/kube-system/secrets | jq '[.items[] | select(.type=="bootstrap.kubernetes.io/token")] | length')" 0

# One failing host does not stop the others: exit 3.
{ podrec ok1 "demo-burst-ok1" "${more[0]}"; podrec bad1 "demo-burst-bad1" "127.0.0.1:1"; } >"$T_TMP/in2"
kubectl delete node demo-burst-ten0 >/dev/null
rc "one of two failing: exit 3" 3 rp-join -o json <"$T_TMP/in2"
is "the good one is ready" "$(field "$T_TMP/.out" ok1 ready)" true
is "the bad one is a record with ready false" "$(field "$T_TMP/.out" bad1 ready)" false
like "with an error naming its host" "$(field "$T_TMP/.out" bad1 error)" "127\.0\.0\.1:1"

# ---- 7. a connection lost mid-join ---------------------------------------
# A pod of its own whose kubeadm hangs on its first join; its sshd sessions
# are killed while it hangs.
pd=$(port "${more[9]}")
kubectl delete node demo-burst-ten9 >/dev/null
real=$RP_TOP/tests/fakes/kubeadm
rm -f "$S/hosts/$pd/bin/kubeadm"
at_exit "rm -f '$S/hosts/$pd/bin/kubeadm'; ln -s '$real' '$S/hosts/$pd/bin/kubeadm'"
cat >"$S/hosts/$pd/bin/kubeadm" <<EOF
#!/bin/sh
if [ "\$1" = join ] && [ ! -e "\$RP_POD_DIR/hang.done" ]; then
	: >"\$RP_POD_DIR/hang.done"; echo \$\$ >"\$RP_POD_DIR/hang.pid"; exec sleep 60
fi
exec '$real' "\$@"
EOF
chmod +x "$S/hosts/$pd/bin/kubeadm"
kill_sessions() { # PORT [listener too]
	local pid
	pid=$(cat "$S/pids/sshd-$1.pid")
	for c in $(ps -o pid= --ppid "$pid"); do kill "$c"; done
	[ -z "${2:-}" ] || kill "$pid"
	kill "$(cat "$S/hosts/$1/hang.pid")" 2>/dev/null
}
# (a) the session dies, sshd stays: reconnect, the node is not there, reset, join again.
podrec drop1 demo-burst-drop1 "${more[9]}" >"$T_TMP/in-d1"
rp-join -o json <"$T_TMP/in-d1" >"$T_TMP/d1.out" 2>"$T_TMP/d1.err" &
jp=$!
eventually 20 test -s "$S/hosts/$pd/hang.pid"
ok "while kubeadm runs, the pod's join lock is held" sh -c "! flock -n '$(jl drop1)' true"
kill_sessions "$pd"
wait "$jp"; st=$?
is "dropped session, sshd back: exit 0" "$st" 0
[ "$st" = 0 ] || sed 's/^/#   /' "$T_TMP/d1.err"
is "retried from a safe point: ready" "$(field "$T_TMP/d1.out" drop1 ready)" true
is "joined: the join lock is gone" "$(test -e "$(jl drop1)" && echo there || echo gone)" gone
like "it said so" "$(cat "$T_TMP/d1.err")" "connection lost during join; reconnecting"
like "kubeadm reset -f before the second join" "$(grep -E '^kubeadm (join|reset)' "$S/hosts/$pd/kubeadm.log" | tail -2 | tr '\n' ' ')" \
	"^kubeadm reset -f kubeadm join --config"
# (b) sshd goes away for good: reported, not half-joined silently.
kubectl delete node demo-burst-drop1 >/dev/null
rm -f "$S/hosts/$pd/hang.done" "$S/hosts/$pd/hang.pid"
podrec drop2 demo-burst-drop2 "${more[9]}" >"$T_TMP/in-d2"
rp-join -o json <"$T_TMP/in-d2" >"$T_TMP/d2.out" 2>"$T_TMP/d2.err" &
jp=$!
eventually 20 test -s "$S/hosts/$pd/hang.pid"
kill_sessions "$pd" listener
wait "$jp"; is "sshd gone mid-join: exit 1" "$?" 1
is "reported: ready false" "$(field "$T_TMP/d2.out" drop2 ready)" false
like "the error says what is known" "$(field "$T_TMP/d2.out" drop2 error)" "connection lost during kubeadm join.*not registered"
is "ledger: join_failed" "$(jq -r 'select(.event=="join_failed" and .id=="drop2") | .event' "$RP_STATE_DIR/ledger.jsonl")" join_failed
is "join_failed ledgered: the join lock is gone" "$(test -e "$(jl drop2)" && echo there || echo gone)" gone
is "no bootstrap token left behind" "$(kapi /api/v1/namespaces/kube-system/secrets | jq '[.items[] | select(.type=="bootstrap.kubernetes.io/token")] | length')" 0
sshd_start "$pd"

# ---- 8. bad input ---------------------------------------------------------
rc "malformed record: exit 2" 2 rp-join <<<'{"type":"pod",'
rc "pod record without ssh_host: exit 1" 1 rp-join <<<'{"type":"pod","id":"nh1"}'
like "says what is missing" "$(cat "$T_TMP/.err")" "no ssh_host"
# A pod record's fields have their JSON types: ssh_port is a number, not a
# string read with atoi; a wrong type names the line, exits 2, joins nothing.
rc "ssh_port as a string: exit 2" 2 rp-join <<<$'{"type":"other"}\n{"type":"pod","id":"sp1","ssh_host":"127.0.0.1","ssh_port":"22"}'
like "the error names line 2 and the field" "$(cat "$T_TMP/.err")" "stdin:2: pod record: ssh_port must be a whole number"
is "ssh_port as a string: no ledger line" "$(jq -r 'select(.id=="sp1") | .event' "$RP_STATE_DIR/ledger.jsonl")" ""
rc "ssh_host as a number: exit 2" 2 rp-join <<<'{"type":"pod","id":"sp2","ssh_host":127,"ssh_port":22}'
like "the error names line 1 and the field" "$(cat "$T_TMP/.err")" "stdin:1: pod record: ssh_host must be a string"
rc "ssh_port out of range: exit 2" 2 rp-join <<<'{"type":"pod","id":"sp3","ssh_host":"127.0.0.1","ssh_port":70000}'
rc "bad bootstrap: exit 2" 2 rp-join --bootstrap magic --host 127.0.0.1 --id x
rc "token TTL over 1 h: exit 2" 2 rp-join --set kube.token_ttl=2h --host 127.0.0.1 --id x
rc "bad forward: exit 2" 2 rp-join --tunnel x --host 127.0.0.1 --port 22 --forward Q:1:2:3
rc "no records: exit 0" 0 rp-join </dev/null
done_testing
