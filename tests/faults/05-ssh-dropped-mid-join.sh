#!/usr/bin/env bash
# Fault: the pod's SSH server goes away while rp-join is running kubeadm
# join on it.  rp-join reports the failure (exit 1, a join_failed ledger
# line), and the pod is not left paid and unknown: the same tick's reaper
# (or the next one) terminates it; the loop then launches a replacement.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'max_nodes: 1'
f_conf ssh 'command_timeout: 20s'
hp=$("$RP_TOP/tests/stack/sshd-add" "$RP_STACK_DIR" 1 2>"$T_TMP/sshd.err") || { fail "sshd-add: $(cat "$T_TMP/sshd.err")"; exit 1; }
port=${hp##*:}
H=$RP_STACK_DIR/hosts/$port
master=$(cat "$RP_STACK_DIR/pids/sshd-$port.pid")
tree() { local p; for p in $(pgrep -P "$1"); do tree "$p"; echo "$p"; done; }
kill_sshd() { local p; for p in $(tree "$master") "$master"; do kill -9 "$p" 2>/dev/null; done; rm -f "$RP_STACK_DIR/pids/sshd-$port.pid"; }
at_exit kill_sshd
# a slow kubeadm join on this pod: the session is open when the server dies
rm -f "$H/bin/kubeadm"
# shellcheck disable=SC2016 # the wrapper expands on the pod
printf '#!/bin/sh\n[ "$1" = join ] && printf "%%s\\n" "slow-start $*" >>"$RP_POD_DIR/kubeadm.log" && sleep 8\nexec %s "$@"\n' \
	"$RP_TOP/tests/fakes/kubeadm" >"$H/bin/kubeadm"
chmod +x "$H/bin/kubeadm"
radmin config "{\"ssh_pin\":\"$hp\"}"
lag 10
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err" & tp=$!
in_join() { grep -q '^slow-start' "$H/kubeadm.log"; }
if eventually 40 in_join; then pass "rp-join reached kubeadm on the pod"; else fail "rp-join never ran kubeadm"; fi
kill_sshd
wait "$tp"; st=$?
is "the tick reports the failure: exit 1" "$st" 1
like "rp-join says what failed" "$(cat "$T_TMP/t1.err")" "rp-join"
pid=$(jq -r 'select(.event=="launched") | .id' "$LEDGER" | head -n1)
isnt "the pod was ledgered launched" "$pid" ""
is "its join is ledgered failed" "$(ledger_n join_failed "$pid")" 1
is "no node for it" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 0
radmin config '{"ssh_pin":null}'
gone() { [ "$(curl -sf "$RA/state" | jq -r --arg i "$pid" '.pods[] | select(.id==$i) | .status')" = TERMINATED ]; }
if ! gone; then rp-launch --reap -q >/dev/null 2>&1; fi
ok "the pod is not left paid: terminated by the reaper" gone
is "the ledger says how it ended" "$(jq -r --arg i "$pid" 'select(.id==$i) | .event' "$LEDGER" | tail -n1)" "$(jq -r --arg i "$pid" 'select(.id==$i and (.event=="reaped" or .event=="terminated")) | .event' "$LEDGER" | tail -n1)"
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
is "next tick, another host: exit 0" "$st" 0
is "a replacement joined" "$(kubectl get nodes -l gpu-type=runpod --no-headers | awk '$2=="Ready"' | wc -l)" 1
drain_lag
invariant
done_testing
