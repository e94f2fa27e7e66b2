#!/usr/bin/env bash
# Fault: RunPod gives a later pod the IP:port of a terminated one, with
# another host key.  A key learnt on first use carries its pod
# ("rp-pod=ID"); the terminate forgets it, so the new pod joins (its key
# learnt afresh).  Lines without a pod comment (hand-written) survive, and
# a live pod whose key changed is still refused.
. "$(dirname "$0")/lib.sh"
f_setup
f_conf runpod 'max_nodes: 1'
read -r hp _ <<<"$SSH_HOSTS"
port=${hp##*:}
KH=$T_TMP/known_hosts
# our own known_hosts: the stack's other hosts (hand-written lines), not this one
grep -v "^\[127.0.0.1\]:$port " "$RP_STACK_DIR/known_hosts" >"$KH"
chmod 600 "$KH"
cp "$KH" "$T_TMP/hand"
sed -i "s|^  known_hosts: .*|  known_hosts: \"$KH\"|" "$RP_CONFIG"
grep -q "known_hosts: \"$KH\"" "$RP_CONFIG" || { fail "could not point ssh.known_hosts at our copy"; exit 1; }
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/other" -C other
other=$(cut -d' ' -f1,2 "$T_TMP/other.pub")
radmin config "{\"ssh_pin\":\"$hp\"}"

# 1. the first pod joins; its key is learnt with its pod id
lag 10
tick >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
is "first pod: the tick joins it (exit 0)" "$st" 0
p1=$(jq -r 'select(.event=="launched") | .id' "$LEDGER" | tail -n1)
like "its key is recorded with its pod id" "$(grep "^\[127.0.0.1\]:$port " "$KH")" " ssh-ed25519 [A-Za-z0-9+/=]+ rp-pod=$p1\$"
n1=$(jq -r --arg i "$p1" 'select(.event=="ready" and .id==$i) | .node // .name' "$LEDGER" | tail -n1)
[ -n "$n1" ] && [ "$n1" != null ] || n1=$(kubectl get nodes -l gpu-type=runpod -o name | head -n1 | cut -d/ -f2)
# the address will present another key to the next pod: say so in the file
# (what a new sshd at the reused IP:port would do)
sed -i "s|^\[127.0.0.1\]:$port ssh-ed25519 [^ ]* rp-pod=$p1\$|[127.0.0.1]:$port $other rp-pod=$p1|" "$KH"
grep -q "^\[127.0.0.1\]:$port $other rp-pod=$p1\$" "$KH" || fail "could not change the recorded key"

# 2. a live pod whose key changed is still refused
rc "a live pod's changed key: refused (exit 1)" 1 rp-join --check --host 127.0.0.1 --port "$port" --id "$p1"
like "it says the host key changed" "$(cat "$T_TMP/.err")" "host key changed"

# 3. the pod is terminated (rp-drain); its line goes, the hand-written ones stay
rc "rp-drain terminates the first pod" 0 rp-drain --skip-checkpoint --node "$n1"
is "the pod is terminated" "$(curl -sf "$RA/state" | jq -r --arg i "$p1" '.pods[] | select(.id==$i) | .status')" TERMINATED
is "its known_hosts line is gone" "$(grep -c "rp-pod=$p1" "$KH")" 0
ok "the hand-written lines are untouched" cmp -s "$KH" "$T_TMP/hand"

# 4. a new pod at the same IP:port (its key differs from the one the file had) joins
drain_lag
lag 10
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
is "second pod at the same IP:port: joined (exit 0)" "$st" 0
p2=$(jq -r 'select(.event=="launched") | .id' "$LEDGER" | tail -n1)
isnt "it is another pod" "$p2" "$p1"
is "its join is ledgered ready" "$(ledger_n ready "$p2")" 1
like "its key is learnt afresh with its id" "$(grep "^\[127.0.0.1\]:$port " "$KH")" "rp-pod=$p2\$"

# 5. trust on first use only for the address RunPod gave a pod we
#    launched, within its ready window: a pod record for an address the
#    ledger has no `ready` line for, or one ready too long ago, is refused
read -r _ hp2 _ <<<"$SSH_HOSTS"
[ -n "$hp2" ] || hp2=$hp
port2=${hp2##*:}
grep -v "^\[127.0.0.1\]:$port2 " "$KH" >"$T_TMP/kh2"; cat "$T_TMP/kh2" >"$KH"
cp "$KH" "$T_TMP/kh.before"
podrec() { printf '{"type":"pod","id":"%s","name":"%s-burst-%s","gpu":"NVIDIA RTX A6000","ssh_host":"127.0.0.1","ssh_port":%s,"status":"RUNNING"}\n' "$1" "$CL" "$1" "$port2"; }
podrec stranger1 | rp-join --check >"$T_TMP/s1.out" 2>"$T_TMP/s1.err"; st=$?
is "an unknown key at an address no pod of ours was given: refused (exit 1)" "$st" 1
like "one line saying it is not trusted on first use" "$(grep -c 'not trusted on first use' "$T_TMP/s1.err")" "^1\$"
ok "nothing learnt" cmp -s "$KH" "$T_TMP/kh.before"
old=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
printf '{"type":"ledger","event":"ready","ts":"%s","id":"stale1","name":"%s-burst-stale1","ssh_host":"127.0.0.1","ssh_port":%s}\n' "$old" "$CL" "$port2" >>"$LEDGER"
podrec stale1 | rp-join --check >"$T_TMP/s2.out" 2>"$T_TMP/s2.err"; st=$?
is "a pod ready two hours ago, past its window: refused (exit 1)" "$st" 1
like "it names the window" "$(cat "$T_TMP/s2.err")" "past its ready window"
ok "still nothing learnt" cmp -s "$KH" "$T_TMP/kh.before"
rc "by hand (--host) the first use is still trusted" 0 rp-join --check --host 127.0.0.1 --port "$port2" --id byhand1
like "and recorded with the id given" "$(grep "^\[127.0.0.1\]:$port2 " "$KH")" "rp-pod=byhand1\$"

radmin config '{"ssh_pin":null}'
drain_lag
for n in $(kubectl get nodes -l gpu-type=runpod -o name); do rp-drain -q --skip-checkpoint --node "${n#node/}" >/dev/null 2>&1; done
invariant
done_testing
