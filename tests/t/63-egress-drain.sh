#!/usr/bin/env bash
# 63-egress-drain: rp-drain takes each pod's final egress reading just
# before it terminates it, so the bytes a pod sent after the last tick's
# reading are counted: ledgered (always, with the reading's time, before
# the "terminated" line), in egress.json and in runpod_egress_bytes_total.
# A final reading that fails (counters unreadable, another sampler holding
# egress.lock past ssh.connect_timeout) is one warning and the drain goes
# on promptly; a pod never measured and a preempted pod are not read.
# The pods are worker-mode pods on the stack's sshd "pods" (their counters
# a file in the pod dir, in /proc/net/dev format).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
need_stack
# shellcheck disable=SC2153 # RP_STACK_DIR, SSH_HOSTS, RUNPOD_* come from stack.env
S=$RP_STACK_DIR
read -r -a H <<<"$SSH_HOSTS"
port() { echo "${1##*:}"; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
F=net-dev63-$$
CL=e63x$$
export RP_CONFIG="$T_TMP/rp.yaml"
sed -e "s|^  connect_timeout: .*|  connect_timeout: 2s\n  egress_counters: $F|" -e "s/^cluster: .*/cluster: $CL/" \
	"$RP_STACK_DIR/rp.yaml" >"$RP_CONFIG"
: >"$T_TMP/pods"
cleanup() {
	local id
	while read -r id; do
		curl -sf -X DELETE -H "Authorization: Bearer $RUNPOD_API_KEY" "$RUNPOD_URL/v2/pods/$id" >/dev/null 2>&1
	done <"$T_TMP/pods"
}
at_exit cleanup
p0=$(port "${H[0]}") p1=$(port "${H[1]}") p2=$(port "${H[2]}")
at_exit "rm -f '$S/hosts/$p0/$F' '$S/hosts/$p1/$F' '$S/hosts/$p2/$F'"

# counters PORT TX: the pod's /proc/net/dev (lo never counts)
counters() {
	{
		echo 'Inter-|   Receive                                                |  Transmit'
		echo ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed'
		echo "    lo: 777000 10 0 0 0 0 0 0 999999999 10 0 0 0 0 0 0"
		echo "  eth0: 5000 40 0 0 0 0 0 0 $2 70 0 0 0 0 0 0"
	} >"$S/hosts/$1/$F"
}
reads() { local n; n=$(grep -c -- "$F" "$S/hosts/$1/commands.log" 2>/dev/null); echo "${n:-0}"; }
# worker NAME HOST:PORT [SPOT]: a worker-mode pod of ours, joined at that address
worker() {
	local id
	if [ "${3:-}" = spot ]; then
		id=$(curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' "$RUNPOD_URL/graphql" \
			-d "{\"query\":\"mutation { podRentInterruptable(input: {bidPerGpu: 1.0, gpuTypeId: \\\"NVIDIA RTX A6000\\\", imageName: \\\"rp/worker\\\", cloudType: SECURE, name: \\\"$CL-burst-$1\\\"}) { id } }\"}" |
			jq -r .data.podRentInterruptable.id | tee -a "$T_TMP/pods")
		ledger_pod "$id" "$CL-burst-$1" "" true
	else
		id=$(new_pod "$1" worker)
	fi
	printf '{"type":"ledger","event":"joined","ts":"%s","id":"%s","bootstrap":"worker","ssh_host":"%s","ssh_port":%s}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$id" "${2%:*}" "${2##*:}" >>"$LEDGER"
	echo "$id"
}
# pstatus ID (tests/scene.sh): a RunPod pod's status
lines() { jq -r --arg id "$1" 'select(.type=="egress" and .id==$id) | .bytes' "$LEDGER"; }
sample() { rp-join --egress -o json; }
drain() { rp-drain --worker --id "$1" --skip-checkpoint --set drain.worker_stop_command=true -o json; }
warns() { grep -c 'level=warn' "$T_TMP/.err"; }
ms() { date +%s%3N; }

wa=$(worker a "${H[0]}") wb=$(worker b "${H[1]}") wc=$(worker c "${H[2]}")

# ---- 1. the bytes after the last tick's reading -------------------------------
counters "$p0" 1000
counters "$p1" 2000
counters "$p2" 3000
rc "tick reading: exit 0" 0 sample
counters "$p0" 4001000 # +4000000: less than 1 GB, read but not ledgered
rc "tick reading: exit 0" 0 sample
is "the reading is not ledgered" "$(jq -r --arg id "$wa" 'select(.id==$id) | "\(.bytes) \(.ledgered)"' "$T_TMP/.out")" "4001000 false"
is "the ledger has wa's first reading only" "$(lines "$wa" | tr '\n' ' ')" "1000 "
counters "$p0" 4008000 # +7000 after the last reading: the workload's last output
rc "rp-drain --worker: exit 0" 0 drain "$wa"
is "drained and terminated" "$(jq -r '"\(.id) \(.terminated)"' "$T_TMP/.out")" "$wa true"
like "said the final reading" "$(cat "$T_TMP/.err")" "msg=\"?final egress reading\"? pod=$wa bytes=4008000"
is "no warning" "$(warns)" 0
is "ledgered: the final reading, its total with the last 7000 bytes" "$(lines "$wa" | tr '\n' ' ')" "1000 4008000 "
is "before the terminated line" \
	"$(jq -r --arg id "$wa" 'select(.id==$id) | (.event // .type)' "$LEDGER" | grep -E '^(egress|terminated)$' | tail -n 2 | tr '\n' ' ')" \
	"egress terminated "
is "egress.json has it" "$(jq -r --arg id "$wa" '.pods[$id].bytes' "$RP_STATE_DIR/egress.json")" 4008000
is "the pod is terminated" "$(pstatus "$wa")" TERMINATED
rc "rp-cost report prices it" 0 rp-cost report --set cost.egress_per_gb=1
# wa 4008000, wb 2000, wc 3000
is "report: the final bytes in" "$(grep '"by":"total"' "$T_TMP/.out" | jq -r .egress_bytes)" 4013000

# exported: rp-lagwatch --serve
TOPIC=eg63-$$ GROUP=egg63-$$
"$KAFKACTL" topic "$TOPIC" 1 >/dev/null && "$KAFKACTL" commit "$GROUP" "$TOPIC" 0 0 >/dev/null
rp-lagwatch --serve 127.0.0.1:0 --group "$GROUP" --topic "$TOPIC" --set prometheus.url=http://127.0.0.1:9 \
	--watch 1s >"$T_TMP/serve.out" 2>"$T_TMP/serve.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
eventually 10 grep -q 'msg=listening' "$T_TMP/serve.err" || diag "server did not start: $(cat "$T_TMP/serve.err")"
addr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/serve.err")
have() { curl -sf "http://$addr/metrics" >"$T_TMP/m"; }
ok "GET /metrics" eventually 10 have
like "runpod_egress_bytes_total has the final bytes" "$(cat "$T_TMP/m")" \
	"^runpod_egress_bytes_total\{pod=\"$CL-burst-a\",id=\"$wa\",.*\} 4008000\$"
kill "$spid"; wait "$spid" 2>/dev/null

n=$(reads "$p0")
rc "the next tick: exit 0" 0 sample
is "does not read the drained pod" "$(reads "$p0")" "$n"
is "which leaves egress.json" "$(jq -r --arg id "$wa" '.pods | has($id)' "$RP_STATE_DIR/egress.json")" false
is "with no line more (its final reading is ledgered)" "$(lines "$wa" | wc -l)" 2

# ---- 2. a final reading that fails: one warning, the drain goes on -----------
printf 'eth0 is down\n' >"$S/hosts/$p1/$F"
t0=$(ms)
rc "counters unreadable: rp-drain exit 0" 0 drain "$wb"
num_le "promptly" $(($(ms) - t0)) 8000
is "one warning" "$(warns)" 1
like "it names the pod and why" "$(grep 'level=warn' "$T_TMP/.err")" "final egress reading not taken.*pod=$wb.*not /proc/net/dev text"
is "the pod is terminated" "$(pstatus "$wb")" TERMINATED
is "its ledger total stays its last reading" "$(lines "$wb" | tr '\n' ' ')" "2000 "

# ---- 3. another sampler holds egress.lock: bounded wait, one warning -----------
counters "$p2" 9000
exec 8>"$RP_STATE_DIR/egress.lock"
flock 8
t0=$(ms)
rc "egress.lock held: rp-drain exit 0" 0 drain "$wc"
el=$(($(ms) - t0))
exec 8>&-
num_ge "it waited for the lock (ssh.connect_timeout 2s)" "$el" 1900
num_le "no longer than the bound" "$el" 10000
is "one warning" "$(warns)" 1
like "naming the lock" "$(grep 'level=warn' "$T_TMP/.err")" "final egress reading not taken.*pod=$wc.*egress.lock"
is "the pod is terminated" "$(pstatus "$wc")" TERMINATED

# ---- 4. a pod never measured is not read; nor a preempted one ------------------
wd=$(worker d "${H[0]}")
n=$(reads "$p0")
rc "a pod egress never measured: exit 0" 0 drain "$wd"
is "not read" "$(reads "$p0")" "$n"
is "no egress line" "$(lines "$wd")" ""
is "no warning" "$(warns)" 0
ws=$(worker s "${H[1]}" spot)
counters "$p1" 5000
rc "the spot pod measured: exit 0" 0 sample
curl -sf "$RUNPOD_URL/_admin/preempt" -d "{\"id\":\"$ws\"}" >/dev/null
n=$(reads "$p1")
rc "rp-drain --preempted: exit 0" 0 rp-drain --preempted -o json
is "drained it" "$(jq -r '"\(.id) \(.preempted)"' "$T_TMP/.out")" "$ws true"
is "its machine is gone: not read" "$(reads "$p1")" "$n"

done_testing
