#!/usr/bin/env bash
# rp-cost(1) EXAMPLES, run as the man page writes them (each line through
# bash, in a directory holding the files they name), each with a check of
# what it printed.  An example this file does not know fails the test.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
export RP_STATE_DIR="$T_TMP/state" RP_CONFIG="$T_TMP/rp.yaml"
mkdir -p "$RP_STATE_DIR" "$T_TMP/ex"
printf 'cluster: t\n' >"$RP_CONFIG"
examples() { # the first .nf/.fi block of EXAMPLES, unescaped
	awk '/^\.SH EXAMPLES/{e=1; next} e&&/^\.SH /{exit} e&&/^\.nf/{b=1; next} e&&b&&/^\.fi/{exit} e&&b' "$RP_TOP/man/$1" |
		sed 's/\\-/-/g'
}
cd "$T_TMP/ex" || exit 1
# rp-cost-plot is on PATH once installed (make install puts it in bin/)
mkdir -p "$T_TMP/path" && ln -s "$RP_TOP/scripts/rp-cost-plot" "$T_TMP/path/rp-cost-plot"
export PATH="$T_TMP/path:$PATH"
# a ledger: one pod 2 h ago for 1 h, one still running since 30 min
ts() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z; }
{
	printf '{"type":"ledger","event":"launched","ts":"%s","id":"p1","name":"t-burst-p1","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":false,"cost_per_hr":0.89}\n' "$(ts '-2 hours')"
	printf '{"type":"ledger","event":"terminated","ts":"%s","id":"p1"}\n' "$(ts '-1 hour')"
	printf '{"type":"ledger","event":"launched","ts":"%s","id":"p2","name":"t-burst-p2","gpu":"NVIDIA RTX A6000","gpu_count":1,"spot":true,"cost_per_hr":0.44}\n' "$(ts '-30 minutes')"
} >"$RP_STATE_DIR/ledger.jsonl"
awk 'BEGIN{print "hour,gpu_hours"; for(h=0;h<720;h++){x=h%24; print h","((x>=9&&x<21)?3:0.5)}}' >month.csv
awk 'BEGIN{print "minute,jobs,gpu_seconds"; for(m=0;m<43200;m++){x=int(m/60)%24; print m","((x>=9&&x<13)?8:1)",90"}}' >month-minutes.csv

n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	n=$((n + 1))
	case "$ex" in
	*/var/lib/node_exporter/textfile/*) # a directory this machine has not: same file name under T_TMP
		mkdir -p "$T_TMP/textfile"; ex=${ex//\/var\/lib\/node_exporter\/textfile/$T_TMP\/textfile} ;;
	esac
	rc "example: $ex" 0 bash -o pipefail -c "$ex"
	out=$(cat "$T_TMP/.out")
	case "$ex" in
	"rp-cost report --since 24h -o table")
		like "  a table with the spend" "$out" "SPEND_ON_DEMAND"
		like "  both pods in the window" "$out" "[[:space:]]2[[:space:]]" ;;
	"rp-cost report --by day | jq"*)
		like "  a day and its spend, tab-separated" "$out" $'^[0-9]{4}-[0-9]{2}-[0-9]{2}\t[0-9.]+$' ;;
	"rp-cost breakeven -o table")
		like "  one row per GPU and market" "$out" "NVIDIA RTX A6000" ;;
	"rp-cost recommend")
		is "  a recommendation from the ledger" "$(jq -r '.type + " " + .source' <<<"$out")" "recommendation ledger" ;;
	"rp-cost plan month.csv --format gnuplot | rp-cost-plot > plan.png")
		is "  plan.png is a PNG" "$(head -c 8 plan.png | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a ;;
	"rp-cost simulate month-minutes.csv --seed 1 --boot 3m")
		is "  a simulation of the month" "$(jq -r '"\(.type) \(.minutes) \(.boot_s) \(.seed)"' <<<"$out")" "simulation 43200 180 1"
		num_ge "  polls every 15 s over the month" "$(jq -r .polls <<<"$out")" $((43200 * 4)) ;;
	"rp-cost trace --kind bursty --days 7 > week.csv")
		is "  a week by the minute" "$(($(wc -l <week.csv) - 1)) $(head -1 week.csv)" "10080 minute,jobs,gpu_seconds" ;;
	"rp-cost simulate week.csv --compare --seeds 3 | jq -c '{policy,cost_per_1000_jobs,wait_p95_s}'")
		is "  one record per policy" "$(jq -r .policy <<<"$out" | tr '\n' ' ')" "seed default prewarm warmpool spot spot-warmpool "
		is "  spot is cheaper than seed" "$(jq -s '(.[] | select(.policy=="spot") | .cost_per_1000_jobs) < (.[] | select(.policy=="seed") | .cost_per_1000_jobs)' <<<"$out")" true ;;
	"rp-cost simulate week.csv --policy warmpool | jq -c .warm_pool")
		like "  the floor as scale.warm_pool, by UTC hour ranges" "$out" '^\{"[0-9]{2}-[0-9]{2}":[1-9][0-9]*(,"[0-9]{2}-[0-9]{2}":[1-9][0-9]*)*\}$'
		ok "  a value rp-cost takes back as the key" rp-cost simulate week.csv --set "scale.warm_pool=$out" ;;
	"rp-cost trace --days 7 > mine.csv")
		is "  the ledger's week: 7 days of minutes" "$(($(wc -l <mine.csv) - 1))" 10080
		num_ge "  with the work the pods did" "$(awk -F, 'NR>1{s+=$2} END{printf "%d", s}' mine.csv)" 1 ;;
	"rp-cost prewarm | jq -c .floors")
		like "  the next 25 hours' floors" "$out" '^\[[0-9]+(,[0-9]+){24}\]$'
		is "  written for rp-lagwatch's scale.prewarm" "$(jq '.floors | length' "$RP_STATE_DIR/prewarm.json")" 25 ;;
	"rp-cost metrics --output $T_TMP/textfile/rp.prom")
		like "  the textfile written" "$(cat "$T_TMP/textfile/rp.prom")" '^rp_burst_nodes 1$' ;;
	*) fail "rp-cost(1) example not checked here: $ex" ;;
	esac
done < <(examples rp-cost.1)
is "every example of rp-cost(1) ran" "$n" 12
done_testing
