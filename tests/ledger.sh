# shellcheck shell=bash
# tests/ledger.sh — sourced by tests/lib.sh and tests/bench/lib.sh.
#
# ledger_pod ID NAME [NODE [SPOT]]: the ledger lines the tools write for a
# pod a scene made by hand on the RunPod stand-in: rp-launch's `launched`
# (cluster: NAME up to "-burst-"; SPOT true for a spot pod) and, with NODE,
# rp-join's `joined` (kubeadm) for that node.  rp-drain and the reaper
# terminate only pods the ledger shows this cluster launched.
ledger_pod() {
	local id=$1 name=$2 node=${3:-} spot=${4:-false} ts
	ts=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	mkdir -p "$RP_STATE_DIR"
	jq -nc --arg ts "$ts" --arg id "$id" --arg name "$name" --arg cl "${name%%-burst-*}" --argjson spot "$spot" \
		'{type:"ledger",event:"launched",ts:$ts,id:$id,name:$name,cluster:$cl,gpu:"NVIDIA RTX A6000",
		  gpu_count:1,spot:$spot,cost_per_hr:0.79,dc:""}' >>"$RP_STATE_DIR/ledger.jsonl"
	[ -z "$node" ] || jq -nc --arg ts "$ts" --arg id "$id" --arg node "$node" \
		'{type:"ledger",event:"joined",ts:$ts,id:$id,node:$node,bootstrap:"kubeadm"}' >>"$RP_STATE_DIR/ledger.jsonl"
}
