#!/usr/bin/env bash
# 96-examples-launch: rp-launch(1)'s EXAMPLES, typed as the man page types
# them, against the stack (RunPod stand-in, real sshd "pods" with the stub
# kubeadm, the Kubernetes stand-in, the mock Kafka).  Each test is titled
# with the command.  Only the configuration around them is the test's: a
# cluster of its own, its own Kafka topic and group.
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RUNPOD_URL:?}" "${KAFKACTL:?}"

A=$RUNPOD_URL/_admin
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
ours() { curl -sf "$A/state" | jq "[.pods[] | select(.name | startswith(\"exl-burst-\")) | select(${1:-true})] | length"; }
ev_count() { grep -c "\"event\":\"$1\"" "$LEDGER" 2>/dev/null || echo 0; }
ready_nodes() { kubectl get nodes -l gpu-type=runpod --no-headers 2>/dev/null | awk '$2=="Ready"' | grep -c '^exl-burst-'; }
nodes_of() { jq -r 'select(.type=="node" and .ready==true) | .node' "$T_TMP/.out" | grep -c '^exl-burst-'; }
# Burst nodes of other tests would count as serving; ours are removed
# after each example, with their pods.
clean() {
	local n
	for n in $(kubectl get nodes -l gpu-type=runpod -o name 2>/dev/null); do kubectl delete "$n" >/dev/null; done
	admin reset
	admin config '{"provision_delay":0.1,"start_delay":0.1,"boot_delay":0.3}'
	: >"$LEDGER"
}
at_exit clean

TOPIC=exl-$$ GROUP=exl-g-$$
"$KAFKACTL" topic "$TOPIC" 2 >/dev/null || { fail "kafkactl topic"; done_testing; exit 1; }
for p in 0 1; do "$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" 0 >/dev/null; done
sed -e "s/^cluster: .*/cluster: exl/" -e "s/^  poll_interval: .*/  poll_interval: 200ms/" \
	-e "s/^  group: .*/  group: [\"$GROUP\"]/" -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" \
	"$RP_CONFIG" >"$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
clean

# --- Launch three pods and join them --------------------------------------------
rc "rp-launch --count 3 | rp-join: exit 0" 0 sh -c 'rp-launch --count 3 | rp-join'
is "rp-launch --count 3 | rp-join: three ready node records" "$(nodes_of)" 3
is "rp-launch --count 3 | rp-join: Kubernetes has three Ready burst nodes" "$(ready_nodes)" 3
is "rp-launch --count 3 | rp-join: ledger: 3 launched, 3 ready, 3 joined" \
	"$(ev_count launched),$(ev_count ready),$(ev_count joined)" 3,3,3
clean

# --- One tick of the loop -----------------------------------------------------------
"$KAFKACTL" produce "$TOPIC" 0 11 >/dev/null
rc "rp-lagwatch | rp-launch | rp-join: exit 0" 0 sh -c 'rp-lagwatch | rp-launch | rp-join'
is "rp-lagwatch | rp-launch | rp-join: lag 11, threshold 5: three ready nodes" "$(nodes_of)" 3
is "rp-lagwatch | rp-launch | rp-join: Kubernetes has them" "$(ready_nodes)" 3
is "rp-lagwatch | rp-launch | rp-join: three pods live on RunPod" "$(ours '.status != "TERMINATED"')" 3
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 11 >/dev/null
clean

# --- Spot A6000s only, never more than $0.30/h per GPU, what would it cost ----------
rc "rp-launch --count 10 --spot --max-bid 0.30 --gpu-type \"NVIDIA RTX A6000\" --dry-run -o table: exit 0" 0 \
	rp-launch --count 10 --spot --max-bid 0.30 \
	--gpu-type "NVIDIA RTX A6000" --dry-run -o table
tbl=$(cat "$T_TMP/.out")
is "... a table of plans, not JSON" "$(sed -n 1,2p <<<"$tbl" | tr -s ' ' | paste -sd'|' -)" \
	"plan|NAME GPU GPU_COUNT SPOT BID_PER_GPU COST_PER_HR DC"
is "... ten planned pods, each a spot A6000 bid at most 0.30" \
	"$(awk -F'  +' 'NR > 2 && $2 == "NVIDIA RTX A6000" && $4 == "true" && $5 <= 0.30' <<<"$tbl" | wc -l)" 10
like "... the total on stderr" "$(cat "$T_TMP/.err")" 'dry run: nothing created.*pods=10'
is "... nothing created" "$(ours)" 0

# --- After a crash ---------------------------------------------------------------
# A crash between a pod's create and its `launched` line: the ledger has
# only the `launching` line rp-launch wrote before the create.
orphan=$(curl -sf -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
	--data '{"name":"exl-burst-orphan01","image":"x","gpu":{"id":"NVIDIA RTX A6000","count":1}}' \
	"$RUNPOD_URL/v2/pods" | jq -r .id)
jq -nc '{type:"ledger",event:"launching",ts:"2026-11-28T08:00:00.000Z",name:"exl-burst-orphan01",cluster:"exl",
	gpu:"NVIDIA RTX A6000",spot:false}' >>"$LEDGER"
rc "rp-launch --reap --dry-run && rp-launch --reap: exit 0" 0 sh -c 'rp-launch --reap --dry-run && rp-launch --reap'
is "... the orphan said twice: would reap, then reaped" \
	"$(jq -r 'select(.type=="reaped") | "\(.id):\(.terminated)"' "$T_TMP/.out" | paste -sd, -)" \
	"$orphan:false,$orphan:true"
is "... the orphan is gone" "$(ours '.status != "TERMINATED"')" 0
is "... ledgered reaped once" "$(ev_count reaped)" 1

done_testing
