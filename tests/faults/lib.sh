# shellcheck shell=bash
# tests/faults/lib.sh — what every fault scenario shares: a private
# cluster name, topic, group and state dir on the running stack, one tick,
# and the invariant every scenario ends with:
#   1. every pod the RunPod stand-in says exists (ours, not TERMINATED) has
#      a ledger line and is a Ready node, a worker, or being drained;
#   2. no checkpoint manifest points at a missing or wrong object
#      (rp-checkpoint verify over every job in the bucket);
#   3. the ledger parses (a torn last line is the only tolerated flaw).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_stack
exec </dev/null
F_NAME=${T_NAME:?}
CL=f$(printf '%s' "$F_NAME" | tr -cd 'a-z0-9' | tail -c 10)
TOPIC=topic-$CL-$$ GROUP=group-$CL-$$
AS="$RP_TOP/scripts/rp-autoscale"
RA=$RUNPOD_URL/_admin
LEDGER=$RP_STATE_DIR/ledger.jsonl
radmin() { curl -sf -o /dev/null -X POST "$RA/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
kadmin() { curl -sf -o /dev/null --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
	-X POST "$KUBE_URL/_admin/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
our_pods() { curl -sf "$RA/state" | jq -c "[.pods[] | select(.name | startswith(\"$CL-burst-\")) | select(.status != \"TERMINATED\")]"; }
n_pods() { our_pods | jq length; }

f_setup() { # fresh stand-ins, own topic/group, a fast clock
	"$KAFKACTL" topic "$TOPIC" 2 >/dev/null || { fail "kafkactl topic $TOPIC"; exit 1; }
	for p in 0 1; do "$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" 0 >/dev/null; done
	sed -e "s/^cluster: .*/cluster: $CL/" -e "s/^  idle: .*/  idle: 2s\n  cooldown: 2s/" \
	    -e "s/^  group: .*/  group: [\"$GROUP\"]/" -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" \
	    -e "s/^  ready_timeout: .*/  ready_timeout: 20s/" \
	    "$RP_CONFIG" >"$T_TMP/rp.yaml"
	export RP_CONFIG="$T_TMP/rp.yaml"
	for n in $(kubectl get nodes -l gpu-type=runpod -o name); do kubectl delete "$n" >/dev/null 2>&1; done
	radmin reset
	radmin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":0.5}'
}
lag() { # N [PARTITION]: produce N messages; the topic is ours, so we know its end
	local p=${2:-0} h
	h=$(cat "$T_TMP/hwm.$p" 2>/dev/null || echo 0)
	"$KAFKACTL" produce "$TOPIC" "$p" "$1" >/dev/null && echo $((h + $1)) >"$T_TMP/hwm.$p"
}
drain_lag() { # commit every partition to its high watermark
	local p
	for p in 0 1; do
		"$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" "$(cat "$T_TMP/hwm.$p" 2>/dev/null || echo 0)" >/dev/null
	done
}
tick() { "$AS" -q --backoff "${BACKOFF:-30}" "$@"; }
recover() { # what the next ticks do after a fault: fault gone, loop runs
	radmin config '{"fail_next":[],"capacity":[],"create_then_timeout":0}' || true
	rp-launch --reap -q >/dev/null 2>&1 || true
}

invariant() {
	local pods bad=0 id name node
	pods=$(our_pods)
	for id in $(jq -r '.[].id' <<<"$pods"); do
		name=$(jq -r --arg i "$id" '.[] | select(.id==$i) | .name' <<<"$pods")
		if ! grep -q "\"id\":\"$id\"" "$LEDGER" 2>/dev/null; then
			diag "invariant: pod $id ($name) is not in the ledger"; bad=$((bad + 1)); continue
		fi
		node=$(kubectl get node "$name" -o json 2>/dev/null || true)
		if [ -n "$node" ]; then
			jq -e '([.status.conditions[]? | select(.type=="Ready" and .status=="True")] | length > 0)
			       or .spec.unschedulable == true' <<<"$node" >/dev/null && continue
			diag "invariant: pod $id's node $name is neither Ready nor being drained"; bad=$((bad + 1)); continue
		fi
		grep "\"id\":\"$id\"" "$LEDGER" | tail -n1 | grep -q '"bootstrap":"worker"' && continue
		diag "invariant: pod $id ($name) is paid for, but neither a node nor a worker"; bad=$((bad + 1))
	done
	is "invariant: every live pod is in the ledger and serving or draining" "$bad" 0
	local jobs j vbad=0
	jobs=$(aws --endpoint-url "$S3_ENDPOINT" s3 ls s3://checkpoint/ 2>/dev/null | awk '$1=="PRE"{sub("/$","",$2); print $2}')
	for j in $jobs; do
		rp-checkpoint verify "$j" >/dev/null 2>"$T_TMP/verify.err" || {
			# a job sealed with another test's DRM key cannot be opened here:
			# its objects' existence was checked by that test; say so
			if grep -q 'holds encrypted DRM keys' "$T_TMP/verify.err"; then
				diag "invariant: $j holds DRM keys sealed with a key this run does not have: not verified"
			else
				grep -q 'no checkpoint' "$T_TMP/verify.err" || { vbad=$((vbad + 1)); diag "invariant: verify $j: $(head -c 300 "$T_TMP/verify.err")"; }
			fi
		}
	done
	is "invariant: every checkpoint manifest points at whole objects" "$vbad" 0
	# every newline-terminated line parses; an unterminated tail (a write
	# cut by a crash) is the only flaw tolerated
	local lbad=0
	if [ -f "$LEDGER" ]; then
		lbad=$(head -n "$(wc -l <"$LEDGER")" "$LEDGER" | while IFS= read -r l; do
			jq -e . >/dev/null 2>&1 <<<"$l" || echo bad; done | wc -l)
	fi
	is "invariant: the ledger parses" "$lbad" 0
}

# --- helpers for the scenarios (additive) -----------------------------------
# reqs [JQ]: the RunPod stand-in's request log, filtered by a jq expression
reqs() { curl -sf "$RA/requests" | jq -c "${1:-.}"; }
reqs_clear() { curl -sf -o /dev/null -X DELETE "$RA/requests"; }
# creates_ok: how many creates the stand-in answered 201 (REST and GraphQL)
creates_ok() { reqs '[.[] | select((.method=="POST" and .path=="/v2/pods" and .status==201)
	or (.op != null and (.op | test("podRentInterruptable|podFindAndDeployOnDemand")) and .status==200))] | length'; }
# f_conf SECTION 'KEY: VALUE': add a key under a top-level section of our config
f_conf() { sed -i "s|^$1:\$|$1:\n  $2|" "$RP_CONFIG"; grep -q "^  $2\$" "$RP_CONFIG" || { fail "f_conf $1 $2"; exit 1; }; }
# ledger_n EVENT [ID]: how many ledger lines of that event (for that pod)
ledger_n() { jq -r --arg e "$1" --arg i "${2:-}" 'select(.event==$e and ($i=="" or .id==$i)) | .id' "$LEDGER" 2>/dev/null | wc -l; }
last_tick_log() { find "$RP_STATE_DIR/ticks" -name '*.jsonl' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-; }
