#!/usr/bin/env bash
# Fault: a host we know presents a different host key (a man in the middle,
# or a port reused by another pod).  rp-join refuses before running
# anything on it (exit 1; the stub kubeadm.log stays empty), the failure is
# ledgered, and the pod does not stay paid: the reaper terminates it.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'max_nodes: 1'
read -r hp _ <<<"$SSH_HOSTS"
port=${hp##*:}
H=$RP_STACK_DIR/hosts/$port
# our own known_hosts: the stack's, with this host's key replaced
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/other" -C other
grep -v "^\[127.0.0.1\]:$port " "$RP_STACK_DIR/known_hosts" >"$T_TMP/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$T_TMP/other.pub")" >>"$T_TMP/known_hosts"
chmod 600 "$T_TMP/known_hosts"
sed -i "s|^  known_hosts: .*|  known_hosts: \"$T_TMP/known_hosts\"|" "$RP_CONFIG"
grep -q "known_hosts: \"$T_TMP/known_hosts\"" "$RP_CONFIG" || { fail "could not point ssh.known_hosts at our copy"; exit 1; }
cp "$T_TMP/known_hosts" "$T_TMP/known_hosts.before"
kl=$(wc -l <"$H/kubeadm.log"); cl=$(wc -l <"$H/commands.log")
radmin config "{\"ssh_pin\":\"$hp\"}"
lag 10
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
is "the tick reports the failure: exit 1" "$st" 1
like "rp-join names the changed host key" "$(grep rp-join "$T_TMP/t1.err")" "[Hh]ost key"
is "nothing was run on the host (kubeadm.log)" "$(wc -l <"$H/kubeadm.log")" "$kl"
is "no command at all on the host (commands.log)" "$(wc -l <"$H/commands.log")" "$cl"
ok "known_hosts not rewritten with the new key" cmp -s "$T_TMP/known_hosts" "$T_TMP/known_hosts.before"
pid=$(jq -r 'select(.event=="launched") | .id' "$LEDGER" | head -n1)
is "the join is ledgered failed" "$(ledger_n join_failed "$pid")" 1
is "no node joined" "$(kubectl get nodes -l gpu-type=runpod -o name | wc -l)" 0
gone() { [ "$(curl -sf "$RA/state" | jq -r --arg i "$pid" '.pods[] | select(.id==$i) | .status')" = TERMINATED ]; }
if ! gone; then rp-launch --reap -q >/dev/null 2>&1; fi
ok "the pod does not stay paid: reaped" gone
radmin config '{"ssh_pin":null}'
drain_lag
invariant
done_testing
