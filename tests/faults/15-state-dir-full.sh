#!/usr/bin/env bash
# Fault: the state dir is full (a small tmpfs).  A launch whose ledger line
# cannot be written leaves no pod paid for, exits non-zero and says why; the
# tick does not report success; the ledger stays whole; space back, the
# loop goes on.
# The rule: nothing that costs money before its ledger line is durable —
# rp-launch writes a "launching" line per name before any create, and a
# ledger that cannot take it means no request is sent at all.
. "$(dirname "$0")/lib.sh"
f_setup
small=$T_TMP/small
mkdir -p "$small"
mount -t tmpfs -o size=512k,mode=0700 tmpfs "$small" || { fail "mount tmpfs"; exit 1; }
at_exit "umount -l '$small'"
export RP_STATE_DIR=$small LEDGER=$small/ledger.jsonl
# fill it (a fresh ledger then needs a block it cannot get)
dd if=/dev/zero of="$small/fill" bs=4k 2>/dev/null
is "the state dir is full" "$(df --output=avail "$small" | tail -n1 | tr -d ' ')" 0
reqs_clear
rc "rp-launch with a full state dir: exit 1" 1 rp-launch -q --count 1
cp "$T_TMP/.err" "$T_TMP/launch.err"
like "it says the ledger is not writable" "$(cat "$T_TMP/launch.err")" "ledger.*(No space|space)"
is "in one line" "$(wc -l <"$T_TMP/launch.err")" 1
is "and no create was sent at all" "$(curl -sf "$RA/requests" | jq '[.[] | select(.method=="POST" and .path=="/v2/pods")] | length')" 0
is "no pod left paid for" "$(n_pods)" 0
is "no pod was ever created without a ledger line left alive" \
	"$(curl -sf "$RA/state" | jq -r "[.pods[] | select(.name | startswith(\"$CL-\")) | select(.status != \"TERMINATED\") | .id] | length")" 0
lag 10
tick >"$T_TMP/t.out" 2>"$T_TMP/t.err"; st=$?
isnt "a tick with a full state dir does not report success" "$st" 0
is "still no pod paid for" "$(n_pods)" 0
# space back: the loop goes on
rm -f "$small/fill"
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
is "space back: the tick exits 0" "$st" 0
num_ge "and scales up" "$(n_pods)" 1
drain_lag
invariant
done_testing
