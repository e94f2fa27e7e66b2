#!/usr/bin/env bash
# Fault: kill -9 of a whole tick (its process group, as an OOM kill or a
# KillMode=control-group stop does) at every step: during rp-launch's
# readiness wait, during rp-join, during rp-drain, and of a checkpoint
# save mid-upload.  After each, the next tick(s) and rp-launch --reap
# restore the invariant: no paid pod unknown, none left unready.
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
# (Killed before kubeadm ran, a pod's last line is "ready": --reap keeps it
# for kube.join_timeout + 60 s in case a joiner is still at work, paid and
# not serving; reported, not exercised here.)
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

# --- 4. a checkpoint save killed mid-upload ---------------------------------
JOB=fault-k9-$$
job=$T_TMP/job; mkdir -p "$job"
for i in 1 2 3; do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
ok "4: first save" rp-checkpoint save "$JOB" "$job" --segments-complete 3
for i in $(seq 4 60); do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
setsid rp-checkpoint save "$JOB" "$job" --segments-complete 60 --set s3.parallel=1 >/dev/null 2>&1 & tp=$!
objs() { find "$RP_STACK_DIR/s3/checkpoint/$JOB" -type f 2>/dev/null | wc -l; }
n1=$(objs)
midway() { [ "$(objs)" -ge $((n1 + 20)) ]; }
if eventually 30 midway; then pass "4: the save is uploading"; else fail "4: the save never got going"; fi
kill_tick
ok "4: the earlier checkpoint still verifies" rp-checkpoint verify "$JOB" --at 1
ok "4: the next save completes" rp-checkpoint save "$JOB" "$job" --segments-complete 60
invariant
done_testing
