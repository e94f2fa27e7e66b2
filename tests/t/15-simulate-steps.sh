#!/usr/bin/env bash
# 15-simulate-steps: one rule, two callers, through the binaries (issue 20:
# "on the same sequence of observations the simulator's decisions equal
# rp-lagwatch's, step by step").  rp-cost simulate --steps prints each poll
# of the simulator: what rp_decide saw (time, lag, burst, lost and idle
# nodes) and what it said.  The same observations then go, poll by poll,
# to rp-lagwatch --once as the tick runs it: the lag through the Kafka
# mock (a committed offset that many messages behind), the burst nodes as
# --nodes, the clock through libfaketime (the trace's minute 0 is 00:00
# UTC today, so the warm pool's hours are the same), the state directory
# kept from poll to poll as the timer keeps it.  Each decision (action,
# count, reason) must be the simulator's.
#
# The policies the two share: default (the configured rule) and warmpool
# (its floor by hour through scale.warm_pool, as the simulation record
# prints it).  --nodes gives rp-lagwatch no idle and no lost node, so the
# simulations keep none (scale.idle 24h, no preemption): downs and lost
# nodes are test-sim's (same observations through rp_decide, in C).  The
# prewarm policy is not here: the simulator keeps its floor outside
# rp_decide (sim.h), rp-lagwatch's scale.prewarm inside it (decide.h).
. "$(dirname "$0")/../lib.sh"
need_stack
command -v faketime >/dev/null || { fail "faketime is not installed (scripts/install-deps)"; done_testing; exit 1; }
export FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC
# (a sanitizer build runs under the preload only with the link order check off)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

run=$$
day0=$(date -u -d 'today 00:00' +%s)
# the same rule for both: the stack's configuration plus these
rule=(--set scale.idle=24h --set runpod.max_nodes=4 --set prometheus.url=http://127.0.0.1:9)

# 45 minutes: 3 jobs a minute of 120 GPU-seconds, a rush of 12 a minute
# from minute 25 to 35, then nothing (hour 0's Little's-law floor: 1 node)
for m in $(seq 0 44); do
	if [ "$m" -lt 25 ]; then j=3; elif [ "$m" -lt 35 ]; then j=12; else j=0; fi
	echo "$m,$j,120"
done >"$T_TMP/trace.csv"

t=steps$run
hi=5000
ok "mock: a topic" kctl topic "$t" 1
ok "mock: $hi messages in it" kctl produce "$t" 0 "$hi"

# lag GROUP N: the group's committed offset N messages behind the end (a
# quicker wait than kctl's: one commit a poll)
lag() {
	local n
	n=$(wc -l <"$KAFKA_CTL_OUT")
	echo "commit $1 $t 0 $((hi - $2))" >"$KAFKA_CTL"
	for _ in $(seq 500); do [ "$(wc -l <"$KAFKA_CTL_OUT")" -gt "$n" ] && break; sleep 0.01; done
	tail -n 1 "$KAFKA_CTL_OUT" | grep -q '^ok'
}

# replay POLICY [--set KEY=VALUE...]: the simulator's polls, one by one,
# through rp-lagwatch; prints "same" or the first step that differs
replay() {
	local policy=$1
	local g="g$policy$run" i=0 last=-1 n=0 tt lg burst want got ts st try
	shift
	export RP_STATE_DIR="$T_TMP/state.$policy"
	mkdir -p "$RP_STATE_DIR"
	while IFS=$'\t' read -r tt lg burst want; do
		i=$((i + 1))
		if [ "$lg" != "$last" ]; then
			lag "$g" "$lg" || { echo "step $i: the mock did not take lag $lg"; return; }
			last=$lg
		fi
		ts=$(date -u -d "@$((day0 + tt))" '+%Y-%m-%d %H:%M:%S')
		# a tick whose lag poll found no answer (75, a loaded machine) saves
		# no state: that poll again, at the same time
		for try in 1 2 3; do
			faketime -f "@$ts" rp-lagwatch --once -o json --group "$g" --topic "$t" --nodes "$burst" \
				"${rule[@]}" "$@" >"$T_TMP/tick.out" 2>"$T_TMP/tick.err"
			st=$?
			[ "$st" = 75 ] || break
		done
		got=$(jq -r 'select(.type=="decision") | "\(.action) \(.count) \(.reason | sub("; no latency signal \\(.*$"; ""))"' "$T_TMP/tick.out")
		if [ "$got" != "$want" ]; then
			echo "step $i at ${tt}s (lag $lg, $burst burst nodes): rp-lagwatch '$got' (exit $st, try $try: $(tail -n 1 "$T_TMP/tick.err")), the simulator '$want'"
			return
		fi
		n=$((n + 1))
	done <"$T_TMP/$policy.steps"
	echo "same $n"
}

for policy in default warmpool; do
	rc "simulate --policy $policy --steps" 0 rp-cost simulate "$T_TMP/trace.csv" --policy "$policy" --steps --preempt-rate 0 "${rule[@]}"
	cp "$T_TMP/.out" "$T_TMP/$policy.jsonl"
	jq -r 'select(.type=="step") | [.t, .lag, .burst_nodes, "\(.action) \(.count) \(.reason)"] | @tsv' \
		"$T_TMP/$policy.jsonl" >"$T_TMP/$policy.steps"
	sim=$(jq -c 'select(.type=="simulation")' "$T_TMP/$policy.jsonl")
	steps=$(wc -l <"$T_TMP/$policy.steps")
	is "$policy: a step record for every poll" "$steps" "$(jq .polls <<<"$sim")"
	is "$policy: steps every 15 s from 15 s" "$(jq -s -c '[.[] | select(.type=="step") | .t] | [.[0], (. as $a | [range(1; length) | $a[.] - $a[. - 1]] | unique)]' "$T_TMP/$policy.jsonl")" '[15,[15]]'
	is "$policy: no idle and no lost node to feed (what --nodes cannot say)" \
		"$(jq -s '[.[] | select(.type=="step" and (.idle_nodes > 0 or .lost_nodes > 0))] | length' "$T_TMP/$policy.jsonl")" 0
	# what the trace makes both callers go through
	for what in 'on 1 poll: waiting for a second' 'surge' 'still count \(cooldown' 'capped by max_nodes|at max_nodes'; do
		num_ge "$policy: the trace reaches '$what'" "$(cut -f4 "$T_TMP/$policy.steps" | grep -cE "$what")" 1
	done
	num_ge "$policy: more than one up" "$(cut -f4 "$T_TMP/$policy.steps" | grep -c '^up ')" 2
	extra=()
	if [ "$policy" = warmpool ]; then
		wp=$(jq -c .warm_pool <<<"$sim")
		is "warmpool: its floor, as scale.warm_pool" "$wp" '{"00-01":1}'
		num_ge "warmpool: the trace reaches the floor" "$(cut -f4 "$T_TMP/$policy.steps" | grep -c 'below the warm pool floor 1 at 00 UTC')" 1
		extra=(--set "scale.warm_pool=$wp")
	fi
	res=$(replay "$policy" "${extra[@]}")
	is "$policy: rp-lagwatch decides as the simulator, step by step ($steps polls)" "$res" "same $steps"
done

done_testing
