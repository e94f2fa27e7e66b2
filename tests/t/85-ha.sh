#!/usr/bin/env bash
# 85-ha: two replicas of rp-autoscale --lock lease (separate state dirs, one
# RunPod and one Kubernetes stand-in): leader election as client-go does
# it (a background renewer for the whole tick, expiry judged by the
# replica's own monotonic observation), the fence before every paid action,
# and clock skew between the replicas.
. "$(dirname "$0")/../faults/lib.sh"
need_stack # (again: tests/run starts the stack for files that say so)
f_setup
LEASE=ha-$$
LD=3
HA=$T_TMP/hostA HB=$T_TMP/hostB
mkdir -p "$HA" "$HB"
rep() { # WHO [ARGS...]: one tick of replica WHO
	local who=$1; shift
	RP_STATE_DIR=$T_TMP/host$who "$AS" -q --backoff 30 --lock lease --lease-name "$LEASE" \
		--lease-duration "$LD" --identity "$who" "$@"
}
holder() { kubectl get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
ticks() { grep -c '"type":"tick"' "$1" 2>/dev/null || true; }
lines() { jq -r --arg e "$2" 'select(.event==$e) | .id' "$1/ledger.jsonl" 2>/dev/null | wc -l; }
mono() { python3 -c 'import time; print(time.monotonic())'; }
BOOT=$(cat /proc/sys/kernel/random/boot_id)
bgp=
# shellcheck disable=SC2016 # expanded at exit
at_exit '[ -n "$bgp" ] && kill -9 -- "-$bgp" 2>/dev/null; kubectl delete lease "$LEASE" >/dev/null 2>&1'

# ---- 1. a tick longer than the lease: the other replica never acts -------------
diag "1 at +${SECONDS}s"
radmin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":5}'
lag 10
reqs_clear
rep A >"$T_TMP/a1.out" 2>"$T_TMP/a1.err" & pa=$!
held_by_a() { [ "$(holder)" = A ]; }
ok "1: A takes the lease" eventually 10 held_by_a
nb=0
while kill -0 "$pa" 2>/dev/null; do
	rep B >>"$T_TMP/b1.out" 2>>"$T_TMP/b1.err"
	nb=$((nb + 1)); sleep 0.5
done
wait "$pa"; ra=$?
is "1: A's tick (longer than the lease) exits 0" "$ra" 0
is "1: A acted once" "$(ticks "$T_TMP/a1.out")" 1
num_ge "1: B ticked all along ($nb ticks, the tick outlived the lease)" "$nb" 6
is "1: B never acted" "$(ticks "$T_TMP/b1.out")" 0
is "1: one launch wave in all: 2 creates" "$(creates_ok)" 2
is "1: B reaped nothing of A's (both pods alive)" "$(n_pods)" 2
is "1: nothing reaped or terminated anywhere" "$(($(lines "$HA" reaped) + $(lines "$HB" reaped) + $(lines "$HA" terminated)))" 0
is "1: the holder is still A" "$(holder)" A
is "1: A's identity is stable: no transition while A held it" "$(kubectl get lease "$LEASE" -o jsonpath='{.spec.leaseTransitions}')" 0
rc "1: A ticks again and holds (renews its own lease)" 0 rep A
is "1: ... and acted" "$(ticks "$T_TMP/.out")" 1

# ---- 2. the fence: the lease is lost mid-tick --------------------------------
diag "2 at +${SECONDS}s"
# an orphan of A's (launched, its launcher died before it was ready: the
# ledger has its launching and launched lines only): any reap would take it
RP_STATE_DIR=$T_TMP/other rp-launch -q --count 1 >"$T_TMP/orphan.out" 2>/dev/null
orphan=$(jq -r 'select(.type=="pod") | .id' "$T_TMP/orphan.out")
jq -c 'select(.event == "launching" or .event == "launched")' "$T_TMP/other/ledger.jsonl" >>"$HA/ledger.jsonl"
isnt "2: an orphan pod exists" "$orphan" ""
alive() { curl -sf "$RA/state" | jq -r --arg i "$1" '.pods[] | select(.id==$i) | .status'; }
lag 10
reqs_clear
rep A >"$T_TMP/a2.out" 2>"$T_TMP/a2.err" & pa=$!
creating() { [ "$(creates_ok)" -ge 1 ]; }
ok "2: A launches" eventually 20 creating
# another holder takes the Lease (as after a partition): A's renewer sees it
# (A's renewer writes every 0.4 s: a replace that lost the race is retried)
steal() {
	kubectl get lease "$LEASE" -o json | jq --arg t "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)" \
		'.spec.holderIdentity="thief" | .spec.renewTime=$t | .spec.acquireTime=$t' | kubectl replace -f -
}
ok "2: another holder takes the Lease" eventually 10 steal
wait "$pa"; ra=$?
is "2: the tick that lost its lease exits 75" "$ra" 75
like "2: it says so" "$(cat "$T_TMP/a2.err")" "lease lost"
like "2: the reap was fenced" "$(cat "$T_TMP/a2.err")" "lease fence: not acting.*action=terminate"
is "2: the orphan was not reaped by a replica without the lease" "$(alive "$orphan")" RUNNING
is "2: the holder is the thief" "$(holder)" thief
kubectl delete lease "$LEASE" >/dev/null

# ---- 3. the fence in each binary ---------------------------------------------
diag "3 at +${SECONDS}s"
HC=$T_TMP/hostC
mkdir -p "$HC"
fence() { # HELD RENEWED_MONO
	printf '{"lease":"default/%s","identity":"C","boot_id":"%s","held":%s,"renewed_mono":%s,"renew_deadline":2}\n' \
		"$LEASE" "$BOOT" "$1" "$2" >"$HC/lease.json"
}
fence true 1 # renewed long ago
reqs_clear
rc "3: rp-launch with a stale lease: exit 75" 75 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-launch -q --count 1
like "3: ... says the fence stopped it" "$(cat "$T_TMP/.err")" "lease fence: not acting.*action=create"
is "3: ... and created nothing" "$(creates_ok)" 0
is "3: ... not even a launching line" "$(lines "$HC" launching)" 0
# C sees the fleet's ledger (A's, with its orphan), as a replica does through
# fleet.store: rp-drain and the reaper terminate only pods it shows launched
cat "$HA/ledger.jsonl" >>"$HC/ledger.jsonl"
rc "3: rp-launch --reap with a stale lease: exit 75" 75 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-launch -q --reap
is "3: ... the orphan lives" "$(alive "$orphan")" RUNNING
node=$(kubectl get nodes -l gpu-type=runpod -o name | head -n1); node=${node#node/}
npod=$(kubectl get node "$node" -o json | jq -r '.metadata.annotations["rp.io/pod-id"] // .metadata.labels["rp.io/pod-id"]')
isnt "3: a burst node to drain" "$node" ""
rc "3: rp-drain with a stale lease: exit 75" 75 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-drain -q --skip-checkpoint --node "$node"
like "3: ... the terminate was fenced" "$(cat "$T_TMP/.err")" "lease fence: not acting.*action=terminate"
is "3: ... its pod bills on (left to the holder)" "$(alive "$npod")" RUNNING
fence true "$(mono)"
rc "3: a fresh lease: the same drain finishes (exit 0)" 0 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-drain -q --skip-checkpoint --node "$node"
is "3: ... its pod is terminated" "$(alive "$npod")" TERMINATED
fence false "$(mono)"
rc "3: a released lease: rp-launch --reap exits 75" 75 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-launch -q --reap
is "3: ... the orphan lives" "$(alive "$orphan")" RUNNING
fence true "$(mono)"
rc "3: a fresh lease: rp-launch --reap reaps (exit 0)" 0 env RP_LOCK=lease RP_STATE_DIR="$HC" rp-launch -q --reap
is "3: ... the orphan is gone" "$(alive "$orphan")" TERMINATED

# ---- 4. clock skew of +-2 min between the replicas changes nothing ------------
diag "4 at +${SECONDS}s"
command -v faketime >/dev/null || { fail "faketime is not installed (scripts/install-deps)"; exit 1; }
export FAKETIME_DONT_FAKE_MONOTONIC=1
hold() { # WHO OFFSET: one try of replica WHO's renewer on a clock OFFSET off (it
	# stops once the process it watches, a short sleep, is gone)
	local w
	sleep 0.1 & w=$!
	# (a sanitizer build runs under the preload only with the link order check off)
	RP_STATE_DIR=$T_TMP/host$1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		timeout 20 faketime -f "$2" rp-lagwatch -q --hold-lease "$LEASE" --identity "$1" \
		--lease-duration "$LD" --watch-pid "$w"
	wait "$w"
}
setsid bash -c "RP_STATE_DIR='$HA' exec rp-lagwatch -q --hold-lease '$LEASE' --identity A --lease-duration $LD >'$T_TMP/ra.out' 2>&1" & bgp=$!
ok "4: A holds the lease (its renewer runs)" eventually 10 held_by_a
took=0
for _ in 1 2 3 4 5 6 7 8; do
	for off in +2m -2m; do
		hold B "$off" >"$T_TMP/h.out" 2>/dev/null
		grep -q '"held":true' "$T_TMP/h.out" && took=$((took + 1))
	done
	sleep 0.5
done
is "4: B at +2 min and -2 min never takes a lease A renews (${LD}s lease, 4 s of tries)" "$took" 0
is "4: the holder is A" "$(holder)" A
like "4: A's renewTime is A's own clock (B would have called it 2 min stale)" "$(kubectl get lease "$LEASE" -o jsonpath='{.spec.renewTime}')" "^$(date -u +%Y-%m-%dT%H)"
kill -9 -- "-$bgp"; wait "$bgp" 2>/dev/null; bgp=
t0=$(date +%s.%N)
got=
for _ in $(seq 1 40); do
	hold B +2m >"$T_TMP/h.out" 2>/dev/null
	if grep -q '"held":true' "$T_TMP/h.out"; then got=$(date +%s.%N); break; fi
	sleep 0.2
done
isnt "4: B (clock +2 min) takes over once A is gone" "$got" ""
dt=$(awk -v a="$t0" -v b="${got:-0}" 'BEGIN{printf "%.1f", b-a}')
num_ge "4: ... not before the lease expired by B's own observation (${dt}s >= $((LD - 1))s)" "$dt" "$((LD - 1))"
num_le "4: ... and soon after (${dt}s <= $((LD + 3))s)" "$dt" "$((LD + 3))"
is "4: the holder is B" "$(holder)" B
kubectl delete lease "$LEASE" >/dev/null

radmin config '{"boot_delay":0.5}'
drain_lag
done_testing
