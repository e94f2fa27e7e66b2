#!/usr/bin/env bash
# 81-scaleup: the early trigger (rp-lagwatch --watch --trigger, trigger.h)
# on the stack, with the real scripts/rp-autoscale as its tick: it takes
# the tick's lock (nothing while another tick holds it), counts a first
# hot poll without a tick (hysteresis), starts the up tick at once and
# hands it the lock, starts no more ticks within the cooldown; and the
# scale-up path's steps happen in order with the expected records
# (trigger -> decision -> launching -> launched -> ready -> pod -> ssh ->
# join -> Ready -> labels -> node record -> joined).  With --period it is
# the timer too: a tick every period under the same lock.
. "$(dirname "$0")/../lib.sh"
need_stack
exec </dev/null
AS="$RP_TOP/scripts/rp-autoscale"
A=$RUNPOD_URL/_admin
admin() { curl -sf -o /dev/null -X POST "$A/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
LEDGER=$RP_STATE_DIR/ledger.jsonl
LOCK=$RP_STATE_DIR/autoscale.lock
TOPIC=scaleup-$$ GROUP=scaleup-g-$$
"$KAFKACTL" topic "$TOPIC" 2 >/dev/null || { fail "kafkactl topic"; done_testing; exit 1; }
for p in 0 1; do "$KAFKACTL" commit "$GROUP" "$TOPIC" "$p" 0 >/dev/null; done
# every key the path depends on, written out (defaults may change)
sed -e "s/^cluster: .*/cluster: sup/" -e "s/^  group: .*/  group: [\"$GROUP\"]/" \
	-e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" -e 's/^  lag_threshold: .*/  lag_threshold: 5/' \
	-e '/^scale:/,/^[a-z]/{/^  idle:/d}' "$RP_CONFIG" >"$T_TMP/rp.yaml"
sed -i -e '/^runpod:/a\  max_nodes: 10' -e '/^kube:/a\  bootstrap: kubeadm' \
	-e '/^scale:/a\  idle: 60s\n  cooldown: 5m' "$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
for n in $(kubectl get nodes -l gpu-type=runpod -o name); do kubectl delete "$n" >/dev/null 2>&1; done
admin reset
admin config '{"provision_delay":0.2,"start_delay":0.2,"boot_delay":1}'
wpid=
stop_watch() { [ -z "$wpid" ] || { kill -TERM "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=; }; }
hpid=
# shellcheck disable=SC2016 # expanded at exit, when hpid is what it is then
at_exit 'stop_watch; [ -z "$hpid" ] || kill "$hpid" 2>/dev/null; admin reset; kubectl delete nodes -l gpu-type=runpod >/dev/null 2>&1'
recs() { grep -c "\"type\":\"trigger\".*\"what\":\"$1\"" "$T_TMP/w.out"; }

# ---- usage ----
rc "--trigger without --watch: usage" 2 rp-lagwatch --trigger true
rc "--trigger with --serve: usage" 2 rp-lagwatch --serve 127.0.0.1:0 --watch 1s --trigger true
rc "--trigger with --lag-only: usage" 2 rp-lagwatch --watch 1s --lag-only --trigger true
rc "--period without --trigger: usage" 2 rp-lagwatch --watch 1s --period 15s
rc "--period 0: usage" 2 rp-lagwatch --watch 1s --trigger true --period 0s

# ---- --period: the loop is the timer too (deploy/'s loop container) ----
# a tick every period whatever the lag (here lag 0), the first at once,
# each under the tick's lock handed over on fd 9, as an early tick's
cat >"$T_TMP/ptick" <<SH
#!/bin/sh
l=\$RP_STATE_DIR/autoscale.lock
if [ /proc/\$\$/fd/9 -ef "\$l" ] && ! flock -n "\$l" true; then h=held; else h=free; fi
echo "\$h \$(date +%s.%N)" >>"\$RP_STATE_DIR/pticks"
exit "\${PTICK_RC:-0}"
SH
chmod +x "$T_TMP/ptick"
S4=$T_TMP/s4
mkdir -p "$S4"
nticks() { if [ -f "$S4/pticks" ]; then wc -l <"$S4/pticks"; else echo 0; fi; }
pticks() { [ "$(nticks)" -ge "$1" ]; }
PTICK_RC=75 RP_STATE_DIR=$S4 rp-lagwatch --watch 0.3s --period 1s --trigger "$T_TMP/ptick" >"$T_TMP/w4.out" 2>"$T_TMP/w4.err" & wpid=$!
ok "--period 1s: three ticks come" eventually 20 pticks 3
stop_watch
num_ge "then one a period apart, not one a poll" \
	"$(awk 'NR>1{d=$2-p; if(m==""||d<m)m=d} {p=$2} END{print m}' "$S4/pticks")" 0.9
is "each with the tick's lock on fd 9, held" "$(grep -vc '^held ' "$S4/pticks")" 0
is "lag 0: no trigger record" "$(grep -c '"type":"trigger"' "$T_TMP/w4.out")" 0
unlike "exit 75 is a tick's normal end: no warning" "$(cat "$T_TMP/w4.err")" 'periodic tick ended'
# a tick holds the lock: no periodic tick meanwhile, one as soon as it is free
rm -f "$S4/pticks"
# shellcheck disable=SC2016 # $1: the inner shell's
flock "$S4/autoscale.lock" sh -c 'while [ -d "$1" ] && [ ! -e "$1/release4" ]; do sleep 0.1; done' _ "$T_TMP" & hpid=$!
held4() { ! flock -n "$S4/autoscale.lock" true; }
eventually 10 held4 || diag "the holder did not take the lock"
RP_STATE_DIR=$S4 rp-lagwatch --watch 0.3s --period 1s --trigger "$T_TMP/ptick" >"$T_TMP/w4.out" 2>"$T_TMP/w4.err" & wpid=$!
sleep 2.5
is "while another tick holds the lock: no periodic tick" "$(nticks)" 0
touch "$T_TMP/release4"
wait "$hpid"; hpid=
ok "the lock free: the periodic tick comes" eventually 10 pticks 1
stop_watch
# a long period: the first tick comes at once all the same
rm -f "$S4/pticks"
PTICK_RC=1 RP_STATE_DIR=$S4 rp-lagwatch --watch 0.3s --period 60s --trigger "$T_TMP/ptick" >"$T_TMP/w4.out" 2>"$T_TMP/w4.err" & wpid=$!
ok "--period 60s: the first tick at once" eventually 15 pticks 1
stop_watch
like "a tick that failed (exit 1) is a warning" "$(cat "$T_TMP/w4.err")" 'level=warn .*msg="periodic tick ended" status=1'
# as a container's PID 1 (deploy/): the orphans its ticks leave are reaped
if unshare -Urpf --mount-proc true 2>/dev/null; then
	cat >"$T_TMP/orphan" <<'SH'
#!/bin/sh
sh -c 'sleep 0.1 &' # an orphan: its parent is gone at once
z=0
for s in /proc/[0-9]*/stat; do read -r l <"$s" 2>/dev/null; case $l in *") Z "*) z=$((z + 1)) ;; esac; done
echo "$z" >>"$RP_STATE_DIR/zombies"
SH
	chmod +x "$T_TMP/orphan"
	S5=$T_TMP/s5
	mkdir -p "$S5"
	# unshare killed: rp-lagwatch gets SIGTERM (--kill-child)
	RP_STATE_DIR=$S5 unshare -Urpf --mount-proc --kill-child=SIGTERM \
		rp-lagwatch --watch 0.3s --period 1s --trigger "$T_TMP/orphan" >/dev/null 2>"$T_TMP/w5.err" & upid=$!
	zticks() { [ -f "$S5/zombies" ] && [ "$(wc -l <"$S5/zombies")" -ge 4 ]; }
	ok "as PID 1 of a PID namespace: four periodic ticks" eventually 30 zticks
	kill -KILL "$upid"
	wait "$upid" 2>/dev/null
	is "  no zombie from the orphans of the ticks before" "$(sort -n "$S5/zombies" | tail -n1)" 0
else
	diag "no unprivileged PID namespace here: the PID 1 reaping is not checked"
fi

# ---- not hot: no tick, no count, nothing written ----
rp-lagwatch --watch 0.3s --trigger "$AS -q" >"$T_TMP/w.out" 2>"$T_TMP/w.err" & wpid=$!
sleep 1.5
is "lag 0: no trigger record" "$(grep -c '"type":"trigger"' "$T_TMP/w.out")" 0
is "lag 0: no decision state written" "$(test -e "$RP_STATE_DIR/lagwatch.json" && echo yes || echo no)" no

# ---- a tick holds the lock: the trigger waits for it ----
# held until the test lets it go (a fixed time would run out on a slow
# machine), or its directory is gone
# shellcheck disable=SC2016 # $1: the inner shell's
flock "$LOCK" sh -c 'while [ -d "$1" ] && [ ! -e "$1/release" ]; do sleep 0.1; done' _ "$T_TMP" & hpid=$!
held() { ! flock -n "$LOCK" true; }
eventually 10 held || diag "the holder did not take the lock"
"$KAFKACTL" produce "$TOPIC" 0 6 >/dev/null # lag 6 > 5: hot, not a surge
sleep 2
is "while a tick holds the lock: no trigger record" "$(grep -c '"type":"trigger"' "$T_TMP/w.out")" 0
is "while a tick holds the lock: nothing counted" "$(test -e "$RP_STATE_DIR/lagwatch.json" && echo yes || echo no)" no
touch "$T_TMP/release"
wait "$hpid"; hpid=
got_tick() { grep -q '"type":"tick"' "$T_TMP/w.out"; }
ok "the lock free: the up tick comes" eventually 30 got_tick
is "the first hot poll was counted, not ticked (hysteresis)" "$(recs count)" 1
is "then one tick" "$(recs tick)" 1
like "count first, then the tick, then the tick's record" \
	"$(jq -r 'select(.type=="trigger" or .type=="tick") | .what // .type' "$T_TMP/w.out" | tr '\n' ' ')" '^count tick tick $'
like "the count says why" "$(jq -r 'select(.what=="count") | .reason' "$T_TMP/w.out")" 'lag 6 > 5 on 1 poll: waiting for a second \(hysteresis\)'
like "the tick says why" "$(jq -r 'select(.what=="tick") | .reason' "$T_TMP/w.out")" 'lag 6 > 5 on 2 polls'
# the tick ran under the lock the trigger took and handed over on fd 9
is "the triggered tick acted: up" "$(jq -r 'select(.type=="tick") | .action' "$T_TMP/w.out")" up
is "and exited 0" "$(jq -r 'select(.type=="tick") | .status' "$T_TMP/w.out")" 0
like "the trigger logged its end" "$(cat "$T_TMP/w.err")" 'msg="early tick ended" status=0'

# ---- within the cooldown, hot still: no more early ticks ----
sleep 2
is "cooldown: no second tick while the asked nodes boot" "$(recs tick)" 1
is "cooldown: nothing counted either" "$(recs count)" 1

# ---- a CMD that does not keep the lock never polls: not retried at once ----
stop_watch
mkdir -p "$T_TMP/s3"
printf '#!/bin/sh\nexec 9>&- # drops the lock it was handed\nexec %s -q\n' "$AS" >"$T_TMP/nolock"
chmod +x "$T_TMP/nolock"
"$KAFKACTL" produce "$TOPIC" 1 10 >/dev/null # lag 16 on a fresh state: a surge
RP_STATE_DIR=$T_TMP/s3 rp-lagwatch --watch 0.3s --trigger "$T_TMP/nolock" >"$T_TMP/w3.out" 2>"$T_TMP/w3.err" & wpid=$!
sleep 2.5
stop_watch
is "a tick that never polled: one early tick, not one a poll" "$(grep -c '"what":"tick"' "$T_TMP/w3.out")" 1
like "and it says why" "$(cat "$T_TMP/w3.err")" 'the early tick did not poll'
# A standby replica's tick finds the Lease held elsewhere and exits 0
# without polling, for as long as the queue is hot: with --period the
# loop's own period is the pause (not 15 s), and the warning is said once
mkdir -p "$T_TMP/s7"
printf '#!/bin/sh
exit 0 # standing by: another replica holds the Lease
' >"$T_TMP/standby"
chmod +x "$T_TMP/standby"
RP_STATE_DIR=$T_TMP/s7 rp-lagwatch --watch 0.3s --period 1s --trigger "$T_TMP/standby" >"$T_TMP/w7.out" 2>"$T_TMP/w7.err" & wpid=$!
three_early() { [ "$(grep -c '"what":"tick"' "$T_TMP/w7.out")" -ge 3 ]; }
ok "standing by, --period 1s: an early tick again each period" eventually 15 three_early
stop_watch
is "  the warning said once, not once a period" "$(grep -c 'the early tick did not poll' "$T_TMP/w7.err")" 1
# --period counts from the last tick started, early or not: the first
# periodic tick (t=0) lasts 2 s, the surge's early tick follows it, and
# the next periodic tick comes a period after the early one, not after 0
cat >"$T_TMP/slow1" <<'SH'
#!/bin/sh
[ -e "$RP_STATE_DIR/slow1" ] || sleep 2
date +%s.%N >>"$RP_STATE_DIR/slow1"
SH
chmod +x "$T_TMP/slow1"
mkdir -p "$T_TMP/s6"
RP_STATE_DIR=$T_TMP/s6 rp-lagwatch --watch 0.3s --period 4s --trigger "$T_TMP/slow1" >"$T_TMP/w6.out" 2>"$T_TMP/w6.err" & wpid=$!
slow3() { [ -f "$T_TMP/s6/slow1" ] && [ "$(wc -l <"$T_TMP/s6/slow1")" -ge 3 ]; }
ok "--period and a surge: periodic, early, periodic" eventually 30 slow3
stop_watch
is "  the second was the early tick" "$(grep -c '"what":"tick"' "$T_TMP/w6.out")" 1
num_ge "  the next periodic tick a period after it" "$(awk 'NR==2{a=$1} NR==3{print $1-a}' "$T_TMP/s6/slow1")" 3.5
"$KAFKACTL" commit "$GROUP" "$TOPIC" 1 10 >/dev/null # back to lag 6

# ---- two ticks never overlap: a timer tick during an early tick ----
# (a surge on a fresh state: the early tick goes up at once; a pod takes 4 s)
stop_watch
log1=$(find "$RP_STATE_DIR/ticks" -name '*.jsonl' | sort | tail -n1)
mkdir -p "$T_TMP/s2"
admin config '{"boot_delay":4}'
"$KAFKACTL" produce "$TOPIC" 1 10 >/dev/null # lag 16: 4 nodes wanted, 2 there
RP_STATE_DIR=$T_TMP/s2 rp-lagwatch --watch 0.3s --trigger "$AS -q" >"$T_TMP/w2.out" 2>"$T_TMP/w2.err" & wpid=$!
launching2() { [ -s "$T_TMP/s2/ledger.jsonl" ]; }
ok "surge: the early tick launches" eventually 20 launching2
s=$(date +%s.%N)
rc "a timer tick meanwhile: exit 0" 0 env RP_STATE_DIR="$T_TMP/s2" "$AS" -q
num_le "it returned at once" "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" 3
is "it did not act (no tick record)" "$(grep -c '"type":"tick"' "$T_TMP/.out")" 0
got_tick2() { grep -q '"type":"tick"' "$T_TMP/w2.out"; }
ok "the early tick ends" eventually 40 got_tick2
is "one tick log in that state dir" "$(find "$T_TMP/s2/ticks" -name '*.jsonl' | wc -l)" 1
stop_watch
admin config '{"boot_delay":1}'

# ---- the scale-up path: steps in order, the expected records ----
t() { jq -r "$JQT"' t' <<<"\"$1\""; }
JQT='def t: (sub("\\.[0-9]+Z$";"Z") | fromdate) + ((capture("(?<f>\\.[0-9]+)Z$").f // "0") | tonumber);'
dec=$(jq -c 'select(.type=="decision")' "$log1")
is "tick log: one decision, up" "$(jq -r .action <<<"$dec")" up
is "the decision asks for 2 (ceil 6/5)" "$(jq -r .count <<<"$dec")" 2
is "two pod records" "$(jq -c 'select(.type=="pod")' "$log1" | wc -l)" 2
is "two node records, Ready" "$(jq -c 'select(.type=="node" and .ready==true)' "$log1" | wc -l)" 2
is "labelled as configured" "$(jq -c 'select(.type=="node") | .labels | {"gpu-type"}' "$log1" | sort -u)" '{"gpu-type":"runpod"}'
is "ledger: launching, launched, ready, joined per pod" \
	"$(jq -r '.event' "$LEDGER" | grep -E '^(launching|launched|ready|joined)$' | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')" \
	"joined:2 launched:2 launching:2 ready:2 "
trig=$(jq -r 'select(.what=="tick") | .ts' "$T_TMP/w.out")
for id in $(jq -r 'select(.type=="pod") | .id' "$log1"); do
	node=$(jq -c --arg id "$id" 'select(.type=="node" and .id==$id)' "$log1")
	pod=$(jq -c --arg id "$id" 'select(.type=="pod" and .id==$id)' "$log1")
	name=$(jq -r .name <<<"$pod")
	ev() { jq -r --arg n "$name" --arg id "$id" --arg e "$1" 'select(.event==$e and (.id==$id or .name==$n)) | .ts' "$LEDGER" | head -n1; }
	order="trigger $trig
decision $(jq -r .ts <<<"$dec")
launching $(ev launching)
launched $(ev launched)
ready $(ev ready)
pod $(jq -r .ts <<<"$pod")
ssh $(jq -r .steps.ssh <<<"$node")
join $(jq -r .steps.join <<<"$node")
node_ready $(jq -r .steps.ready <<<"$node")
labels $(jq -r .steps.labels <<<"$node")
node $(jq -r .ts <<<"$node")
joined $(ev joined)"
	bad=$(printf '%s\n' "$order" | while read -r k v; do
		case $v in 20*Z) printf '%s %s\n' "$(t "$v")" "$k" ;; *) printf 'missing %s\n' "$k" ;; esac
	done | awk '$1 == "missing" { print "no time for " $2; next } NR > 1 && $1 < last { print $2 " before " lk } { last = $1; lk = $2 }')
	is "pod $id: every step has its time stamp, in order" "$bad" ""
done
rc "the tick's nodes answer kubectl: Ready" 0 kubectl get nodes -l gpu-type=runpod,nvidia.com/gpu=true --no-headers
like "two Ready, labelled burst nodes" "$(awk '$2=="Ready"' "$T_TMP/.out" | wc -l)" '^[2-9]$'
done_testing
