#!/usr/bin/env bash
# 23-cost-reconcile: rp-cost report --reconcile, our ledger against RunPod's
# GET /v2/billing/pods (the stand-in bills each pod rate x time, as the v2
# document shapes it): a pod billed as ledgered is no difference; billed at
# another rate, billed but never ledgered, ledgered but never billed are
# each one record.
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RUNPOD_URL:?}" "${RUNPOD_API_KEY:?}"
exec </dev/null
A=$RUNPOD_URL/_admin A6K="NVIDIA RTX A6000"
L=$RP_STATE_DIR/ledger.jsonl
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
admin reset
mk() { # NAME: a pod made through the API, its id
	curl -sf -X POST "$RUNPOD_URL/v2/pods" -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
		--data "{\"name\":\"$1\",\"image\":\"img\",\"gpu\":{\"id\":\"$A6K\"},\"dataCenterIds\":[\"EU-RO-1\"]}" | jq -r .id
}
ago() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S.000Z; }
ev() { printf '{"type":"ledger","event":"%s","ts":"%s","id":"%s"%s}\n' "$1" "$2" "$3" "${4:-}" >>"$L"; }

# p1: ledgered at the price RunPod bills (0.49/h), 2 h ago
p1=$(mk demo-burst-rec00001); admin pod "{\"id\":\"$p1\",\"backdate\":7200}"
ev launched "$(ago 7200)" "$p1" ',"name":"demo-burst-rec00001","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":false,"cost_per_hr":0.49'
# p2: ledgered at 0.33/h, billed at 0.49/h, 2 h
p2=$(mk demo-burst-rec00002); admin pod "{\"id\":\"$p2\",\"backdate\":7200}"
ev launched "$(ago 7200)" "$p2" ',"name":"demo-burst-rec00002","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":false,"cost_per_hr":0.33'
# p3: billed 1 h, never ledgered (a crash between create and ledger line)
p3=$(mk demo-burst-rec00003); admin pod "{\"id\":\"$p3\",\"backdate\":3600}"
# ghost: ledgered 2 h at 1.00/h, RunPod never billed it
ev launched "$(ago 10800)" ghost0000000001 ',"name":"demo-burst-ghost","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":false,"cost_per_hr":1.0'
ev terminated "$(ago 3600)" ghost0000000001

rc "report --reconcile: exit 0" 0 rp-cost report --reconcile --since 4h
out=$(cat "$T_TMP/.out")
is "p1, billed as ledgered: no record" "$(jq -r --arg i "$p1" 'select(.id==$i) | .status' <<<"$out")" ""
is "p2: billed more than the ledger says" "$(jq -c --arg i "$p2" 'select(.id==$i) | [.status,.ledger,.billed,.diff]' <<<"$out")" \
	'["billed_more",0.66,0.98,0.32]'
is "p2: named from the ledger" "$(jq -r --arg i "$p2" 'select(.id==$i) | .name' <<<"$out")" demo-burst-rec00002
is "p3: billed, not in the ledger" "$(jq -c --arg i "$p3" 'select(.id==$i) | [.status,.ledger,.billed]' <<<"$out")" \
	'["not_in_ledger",0,0.49]'
is "ghost: ledgered, never billed" "$(jq -c 'select(.id=="ghost0000000001") | [.status,.ledger,.billed,.diff]' <<<"$out")" \
	'["not_billed",2,0,-2]'
tot=$(jq -c 'select(.by=="total")' <<<"$out")
is "total: four pods, three differences" "$(jq -c '[.pods,.differences]' <<<"$tot")" '[4,3]'
is "total: ledger and billing sums" "$(jq -c '[.ledger,.billed]' <<<"$tot")" '[3.64,2.45]'
is "RunPod was asked for that window, by day" \
	"$(curl -sf "$A/requests" | jq -r '[.[] | select(.path=="/v2/billing/pods") | .query.bucketSize[0]] | join(",")')" day
rc "without --since: the window starts at the first ledger pod, exit 0" 0 rp-cost report --reconcile
is "... the same three differences" "$(jq -c 'select(.by=="total") | .differences' "$T_TMP/.out")" 3
rc "-o table: exit 0" 0 rp-cost -o table report --reconcile --since 4h
like "-o table: a row per difference" "$(cat "$T_TMP/.out")" 'billed_more'
rc "--reconcile with breakeven: exit 2" 2 rp-cost breakeven --reconcile
rc "API unreachable: exit 75" 75 rp-cost report --reconcile --set runpod.api_url=http://127.0.0.1:1/v2 --set runpod.request_timeout=2s
like "... one fatal line" "$(grep -c fatal "$T_TMP/.err")" '^1$'
done_testing
