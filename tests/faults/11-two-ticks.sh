#!/usr/bin/env bash
# Fault: two ticks start at once (a timer and an operator, or a slow tick
# overlapping the next).  One acts; the other exits 0 at once without
# acting; no pod is launched twice; a third tick started mid-launch does
# not act either.
. "$(dirname "$0")/lib.sh"
f_setup
radmin config '{"boot_delay":2}'
lag 10
reqs_clear
"$AS" -q >"$T_TMP/a.out" 2>"$T_TMP/a.err" & pa=$!
"$AS" -q >"$T_TMP/b.out" 2>"$T_TMP/b.err" & pb=$!
launching() { [ "$(creates_ok)" -ge 1 ]; }
eventually 30 launching
s=$(date +%s.%N)
rc "a third tick while the first launches: exit 0" 0 "$AS" -q
num_le "it returned at once" "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" 3
is "it did not act (no tick record)" "$(grep -c '"type":"tick"' "$T_TMP/.out")" 0
wait "$pa"; ra=$?; wait "$pb"; rb=$?
is "both ticks exit 0" "$ra$rb" 00
is "exactly one tick acted (one tick record)" "$(cat "$T_TMP/a.out" "$T_TMP/b.out" | grep -c '"type":"tick"')" 1
is "exactly one tick log" "$(find "$RP_STATE_DIR/ticks" -name '*.jsonl' | wc -l)" 1
is "lag 10: 2 pods, not 4" "$(n_pods)" 2
is "2 creates, not 4" "$(creates_ok)" 2
is "one decision fed lagwatch's state (one up recorded)" "$(jq -r 'select(.type=="decision") | .action' "$(last_tick_log)")" up
is "2 launched lines" "$(ledger_n launched)" 2
radmin config '{"boot_delay":0.5}'
drain_lag
invariant
done_testing
