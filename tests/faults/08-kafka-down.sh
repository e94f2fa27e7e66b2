#!/usr/bin/env bash
# Fault: every Kafka broker is down.  The lag is unknown: hold, exit 75,
# never a false down — even with idle burst nodes; back up, the loop goes on.
. "$(dirname "$0")/lib.sh"
f_setup
lag 10
tick >/dev/null
is "up before the fault" "$(n_pods)" 2
drain_lag; sleep 2.5
"$KAFKACTL" all-down >/dev/null || { fail "kafkactl all-down"; exit 1; }
at_exit "'$KAFKACTL' all-up >/dev/null 2>&1"
rc "rp-lagwatch with Kafka down exits 75" 75 rp-lagwatch --once --set kafka.timeout=2s
like "decision hold with a reason" "$(jq -r 'select(.type=="decision") | .action + " " + .reason' "$T_TMP/.out")" "^hold "
tick >"$T_TMP/t.out" 2>/dev/null
is "the tick holds" "$(jq -r .action "$T_TMP/t.out")" hold
is "no node drained while the lag is unknown" "$(n_pods)" 2
"$KAFKACTL" all-up >/dev/null
sleep 1
tick >/dev/null; sleep 2.5; tick >/dev/null
is "Kafka back: idle nodes drained" "$(n_pods)" 0
invariant
done_testing
