#!/usr/bin/env bash
# Fault: the RunPod API key file is missing, or readable by others (0644).
# Every RunPod-facing step refuses with one line and exit 2, sends nothing,
# and the tick does not pretend it worked.
. "$(dirname "$0")/lib.sh"
f_setup
lag 10
curl -sf -X DELETE "$RA/requests" >/dev/null
cp "$RP_STACK_DIR/secrets/runpod.key" "$T_TMP/key"; chmod 644 "$T_TMP/key"
printf 'runpod:\n' >/dev/null
sed -i "s|^  api_key_file: .*|  api_key_file: \"$T_TMP/key\"|" "$RP_CONFIG"
rc "rp-launch with a 0644 key file exits 2" 2 rp-launch --count 1
is "one line" "$(wc -l <"$T_TMP/.err")" 1
like "says chmod 600" "$(cat "$T_TMP/.err")" "chmod 600"
rc "rp-launch --reap with a 0644 key exits 2" 2 rp-launch --reap
rc "rp-drain --node with a 0644 key exits 2" 2 rp-drain --node "$CL-burst-none"
tick >"$T_TMP/tick.out" 2>"$T_TMP/tick.err"; st=$?
isnt "the tick does not report success" "$st" 0
is "RunPod got no request at all" "$(curl -sf "$RA/requests" | jq length)" 0
unlike "the key is not in any output" "$(cat "$T_TMP"/*.out "$T_TMP"/*.err "$T_TMP"/.err 2>/dev/null)" "$RUNPOD_API_KEY"
rm -f "$T_TMP/key"
rc "missing key file exits 2" 2 rp-launch --count 1
like "names the file" "$(cat "$T_TMP/.err")" "$T_TMP/key"
is "still nothing sent" "$(curl -sf "$RA/requests" | jq length)" 0
invariant
drain_lag
done_testing
