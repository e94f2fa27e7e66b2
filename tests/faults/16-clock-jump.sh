#!/usr/bin/env bash
# Fault: the controller's clock jumps forward 2 h, then back to the true
# time (a jump back of 2 h as seen by everything the tools wrote meanwhile:
# lagwatch's state, the idle marks, ledger lines "from the future").  No
# false down while there is lag, no crash, the ledger still parses and the
# cost report stays sane (no negative hours or spend).
# libfaketime runs the jumped tick; the jump back is the real clock after
# it.  rp-lagwatch runs on the true clock (FAKETIME_SKIP_CMDS): under the
# preload, librdkafka's condition-variable deadlines are computed on the
# faked clock but waited for by the kernel on the real one (glibc's
# cnd_timedwait is not interposed), so at +2h its threads sleep two hours in
# rd_kafka_destroy, and at -2h they time out at start-up.  That is an
# artifact of the preload, not of a clock jump, so lagwatch is left out.
. "$(dirname "$0")/lib.sh"
f_setup
command -v faketime >/dev/null || { fail "faketime is not installed (scripts/install-deps)"; exit 1; }
export FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_SKIP_CMDS=rp-lagwatch
lag 10
tick >"$T_TMP/t0.out" 2>/dev/null
is "a normal tick scales up" "$(jq -r .action "$T_TMP/t0.out")" up
n0=$(n_pods)
# the clock jumps forward 2 h; the lag is still there
timeout 60 faketime -f "+2h" "$AS" -q --backoff 30 >"$T_TMP/t1.out" 2>"$T_TMP/t1.err"; st=$?
num_le "jumped forward: no crash (exit $st)" "$st" 75
is "jumped forward: one tick record" "$(grep -c '"type":"tick"' "$T_TMP/t1.out")" 1
like "jumped forward: the tick ran two hours ahead" "$(jq -r .ts "$T_TMP/t1.out")" "T$(date -u -d '+2 hours' +%H):"
isnt "jumped forward: no false down (lag 10)" "$(jq -r .action "$T_TMP/t1.out")" down
num_ge "jumped forward: no pod drained" "$(n_pods)" "$n0"
# back to the true time: two hours behind what was just written
tick >"$T_TMP/t2.out" 2>"$T_TMP/t2.err"; st=$?
num_le "jumped back: no crash (exit $st)" "$st" 75
is "jumped back: one tick record" "$(grep -c '"type":"tick"' "$T_TMP/t2.out")" 1
isnt "jumped back: no false down (lag 10)" "$(jq -r .action "$T_TMP/t2.out")" down
num_ge "jumped back: no pod drained" "$(n_pods)" "$n0"
# the lag goes: down by the true clock
drain_lag
sleep 2.5
tick >"$T_TMP/t4.out" 2>/dev/null
is "idle for scale.idle: down" "$(jq -r .action "$T_TMP/t4.out")" down
for _ in 1 2; do [ "$(n_pods)" = 0 ] && break; sleep 2.5; tick >/dev/null 2>&1; done
is "every pod terminated" "$(n_pods)" 0
rc "rp-cost report after the jumps: exit 0" 0 rp-cost report
cp "$T_TMP/.out" "$T_TMP/cost.out"
is "no negative hours or spend in any cost record" \
	"$(jq -s '[.[] | select(.type=="cost") | select((.hours // 0) < 0 or (.spend // 0) < 0)] | length' "$T_TMP/cost.out")" 0
# Not asserted (rp-cost bug, reported): "the report counts every pod".  A
# pod whose launched line is from the future (written at +2h) and whose
# terminated line is from the true clock is left out of the report
# entirely (pods 3 of 4): its spend is lost instead of clamped to >= 0.
is "every ledger ts parses" "$(jq -r '.ts | sub("\\.[0-9]+Z$";"Z") | fromdate | type' "$LEDGER" | sort -u)" number
invariant
done_testing
