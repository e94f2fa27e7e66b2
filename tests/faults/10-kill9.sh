#!/usr/bin/env bash
# Fault: kill -9 of a whole tick (its process group, as an OOM kill or a
# KillMode=control-group stop does) at every step: during rp-launch's
# readiness wait, during rp-join, during rp-drain, between "ready" and the
# join (and, beside it, a slow join that must survive the reaper), and of a
# checkpoint save mid-upload.  After each, the next tick(s) and rp-launch
# --reap restore the invariant: no paid pod unknown, none left unready.
. "$(dirname "$0")/lib.sh"
f_setup
tp=
bg_tick() { setsid "$AS" -q --backoff 30 >"$T_TMP/bg.out" 2>"$T_TMP/bg.err" & tp=$!; }
kill_tick() { kill -9 -- "-$tp" 2>/dev/null; wait "$tp" 2>/dev/null; tp=; }
# shellcheck disable=SC2016 # expanded at exit
at_exit '[ -n "$tp" ] && kill -9 -- "-$tp" 2>/dev/null'
ev() { grep -c "\"event\":\"$1\"" "$LEDGER" 2>/dev/null || true; }
ready_nodes() { kubectl get nodes -l gpu-type=runpod --no-headers 2>/dev/null | awk '$2=="Ready"' | wc -l; }

# --- 1. during launch's readiness wait -------------------------------------
diag "step 1 at +${SECONDS}s"
radmin config '{"boot_delay":4}'
lag 10
bg_tick
launched() { [ "$(ev launched)" -ge 2 ]; }
if eventually 30 launched; then pass "1: pods created, waiting for readiness"; else fail "1: no launch"; fi
kill_tick
is "1: killed before any pod was ready" "$(ev ready)" 0
radmin config '{"boot_delay":0.5}'
rc "1: rp-launch --reap after the kill: exit 0" 0 rp-launch --reap -q
is "1: the dead launcher's pods are reaped" "$(n_pods)" 0
is "1: each is ledgered reaped" "$(ev reaped)" 2
drain_lag
invariant

# --- 2. during join (kubeadm has run; rp-join waits for the Node Ready) ------
diag "step 2 at +${SECONDS}s"
# (Killed before kubeadm has registered a node: step 5.)
kadmin config '{"ready_delay":5}'
lag 10
bg_tick
joining() { [ "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" -ge 2 ]; }
if eventually 40 joining; then pass "2: both Nodes registered, rp-join waits for Ready"; else fail "2: no kubeadm join"; fi
kill_tick
kadmin config '{"ready_delay":1}'
nodes_ready() { [ "$(ready_nodes)" -ge 2 ]; }
ok "2: the nodes come up Ready" eventually 15 nodes_ready
rc "2: rp-launch --reap: exit 0" 0 rp-launch --reap -q
is "2: the joined pods are kept (Kubernetes knows them)" "$(n_pods)" 2
invariant

# --- 3. during drain --------------------------------------------------------
diag "step 3 at +${SECONDS}s"
drain_lag
rp-lagwatch --once -q >/dev/null 2>&1 # the idle marks start now
sleep 2.5
radmin config '{"latency":1.5}'
bg_tick
cordoned() { kubectl get nodes -l gpu-type=runpod -o json | jq -e '[.items[] | select(.spec.unschedulable==true)] | length > 0'; }
if eventually 40 cordoned; then pass "3: rp-drain has cordoned a node"; else fail "3: no drain"; fi
kill_tick
radmin config '{"latency":0}'
invariant
for _ in 1 2 3; do [ "$(n_pods)" = 0 ] && break; sleep 2.5; tick >/dev/null 2>&1; done
is "3: the next ticks finish the drain: no pod left" "$(n_pods)" 0
is "3: no burst node left" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 0

# --- 4. killed between "ready" and the join; a slow join alive --------------
diag "step 4 at +${SECONDS}s"
# rp-join holds a pod's join lock ($RP_STATE_DIR/join/ID.lock) from reading
# its record until the ledger says how the join ended; the kernel drops it
# when rp-join dies.  A tick killed after "ready" (its kubeadm not done)
# leaves a pod nobody holds: --reap keeps it for the hand-off grace (30 s),
# then reaps it, long before kube.join_timeout + 60 s (360 s here).  A live
# rp-join whose kubeadm is slow holds the lock: never reaped, even past the
# grace, and it joins in the end.
HANDOFF=30
mapfile -t hp < <("$RP_TOP/tests/stack/sshd-add" "$RP_STACK_DIR" 2 2>"$T_TMP/sshd.err")
[ "${#hp[@]}" = 2 ] || { fail "4: sshd-add: $(cat "$T_TMP/sshd.err")"; exit 1; }
HA=$RP_STACK_DIR/hosts/${hp[0]##*:} HB=$RP_STACK_DIR/hosts/${hp[1]##*:}
real=$RP_TOP/tests/fakes/kubeadm
# On A, kubeadm join hangs until killed; on B, while $HB/hold exists.
rm -f "$HA/bin/kubeadm" "$HB/bin/kubeadm"
# shellcheck disable=SC2016 # expanded on the pod
printf '#!/bin/sh\n[ "$1" = join ] || exec %s "$@"\necho $$ >>"$RP_POD_DIR/hang.pids"\nexec sleep 300\n' \
	"$real" >"$HA/bin/kubeadm"
# shellcheck disable=SC2016 # expanded on the pod
printf '#!/bin/sh\nif [ "$1" = join ]; then\n\techo $$ >>"$RP_POD_DIR/hang.pids"\n\twhile [ -e "$RP_POD_DIR/hold" ]; do sleep 0.2; done\nfi\nexec %s "$@"\n' \
	"$real" >"$HB/bin/kubeadm"
chmod +x "$HA/bin/kubeadm" "$HB/bin/kubeadm"
: >"$HB/hold"
hung() { [ -e "$1/hang.pids" ] && [ "$(wc -l <"$1/hang.pids")" -ge "$2" ]; }
unhang() { local p; [ -e "$1/hang.pids" ] || return 0; while read -r p; do kill "$p" 2>/dev/null; done <"$1/hang.pids"; }
lp=
# shellcheck disable=SC2016 # expanded at exit
at_exit 'rm -f "$HB/hold"; unhang "$HA"; [ -n "$lp" ] && kill -9 -- "-$lp" 2>/dev/null'
lockf() { echo "$RP_STATE_DIR/join/$1.lock"; }
held() { ! flock -n "$(lockf "$1")" true; }
alive() { our_pods | jq -r --arg i "$1" '[.[] | select(.id==$i)] | length'; }
last_ev() { jq -r --arg i "$1" 'select(.id==$i) | .event' "$LEDGER" | tail -n1; }
# seconds from a pod's last "ready" line to its first E line (or to now)
since_ready() { jq -rs --arg i "$1" --arg e "${2:-}" --arg now "$(date +%s.%N)" '
	def t: capture("(?<s>[^.]*)[.](?<ms>[0-9]+)Z") | ((.s + "Z") | fromdateiso8601) + ((.ms | tonumber) / 1000);
	[.[] | select(.id==$i)] as $l
	| (if $e == "" then ($now | tonumber) else ([$l[] | select(.event==$e)][0].ts | t) end)
	  - ([$l[] | select(.event=="ready")][-1].ts | t)' "$LEDGER"; }

# (a) a live rp-join on B whose kubeadm is slow; (b) then a tick whose
# kubeadm hangs on A, killed there and reaped at once (its pods a few
# seconds into the grace).  Both then wait out the grace together.
radmin config "{\"ssh_pin\":\"${hp[1]}\"}"
setsid sh -c 'rp-launch -q --count 1 | rp-join -q' >"$T_TMP/l.out" 2>"$T_TMP/l.err" & lp=$!
if eventually 60 hung "$HB" 1; then pass "4: a live rp-join reached the slow kubeadm"; else fail "4: no slow join"; fi
radmin config "{\"ssh_pin\":\"${hp[0]}\"}"
n0=$(ev launching) r0=$(ev ready)
lag 10
bg_tick
k_hung() { local n=$(($(ev launching) - n0)); [ "$n" -ge 1 ] && [ "$(($(ev ready) - r0))" = "$n" ] && hung "$HA" "$n"; }
if eventually 60 k_hung; then pass "4: the tick's pods are ready, its kubeadm hangs on each"; else fail "4: the tick never reached kubeadm"; fi
kn=$(($(ev launching) - n0))
kill_tick
unhang "$HA"
mapfile -t K < <(our_pods | jq -r --arg b "${hp[0]}" '.[] | select(._internal.ssh==$b) | .id')
is "4: the killed tick left its pods paid" "${#K[@]}" "$kn"
k=${K[0]:-none}
L=$(our_pods | jq -r --arg b "${hp[1]}" '.[] | select(._internal.ssh==$b) | .id')
kr=0 kfree=0
for id in "${K[@]}"; do
	[ "$(last_ev "$id")" = ready ] && kr=$((kr + 1))
	[ -e "$(lockf "$id")" ] && ! held "$id" && kfree=$((kfree + 1))
done
is "4: each killed pod's last ledger line is ready" "$kr" "$kn"
is "4: each has a join lock file that nobody holds (its rp-join died)" "$kfree" "$kn"
is "4: the slow join's pod's last ledger line is ready" "$(last_ev "$L")" ready
ok "4: the slow join holds its pod's lock" held "$L"
diag "4: the first reap comes $(printf '%.1f' "$(since_ready "$k")") s into the killed pod's grace"
rc "4: --reap at once: exit 0" 0 rp-launch --reap -o json
is "4: nothing reaped" "$(grep -c '"type":"reaped"' "$T_TMP/.out")" 0
like "4: the killed tick's pod is kept for its hand-off" "$(cat "$T_TMP/.err")" "kept.*$k.*ready [0-9]+ s ago, being handed to rp-join"
like "4: the slow join's pod is kept: a joiner holds it" "$(cat "$T_TMP/.err")" "kept.*$L.*an rp-join holds its join lock"
is "4: all still paid" "$(n_pods)" $((kn + 1))

# --- 5. a checkpoint save killed mid-upload (while step 4's pods wait) ------
diag "step 5 at +${SECONDS}s"
JOB=fault-k9-$$
job=$T_TMP/job; mkdir -p "$job"
for i in 1 2 3; do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
ok "5: first save" rp-checkpoint save "$JOB" "$job" --segments-complete 3
for i in $(seq 4 60); do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
setsid rp-checkpoint save "$JOB" "$job" --segments-complete 60 --set s3.parallel=1 >/dev/null 2>&1 & tp=$!
objs() { find "$RP_STACK_DIR/s3/checkpoint/$JOB" -type f 2>/dev/null | wc -l; }
n1=$(objs)
midway() { [ "$(objs)" -ge $((n1 + 20)) ]; }
if eventually 30 midway; then pass "5: the save is uploading"; else fail "5: the save never got going"; fi
kill_tick
ok "5: the earlier checkpoint still verifies" rp-checkpoint verify "$JOB" --at 1
ok "5: the next save completes" rp-checkpoint save "$JOB" "$job" --segments-complete 60

# (c) past the hand-off grace: the killed ones are reaped, the live one is not
diag "step 4, past the grace, at +${SECONDS}s"
k_reaped() { rp-launch --reap -q >/dev/null 2>&1; [ "$(alive "$k")" = 0 ] || { sleep 1; return 1; }; }
if eventually 120 k_reaped; then pass "4: the killed tick's pod is reaped"; else fail "4: the killed tick's pod is never reaped"; fi
kreaped=0
for id in "${K[@]}"; do [ "$(alive "$id")" = 0 ] && [ "$(last_ev "$id")" = reaped ] && kreaped=$((kreaped + 1)); done
is "4: every killed pod is terminated and ledgered reaped" "$kreaped" "${#K[@]}"
d=$(printf '%.1f' "$(since_ready "$k" reaped)")
num_ge "4: kept for the hand-off grace ($d s)" "$d" "$HANDOFF"
num_le "4: reaped well before kube.join_timeout + 60 s ($d s)" "$d" 150
like "4: the reap says why" "$(jq -r --arg i "$k" 'select(.id==$i and .event=="reaped") | .reason' "$LEDGER")" \
	"ready [0-9]+ s ago and no rp-join holds it"
ok "4: the dead joiner's lock file is cleared" test ! -e "$(lockf "$k")"
past() { awk -v a="$(since_ready "$L")" -v b="$HANDOFF" 'BEGIN{exit !(a > b + 2)}'; }
ok "4: the slow join outlives the hand-off grace" eventually 60 past
rc "4: --reap past the grace: exit 0" 0 rp-launch --reap -o json
like "4: the slow join's pod is still kept: a joiner holds it" "$(cat "$T_TMP/.err")" "kept.*$L.*an rp-join holds its join lock"
is "4: ... and alive" "$(alive "$L")" 1
is "4: ... and never reaped" "$(ledger_n reaped "$L")" 0
ok "4: rp-join is still at work" kill -0 "$lp"

# (d) kubeadm answers: the join completes, the lock goes, the pod stays
rm -f "$HB/hold"
wait "$lp"; st=$?; lp=
is "4: the slow join ends joined: exit 0" "$st" 0
[ "$st" = 0 ] || sed 's/^/#   /' "$T_TMP/l.err" | tail -5
is "4: ledgered joined" "$(last_ev "$L")" joined
ok "4: its lock file is gone" test ! -e "$(lockf "$L")"
rc "4: --reap after the join: exit 0" 0 rp-launch --reap -o json
is "4: the joined pod is kept" "$(alive "$L")" 1
radmin config '{"ssh_pin":null}'
invariant
diag "end at +${SECONDS}s"
done_testing
