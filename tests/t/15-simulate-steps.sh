#!/usr/bin/env bash
# 15-simulate-steps: one rule, two callers, through the binaries (issue 20:
# "on the same sequence of observations the simulator's decisions equal
# rp-lagwatch's, step by step").  rp-cost simulate --steps prints each poll
# of the simulator: what rp_decide saw (time, lag, burst, lost and idle
# nodes) and what it said.  The same observations then go, poll by poll,
# to rp-lagwatch --once as the tick runs it: the lag through the Kafka
# mock (a committed offset that many messages behind), the burst nodes as
# --nodes, the clock through libfaketime, stopped at the poll's time (the
# trace's minute 0 is 00:00 UTC today, so the warm pool's hours are the
# same; stopped, since a clock that ran on from it would put an up some
# milliseconds after its poll and the next up a cooldown later, on the
# dot, either side of the cooldown's end), the state directory
# kept from poll to poll as the timer keeps it.  Each decision (action,
# count, reason) must be the simulator's.
#
# The policies the two share: default (the configured rule) and warmpool
# (its floor by hour through scale.warm_pool, as the simulation record
# prints it).  --nodes gives rp-lagwatch no idle and no lost node, so the
# simulations keep none (scale.idle 24h, no preemption): downs and lost
# nodes are test-sim's (same observations through rp_decide, in C).
#
# The prewarm policy too: its floor is rp_decide's, handed at t + lead as
# rp-lagwatch's scale.prewarm reads it from prewarm.json (sim.h), so the
# file here is the simulation record's prewarm_floors and prewarm_lead_s
# from today 00:00.  A floor needs a previous day: its trace is 25 hours
# (6000 polls), too many ticks to run each, so rp-lagwatch runs every
# poll but the quiet holds (lag at most the threshold, and the previous
# poll's too: such a poll changes no decision state but last_poll, which
# only a hot streak reads), and every 120th of those; the polls either
# side of a change of the floor run too, so a lead that differs by one
# poll shows.
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
		# no state: that poll again, at the same time; so is one the
		# faketime wrapper never ran (its semaphore, named by its pid, left
		# behind by a killed run: a reused pid cannot create it)
		for try in 1 2 3; do
			faketime -f "$ts" rp-lagwatch --once -o json --group "$g" --topic "$t" --nodes "$burst" \
				"${rule[@]}" "$@" >"$T_TMP/tick.out" 2>"$T_TMP/tick.err"
			st=$?
			[ "$st" = 75 ] || { [ "$st" = 1 ] && grep -q '^faketime: sem_open' "$T_TMP/tick.err"; } || break
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

# prewarm: day 0 leaves a history (2 jobs a minute of 600 GPU-seconds for
# 25 minutes: hour 0's Little's-law floor is 2 nodes of 3 jobs) under a
# lag threshold of 100 it never reaches; day 1 gets the floor a lead
# before 00:00, then a rush of 150 short jobs at 00:01 while that up's
# cooldown still runs; at 01:00 less a lead, the table ends: no floor.
policy=prewarm thr=100
for m in $(seq 0 1499); do
	j=0 w=600
	[ $((m % 1440)) -lt 25 ] && j=2
	[ "$m" = 1441 ] && j=150 w=60
	echo "$m,$j,$w"
done >"$T_TMP/trace-prewarm.csv"
pre=(--set scale.idle=48h --set "kafka.lag_threshold=$thr")
rc "simulate --policy prewarm --steps" 0 rp-cost simulate "$T_TMP/trace-prewarm.csv" --policy prewarm --steps --preempt-rate 0 "${rule[@]}" "${pre[@]}"
cp "$T_TMP/.out" "$T_TMP/$policy.jsonl"
sim=$(jq -c 'select(.type=="simulation")' "$T_TMP/$policy.jsonl")
is "prewarm: its floors by hour (hour 24: day 0's 2)" "$(jq -c .prewarm_floors <<<"$sim")" "[$(printf '0,%.0s' $(seq 24))2]"
lead=$(jq .prewarm_lead_s <<<"$sim")
is "prewarm: a lead of one median boot (cost.boot)" "$lead" 150
is "prewarm: a step record for every poll" "$(jq -s '[.[] | select(.type=="step")] | length' "$T_TMP/$policy.jsonl")" "$(jq .polls <<<"$sim")"
is "prewarm: no idle and no lost node to feed" \
	"$(jq -s '[.[] | select(.type=="step" and (.idle_nodes > 0 or .lost_nodes > 0))] | length' "$T_TMP/$policy.jsonl")" 0
# the floor handed at every poll: hour 24's 2 from a lead before it to a lead before its end
is "prewarm: the floor handed at t + lead, at every poll" \
	"$(jq -s --argjson l "$lead" '[.[] | select(.type=="step") | select(.prewarm != (if .t + $l >= 86400 and .t + $l < 90000 then 2 else 0 end))] | length' "$T_TMP/$policy.jsonl")" 0
jq -s -r --argjson thr $thr '[.[] | select(.type=="step")] as $s | range(0; $s | length) as $i | $s[$i] |
	select($i == 0 or .action != "hold" or .lag > $thr or $s[$i - 1].lag > $thr or .prewarm != $s[$i - 1].prewarm or .prewarm != ($s[$i + 1] // .).prewarm or $i % 120 == 0) |
	[.t, .lag, .burst_nodes, "\(.action) \(.count) \(.reason)"] | @tsv' "$T_TMP/$policy.jsonl" >"$T_TMP/$policy.steps"
up_t=$(( (86400 - lead + 14) / 15 * 15 )) cool=$(jq .cooldown_s <<<"$sim")
is "prewarm: up to the floor at the first poll a lead before 00:00" \
	"$(awk -F'\t' '$4 ~ /pre-warm/ {print $1 " " $4; exit}' "$T_TMP/$policy.steps")" \
	"$up_t up 2 lag 0, no burst node idle long enough (0 burst nodes); fleet 0 below the pre-warm floor 2 at 23 UTC"
num_ge "prewarm: the rush is hot within that up's cooldown, which counts its 2 nodes" \
	"$(awk -F'\t' -v t="$up_t" -v c="$cool" '$1 > t && $1 < t + c && $4 ~ /^hold 0 .*2 node\(s\) asked [0-9]+s ago still count/' "$T_TMP/$policy.steps" | wc -l)" 1
num_ge "prewarm: and goes up after it" "$(awk -F'\t' -v t="$up_t" -v c="$cool" '$1 >= t + c && $4 ~ /^up /' "$T_TMP/$policy.steps" | wc -l)" 1
printf '{"from":%s,"lead":%s,"floors":%s}\n' "$day0" "$lead" "$(jq -c .prewarm_floors <<<"$sim")" >"$T_TMP/prewarm.json"
mkdir -p "$T_TMP/state.$policy"
cp "$T_TMP/prewarm.json" "$T_TMP/state.$policy/prewarm.json"
steps=$(wc -l <"$T_TMP/$policy.steps")
res=$(replay "$policy" "${pre[@]}" --set scale.prewarm=true)
is "prewarm: rp-lagwatch with that prewarm.json decides as the simulator, step by step ($steps polls)" "$res" "same $steps"

done_testing
