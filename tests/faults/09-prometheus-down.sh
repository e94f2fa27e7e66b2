#!/usr/bin/env bash
# Fault: Prometheus is unreachable.  The decision comes from the lag alone,
# says so, and the loop still scales up and down.
. "$(dirname "$0")/lib.sh"
f_setup
sed -i "s|^  url: \"http://127.0.0.1:[0-9]*\"$|  url: \"http://127.0.0.1:1\"|" "$RP_CONFIG"
grep -q 'url: "http://127.0.0.1:1"' "$RP_CONFIG" || { fail "could not point prometheus.url at a dead port"; exit 1; }
lag 10
rc "tick with Prometheus down exits 0" 0 tick
is "it still scaled up" "$(jq -r .action "$T_TMP/.out")" up
log=$(find "$RP_STATE_DIR/ticks" -name '*.jsonl' | head -n1)
like "the decision says it decided from lag alone" "$(jq -r 'select(.type=="decision") | .reason' "$log")" "lag alone"
is "p95 is null, not 0" "$(jq -r 'select(.type=="decision") | .p95_s' "$log")" null
is "pods launched" "$(n_pods)" 2
drain_lag; sleep 2.5
tick >/dev/null; sleep 2.5; tick >/dev/null
is "and scaled down again" "$(n_pods)" 0
invariant
done_testing
