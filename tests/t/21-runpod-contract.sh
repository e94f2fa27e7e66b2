#!/usr/bin/env bash
# 21-runpod-contract: rp-launch's traffic with the stack's RunPod stand-in,
# held to RunPod's own v2 OpenAPI document (tests/contract/, see its README):
# every /v2 request the client sent and every answer the stand-in gave match
# the document's schemas for that path and method (2xx objects carry no
# field the document does not define), and every field the client reads
# from a v2 object is one the document defines.
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RP_STACK_DIR:?}" "${RUNPOD_URL:?}"

A=$RUNPOD_URL/_admin
SPEC=$RP_TOP/tests/contract/runpod-v2.openapi.json
CHECK=$RP_TOP/tests/contract/check.py
LOG=$RP_STACK_DIR/runpod/requests.jsonl
A6K="NVIDIA RTX A6000"
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
launch() { rp-launch -o json --set runpod.poll_interval=0.2s "$@"; }

ok "python3-jsonschema is there" python3 -c 'import jsonschema'
admin reset
admin config '{"provision_delay":0.1,"start_delay":0.1,"boot_delay":0.3}'
from=$(wc -l <"$LOG" 2>/dev/null || echo 0)

# traffic: on-demand, spot, a capacity refusal, a failed boot, the list and terminate paths
rc "on-demand: two pods, exit 0" 0 launch --count 2 --gpu-type "$A6K" --data-center EU-RO-1 --data-center US-TX-3
rc "spot: one pod, exit 0" 0 launch --count 1 --spot --max-bid 0.30 --gpu-type "$A6K"
admin config '{"capacity":"*"}'
rc "capacity everywhere: exit 75" 75 launch --count 1 --gpu-type "$A6K"
admin config '{"capacity_form":"500"}'
rc "capacity everywhere, the 500 form: exit 75" 75 launch --count 1 --gpu-type "$A6K"
admin config '{"capacity_form":"400"}'
is "the 500 form is in the traffic checked" "$(tail -n +"$((from + 1))" "$LOG" | jq -c 'select(.path=="/v2/pods" and .status==500) | .response.status' | sort -u)" 500
admin config '{"capacity":[],"boot_fail":{"gpu":"*","count":1,"status":"EXITED"}}'
rc "a boot failure is replaced: exit 0" 0 launch --count 1 --gpu-type "$A6K"
rc "a CUDA floor (gpu.minCudaVersion): exit 0" 0 launch --count 1 --gpu-type "$A6K" --set runpod.min_cuda_version=12.4
rc "gpu_count 2 on the community cloud: exit 0" 0 launch --count 1 --gpu-type "$A6K" --set runpod.gpu_count=2 --set runpod.cloud=COMMUNITY
rc "rp-cost report --reconcile (GET /v2/billing/pods): exit 0" 0 rp-cost report --reconcile --since 1h
tail -n +"$((from + 1))" "$LOG" >"$T_TMP/traffic.jsonl"
is "the billing call is in the traffic checked" "$(jq -r 'select(.path=="/v2/billing/pods") | .status' "$T_TMP/traffic.jsonl" | sort -u)" 200
is "the catalog was asked for count and cloud" \
	"$(jq -c 'select(.path=="/v2/catalog/gpus") | [.query.count[0], .query.cloud[0]]' "$T_TMP/traffic.jsonl" | sort -u | paste -sd' ' -)" \
	'["1","SECURE"] ["2","COMMUNITY"]'
is "the CUDA floor is in the traffic checked" "$(jq -r 'select(.path=="/v2/pods" and .method=="POST") | .body.gpu.minCudaVersion // empty' "$T_TMP/traffic.jsonl" | sort -u)" 12.4
num_ge "traffic has creates, polls, terminates" "$(jq -r 'select(.path|startswith("/v2/pods")) | .method' "$T_TMP/traffic.jsonl" | sort -u | wc -l)" 3
ok "every /v2 request and answer matches the document" python3 "$CHECK" traffic "$SPEC" "$T_TMP/traffic.jsonl"
like "... and there were many of them" "$(tail -1 "$T_TMP/.out")" '^# [1-9][0-9]+ /v2 calls checked, 0 problems$'
ok "every field the client reads from a v2 object is in the document" python3 "$CHECK" reads "$SPEC" "$RP_TOP"

# the checker itself says no: a pod with a field the document lacks, a create with an unknown field
jq -c 'select(.method=="POST" and .path=="/v2/pods" and .status==201)' "$T_TMP/traffic.jsonl" | head -1 >"$T_TMP/one.jsonl"
jq -c '.response.costPerHr = 0.49' "$T_TMP/one.jsonl" >"$T_TMP/bad-resp.jsonl"
ko "checker: a v2 pod with costPerHr fails" python3 "$CHECK" traffic "$SPEC" "$T_TMP/bad-resp.jsonl"
like "checker: ... naming the field" "$(cat "$T_TMP/.out")" 'response\.costPerHr: not defined by the document'
jq -c '.body.interruptible = true' "$T_TMP/one.jsonl" >"$T_TMP/bad-req.jsonl"
ko "checker: a create with an unknown field fails" python3 "$CHECK" traffic "$SPEC" "$T_TMP/bad-req.jsonl"
like "checker: ... as the document's unevaluatedProperties" "$(cat "$T_TMP/.out")" "request body : Unevaluated properties are not allowed \\('interruptible'"
jq -c '.query = {"count":["0"]} | .path = "/v2/catalog/gpus" | .method = "GET" | .body = null | .response = {"gpus":[]}' \
	"$T_TMP/one.jsonl" >"$T_TMP/bad-q.jsonl"
ko "checker: catalog count=0 fails" python3 "$CHECK" traffic "$SPEC" "$T_TMP/bad-q.jsonl"
done_testing
