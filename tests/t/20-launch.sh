#!/usr/bin/env bash
# 20-launch: rp-launch against the stack's RunPod stand-in, real sshd hosts
# and the Kubernetes stand-in (for --reap).  Every scenario is set up through
# the stand-in's admin endpoints and checked there, in the ledger and over
# real SSH.
. "$(dirname "$0")/../lib.sh"
need_stack
: "${RP_STACK_DIR:?}" "${RUNPOD_URL:?}" "${SSH_HOSTS:?}"

A=$RUNPOD_URL/_admin
ADA="NVIDIA RTX 6000 Ada Generation" A100="NVIDIA A100 80GB PCIe" A6K="NVIDIA RTX A6000" L40S="NVIDIA L40S"
LEDGER=$RP_STATE_DIR/ledger.jsonl
read -r -a HOSTS <<<"$SSH_HOSTS"
H0=${HOSTS[0]}

# admin, state, npods, posts, launch (tests/runpod.sh); out, err (tests/lib.sh)

# Every pod the stand-in ever had (terminated ones too) has a ledger line.
NOT_OURS=" " # ids of pods a scene made as another team's: no ledger line is their due
ledger_covers() {
	local id missing=0
	for id in $(state | jq -r '.pods[] | select(.name | startswith("demo-burst-")) | .id'); do
		case $NOT_OURS in *" $id "*) continue ;; esac
		grep -q "\"id\":\"$id\"" "$LEDGER" 2>/dev/null || { missing=$((missing + 1)); diag "no ledger line for $id"; }
	done
	is "ledger has a line for every pod the stand-in knows ($1)" "$missing" 0
}
fresh() { # NAME: check the previous scenario's ledger, then reset the stand-in
	[ -n "${SCEN:-}" ] && ledger_covers "$SCEN"
	SCEN=$1
	runpod_scene "$1"
}

# --- bad input: nothing is sent ------------------------------------------------
fresh bad-input
rc "--help exits 0" 0 rp-launch --help
like "--help prints the synopsis" "$(out)" '^usage: rp-launch'
rc "bad flag exits 2" 2 rp-launch --frobnicate
curl -sf -X DELETE "$A/requests" >/dev/null
rc "missing API key: exit 2" 2 env -u RUNPOD_API_KEY rp-launch --set runpod.api_key_file= --count 1
is "missing API key: one line" "$(err | wc -l)" 1
like "missing API key: names the key" "$(err)" 'rp-launch: fatal: .*runpod.api_key_file.*RUNPOD_API_KEY'
cp "$RP_STACK_DIR/secrets/runpod.key" "$T_TMP/loose.key"; chmod 644 "$T_TMP/loose.key"
rc "0644 key file: exit 2" 2 rp-launch --set "runpod.api_key_file=$T_TMP/loose.key" --count 1
like "0644 key file: says chmod" "$(err)" 'chmod 600'
is "no request reached RunPod without a key" "$(curl -sf "$A/requests" | jq length)" 0
unlike "the key never shows in stderr" "$(err)" "$RUNPOD_API_KEY"
rc "unknown GPU type: exit 2" 2 launch --count 1 --gpu-type "NVIDIA H900"
like "unknown GPU type: names the catalog's ids" "$(err)" "unknown GPU type 'NVIDIA H900'.*'$A6K'"
printf '%s\n' '{"type":"decision","action":"up","count":1}' 'this is not json' >"$T_TMP/bad.jsonl"
rc "malformed record: exit 2" 2 launch <"$T_TMP/bad.jsonl"
like "malformed record: line number" "$(err)" '<stdin>:2: malformed'
printf '%s\n' '{"type":"decision","action":"up","count":"two"}' >"$T_TMP/bad2.jsonl"
rc "decision up without a numeric count: exit 2" 2 launch <"$T_TMP/bad2.jsonl"
like "bad count: line 1 and the field" "$(err)" '<stdin>:1: decision record: count must be a whole number'
is "malformed input: nothing created" "$(posts)" 0
# The pods' ssh key (PUBLIC_KEY): missing, unreadable or malformed is bad input, before anything is sent.
curl -sf -X DELETE "$A/requests" >/dev/null
rc "no ssh public key: exit 2" 2 launch --count 1 --gpu-type "$A6K" --set "ssh.public_key_file=$T_TMP/nosuch.pub"
is "no ssh public key: one line" "$(err | wc -l)" 1
like "no ssh public key: names the file and the key" "$(err)" "rp-launch: fatal: ssh public key $T_TMP/nosuch.pub \\(from ssh.public_key_file"
printf 'ssh-ed25519 AAAA\nssh-rsa BBBB\n' >"$T_TMP/two.pub"
rc "two-line public key: exit 2" 2 launch --count 1 --gpu-type "$A6K" --set "ssh.public_key_file=$T_TMP/two.pub"
like "two-line public key: says what is wrong" "$(err)" 'is not a one-line OpenSSH public key'
rc "a private key as public key: exit 2" 2 launch --count 1 --gpu-type "$A6K" --set "ssh.public_key_file=$SSH_KEY"
rc "no .pub beside ssh.identity_file: exit 2" 2 launch --count 1 --gpu-type "$A6K" --set "ssh.identity_file=$T_TMP/nokey"
like "... names the default it tried" "$(err)" "$T_TMP/nokey.pub \\(from ssh.identity_file"
is "bad ssh key: no request at all reached RunPod" "$(curl -sf "$A/requests" | jq length)" 0

# --- happy path: a pod you can ssh into ----------------------------------------
fresh happy
printf '%s\n' '{"type":"node","id":"x","node":"n1","ready":true}' \
	'{"type":"decision","action":"up","count":1,"lag":9,"reason":"lag"}' '{"type":"decision","action":"hold","count":0}' >"$T_TMP/in.jsonl"
rc "happy path: exit 0" 0 launch --gpu-type "$A6K" <"$T_TMP/in.jsonl"
is "other records pass through unchanged, pod record follows" "$(out | head -2)" "$(sed -n '1p;3p' "$T_TMP/in.jsonl")"
out | grep '"type":"pod"' >"$T_TMP/pod.json"
is "one pod record" "$(wc -l <"$T_TMP/pod.json")" 1
ID=$(jq -r .id "$T_TMP/pod.json")
is "pod record fields" "$(jq -c '[.gpu,.gpu_count,.spot,.status,(.name|test("^demo-burst-[a-z0-9]{8}$"))]' "$T_TMP/pod.json")" \
	"[\"$A6K\",1,false,\"RUNNING\",true]"
is "cost_per_hr is the pod's price" "$(jq .cost_per_hr "$T_TMP/pod.json")" "$(state | jq ".pods[] | select(.id==\"$ID\") | .cost")"
is "dc is where the stand-in put it" "$(jq -r .dc "$T_TMP/pod.json")" "$(state | jq -r ".pods[] | select(.id==\"$ID\") | .dataCenterId")"
PH=$(jq -r .ssh_host "$T_TMP/pod.json") PP=$(jq -r .ssh_port "$T_TMP/pod.json")
ok "the pod is reachable over real SSH" ssh -n -i "$SSH_KEY" -p "$PP" -o BatchMode=yes -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 "$SSH_USER@$PH" true
is "ledger: launched then ready" "$(jq -r "select(.id==\"$ID\") | .event" "$LEDGER" | paste -sd, -)" "launched,ready"
is "the create carried the identity's public key as env PUBLIC_KEY" "$(posts '.[0].body.env.PUBLIC_KEY')" "$(tr -d '\n' <"$SSH_KEY.pub")"
is "ledger launched line has the price and place" \
	"$(jq -c "select(.id==\"$ID\" and .event==\"launched\") | [.gpu,.gpu_count,.spot,.cost_per_hr==$(jq .cost_per_hr "$T_TMP/pod.json"),.dc!=null,.name]" "$LEDGER")" \
	"[\"$A6K\",1,false,true,true,$(jq .name "$T_TMP/pod.json")]"
unlike "the API key is in no ledger line" "$(cat "$LEDGER")" "$RUNPOD_API_KEY"
rc "no up decision: nothing to do, exit 0" 0 launch <<<'{"type":"decision","action":"hold","count":0}'
is "hold passes through" "$(out | jq -r .action)" hold

curl -sf -X DELETE "$A/requests" >/dev/null
rc "dry run: exit 0" 0 launch --count 2 --dry-run --gpu-type "$A6K"
is "dry run: two plan records with their price" "$(out | jq -c '[.type,.gpu,.cost_per_hr]' | sort -u)" "[\"plan\",\"$A6K\",0.49]"
is "dry run: two of them" "$(out | grep -c '"type":"plan"')" 2
like "dry run: hourly total logged" "$(err)" 'dry run: nothing created.* cost_per_hr=0.98'
is "dry run: nothing created" "$(posts)" 0

# --- failover over GPU types and data centres on capacity -----------------------
fresh failover
admin config "{\"capacity\":[{\"gpu\":\"$ADA\",\"dc\":\"*\"},{\"gpu\":\"$A6K\",\"dc\":\"EU-RO-1\"}]}"
rc "failover: exit 0" 0 launch --count 1 --gpu-type "$ADA" --gpu-type "$A6K" \
	--data-center EU-RO-1 --data-center EU-SE-1 --data-center US-TX-3
is "failover: tried in preference order, skipping catalog NONE (Ada in EU-SE-1)" \
	"$(posts 'map("\(.body.gpu.id)@\(.body.dataCenterIds[0]):\(.status)") | join(" ")')" \
	"$ADA@EU-RO-1:400 $ADA@US-TX-3:400 $A6K@EU-RO-1:400 $A6K@EU-SE-1:201"
is "failover: the pod is the A6000 in EU-SE-1" "$(out | jq -r '"\(.gpu)@\(.dc)"')" "$A6K@EU-SE-1"
admin reset; admin config '{"provision_delay":0.1,"start_delay":0.1,"boot_delay":0.3,"capacity":"*"}'
rc "capacity everywhere: exit 75" 75 launch --count 2
is "capacity everywhere: no pod" "$(npods)" 0
admin config '{"capacity":[]}'
rc "order price: exit 0" 0 launch --count 1 --order price --gpu-type "$ADA" --gpu-type "$L40S" --gpu-type "$A6K" --data-center US-TX-3
is "order price: the cheapest first (A6000)" "$(out | jq -r .gpu)" "$A6K"

# issue 20: a type with cost.throughput 0 (the A100: no NVENC) is never
# rented to encode, under any order; here it is listed first and cheapest.
fresh throughput-0
admin config "{\"catalog\":{\"$A100\":{\"securePrice\":0.05}}}"
for ord in preference price; do
	curl -sf -X DELETE "$A/requests" >/dev/null
	rc "throughput 0, order $ord: exit 0" 0 launch --count 1 --order "$ord" --gpu-type "$A100" --gpu-type "$A6K" --data-center EU-RO-1
	is "throughput 0, order $ord: no create for the A100 reached RunPod" "$(posts "map(select(.body.gpu.id==\"$A100\")) | length")" 0
	is "throughput 0, order $ord: the pod is the A6000" "$(out | jq -r .gpu)" "$A6K"
done
rc "only types of throughput 0: exit 2" 2 launch --count 1 --gpu-type "$A100"
like "... naming the keys" "$(err)" "runpod.gpu_types .*every type has cost.throughput 0"
is "... nothing created" "$(posts 'map(select(.body.gpu.id=="'"$A100"'")) | length')" 0

fresh forbidden-partial
admin config "{\"forbidden\":[{\"gpu\":\"$A6K\",\"dc\":\"EU-RO-1\"}]}"
rc "403: pool skipped, exit 0" 0 launch --count 1 --gpu-type "$A6K" --data-center EU-RO-1 --data-center US-TX-3
is "403: then the next pool" "$(posts 'map("\(.body.dataCenterIds[0]):\(.status)") | join(" ")')" "EU-RO-1:403 US-TX-3:201"
admin reset; admin config '{"provision_delay":0.1,"start_delay":0.1,"boot_delay":0.3}'
admin config '{"fail_next":[{"match":"POST /v2/pods","status":400,"count":1,"detail":"There are no longer any instances available with the requested specifications. Please refresh and try again."}]}'
rc "room for one of two: exit 3" 3 launch --count 2 --gpu-type "$A6K" --data-center EU-RO-1
is "room for one of two: the one is printed" "$(out | grep -c '"type":"pod"')" 1
rc "API unavailable: exit 75" 75 launch --count 1 --set runpod.api_url=http://127.0.0.1:1/v2 --set runpod.request_timeout=2s
like "API unavailable: one fatal line" "$(err | grep -c fatal)" '^1$'

# --- 402 stops everything --------------------------------------------------------
fresh payment
admin config '{"fail_next":[{"match":"POST /v2/pods","status":402,"count":10}]}'
rc "402: exit 1" 1 launch --count 3 --set runpod.concurrency=1
like "402: says payment" "$(err)" '402'
is "402: one create, then stop" "$(posts)" 1
is "402: no pod" "$(npods)" 0

# --- 422 shows the field errors -----------------------------------------------------
fresh invalid
admin config '{"fail_next":[{"match":"POST /v2/pods","status":422,"count":10,"errors":["gpu.count: must be >= 1","image: is required"]}]}'
rc "422: exit 2" 2 launch --count 2 --set runpod.concurrency=1
like "422: fatal line lists the fields" "$(err | grep fatal)" 'rp-launch: fatal: .*gpu.count: must be >= 1; image: is required'
is "422: never retried" "$(posts)" 1

# --- 429 waits Retry-After ----------------------------------------------------------
fresh ratelimit
admin config '{"fail_next":[{"match":"POST /v2/pods","status":429,"retry_after":1}]}'
t0=$(date +%s.%N)
rc "429: exit 0" 0 launch --count 1
t1=$(date +%s.%N)
num_ge "429: waited Retry-After (1 s)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" 1
is "429: the create was sent again, once" "$(posts 'map(.status) | join(",")')" "429,201"
is "429: exactly one pod" "$(npods)" 1

# --- a POST that created but timed out: exactly one pod -----------------------------------
fresh timeout
admin config '{"create_then_timeout":{"count":1,"sleep":2.5}}'
rc "POST timeout: exit 0" 0 launch --count 1 --set runpod.request_timeout=1s
like "POST timeout: adopted" "$(err)" 'did create a pod: adopting it'
is "POST timeout: the pod record is that pod" "$(out | jq -r .id)" "$(state | jq -r '.pods[0].id')"
is "POST timeout: exactly one pod" "$(npods)" 1
posts_are() { [ "$(posts)" = "$1" ]; }
ok "POST timeout: the hung create reaches the stand-in's log" eventually 8 posts_are 1
is "POST timeout: one create sent (listed by name before any retry)" "$(posts)" 1
is "POST timeout: one launched line" "$(grep -c "\"event\":\"launched\".*$(state | jq -r '.pods[0].id')" "$LEDGER")" 1
fresh timeout-5xx
admin config '{"fail_next":[{"match":"POST /v2/pods","status":503}]}'
rc "POST 503 (nothing created): exit 0" 0 launch --count 1
is "POST 503: retried after listing, one pod" "$(posts 'map(.status) | join(",")'):$(npods)" "503,201:1"

# --- the cap counts live pods across runs ---------------------------------------------------
fresh cap
rc "cap run 1: exit 0" 0 launch --count 2 --max-nodes 3
is "cap run 1: two pods" "$(out | grep -c '"type":"pod"')" 2
rc "cap run 2: exit 0" 0 launch --count 2 --max-nodes 3
is "cap run 2: one pod (3 live)" "$(out | grep -c '"type":"pod"')" 1
like "cap run 2: says capped" "$(err)" 'max_nodes caps'
rc "cap run 3: nothing, exit 0" 0 launch --count 1 --max-nodes 3
is "cap: three live pods on the stand-in" "$(npods '.status=="RUNNING"')" 3

# --- spot: bid from the live floor, capped ---------------------------------------------------
fresh spot
rc "spot: exit 0" 0 launch --count 1 --spot --max-bid 0.30 --gpu-type "$ADA" --gpu-type "$A6K" --data-center EU-RO-1
is "spot: the Ada (floor 0.39) was never bid on" \
	"$(curl -sf "$A/requests" | jq '[.[] | select(.op=="podRentInterruptable")] | length')" 1
state | jq -c '.pods[0]' >"$T_TMP/spot.json"
is "spot: created through GraphQL on the A6000" "$(jq -r '"\(._internal.via) \(.gpu.id)"' "$T_TMP/spot.json")" "graphql $A6K"
num_le "spot: bid <= max_bid_per_gpu" "$(jq ._internal.bid "$T_TMP/spot.json")" 0.30
is "spot: bid = the live floor" "$(jq ._internal.bid "$T_TMP/spot.json")" 0.25
isnt "spot: dead-man switch terminateAfter set" "$(jq -r ._internal.terminateAfter "$T_TMP/spot.json")" null
is "spot: pod record says spot" "$(out | jq -c '[.spot,.cost_per_hr]')" "[true,0.25]"
is "spot: the GraphQL create carried PUBLIC_KEY in its env list" \
	"$(curl -sf "$A/requests" | jq -r '[.[] | select(.op=="podRentInterruptable") | .body.variables.input.env[] | select(.key=="PUBLIC_KEY") | .value] | .[0]')" \
	"$(tr -d '\n' <"$SSH_KEY.pub")"
curl -sf -X DELETE "$A/requests" >/dev/null
rc "spot floor over the cap everywhere: exit 75" 75 launch --count 1 --spot --max-bid 0.10 --gpu-type "$ADA" --gpu-type "$A6K"
is "spot capped: nothing rented" "$(curl -sf "$A/requests" | jq '[.[] | select(.op=="podRentInterruptable")] | length')" 0
rc "spot capped with fallback: on-demand, exit 0" 0 launch --count 1 --spot --max-bid 0.10 --gpu-type "$A6K" --set runpod.spot_fallback=true
is "fallback pod is on-demand" "$(out | jq .spot)" false

# --- issue 20: the shipped defaults (the stack's config less its spot and
# order keys): spot first, ranked by value, on-demand when no spot is had
fresh shipped-defaults
grep -vE '^  (spot|spot_fallback|order):' "$RP_CONFIG" >"$T_TMP/shipped.yaml"
shipped() { RP_CONFIG="$T_TMP/shipped.yaml" launch --count 1 --data-center EU-RO-1 "$@"; }
rc "shipped defaults: exit 0" 0 shipped
is "shipped defaults: a spot pod through GraphQL on the RTX 6000 Ada (cheapest per stream)" \
	"$(state | jq -r '.pods[0] | "\(._internal.via) \(.gpu.id)"')" "graphql $ADA"
is "... the record says spot" "$(out | jq -c '[.spot, .gpu]')" "[true,\"$ADA\"]"
admin config '{"fail_next":[{"match":"gql:podRentInterruptable","status":400,"count":10,"detail":"There are no longer any instances available with the requested specifications. Please refresh and try again."}]}'
curl -sf -X DELETE "$A/requests" >/dev/null
rc "shipped defaults, no spot to be had: exit 0" 0 shipped
is "... both spot types asked first (Ada, then the A6000)" \
	"$(curl -sf "$A/requests" | jq -r '[.[] | select(.op=="podRentInterruptable") | .body.variables.input.gpuTypeId] | join(",")')" "$ADA,$A6K"
is "... then an on-demand pod on the Ada" "$(out | jq -c '[.spot, .gpu]')" "[false,\"$ADA\"]"

# --- boot failure: terminated, next candidate ---------------------------------------------------
fresh bootfail
admin config '{"boot_fail":{"count":1,"status":"EXITED"}}'
rc "boot failure: exit 0" 0 launch --count 1 --gpu-type "$A6K" --data-center EU-RO-1 --data-center US-TX-3
is "boot failure: two pods, the first terminated" "$(state | jq -c '[.pods[] | "\(.status)@\(.dataCenterId)"]')" \
	'["TERMINATED@EU-RO-1","RUNNING@US-TX-3"]'
BAD=$(state | jq -r '.pods[0].id')
is "boot failure: ledgered launched, terminated" "$(jq -r "select(.id==\"$BAD\") | .event" "$LEDGER" | paste -sd, -)" "launched,terminated"
is "boot failure: the record is the second pod" "$(out | jq -r .id)" "$(state | jq -r '.pods[1].id')"

# --- readiness: ssh.direct and a banner ------------------------------------------------------------
fresh no-ssh-port
rc "no 22/tcp (no ssh.direct): exit 75 after ready_timeout" 75 launch --count 1 --set runpod.ports=8888/http --ready-timeout 2s
is "never ready: no pod record" "$(out | grep -c '"type":"pod"')" 0
is "never ready: terminated, not left" "$(npods '.status!="TERMINATED"')" 0
is "never ready: ledgered" "$(jq -r 'select(.event=="terminated") | .reason' "$LEDGER" | tail -1)" "not ready in runpod.ready_timeout"
fresh banner
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin config "{\"ssh_pin\":\"127.0.0.1:$CLOSED\"}"
rp-launch -o json --set runpod.poll_interval=0.3s --count 1 >"$T_TMP/bg.out" 2>"$T_TMP/bg.err" &
BG=$!
at_exit "kill $BG 2>/dev/null"
ok "banner: the pod reaches RUNNING with ssh.direct" eventually 10 sh -c "curl -sf '$A/state' | jq -e '.pods[0].ssh.direct.port == $CLOSED' >/dev/null"
sleep 1.5
is "banner: RUNNING + ssh.direct but no banner is not ready" "$(grep -c '"type":"pod"' "$T_TMP/bg.out")" 0
ok "banner: launcher still waiting" kill -0 $BG
admin pod "{\"id\":\"$(state | jq -r '.pods[0].id')\",\"ssh\":\"$H0\"}"
wait $BG; brc=$?
is "banner: ready once a real sshd answers (exit 0)" "$brc" 0
is "banner: the record points at that sshd" "$(jq -r '"\(.ssh_host):\(.ssh_port)"' "$T_TMP/bg.out")" "$H0"

# --- kill -9 while waiting, then --reap --------------------------------------------------------------
fresh reap
admin config '{"boot_delay":60}'
RP_STATE_DIR=$T_TMP/state-reap LEDGER=$T_TMP/state-reap/ledger.jsonl
mkdir -p "$RP_STATE_DIR"
rp-launch --set runpod.poll_interval=0.3s --count 2 >/dev/null 2>&1 &
BG=$!
ok "reap: both pods ledgered launched while the launcher waits" eventually 10 sh -c "[ \$(grep -c '\"event\":\"launched\"' '$LEDGER') -ge 2 ]"
kill -9 $BG; wait $BG 2>/dev/null
mapfile -t IDS < <(jq -r 'select(.event=="launched") | .id' "$LEDGER" | tail -2)
NAME1=$(jq -r "select(.id==\"${IDS[1]}\" and .event==\"launched\") | .name" "$LEDGER")
is "reap: the launcher is dead, both pods still billed" "$(npods '.status!="TERMINATED"')" 2
# The second one is known to Kubernetes (a node carrying its pod id).
kubectl create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$NAME1","annotations":{"rp.io/pod-id":"${IDS[1]}"},"labels":{"gpu-type":"runpod"}}}
EOF
sed "s#$KUBE_URL#https://127.0.0.1:1#" "$KUBECONFIG" >"$T_TMP/deadkube"
rc "reap: Kubernetes unreachable: exit 75" 75 rp-launch --reap --set "kube.kubeconfig=$T_TMP/deadkube"
is "reap: ... and nothing terminated" "$(npods '.status!="TERMINATED"')" 2
flock -s "$RP_STATE_DIR/launch.lock" sleep 2 &
FL=$!
sleep 0.3
rc "reap: a launcher holds the lock: exit 75" 75 rp-launch --reap
wait $FL
rc "reap --dry-run: exit 0" 0 rp-launch --reap --dry-run -o json
is "reap --dry-run: names the orphan, terminates nothing" "$(out | jq -r .id):$(npods '.status!="TERMINATED"')" "${IDS[0]}:2"
rc "reap: exit 0" 0 rp-launch --reap -o json
is "reap: the orphan reported" "$(out | jq -c '[.type,.id,.terminated]')" "[\"reaped\",\"${IDS[0]}\",true]"
is "reap: the orphan is terminated" "$(state | jq -r ".pods[] | select(.id==\"${IDS[0]}\") | .status")" TERMINATED
isnt "reap: the pod Kubernetes knows is kept" "$(state | jq -r ".pods[] | select(.id==\"${IDS[1]}\") | .status")" TERMINATED
is "reap: ledgered reaped" "$(jq -r "select(.id==\"${IDS[0]}\") | .event" "$LEDGER" | tail -1)" reaped
like "reap: logged" "$(err)" "reaped orphan.*${IDS[0]}"
kubectl delete node "$NAME1" >/dev/null 2>&1
# A pod whose create answer was lost (a crash between create and its
# `launched` line): only its `launching` line names it.  A pod of our name
# that no ledger line knows: not ours (another tool, another team).
curl -sf -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
	--data "{\"name\":\"demo-burst-lost0001\",\"image\":\"x\",\"gpu\":{\"id\":\"$A6K\",\"count\":1}}" "$RUNPOD_URL/v2/pods" >/dev/null
jq -nc '{type:"ledger",event:"launching",ts:"2026-11-28T08:00:00.000Z",name:"demo-burst-lost0001",cluster:"demo",gpu:"x",spot:false}' >>"$LEDGER"
STRAY=$(curl -sf -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
	--data "{\"name\":\"demo-burst-stray001\",\"image\":\"x\",\"gpu\":{\"id\":\"$A6K\",\"count\":1}}" "$RUNPOD_URL/v2/pods" | jq -r .id)
NOT_OURS+="$STRAY "
curl -sf -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
	--data "{\"name\":\"other-burst-keep0001\",\"image\":\"x\",\"gpu\":{\"id\":\"$A6K\",\"count\":1}}" "$RUNPOD_URL/v2/pods" >/dev/null
rc "reap again: a pod not ours is refused: exit 3" 3 rp-launch --reap -o json
is "reap again: the pod only its launching line names and the one whose node went away" "$(out | jq -r .name | sort | paste -sd, -)" \
	"$(printf '%s\n' demo-burst-lost0001 "$NAME1" | sort | paste -sd, -)"
like "reap again: the unledgered pod refused in one line" "$(grep -c 'not ours' "$T_TMP/.err"):$(grep 'not ours' "$T_TMP/.err")" \
	"^1:.*not ours per the ledger.*demo-burst-stray001.*the ledger has no launch"
is "reap again: it and another cluster's pod untouched" "$(npods '.status!="TERMINATED"')" 2
isnt "reap again: the unledgered one still runs" "$(state | jq -r ".pods[] | select(.id==\"$STRAY\") | .status")" TERMINATED

# --- --reap and the join lock: a ready pod is kept while an rp-join holds it --------------------------
# Four pods ledgered launched and ready: r1 a moment ago (being handed to
# rp-join), r2 100 s ago with nobody holding its lock (its joiner died), r3
# 100 s ago with a live holder of its lock, r4 100 s ago with a lock that
# cannot be read.  Past the 30 s hand-off grace, below join_timeout + 60 s.
fresh reap-join
RP_STATE_DIR=$T_TMP/state-rj LEDGER=$T_TMP/state-rj/ledger.jsonl
mkdir -p "$RP_STATE_DIR/join"
ago() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S.000Z; }
declare -A RJ
for n in 1 2 3 4; do
	RJ[$n]=$(curl -sf -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo-burst-rj$n\",\"image\":\"x\",\"gpu\":{\"id\":\"$A6K\",\"count\":1}}" "$RUNPOD_URL/v2/pods" | jq -r .id)
	age=100; [ "$n" = 1 ] && age=2
	jq -nc --arg id "${RJ[$n]}" --arg name "demo-burst-rj$n" --arg t0 "$(ago $((age + 5)))" --arg t1 "$(ago "$age")" \
		'{type:"ledger",event:"launched",id:$id,name:$name,ts:$t0}, {type:"ledger",event:"ready",id:$id,ts:$t1}' >>"$LEDGER"
done
lk() { echo "$RP_STATE_DIR/join/${RJ[$1]}.lock"; }
: >"$(lk 2)" # its rp-join died: the file stays, nobody holds it
( exec 9>"$(lk 3)" && flock -x 9 && exec sleep 60 ) & HOLD=$!
# shellcheck disable=SC2016 # expanded at exit
at_exit 'kill -9 "$HOLD" 2>/dev/null'
ln -s /etc/passwd "$(lk 4)"
ok "reap-join: a live joiner holds r3's lock" eventually 10 sh -c "! flock -n '$(lk 3)' true"
rc "reap-join: exit 0" 0 rp-launch --reap -o json
is "reap-join: only the one whose joiner is gone is reaped" "$(out | jq -r .name | paste -sd, -)" demo-burst-rj2
like "reap-join: its record says why" "$(out | jq -r .reason)" "^ready [0-9]+ s ago and no rp-join holds it"
is "reap-join: r2 terminated" "$(state | jq -r ".pods[] | select(.id==\"${RJ[2]}\") | .status")" TERMINATED
is "reap-join: r2's stale lock file removed" "$(test -e "$(lk 2)" && echo there || echo gone)" gone
like "reap-join: r1 kept, being handed over" "$(err)" "kept.*${RJ[1]}.*ready [0-9]+ s ago, being handed to rp-join \(hand-off grace 30 s\)"
like "reap-join: r3 kept, its joiner is alive" "$(err)" "kept.*${RJ[3]}.*an rp-join holds its join lock"
like "reap-join: r4 kept, its lock unreadable" "$(err)" "kept.*${RJ[4]}.*its join lock cannot be read, so kept for 360 s"
like "reap-join: ... with a warning" "$(err)" "level=warn.*cannot tell whether an rp-join holds this pod.*${RJ[4]}"
is "reap-join: three still paid" "$(npods '.status!="TERMINATED"')" 3
is "reap-join: the live joiner's lock file stays" "$(test -e "$(lk 3)" && echo there || echo gone)" there
kill -9 "$HOLD"; wait "$HOLD" 2>/dev/null
rc "reap-join: the joiner killed, reap again: exit 0" 0 rp-launch --reap -o json
is "reap-join: now r3 is reaped" "$(out | jq -r .name | paste -sd, -)" demo-burst-rj3
is "reap-join: ledgered reaped with the reason" "$(jq -r "select(.id==\"${RJ[3]}\" and .event==\"reaped\") | .reason" "$LEDGER" | grep -c 'no rp-join holds it')" 1
# A joiner that failed and is at it again: a held lock protects join_failed too.
jq -nc --arg id "${RJ[1]}" --arg t "$(ago 1)" '{type:"ledger",event:"join_failed",id:$id,ts:$t}' >>"$LEDGER"
( exec 9>"$(lk 1)" && flock -x 9 && exec sleep 60 ) & HOLD=$!
ok "reap-join: a joiner holds r1's lock again" eventually 10 sh -c "! flock -n '$(lk 1)' true"
rc "reap-join: join_failed but a joiner at work: exit 0" 0 rp-launch --reap -o json
is "reap-join: nothing reaped" "$(out | wc -l)" 0
kill -9 "$HOLD"; wait "$HOLD" 2>/dev/null
rc "reap-join: join_failed, no joiner: exit 0" 0 rp-launch --reap -o json
is "reap-join: r1 reaped" "$(out | jq -r '"\(.name) \(.reason)"')" "demo-burst-rj1 ledger says join_failed"
rm -f "$(lk 4)"
fresh end
done_testing
