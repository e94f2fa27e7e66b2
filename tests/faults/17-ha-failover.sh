#!/usr/bin/env bash
# Fault: two replicas of rp-autoscale --lock lease with the ledger
# replicated to Kafka (fleet.store kafka), separate state dirs, one RunPod
# and one Kubernetes stand-in.  Replica A is killed -9 mid-launch: B takes
# the lease only once it expired by B's own observation, sees A's pods in
# the fleet view, does not launch the same wave again, keeps A's pods for
# their launch + join window and then adopts the one the lag still wants
# (rp-launch --adopt | rp-join: it becomes a Ready node, no second create)
# and reaps the other (no orphan, nothing paid twice); rp-cost on B
# reports A's spend to the cent, and so does a replica
# started with an empty state dir.  Then the store goes down: no launch
# (hold, exit 75), nothing lost, and the local files catch up when it is
# back.
. "$(dirname "$0")/lib.sh"
f_setup
LEASE=hafo-$$ LD=3 FTOPIC=rp-ledger-$CL-$$
"$KAFKACTL" topic "$FTOPIC" 1 >/dev/null || { fail "kafkactl topic $FTOPIC"; exit 1; }
# a cooldown that outlasts the takeover; a short launch + join window:
# runpod.ready_timeout 20s + kube.join_timeout 5s + the 30 s hand-off grace
sed -i -e 's/^  cooldown: .*/  cooldown: 40s/' -e 's/^  join_timeout: .*/  join_timeout: 5s/' "$RP_CONFIG"
grep -q '^  join_timeout:' "$RP_CONFIG" || f_conf kube 'join_timeout: 5s'
printf 'fleet:\n  store: kafka\n  topic: %s\n  timeout: 3s\n' "$FTOPIC" >>"$RP_CONFIG"
WINDOW=55
rc "fleet.store wants local or kafka: exit 2" 2 rp-cost --set fleet.store=s3 sync
like "... naming the key" "$(cat "$T_TMP/.err")" "key 'fleet.store': expected local or kafka, got 's3'"
HA=$T_TMP/A HB=$T_TMP/B HC=$T_TMP/C
mkdir -p "$HA" "$HB" "$HC"
rep() { # WHO: one tick of replica WHO
	RP_STATE_DIR=$T_TMP/$1 "$AS" -q --backoff 30 --lock lease --lease-name "$LEASE" --lease-duration "$LD" --identity "$1"
}
holder() { kubectl get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
ticks() { grep -c '"type":"tick"' "$1" 2>/dev/null || true; }
evs() { jq -r --arg e "$2" --arg r "${3:-}" 'select(.event==$e and ($r=="" or .replica==$r)) | .id // .name' "$1/ledger.jsonl" 2>/dev/null | sort -u; }
tp=
# shellcheck disable=SC2016 # expanded at exit
at_exit '[ -n "$tp" ] && kill -9 -- "-$tp" 2>/dev/null; kubectl delete lease "$LEASE" >/dev/null 2>&1'

# ---- 1. kill -9 A mid-launch ------------------------------------------------
diag "1 at +${SECONDS}s"
radmin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":6}'
lag 10
reqs_clear
RP_STATE_DIR=$HA setsid "$AS" -q --backoff 30 --lock lease --lease-name "$LEASE" --lease-duration "$LD" --identity A \
	>"$T_TMP/a.out" 2>"$T_TMP/a.err" & tp=$!
a_launched() { [ "$(evs "$HA" launched | wc -l)" -ge 2 ]; }
ok "1: A created its two pods and waits for them" eventually 30 a_launched
kill -9 -- "-$tp"; wait "$tp" 2>/dev/null; tp=
t_kill=$(date +%s.%N)
mapfile -t AIDS < <(evs "$HA" launched)
is "1: A's two pods bill on" "$(n_pods)" 2
is "1: A still holds the lease" "$(holder)" A
acted=
for _ in $(seq 1 40); do
	rep B >>"$T_TMP/b.out" 2>>"$T_TMP/b.err"
	if [ "$(ticks "$T_TMP/b.out")" -ge 1 ]; then acted=$(date +%s.%N); break; fi
	sleep 0.3
done
isnt "1: B takes over" "$acted" ""
dt=$(awk -v a="$t_kill" -v b="${acted:-0}" 'BEGIN{printf "%.1f", b-a}')
num_ge "1: ... only once A's lease expired by B's observation (${dt}s)" "$dt" "$((LD - 1))"
is "1: the holder is B" "$(holder)" B
is "1: B's ledger holds A's launches (the fleet view)" "$(evs "$HB" launched A | paste -sd' ')" "$(printf '%s\n' "${AIDS[@]}" | sort | paste -sd' ')"
is "1: B does not launch A's wave again (the cooldown is the fleet's)" "$(creates_ok)" 2
like "1: ... it counts A's wave" "$(jq -r 'select(.type=="decision") | .reason' "$HB"/ticks/*.jsonl | tail -n1)" "asked"
is "1: B keeps A's in-flight pods within their window" "$(n_pods)" 2
rc "1: B's reaper (as B, outside a tick) keeps them: exit 0" 0 env RP_STATE_DIR="$HB" RP_IDENTITY=B rp-launch --reap
like "1: ... and says whose they are" "$(cat "$T_TMP/.err")" "kept.*replica A ledgered it launched"
is "1: B reaped nothing yet" "$(evs "$HB" reaped | wc -l)" 0
# A's pods booted (RUNNING, SSH up) and the lag still wants both: B still
# leaves them to A until the window ends (A may be slow, not dead)
booted() { [ "$(our_pods | jq '[.[] | select(.status=="RUNNING")] | length')" = 2 ]; }
ok "1: A's pods are up" eventually 30 booted
sleep "$(awk -v k="$t_kill" -v n="$(date +%s.%N)" 'BEGIN{d = k + 8 - n; print (d > 0 ? d : 0)}')" # boot_delay 6 s: sshd answers
adopted() { jq -r 'select(.event=="ready" and .adopted_from=="A" and .replica=="B") | .id' "$HB/ledger.jsonl" 2>/dev/null | sort -u; }
rep B >/dev/null 2>>"$T_TMP/b.err"
is "1: B adopts nothing within the window" "$(adopted | wc -l)" 0
# the lag falls to what one node serves (lag 5, threshold 5: not hot, so
# no launch whatever the cooldown): one of A's pods is still wanted
# shellcheck disable=SC2153 # GROUP and TOPIC are lib.sh's (f_setup's)
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 5 >/dev/null
# the window ends: A is gone; B adopts the pod the lag wants (joins it, no
# create) and reaps the other: none left billing, none paid twice
end=$(($(date +%s) + WINDOW + 25))
while [ "$(date +%s)" -lt "$end" ] && { [ "$(evs "$HB" reaped | wc -l)" -lt 1 ] || [ "$(evs "$HB" joined B | wc -l)" -lt 1 ]; }; do
	rep B >/dev/null 2>>"$T_TMP/b2.err"; sleep 2
done
AD=$(adopted)
is "1: after the window B adopts one of A's pods" "$(printf '%s\n' "$AD" | grep -c .)" 1
like "1: ... one of A's" " ${AIDS[*]} " " $AD "
ts_of() { date -u -d "$(jq -r --arg i "$AD" --arg r "$1" 'select(.id==$i and .replica==$r) | .ts' "$HB/ledger.jsonl" | sed -n "$2p")" +%s; }
num_ge "1: ... only after its window (A's last line, then ${WINDOW}s)" "$(( $(ts_of B 1) - $(ts_of A '$') ))" "$WINDOW"
is "1: ... handed to rp-join as a pod record saying so" "$(jq -r 'select(.type=="pod" and .adopted_from=="A") | .id' "$HB"/ticks/*.jsonl)" "$AD"
is "1: ... B joined it" "$(evs "$HB" joined B)" "$AD"
anode=$(kubectl get nodes -l gpu-type=runpod -o json | jq -r --arg i "$AD" \
	'.items[] | select((.metadata.annotations["rp.io/pod-id"] // .metadata.labels["rp.io/pod-id"]) == $i) | .metadata.name')
isnt "1: ... it is a node" "$anode" ""
is "1: ... and Ready" "$(kubectl get node "$anode" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" True
is "1: ... its pod still runs (the same pod: no second create)" "$(curl -sf "$RA/state" | jq -r --arg i "$AD" '.pods[] | select(.id==$i) | .status')" RUNNING
is "1: no create since A's wave (RunPod's log: 2 creates in all)" "$(creates_ok)" 2
is "1: ... and no launching line of B's" "$(evs "$HB" launching B | wc -l)" 0
for id in "${AIDS[@]}"; do
	[ "$id" = "$AD" ] && continue
	is "1: the other ($id) is reaped by B" "$(evs "$HB" reaped)" "$id"
	is "1: A's pod $id is terminated" "$(curl -sf "$RA/state" | jq -r --arg i "$id" '.pods[] | select(.id==$i) | .status')" TERMINATED
done
is "1: A's pods: one node, one terminated (none left billing)" "$(n_pods)" 1
LEDGER=$HB/ledger.jsonl invariant
lag 5 # back to lag 10 (one node serves 5): scenario 3's tick has work to launch

# ---- 2. the spend of a dead replica, on B and on an empty replica -------------
diag "2 at +${SECONDS}s"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cost() { RP_STATE_DIR=$1 rp-cost report --by pod --now "$now" 2>/dev/null | jq -c --arg i "$2" 'select(.by=="pod" and .key==$i) | .spend'; }
RP_STATE_DIR=$HA rp-cost report --by pod --now "$now" >"$T_TMP/costA" 2>/dev/null
for id in "${AIDS[@]}"; do
	want=$(jq -c --arg i "$id" 'select(.by=="pod" and .key==$i) | .spend' "$T_TMP/costA")
	isnt "2: A's own report prices pod $id" "$want" ""
	is "2: rp-cost on B reports A's pod $id to the cent" "$(cost "$HB" "$id")" "$want"
	is "2: rp-cost on an empty replica (rebuilt from the store) too" "$(cost "$HC" "$id")" "$want"
done
tot() { RP_STATE_DIR=$1 rp-cost report --now "$now" 2>/dev/null | jq -r 'select(.by=="total") | .spend'; }
is "2: the totals agree (A, B, rebuilt C)" "$(tot "$HA") $(tot "$HB")" "$(tot "$HC") $(tot "$HC")"
is "2: the rebuilt ledger has every line of B's" "$(jq -r .lid "$HC/ledger.jsonl" | sort | md5sum)" "$(jq -r '.lid // empty' "$HB/ledger.jsonl" | sort | md5sum)"

# ---- 3. the store down: hold, nothing lost, catch up --------------------------
diag "3 at +${SECONDS}s"
radmin config '{"boot_delay":0.5}'
sleep 1
"$KAFKACTL" all-down >/dev/null
lag 10
reqs_clear
rc "3: the store down: B's tick exits 75" 75 rep B
is "3: ... and holds" "$(jq -r .action "$T_TMP/.out")" hold
like "3: ... saying why" "$(cat "$T_TMP/.err")" "fleet store unavailable"
is "3: ... nothing created" "$(creates_ok)" 0
rc "3: rp-launch alone with the store down: exit 75" 75 env RP_STATE_DIR="$HB" RP_IDENTITY=B rp-launch -q --count 1
like "3: ... its launching line was not acknowledged" "$(cat "$T_TMP/.err")" "not acknowledged.*no pod created"
is "3: ... nothing created" "$(creates_ok)" 0
pend=$(jq -r .lid "$HB/fleet-outbox.jsonl" 2>/dev/null)
isnt "3: the line waits in B's outbox (nothing lost)" "$pend" ""
is "3: ... and in B's ledger" "$(jq -r --arg l "$pend" 'select(.lid==$l) | .event' "$HB/ledger.jsonl")" launching
"$KAFKACTL" all-up >/dev/null
lag_known() { RP_STATE_DIR=$T_TMP/probe rp-lagwatch --once -q; }
ok "3: the store back (the mock brokers answer again)" eventually 30 lag_known
# The tick below must be past the fleet cooldown (40 s) of the last wave
# of scenarios 1-2, however long they took on this machine: wait until
# the newest earlier launching line is 41 s old (the one written while the
# store was down is rp-launch's own, refused before any create).
last=$(jq -r --arg l "$pend" 'select(.event=="launching" and .lid!=$l) | .ts' "$HB/ledger.jsonl" | sort | tail -n1)
if [ -n "$last" ]; then
	left=$(( $(date -u -d "$last" +%s) + 41 - $(date -u +%s) ))
	[ "$left" -gt 0 ] && sleep "$left"
fi
rc "3: the store back: B's tick acts (exit 0)" 0 rep B
is "3: ... and launches" "$(jq -r .action "$T_TMP/.out")" up
diag "3: decision: $(jq -r 'select(.type=="decision") | .reason' "$(find "$HB/ticks" -name '*.jsonl' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)")"
is "3: B's outbox was sent" "$(wc -c <"$HB/fleet-outbox.jsonl")" 0
ok "3: the other replicas catch up" env RP_STATE_DIR="$HC" rp-cost sync
is "3: ... the line written while the store was down reached them" "$(jq -r --arg l "$pend" 'select(.lid==$l) | .event' "$HC/ledger.jsonl")" launching
is "3: ... once" "$(jq -r --arg l "$pend" 'select(.lid==$l) | .event' "$HC/ledger.jsonl" | wc -l)" 1
drain_lag
LEDGER=$HB/ledger.jsonl invariant
done_testing
