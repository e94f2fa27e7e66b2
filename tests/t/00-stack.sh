#!/usr/bin/env bash
# The local stack's self-test: a private stack comes up (timed, < 15 s),
# every server answers a real client — ssh on each pod, Prometheus's
# histogram_quantile following the exporter, Kafka lag read by
# confluent-kafka after produce + commit, an `aws s3 cp` round trip,
# the RunPod stand-in over curl (REST create/list/delete, GraphQL spot),
# the real kubectl against the Kubernetes stand-in (get, label, cordon,
# drain, a PDB making drain wait) — then down leaves no process.
# It starts its own stack (not need_stack): it mutates the cluster and
# tests up and down themselves.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
S=$RP_TOP/tests/stack
D=$T_TMP/stack
AWS=/usr/bin/aws
PY=/usr/bin/python3

# ---- up, timed
t0=$(date +%s%N)
if ! "$S/up" "$D" >"$T_TMP/up.log" 2>&1; then
	fail "tests/stack/up starts the stack"
	sed 's/^/#   /' "$T_TMP/up.log"
	"$S/down" "$D" >/dev/null 2>&1
	done_testing
	exit 1
fi
up_ms=$((($(date +%s%N) - t0) / 1000000))
at_exit "'$S/down' '$D' >/dev/null 2>&1"
pass "tests/stack/up starts the stack"
diag "up took ${up_ms} ms"
num_le "up takes under 15 s" "$up_ms" 15000
# shellcheck disable=SC1091
. "$D/stack.env"

for v in RP_STACK_DIR RP_CONFIG RP_STATE_DIR RUNPOD_URL RUNPOD_API_KEY KUBECONFIG KUBE_URL \
	KUBE_ADMIN_TOKEN KAFKA_BOOTSTRAP KAFKA_CTL KAFKA_CTL_OUT PROM_URL EXPORTER_URL \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION S3_ENDPOINT SSH_HOSTS SSH_USER SSH_KEY; do
	[ -n "${!v:-}" ] || fail "stack.env sets $v"
done
pass "stack.env sets every contract variable"
is "secret files are 0600" "$(stat -c %a "$D/secrets/runpod.key" "$D/secrets/s3.access" "$D/secrets/s3.secret" | sort -u)" 600
ok "rp.yaml is accepted by the rp config loader" "$RP_BIN/rp-cost" -c "$RP_CONFIG" breakeven
is "the RunPod key file holds RUNPOD_API_KEY" "$(cat "$D/secrets/runpod.key")" "$RUNPOD_API_KEY"

# ---- sshd pods
read -r -a HOSTS <<<"$SSH_HOSTS"
is "3 sshd pods" "${#HOSTS[@]}" 3
SSHO=(-i "$SSH_KEY" -o UserKnownHostsFile="$D/known_hosts" -o StrictHostKeyChecking=yes
	-o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=error)
pod() { local h=$1; shift; ssh "${SSHO[@]}" -p "${h#*:}" "$SSH_USER@${h%:*}" "$@"; }
for h in "${HOSTS[@]}"; do
	port=${h#*:}
	# shellcheck disable=SC2016
	out=$(pod "$h" 'echo "$RP_POD_DIR|${PATH%%:*}|$(command -v kubeadm)|$(pwd)"; nvidia-smi --query-gpu=name,memory.total --format=csv')
	is "ssh $h: pod dir, PATH, stub kubeadm, cwd" "$(head -1 <<<"$out")" \
		"$D/hosts/$port|$D/hosts/$port/bin|$D/hosts/$port/bin/kubeadm|$D/hosts/$port"
	is "ssh $h: stub nvidia-smi answers like the real one" "$(tail -n +2 <<<"$out")" \
		"$(printf 'name, memory.total [MiB]\nNVIDIA RTX 6000 Ada Generation, 49140 MiB')"
	rc "ssh $h: remote exit status comes back" 7 pod "$h" 'exit 7'
	like "ssh $h: the command is logged on the pod" "$(tail -1 "$D/hosts/$port/commands.log")" '^exit 7$'
done
fps=$(for h in "${HOSTS[@]}"; do ssh-keygen -lf "$D/hosts/${h#*:}/ssh_host_ed25519_key.pub"; done | awk '{print $2}' | sort -u | wc -l)
is "each pod has its own host key" "$fps" 3
printf '[127.0.0.1]:%s %s\n' "${HOSTS[0]#*:}" "$(cut -d' ' -f1,2 "$D/hosts/${HOSTS[1]#*:}/ssh_host_ed25519_key.pub")" >"$T_TMP/wrong_known"
ko "a wrong host key is refused" ssh -i "$SSH_KEY" -o UserKnownHostsFile="$T_TMP/wrong_known" -o StrictHostKeyChecking=yes \
	-o BatchMode=yes -o LogLevel=error -p "${HOSTS[0]#*:}" "$SSH_USER@127.0.0.1" true
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/otherkey"
ko "an unknown client key is refused" ssh -i "$T_TMP/otherkey" -o UserKnownHostsFile="$D/known_hosts" \
	-o BatchMode=yes -o LogLevel=error -p "${HOSTS[0]#*:}" "$SSH_USER@127.0.0.1" true
# stub worker: started on two pods; a pod's pkill stops only its own worker
p0=$D/hosts/${HOSTS[0]#*:} p1=$D/hosts/${HOSTS[1]#*:}
ok "rp-worker starts on pod 0" pod "${HOSTS[0]}" 'rp-worker --daemon --job j0'
ok "rp-worker starts on pod 1" pod "${HOSTS[1]}" 'rp-worker --daemon --job j1'
ok "worker.pid written" test -s "$p0/worker.pid" -a -s "$p1/worker.pid"
like "the worker logs its arguments" "$(grep 'args:' "$p0/worker.log")" 'args: --job j0'
ok "pkill on pod 0 stops its worker" pod "${HOSTS[0]}" "pkill -TERM -f '[r]p-worker'"
gone() { ! kill -0 "$1" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
w1=$(cat "$p1/worker.pid")
ok "pod 0 worker wrote its checkpoint marker" eventually 5 test -e "$p0/.rp-worker/checkpointed"
ok "pod 1 worker still runs" kill -0 "$w1"
ok "pod 1 has no marker" test ! -e "$p1/.rp-worker/checkpointed"
# sshd-add: one more pod, reachable, recorded
new=$("$S/sshd-add" "$D" 1)
like "sshd-add prints the new host" "$new" '^127\.0\.0\.1:[0-9]+$'
is "sshd-add records it in ssh_hosts" "$(tail -1 "$D/ssh_hosts")" "$new"
ok "the added pod answers ssh (known host key)" pod "$new" true
# sshd-ctl: a pod dies with its sessions and forwards, then comes back
rport=$(bash -c '. "$1"; free_ports 1' _ "$S/lib.sh")
ssh "${SSHO[@]}" -N -o ExitOnForwardFailure=yes -R "127.0.0.1:$rport:127.0.0.1:${HOSTS[0]#*:}" \
	-p "${new#*:}" "$SSH_USER@127.0.0.1" &
fwd=$!
at_exit "kill $fwd 2>/dev/null"
ok "a remote forward through the added pod" eventually 10 port_open "$rport"
ok "sshd-ctl stop" "$S/sshd-ctl" "$D" stop "$new"
ko "the pod refuses ssh" pod "$new" true
ko "its remote forward is gone" port_open "$rport"
ok "the ssh client saw its session end" eventually 10 gone "$fwd"
ok "sshd-ctl start" "$S/sshd-ctl" "$D" start "$new"
ok "the pod answers ssh again, same host key" eventually 10 pod "$new" true

# ---- Prometheus + exporter
expset() { curl -sf -X POST "$EXPORTER_URL/set" -d "$1" >/dev/null; }
promq() { curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=$1"; }
Q='histogram_quantile(0.95, sum(rate(ome_transcoding_duration_seconds_bucket[15s])) by (le))'
p95() { promq "$Q" | jq -r '.data.result[0].value[1] // "none"'; }
p95_in() { local v; v=$(p95); awk -v v="$v" -v lo="$1" -v hi="$2" 'BEGIN{exit !(v != "none" && v != "NaN" && v+0 > lo && v+0 <= hi)}'; }
is "exporter rejects bad input" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$EXPORTER_URL/set" -d '{"rate":"x"}')" 400
ok "exporter takes a rate" expset '{"rate":{"10":5}}'
ok "p95 settles in (5,10] with every observation at 10 s" eventually 20 p95_in 5 10
diag "p95 = $(p95)"
ok "exporter moves the rate" expset '{"rate":{"45":20}}'
ok "p95 moves above 30 once most observations take 45 s" eventually 20 p95_in 30 45
diag "p95 = $(p95)"
ok "two series" expset '{"series":2}'
two() { [ "$(promq 'histogram_quantile(0.95, rate(ome_transcoding_duration_seconds_bucket[15s]))' | jq '.data.result|length')" = 2 ]; }
ok "a per-pod quantile returns two series" eventually 10 two
ok "empty mode" expset '{"mode":"empty","series":1}'
empty() { [ "$(promq 'ome_transcoding_duration_seconds_count' | jq '.data.result|length')" = 0 ]; }
ok "the histogram disappears in empty mode" eventually 10 empty
expset '{"mode":"normal","egress":{"pod-a":123456}}'
egress() { [ "$(promq 'runpod_egress_bytes_total{pod="pod-a"}' | jq -r '.data.result[0].value[1]')" = 123456 ]; }
ok "runpod_egress_bytes_total is scraped" eventually 10 egress
ok "promtool is there and checks the config" "$PROMTOOL" check config "$D/prom/prometheus.yml"

# ---- Kafka mock
K=$S/kafkactl
rc "kafkactl ping" 0 "$K" ping
like "ping names the bootstrap list" "$(cat "$T_TMP/.out")" "$KAFKA_BOOTSTRAP"
rc "produce 10 to partition 2" 0 "$K" produce video-transcode 2 10
hwm=$(sed -n 's/.*hwm=\([0-9]*\).*/\1/p' "$T_TMP/.out")
is "produce reports the new log end" "$hwm" 10
G=selftest-$$
rc "commit offset 4 for a group" 0 "$K" commit "$G" video-transcode 2 4
rc "an unknown command is an error" 1 "$K" frobnicate
like "error line names the command" "$(cat "$T_TMP/.out")" '^error frobnicate: '
cat >"$T_TMP/lag.py" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
boot, group, topic = sys.argv[1:4]
c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False,
              "isolation.level": "read_uncommitted"})
md = c.list_topics(topic, timeout=10)
parts = sorted(md.topics[topic].partitions)
lag, out = 0, []
for tp in c.committed([TopicPartition(topic, p) for p in parts], timeout=10):
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
    if tp.offset >= 0:
        lag += max(0, hi - max(tp.offset, lo))
    out.append("%d:%d/%d" % (tp.partition, tp.offset, hi))
c.close()
print(len(parts), lag, " ".join(out))
EOF
read -r nparts lag detail < <("$PY" "$T_TMP/lag.py" "$KAFKA_BOOTSTRAP" "$G" video-transcode 2>/dev/null)
is "video-transcode has 4 partitions" "${nparts:-}" 4
is "confluent-kafka reads lag 6 (10 produced, 4 committed)" "${lag:-}" 6
diag "partitions: ${detail:-}"
rc "commit 10" 0 "$K" commit "$G" video-transcode 2 10
read -r _ lag _ < <("$PY" "$T_TMP/lag.py" "$KAFKA_BOOTSTRAP" "$G" video-transcode 2>/dev/null)
is "lag 0 once committed to the end" "${lag:-}" 0
rc "broker-down 2" 0 "$K" broker-down 2
rc "broker-up 2" 0 "$K" broker-up 2
rc "a new topic" 0 "$K" topic selftest 2

# ---- S3 (s3rver) with the aws cli
head -c 300000 /dev/urandom >"$T_TMP/blob"
ok "aws s3 cp up" "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$T_TMP/blob" s3://checkpoint/selftest/blob
ok "aws s3 cp down" "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors s3://checkpoint/selftest/blob "$T_TMP/blob.back"
ok "round trip is byte-identical" cmp "$T_TMP/blob" "$T_TMP/blob.back"
like "aws s3 ls lists it" "$("$AWS" --endpoint-url "$S3_ENDPOINT" s3 ls s3://checkpoint/selftest/)" ' 300000 blob$'

# ---- RunPod stand-in
rp() { # METHOD PATH [BODY] -> status; body in $T_TMP/rp.json
	curl -s -o "$T_TMP/rp.json" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $RUNPOD_API_KEY" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$RUNPOD_URL$2"
}
is "a wrong key is 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$RUNPOD_URL/v2/pods")" 401
# RunPod starts sshd only with a key: the pod's PUBLIC_KEY env (issue 16)
PKENV=$(jq -cn --arg k "$(tr -d '\n' <"$SSH_KEY.pub")" '{PUBLIC_KEY:$k}')
is "create: 201" "$(rp POST /v2/pods '{"name":"demo-selftest-a","image":"reg/worker:1","gpu":{"id":"NVIDIA RTX A6000","count":1},"ports":["22/tcp"],"env":'"$PKENV"'}')" 201
P=$(jq -r .id "$T_TMP/rp.json")
is "list shows it" "$(rp GET /v2/pods)/$(jq -r --arg p "$P" '[.pods[]|select(.id==$p)]|length' "$T_TMP/rp.json")" 200/1
direct() { rp GET "/v2/pods/$P" >/dev/null && jq -e '.ssh.direct != null' "$T_TMP/rp.json"; }
ok "the pod gets ssh.direct" eventually 15 direct
sd=$(jq -r '"\(.ssh.direct.host):\(.ssh.direct.port)"' "$T_TMP/rp.json")
like "ssh.direct is one of the sshd pods" " $(tr '\n' ' ' <"$D/ssh_hosts")" " $sd "
ok "and that pod answers ssh" pod "$sd" true
is "delete: 204" "$(rp DELETE "/v2/pods/$P")" 204
is "then 404" "$(rp GET "/v2/pods/$P")" 404
# shellcheck disable=SC2016
GQ='mutation Rent($input: PodRentInterruptableInput!) { podRentInterruptable(input: $input) { id desiredStatus podType } }'
body=$(jq -cn --arg q "$GQ" '{query:$q, variables:{input:{name:"demo-selftest-spot",imageName:"reg/worker:1",gpuTypeId:"NVIDIA RTX A6000",cloudType:"SECURE",gpuCount:1,bidPerGpu:0.30,ports:"22/tcp"}}}')
is "GraphQL podRentInterruptable: 200" "$(rp POST /graphql "$body")" 200
is "spot pod is INTERRUPTABLE" "$(jq -r '.data.podRentInterruptable.podType' "$T_TMP/rp.json")" INTERRUPTABLE
SP=$(jq -r '.data.podRentInterruptable.id' "$T_TMP/rp.json")
rp POST /graphql "$(jq -cn --arg id "$SP" '{query:"mutation($id: String!) { podTerminate(input:{podId:$id}) }", variables:{id:$id}}')" >/dev/null
is "GraphQL podTerminate: no errors" "$(jq -c '.errors // []' "$T_TMP/rp.json")" '[]'

# ---- Kubernetes stand-in with the real kubectl
kc() { kubectl --request-timeout=10s "$@"; }
rc "kubectl get nodes" 0 kc get nodes
nodes=$(awk 'NR>1 {print $1 "=" $2}' "$T_TMP/.out" | sort | tr '\n' ' ')
is "three Ready nodes" "$nodes" "cp-1=Ready gpu-base-1=Ready gpu-base-2=Ready "
rc "kubectl label node" 0 kc label node gpu-base-1 rp.io/selftest=yes
is "the label is there" "$(kc get node -l rp.io/selftest=yes -o name)" node/gpu-base-1
rc "kubectl cordon" 0 kc cordon gpu-base-2
is "cordon sets unschedulable" "$(kc get node gpu-base-2 -o jsonpath='{.spec.unschedulable}')" true
rc "kubectl uncordon" 0 kc uncordon gpu-base-2
rc "kubectl drain a baseline node" 0 kc drain gpu-base-1 --ignore-daemonsets --delete-emptydir-data --timeout=60s
like "drain evicted the transcoder" "$(cat "$T_TMP/.out" "$T_TMP/.err")" 'evicted'
is "no evictable pod left on it" "$(kc get pods -A --field-selector spec.nodeName=gpu-base-1 -o json |
	jq '[.items[] | select((.metadata.ownerReferences // []) | all(.kind != "DaemonSet"))] | length')" 0
rc "a PDB that allows no disruption" 0 kc patch pdb transcoder --type=merge -p '{"spec":{"minAvailable":2}}'
rc "drain waits on the PDB and times out" 1 kc drain gpu-base-2 --ignore-daemonsets --delete-emptydir-data --force --timeout=3s
like "kubectl says the budget refused" "$(cat "$T_TMP/.err" "$T_TMP/.out")" 'disruption budget'
rc "with the PDB relaxed" 0 kc patch pdb transcoder --type=merge -p '{"spec":{"minAvailable":0}}'
rc "the same drain completes" 0 kc drain gpu-base-2 --ignore-daemonsets --delete-emptydir-data --force --timeout=60s

# ---- down leaves no process
pids=$(cat "$D"/pids/*.pid "$p1/worker.pid" | tr '\n' ' ')
rc "down" 0 "$S/down" "$D"
alive=
for p in $pids; do s=$(ps -o stat= -p "$p" 2>/dev/null) && [ "${s#Z}" = "$s" ] && alive="$alive $p"; done
is "no recorded process is left" "${alive# }" ""
is "no process mentions the stack dir" "$(pgrep -f "$D" | grep -vx $$ || true)" ""
ok "pod 1 worker checkpointed on its way out" test -e "$p1/.rp-worker/checkpointed"
done_testing
