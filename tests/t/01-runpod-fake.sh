#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs and GraphQL queries use $ literally
# 01-runpod-fake: the RunPod API stand-in behaves like the documents say
# (shared/reference/runpod-api.md, runpod-v2-pods.schema.json), checked with
# curl against an instance this test starts itself (no full stack needed).
. "$(dirname "$0")/../lib.sh"

FAKE=$RP_TOP/tests/fakes/runpod.py
KEY=rpk-$RANDOM$RANDOM-test
printf '%s\n' "$KEY" >"$T_TMP/key"; chmod 600 "$T_TMP/key"
H1=127.0.0.1:40101 H2=127.0.0.1:40102
python3 "$FAKE" --port-file "$T_TMP/port" --api-key-file "$T_TMP/key" \
	--ssh-hosts "$H1,$H2" --state-dir "$T_TMP" 2>"$T_TMP/fake.err" &
FPID=$!
at_exit "kill $FPID 2>/dev/null; wait $FPID 2>/dev/null"
for _ in $(seq 100); do [ -s "$T_TMP/port" ] && break; sleep 0.1; done
if [ ! -s "$T_TMP/port" ]; then
	cat "$T_TMP/fake.err" >&2
	echo "not ok 1 - $T_NAME: the RunPod stand-in did not start"; exit 1
fi
U=http://127.0.0.1:$(cat "$T_TMP/port")
AUTH="Authorization: Bearer $KEY"
CAP="There are no longer any instances available with the requested specifications. Please refresh and try again."
A6K="NVIDIA RTX A6000"
# sshd starts only with a key: the pod's PUBLIC_KEY env or an account key
PK="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg3bqQ0cCaOBnkFakeKeyForTheStandInOnlyXYZ rp-test"
PKENV='"env":{"PUBLIC_KEY":"'"$PK"'"}'

# req METHOD PATH [BODY] : authenticated call; body -> $T_TMP/b, headers -> $T_TMP/h, prints the status
req() {
	local m=$1 p=$2; shift 2
	curl -s -o "$T_TMP/b" -D "$T_TMP/h" -w '%{http_code}' -X "$m" -H "$AUTH" \
		-H 'Content-Type: application/json' ${1+--data "$1"} "$U$p"
}
admin() { curl -sf -o /dev/null -X POST "$U/_admin/$1" --data "${2:-{\}}"; }
gql() { # QUERY [VARIABLES-JSON]
	jq -nc --arg q "$1" --argjson v "${2:-{\}}" '{query:$q, variables:$v}' >"$T_TMP/q"
	curl -s -o "$T_TMP/b" -D "$T_TMP/h" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
		--data @"$T_TMP/q" "$U/graphql"
}
jb() { jq -r "$1" "$T_TMP/b"; }
hdr() { tr -d '\r' <"$T_TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
podf() { req GET "/v2/pods/$1" >/dev/null; jb "$2"; }
pod_is() { [ "$(req GET "/v2/pods/$1")" = 200 ] && [ "$(jb "$2")" = "$3" ]; }

admin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":4}'

# --- auth ---------------------------------------------------------------
st=$(curl -s -o "$T_TMP/b" -D "$T_TMP/h" -w '%{http_code}' "$U/v2/pods")
is "no key: 401" "$st" 401
like "401 is problem+json" "$(hdr content-type)" '^application/problem\+json'
is "401 body has status" "$(jb .status)" 401
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$U/v2/pods")
is "wrong key: 401" "$st" 401
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$U/graphql" --data '{"query":"{ myself { id } }"}')
is "graphql wrong key: 401" "$st" 401
st=$(curl -s -o "$T_TMP/b" -w '%{http_code}' "$U/graphql?api_key=$KEY" --data '{"query":"{ myself { id } }"}')
is "graphql ?api_key= accepted" "$st/$(jb .data.myself.id)" 200/user_fake_0001

# --- list, rate-limit headers --------------------------------------------
is "GET /v2/pods: 200" "$(req GET /v2/pods)" 200
is "empty list is {pods:[]}" "$(jq -c . "$T_TMP/b")" '{"pods":[]}'
like "RateLimit header" "$(hdr RateLimit)" '"minute";r=[0-9]+;t=[0-9]+, "hour";r=[0-9]+;t=[0-9]+, "day";r=[0-9]+;t=[0-9]+'
like "RateLimit-Policy header" "$(hdr RateLimit-Policy)" '"minute";q=[0-9]+;w=60'

# --- 422 validation ---------------------------------------------------------
st=$(req POST /v2/pods '{"gpu":{"id":"NVIDIA GeForce Imaginary","count":0},"interruptible":true}')
is "invalid create: 422" "$st" 422
errs=$(jb '.errors | join("|")')
like "422 names missing name" "$errs" '(^|\|)name: '
like "422 names missing image" "$errs" '(^|\|)image: '
like "422 names unknown gpu.id" "$errs" 'gpu\.id: '
like "422 names gpu.count" "$errs" 'gpu\.count: '
like "422 rejects v1 field interruptible" "$errs" 'interruptible: unknown'
st=$(req POST /v2/pods '{"name":"x","image":"i","gpu":{"id":"'"$A6K"'"},"cpu":{"id":"cpu3c","vcpuCount":2}}')
is "gpu and cpu together: 422" "$st/$(jb '.errors[0]')" "422/gpu: exactly one of gpu or cpu is required"
st=$(req POST /v2/pods '{"name":"x","image":"i"}')
is "neither gpu nor cpu: 422" "$st" 422

# --- capacity, 402, 429, 5xx, 403 ----------------------------------------------
NEWPOD='{"name":"demo-burst-a","image":"reg/worker:1","gpu":{"id":"'"$A6K"'","count":2},"dataCenterIds":["EU-RO-1"],"ports":["22/tcp"],'"$PKENV"'}'
admin config '{"capacity":[{"gpu":"'"$A6K"'","dc":"EU-RO-1"}]}'
st=$(req POST /v2/pods "$NEWPOD")
is "capacity: 400" "$st" 400
is "capacity: exact RunPod text" "$(jb .detail)" "$CAP"
is "capacity: title" "$(jb .title)" "Bad Request"
admin config '{"capacity":[]}'
st=$(req POST /v2/pods '{"name":"y","image":"i","gpu":{"id":"NVIDIA RTX 6000 Ada Generation"},"dataCenterIds":["EU-SE-1"]}')
is "catalog availability NONE answers capacity too" "$st/$(jb .detail)" "400/$CAP"
admin config '{"fail_next":[{"match":"POST /v2/pods","status":402},{"match":"POST /v2/pods","status":429,"retry_after":3},{"match":"POST /v2/pods","status":503}]}'
is "injected 402" "$(req POST /v2/pods "$NEWPOD")" 402
is "injected 429" "$(req POST /v2/pods "$NEWPOD")" 429
is "429 Retry-After" "$(hdr Retry-After)" 3
like "429 RateLimit shows the minute window spent" "$(hdr RateLimit)" '^"minute";r=0;t=3'
like "429 has RateLimit-Policy" "$(hdr RateLimit-Policy)" 'q='
is "injected 503" "$(req POST /v2/pods "$NEWPOD")" 503
admin config '{"forbidden":[{"gpu":"*","dc":"US-TX-3"}]}'
is "forbidden pool: 403" "$(req POST /v2/pods '{"name":"z","image":"i","gpu":{"id":"'"$A6K"'"},"dataCenterIds":["US-TX-3"]}')" 403
admin config '{"forbidden":[]}'
is "no pod was created by refused calls" "$(req GET /v2/pods >/dev/null; jb '.pods|length')" 0

# --- lifecycle --------------------------------------------------------------
st=$(req POST /v2/pods "$NEWPOD")
is "create: 201" "$st" 201
P1=$(jb .id)
like "RunPod-like id" "$P1" '^[a-z0-9]{14}$'
is "fresh pod: PROVISIONING, runtime null, ssh.direct null" "$(jb '[.status,.runtime,.ssh.direct]|@json')" '["PROVISIONING",null,null]'
is "cost = price x count" "$(jb .cost)" 0.98
is "gpu echoed" "$(jb '.gpu|@json')" '{"id":"NVIDIA RTX A6000","count":2}'
running_seen() { pod_is "$1" .status RUNNING && cp "$T_TMP/b" "$T_TMP/first-running"; }
ok "goes RUNNING" eventually 15 running_seen "$P1"
is "RUNNING while runtime and ssh.direct still null" "$(jq -c '[.status,.runtime,.ssh.direct]' "$T_TMP/first-running")" '["RUNNING",null,null]'
ok "ssh.direct appears after boot" eventually 15 pod_is "$P1" '.ssh.direct != null' true
is "ssh.direct on the first sshd" "$(podf "$P1" '"\(.ssh.direct.host):\(.ssh.direct.port)"')" "$H1"
is "runtime.ports maps private 22" "$(jb '.runtime.ports[0]|[.ip,.private,.public,.type]|@json')" '["127.0.0.1",22,40101,"tcp"]'
is "startedAt set" "$(jb '.startedAt != null')" true
V2POD='["actions","args","cloud","cost","createdAt","cudaVersion","dataCenterId","disk","env","globalNetworking","gpu","id","image","locked","mounts","name","ports","registry","runtime","ssh","startedAt","status","template"]'
is "a v2 pod has exactly the schema's Pod fields" "$(jb 'keys|@json')" "$V2POD"
st=$(req POST /v2/pods '{"name":"demo-nokey","image":"i","gpu":{"id":"'"$A6K"'"},"ports":["22/tcp"],"startSsh":true}')
NK=$(jb .id)
ok "pod without a key boots" eventually 15 pod_is "$NK" '.runtime != null' true
is "... but sshd never starts: no ssh endpoints, no port 22" "$(podf "$NK" '[.ssh.direct,.ssh.proxy,([.runtime.ports[]|select(.private==22)]|length)]|@json')" '[null,null,0]'
sleep 1
is "... not even later" "$(podf "$NK" '.ssh.direct')" null
is "account ssh-keys: none registered" "$(req GET /v2/account/ssh-keys)/$(jb '.keys|@json')" '200/[]'
is "account ssh-keys: a bad key is 422" "$(req PUT /v2/account/ssh-keys '{"keys":["not a key"]}')" 422
is "account ssh-keys: PUT" "$(req PUT /v2/account/ssh-keys "$(jq -nc --arg k "$PK" '{keys:[$k]}')")/$(jb '.keys|length')" 200/1
req POST /v2/pods '{"name":"demo-acctkey","image":"i","gpu":{"id":"'"$A6K"'"},"ports":["22/tcp"]}' >/dev/null
AK=$(jb .id)
ok "an account key starts sshd" eventually 15 pod_is "$AK" '.ssh.direct != null' true
is "account ssh-keys: cleared" "$(req PUT /v2/account/ssh-keys '{"keys":[]}')" 200
req DELETE "/v2/pods/$NK" >/dev/null; req DELETE "/v2/pods/$AK" >/dev/null
st=$(req POST /v2/pods '{"name":"demo-burst-b","image":"i","gpu":{"id":"'"$A6K"'"},"ports":["8888/http"]}')
P2=$(jb .id)
ok "pod without 22/tcp boots" eventually 15 pod_is "$P2" '.runtime != null' true
is "... but has no ssh.direct" "$(podf "$P2" .ssh.direct)" null
st=$(req POST /v2/pods '{"name":"demo-burst-c","image":"i","gpu":{"id":"'"$A6K"'"},'"$PKENV"'}')
P3=$(jb .id)
ok "third pod boots" eventually 15 pod_is "$P3" '.ssh.direct != null' true
is "round robin over the sshds: this pod back on the first" "$(podf "$P3" .ssh.direct.port)" 40101
is "list has three" "$(req GET /v2/pods >/dev/null; jb '.pods|length')" 3

# --- actions and delete ------------------------------------------------------------
is "stop: 200" "$(req POST "/v2/pods/$P3/action" '{"action":"stop"}')" 200
is "stopped: EXITED, cost 0" "$(jb '[.status,.cost]|@json')" '["EXITED",0]'
is "stop again: 409" "$(req POST "/v2/pods/$P3/action" '{"action":"stop"}')" 409
is "bad action: 422" "$(req POST "/v2/pods/$P3/action" '{"action":"reset"}')" 422
is "terminate action: 200" "$(req POST "/v2/pods/$P3/action" '{"action":"terminate"}')" 200
is "terminated: status" "$(jb '[.status,.cost]|@json')" '["TERMINATED",0]'
is "delete: 204" "$(req DELETE "/v2/pods/$P2")" 204
is "get after delete: 404" "$(req GET "/v2/pods/$P2")" 404
is "404 is problem+json" "$(hdr content-type)" application/problem+json
is "delete again: 404" "$(req DELETE "/v2/pods/$P2")" 404
is "delete unknown: 404" "$(req DELETE /v2/pods/nosuchpod0000)" 404
is "terminated pods leave the list" "$(req GET /v2/pods >/dev/null; jb '[.pods[].id]|@json')" "[\"$P1\"]"
is "admin view keeps them (and the two key probes)" "$(curl -s "$U/_admin/state" | jq -r '[.pods[]|select(.status=="TERMINATED")]|length')" 4

# --- catalog ------------------------------------------------------------------
is "catalog: 200" "$(req GET '/v2/catalog/gpus?include=AVAILABILITY&product=POD')" 200
is "catalog lists GPUs" "$(jb '.gpus|length > 3')" true
is "A6000 prices" "$(jb '.gpus[]|select(.id=="NVIDIA RTX A6000")|[.price.secure,.price.community,.memory]|@json')" '[0.49,0.33,48]'
is "GpuType: exactly the schema's fields (no spot prices)" "$(jb '[.gpus[]|keys]|unique|@json')" '[["availability","community","dataCenters","id","manufacturer","maxCount","memory","name","pool","price","secure"]]'
is "price: secure and community only" "$(jb '[.gpus[].price|keys]|unique|@json')" '[["community","secure"]]'
is "every GPU has id/name/prices/dataCenters" "$(jb '(.gpus|length) as $n | [.gpus[]|select(.id and .name and .price.secure and .dataCenters)]|length == $n')" true
is "only data centres that offer the GPU" "$(jb '.gpus[]|select(.id=="NVIDIA RTX 6000 Ada Generation")|[.dataCenters[].id]|@json')" '["EU-RO-1","US-TX-3","CA-MTL-1"]'
is "availability levels from the enum" "$(jb '[.gpus[].dataCenters[].availability]|map(select(test("^(NONE|LOW|MEDIUM|HIGH)$")|not))|length')" 0
req GET '/v2/catalog/gpus?include=AVAILABILITY&count=16&cloud=COMMUNITY' >/dev/null
is "count over maxCount: offered nowhere" "$(jb '[.gpus[]|select(.dataCenters|length > 0)]|length')/$(jb '[.gpus[].availability]|unique|@json')" '0/["NONE"]'
is "bad cloud: 400" "$(req GET '/v2/catalog/gpus?cloud=BOTH')" 400
admin config '{"catalog":{"NVIDIA RTX A6000":{"securePrice":0.55,"availability":{"EU-RO-1":"NONE"}}}}'
req GET '/v2/catalog/gpus?include=AVAILABILITY' >/dev/null
is "catalog override shows" "$(jb '.gpus[]|select(.id=="NVIDIA RTX A6000")|[.price.secure,([.dataCenters[]|select(.id=="EU-RO-1")]|length)]|@json')" '[0.55,0]'
admin config '{"catalog":{"NVIDIA RTX A6000":{"securePrice":0.49,"availability":{"EU-RO-1":"HIGH"}}}}'

# --- GraphQL spot -------------------------------------------------------------
st=$(gql 'query { gpuTypes(input:{id:"NVIDIA RTX A6000"}) { id secureSpotPrice lowestPrice(input:{gpuCount:1, secureCloud:true}) { minimumBidPrice uninterruptablePrice stockStatus } } }')
is "gpuTypes lowestPrice" "$st/$(jb '.data.gpuTypes[0].lowestPrice|[.minimumBidPrice,.uninterruptablePrice,.stockStatus]|@json')" '200/[0.25,0.49,"High"]'
SPOT='mutation Rent($input: PodRentInterruptableInput!) { podRentInterruptable(input: $input) { id desiredStatus costPerHr podType } }'
st=$(gql "$SPOT" '{"input":{"name":"demo-spot-a","imageName":"reg/worker:1","gpuTypeId":"NVIDIA RTX A6000","cloudType":"SECURE","gpuCount":1,"bidPerGpu":0.10,"ports":"22/tcp"}}')
is "bid below floor: HTTP 200" "$st" 200
like "bid below floor: refused in errors[]" "$(jb '.errors[0].message')" 'below the current minimum bid'
is "bid below floor: data null, code set" "$(jb '[.data, (.errors[0].extensions.code|type)]|@json')" '[null,"string"]'
st=$(gql "$SPOT" '{"input":{"name":"demo-spot-a","imageName":"reg/worker:1","gpuTypeId":"NVIDIA RTX A6000","cloudType":"SECURE","gpuCount":2,"bidPerGpu":0.30,"ports":"22/tcp","env":[{"key":"PUBLIC_KEY","value":"'"$PK"'"}]}}')
S1=$(jb .data.podRentInterruptable.id)
is "bid above floor: pod" "$st/$(jb '.data.podRentInterruptable|[.desiredStatus,.costPerHr,.podType]|@json')" '200/["RUNNING",0.6,"INTERRUPTABLE"]'
is "spot pod visible over v2 (no interruptible field there)" "$(podf "$S1" '[has("interruptible"),.cost]|@json')" '[false,0.6]'
is "admin view: interruptible" "$(curl -s "$U/_admin/state" | jq -c --arg i "$S1" '.pods[]|select(.id==$i)|.interruptible')" true
admin config '{"capacity":[{"gpu":"NVIDIA L40S"}]}'
gql 'mutation { podRentInterruptable(input:{name:"demo-spot-b", imageName:"i", gpuTypeId:"NVIDIA L40S", bidPerGpu:1.0}) { id } }' >/dev/null
is "spot capacity: exact text in errors[]" "$(jb '.errors[0].message')" "$CAP"
admin config '{"capacity":"*"}'
is "capacity \"*\" refuses every GPU" "$(req POST /v2/pods '{"name":"w","image":"i","gpu":{"id":"NVIDIA A100 80GB PCIe"}}')/$(jb .detail)" "400/$CAP"
admin config '{"capacity":[],"fail_next":[{"match":"gql:podRentInterruptable","status":402}]}'
st=$(gql 'mutation { podRentInterruptable(input:{name:"demo-spot-c", imageName:"i", gpuTypeId:"NVIDIA L40S", bidPerGpu:1.0}) { id } }')
is "GraphQL 402 injection: 200 + errors[]" "$st/$(jb '.errors|length')/$(jb .data)" "200/1/null"
gqlpod() { gql "query { pod(input:{podId:\"$1\"}) { id desiredStatus runtime { ports { ip isIpPublic privatePort publicPort type } } } }" >/dev/null; jb "$2"; }
gql_ready() { [ "$(gqlpod "$1" '.data.pod.runtime != null')" = true ]; }
ok "spot pod gets runtime ports over GraphQL" eventually 15 gql_ready "$S1"
like "GraphQL runtime port for 22" "$(gqlpod "$S1" '.data.pod.runtime.ports[0]|[.isIpPublic,.privatePort,.type]|@json')" '^\[true,22,"tcp"\]$'
st=$(gql 'query { pod(input:{podId:"x"}) { id nosuchfield } }')
like "unknown field is a validation error" "$(jb '.errors[0].message')" 'Cannot query field "nosuchfield"'
st=$(gql "$SPOT" '{"input":{"name":"s","imageName":"i","gpuTypeId":"NVIDIA RTX A6000","bidPerGpu":0.3,"interruptible":true}}')
is "unknown input field: validation error" "$st/$(jb '.errors[0].message')" '400/Field "interruptible" is not defined by type "PodRentInterruptableInput".'
st=$(gql "$SPOT" '{"input":{"name":"s","imageName":"i","gpuTypeId":"NVIDIA RTX A6000"}}')
like "spot without bidPerGpu: validation error" "$st/$(jb '.errors[0].message')" '^400/.*bidPerGpu'
gql 'query { pod(input:{podId:"x"}) { id interruptible } }' >/dev/null
like "GraphQL Pod has no 'interruptible' (a REST field)" "$(jb '.errors[0].message')" 'Cannot query field "interruptible" on type "Pod"'
gql 'query { myself { pods { id name } } }' >/dev/null
is "myself.pods lists live pods" "$(jb '[.data.myself.pods[].id]|sort|@json')" "$(jq -nc --arg a "$P1" --arg b "$S1" '[$a,$b]|sort')"

# --- preemption -----------------------------------------------------------------
admin preempt "{\"id\":\"$S1\"}"
is "preempted: EXITED, cost 0, no ssh" "$(podf "$S1" '[.status,.cost,.ssh.direct,.runtime]|@json')" '["EXITED",0,null,null]'
like "preempted: admin lastStatusChange Outbid" "$(curl -s "$U/_admin/state" | jq -r --arg i "$S1" '.pods[]|select(.id==$i)|.lastStatusChange')" '^Outbid: '
is "on-demand pods cannot be preempted" "$(curl -s -o /dev/null -w '%{http_code}' "$U/_admin/preempt" --data "{\"id\":\"$P1\"}")" 400

# --- terminateAfter (dead-man switch) ------------------------------------------------
st=$(gql 'mutation { podFindAndDeployOnDemand(input:{name:"demo-dms", imageName:"i", gpuTypeId:"NVIDIA RTX A6000", cloudType:SECURE, gpuCount:1, ports:"22/tcp", terminateAfter:"4s"}) { id costPerHr } }')
D1=$(jb .data.podFindAndDeployOnDemand.id)
is "on-demand GraphQL create" "$st/$(jb .data.podFindAndDeployOnDemand.costPerHr)" 200/0.49
is "alive before terminateAfter" "$(req GET "/v2/pods/$D1")" 200
gone() { [ "$(req GET "/v2/pods/$1")" = 404 ]; }
ok "terminated when terminateAfter passes" eventually 10 gone "$D1"
like "admin: terminated by the switch" "$(curl -s "$U/_admin/state" | jq -r --arg i "$D1" '.pods[]|select(.id==$i)|.lastStatusChange')" 'terminateAfter'

# --- ssh pinning ---------------------------------------------------------------
admin config "{\"ssh_pin\":\"$H2\"}"
req POST /v2/pods '{"name":"demo-pin","image":"i","gpu":{"id":"NVIDIA RTX A6000"},'"$PKENV"'}' >/dev/null
N1=$(jb .id)
ok "pinned pod boots" eventually 15 pod_is "$N1" '.ssh.direct != null' true
is "pinned pod on the pinned sshd" "$(podf "$N1" '"\(.ssh.direct.host):\(.ssh.direct.port)"')" "$H2"
admin config '{"ssh_pin":null}'

# --- boot failure --------------------------------------------------------------
admin config '{"boot_fail":{"gpu":"*","count":1,"status":"EXITED"}}'
req POST /v2/pods '{"name":"demo-bad","image":"i","gpu":{"id":"'"$A6K"'"}}' >/dev/null
B1=$(jb .id)
ok "boot failure ends EXITED" eventually 15 pod_is "$B1" .status EXITED
is "boot failure: never had ssh" "$(podf "$B1" '[.ssh.direct,.cost]|@json')" '[null,0]'

# --- create then timeout ----------------------------------------------------------
admin config '{"create_then_timeout":{"count":1,"sleep":3}}'
curl -s -m 1 -o /dev/null -X POST -H "$AUTH" --data '{"name":"demo-lost","image":"i","gpu":{"id":"NVIDIA RTX A6000"}}' "$U/v2/pods"
is "client timed out (curl 28)" "$?" 28
req GET /v2/pods >/dev/null
is "exactly one pod created despite the timeout" "$(jb '[.pods[]|select(.name=="demo-lost")]|length')" 1
admin config '{"create_then_timeout":{"count":1,"mode":"drop"}}'
curl -s -m 5 -o /dev/null -X POST -H "$AUTH" --data '{"name":"demo-dropped","image":"i","gpu":{"id":"NVIDIA RTX A6000"}}' "$U/v2/pods"
is "dropped connection: empty reply (curl 52)" "$?" 52
is "dropped: one pod exists" "$(req GET /v2/pods >/dev/null; jb '[.pods[]|select(.name=="demo-dropped")]|length')" 1
is "next create answers again" "$(req POST /v2/pods '{"name":"demo-ok","image":"i","gpu":{"id":"NVIDIA RTX A6000"}}')" 201

# --- latency, per-pod cost, request log, reset ------------------------------------
admin config '{"latency":0.5}'
t0=$(date +%s%N); req GET /v2/pods >/dev/null; t1=$(date +%s%N)
num_ge "latency adds to every call" "$(( (t1 - t0) / 1000000 ))" 450
admin config '{"latency":0}'
admin pod "{\"id\":\"$P1\",\"cost\":2.5}"
is "admin per-pod cost" "$(podf "$P1" .cost)" 2.5
# billing: a pod backdated 2 h and then stopped was billed price x 2 h
req POST /v2/pods '{"name":"demo-bill","image":"i","gpu":{"id":"NVIDIA RTX A6000","count":2}}' >/dev/null
BL=$(jb .id)
admin pod "{\"id\":\"$BL\",\"backdate\":7200}"
req POST "/v2/pods/$BL/action" '{"action":"stop"}' >/dev/null
is "billing: 200" "$(req GET "/v2/billing/pods?bucketSize=hour&podId=$BL")" 200
total=$(jb .metadata.totals.totalAmount)
num_ge "billing: 2 h x 0.98/h" "$total" 1.959
num_le "billing: ... and no more" "$total" 1.962
is "billing: hourly records" "$(jb '[.records[]|select(.podId=="'"$BL"'")]|length >= 2')" true
is "v1 is retired: 410" "$(req GET /v1/pods)" 410
curl -s "$U/_admin/requests" >"$T_TMP/reqs"
is "request log records create bodies" "$(jq -r '[.[]|select(.method=="POST" and .path=="/v2/pods" and .body.name=="demo-burst-a")]|length > 0' "$T_TMP/reqs")" true
is "request log has statuses" "$(jq -r '[.[]|select(.status==429)]|length' "$T_TMP/reqs")" 1
ko "the API key never appears in the log" grep -q -- "$KEY" "$T_TMP/reqs" "$T_TMP/requests.jsonl"
curl -s -X DELETE "$U/_admin/requests" >/dev/null
is "request log cleared" "$(curl -s "$U/_admin/requests" | jq length)" 0
admin reset
is "reset forgets pods" "$(curl -s "$U/_admin/state" | jq '.pods|length')" 0
admin config '{"rate_limit":{"minute":2}}'
st=; for _ in 1 2 3 4 5; do st=$(req GET /v2/pods); [ "$st" = 429 ] && break; done
is "real quota exhaustion: 429" "$st" 429
num_ge "quota 429 has Retry-After" "$(hdr Retry-After)" 1

done_testing
