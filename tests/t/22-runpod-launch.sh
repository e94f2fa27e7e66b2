#!/usr/bin/env bash
# 22-runpod-launch: rp-launch against RunPod as it really answers (issue 16,
# items 4-7): the capacity refusal in its 500 form, SSH addresses from the
# runtime.ports fallback, the spot bid policy, the CUDA floor, and pacing by
# the RateLimit headers.  Strict stand-in, real sshd hosts.
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RP_STACK_DIR:?}" "${RUNPOD_URL:?}" "${SSH_HOSTS:?}"

A=$RUNPOD_URL/_admin
ADA="NVIDIA RTX 6000 Ada Generation" A6K="NVIDIA RTX A6000"
LEDGER=$RP_STATE_DIR/ledger.jsonl
# admin, state, npods, posts, launch (tests/runpod.sh); out, err (tests/lib.sh)
fresh() { runpod_scene "$1"; }

# --- item 7: "no capacity" as a 500 is the 400's news, not an unknown create ---------
fresh capacity-500
admin config "{\"capacity_form\":\"500\",\"capacity\":[{\"gpu\":\"$A6K\",\"dc\":\"EU-RO-1\"}]}"
rc "500 no capacity: next candidate, exit 0" 0 launch --count 1 --gpu-type "$A6K" --data-center EU-RO-1 --data-center US-TX-3
is "500 no capacity: EU-RO-1 answered 500, US-TX-3 created" \
	"$(posts 'map("\(.body.dataCenterIds[0]):\(.status)") | join(" ")')" "EU-RO-1:500 US-TX-3:201"
like "500 no capacity: said as no capacity" "$(err)" 'no capacity, next candidate.*no instances currently available'
unlike "500 no capacity: not taken for an unanswered create" "$(err)" 'create answer unknown'
is "500 no capacity: exactly one pod" "$(npods)" 1
fresh capacity-both
admin config '{"capacity_form":"alternate","capacity":"*"}'
rc "no capacity anywhere, both forms: exit 75" 75 launch --count 1 --gpu-type "$A6K" --data-center EU-RO-1 --data-center US-TX-3 --data-center CA-MTL-1
is "both forms: one create per pool, 400 and 500 in turn" "$(posts 'map(.status) | join(",")')" "400,500,400"
is "both forms: no pod" "$(npods)" 0

# --- item 7: the runtime.ports fallback refuses addresses that are not public -----------
fresh runtime-loopback
admin config '{"ssh_direct":false}'
rc "no ssh.direct, runtime port on loopback (the API is loopback): exit 0" 0 launch --count 1 --gpu-type "$A6K"
is "the record points at the runtime port's address" "$(out | jq -r .ssh_host)" 127.0.0.1
is "... and the pod has no ssh.direct" "$(state | jq -r '.pods[0].ssh.direct')" null
for ip in 10.0.0.7 100.64.1.2; do
	fresh "runtime-$ip"
	admin config "{\"ssh_direct\":false,\"runtime_ip\":\"$ip\"}"
	rc "runtime port on $ip: never ready, exit 75" 75 launch --count 1 --gpu-type "$A6K" --ready-timeout 2s
	like "runtime port on $ip: refused, saying why" "$(err)" "only SSH address is not public.*why=\"?(private|carrier-grade NAT)"
	is "runtime port on $ip: said once" "$(err | grep -c 'not public: refused')" 1
	is "runtime port on $ip: terminated, ledgered with the reason" \
		"$(jq -r 'select(.event=="terminated") | .reason' "$LEDGER" | tail -1)" \
		"not ready in runpod.ready_timeout (its only SSH address is not public)"
	is "runtime port on $ip: nothing left running" "$(npods '.status!="TERMINATED"')" 0
done

# --- item 5: the spot bid policy; item 4: spot prices from GraphQL for runpod.order price --
rents() { curl -sf "$A/requests" | jq -r "[.[] | select(.op==\"podRentInterruptable\")] | ${1:-length}"; }
spot_fresh() { # the A6000's floor (0.20) under its spot price (0.25)
	fresh "$1"
	admin config "{\"catalog\":{\"$A6K\":{\"secureSpotFloor\":0.20}}}"
}
spot() { launch --count 1 --spot --gpu-type "$A6K" --data-center EU-RO-1 "$@"; }
spot_fresh bid-default
rc "spot_bid default: exit 0" 0 spot --max-bid 0.50
is "spot_bid default (spot_price): bid the spot price, not the floor" "$(rents 'map(.body.variables.input.bidPerGpu) | join(",")')" 0.25
is "... the pod record carries the bid" "$(out | jq -c '[.spot,.bid_per_gpu]')" "[true,0.25]"
is "... and so does the ledger's launched line" "$(jq -r 'select(.event=="launched") | .bid_per_gpu' "$LEDGER" | tail -1)" 0.25
spot_fresh bid-floor
rc "spot_bid floor: exit 0" 0 spot --max-bid 0.50 --set runpod.spot_bid=floor
is "spot_bid floor: bid the live floor" "$(rents 'map(.body.variables.input.bidPerGpu) | join(",")')" 0.2
spot_fresh bid-number
rc "spot_bid 0.22: exit 0" 0 spot --max-bid 0.50 --set runpod.spot_bid=0.22
is "spot_bid 0.22: bid 0.22" "$(rents 'map(.body.variables.input.bidPerGpu) | join(",")')" 0.22
is "spot_bid 0.22: the stand-in holds that bid" "$(state | jq '.pods[0]._internal.bid')" 0.22
spot_fresh bid-capped
rc "spot price over the cap, floor under it: exit 0" 0 spot --max-bid 0.22
is "... bid the cap, never above it" "$(rents 'map(.body.variables.input.bidPerGpu) | join(",")')" 0.22
like "... saying so" "$(err)" 'spot bid capped at runpod.max_bid_per_gpu.*floor=0.2000 bid=0.2200'
spot_fresh cap-under-floor
rc "a bid cap below the floor: exit 75" 75 spot --max-bid 0.10
is "... nothing rented" "$(rents)" 0
is "... the candidate skipped with one line" "$(err | grep -c 'spot candidate skipped')" 1
like "... saying why" "$(err | grep 'spot candidate skipped')" "why=\"spot floor [$]0.2000/h per GPU is over runpod.max_bid_per_gpu [$]0.1000\""
spot_fresh fixed-under-floor
rc "spot_bid under the floor: exit 75" 75 spot --max-bid 0.50 --set runpod.spot_bid=0.15
is "... nothing rented" "$(rents)" 0
like "... the candidate skipped, saying why" "$(err | grep 'spot candidate skipped')" "under the live floor [$]0.2000"
curl -sf -X DELETE "$A/requests" >/dev/null
rc "spot_bid above max_bid_per_gpu: exit 2" 2 spot --max-bid 0.30 --set runpod.spot_bid=0.40
like "... naming both keys" "$(err)" 'fatal: runpod.spot_bid .*above runpod.max_bid_per_gpu'
is "... no request sent at all" "$(curl -sf "$A/requests" | jq length)" 0
rc "spot_bid that is no policy: exit 2" 2 spot --set runpod.spot_bid=cheapest
like "... listing the choices" "$(err)" 'expected floor, spot_price or a bid'
fresh spot-order-price
rc "spot, order price: exit 0" 0 launch --count 1 --spot --max-bid 0.50 --order price --gpu-type "$ADA" --gpu-type "$A6K" --data-center EU-RO-1
is "spot, order price: the cheaper spot GPU (A6000 0.25 < Ada 0.39), though listed second" "$(out | jq -r .gpu)" "$A6K"
is "spot, order price: rented once" "$(rents)" 1
rc "spot, preference order: exit 0" 0 launch --count 1 --spot --max-bid 0.50 --gpu-type "$ADA" --gpu-type "$A6K" --data-center EU-RO-1
is "spot, preference order: the first listed" "$(out | jq -r .gpu)" "$ADA"

# --- item 6: runpod.min_cuda_version as the document's gpu.minCudaVersion ---------------
fresh cuda
rc "min_cuda_version 12.4 (hosts run 12.8): exit 0" 0 launch --count 1 --gpu-type "$A6K" --set runpod.min_cuda_version=12.4
is "... sent as gpu.minCudaVersion" "$(posts 'map(.body.gpu.minCudaVersion) | join(",")')" 12.4
is "... the pod is on a 12.8 host" "$(state | jq -r '.pods[0].cudaVersion')" 12.8
fresh cuda-too-new
rc "min_cuda_version 12.9 (no such host): exit 75" 75 launch --count 1 --gpu-type "$A6K" --data-center EU-RO-1 --set runpod.min_cuda_version=12.9
is "... asked once, refused as no capacity" "$(posts 'map("\(.body.gpu.minCudaVersion):\(.status)") | join(",")')" 12.9:400
is "... no pod" "$(npods)" 0
fresh cuda-spot
rc "spot with min_cuda_version: exit 0" 0 launch --count 1 --spot --max-bid 0.5 --gpu-type "$A6K" --set runpod.min_cuda_version=12.4
is "... the GraphQL rent carries minCudaVersion" "$(rents 'map(.body.variables.input.minCudaVersion) | join(",")')" 12.4
curl -sf -X DELETE "$A/requests" >/dev/null
rc "min_cuda_version 'twelve': exit 2" 2 launch --count 1 --set runpod.min_cuda_version=twelve
like "... naming the key" "$(err)" "fatal: runpod.min_cuda_version .*expected a CUDA version like 12.4, got 'twelve'"
is "... no request sent" "$(curl -sf "$A/requests" | jq length)" 0
rc "without min_cuda_version: exit 0" 0 launch --count 1 --gpu-type "$A6K"
is "... no minCudaVersion sent" "$(posts 'map(.body.gpu | has("minCudaVersion")) | join(",")')" false

# --- item 7: pacing by RateLimit / RateLimit-Policy (the document defines no
# pagination for GET /v2/pods: one request lists them all) ----------------------------
fresh pacing
admin config '{"rate_window":10,"rate_limit":{"minute":14},"boot_delay":1.5}'
sleep "$(awk -v t="$(date +%s.%N)" 'BEGIN{print 10 - (t % 10) + 0.05}')" # at the start of a window
curl -sf -X DELETE "$A/requests" >/dev/null
rc "a 5-pod wave plus polling under a quota of 14 per 10 s: exit 0" 0 launch --count 5 --gpu-type "$A6K" -v
is "... five pods ready" "$(out | grep -c '"type":"pod"')" 5
is "... the stand-in never had to say 429" "$(curl -sf "$A/requests" | jq '[.[] | select(.status==429)] | length')" 0
like "... paced by the announced quota" "$(err)" 'pacing by RateLimit'
is "... the pod list is one request per look (no pages)" "$(curl -sf "$A/requests" | jq '[.[] | select(.path=="/v2/pods" and .method=="GET" and (.query|length) > 0)] | length')" 0

# --- item 2: a spot pod is known from our ledger; preempted = EXITED, or gone
# without our terminate (GraphQL's podType only an extra signal: here it fails) ---------
fresh preempt-ledger
# a ledger of its own: the spot pods of the scenarios above went with the
# stand-in's resets, never terminated by us, so they too are "gone"
RP_STATE_DIR=$T_TMP/state-preempt LEDGER=$T_TMP/state-preempt/ledger.jsonl
mkdir -p "$RP_STATE_DIR"
rc "two spot pods: exit 0" 0 launch --count 2 --spot --max-bid 0.5 --gpu-type "$A6K"
out | jq -r .id >"$T_TMP/spot.ids"
rc "one on-demand pod: exit 0" 0 launch --count 1 --gpu-type "$A6K"
od=$(out | jq -r .id)
sa=$(sed -n 1p "$T_TMP/spot.ids") sb=$(sed -n 2p "$T_TMP/spot.ids")
admin config '{"fail_next":[{"match":"gql:myself","status":500,"count":100}]}'
admin preempt "{\"id\":\"$sa\"}"
admin preempt "{\"id\":\"$sb\",\"terminate\":true}"
admin pod "{\"id\":\"$od\",\"status\":\"EXITED\"}"
rc "rp-drain --preempted without GraphQL's signal: exit 0" 0 rp-drain --preempted -o json
is "both spot pods found, by the ledger alone" "$(jq -r 'select(.preempted) | .id' "$T_TMP/.out" | sort | paste -sd' ')" \
	"$(printf '%s\n' "$sa" "$sb" | sort | paste -sd' ')"
like "the EXITED one: said so" "$(err)" "msg=preempted pod=$sa .*EXITED, a spot pod by our ledger"
like "the gone one: said so" "$(err)" "msg=preempted pod=$sb .*gone from RunPod's list without our terminate"
is "the EXITED spot pod no longer paid for" "$(state | jq -r --arg i "$sa" '.pods[] | select(.id==$i) | .status')" TERMINATED
is "the EXITED on-demand pod is no preemption" "$(jq -r --arg i "$od" 'select(.id==$i) | .id' "$T_TMP/.out")" ""
is "ledger: preempted once each" "$(jq -r 'select(.event=="preempted") | .id' "$LEDGER" | sort | paste -sd' ')" \
	"$(printf '%s\n' "$sa" "$sb" | sort | paste -sd' ')"
rc "next tick: exit 0" 0 rp-drain --preempted -o json
is "next tick: nothing left to do" "$(jq -r 'select(.preempted) | .id' "$T_TMP/.out")" ""

done_testing
