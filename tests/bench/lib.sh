# shellcheck shell=bash
# tests/bench/lib.sh — sourced by the benchmarks (not one itself: not
# executable).  bench_row adds a row to the table tests/bench/run prints
# at the end: the work, our figure, the peer's figure, the ratio (peer /
# ours for times: how many times faster we are; or the bench's own ratio,
# named), and the goal.  Without tests/bench/run (BENCH_TABLE unset) it
# does nothing.
# ledger_pod (tests/ledger.sh): a pod a bench made by hand is ours only
# with the ledger lines rp-launch and rp-join leave.
# shellcheck source=tests/ledger.sh
. "$(dirname "${BASH_SOURCE[0]}")/../ledger.sh"
bench_row() { # WORK OURS PEER RATIO GOAL
	[ -n "${BENCH_TABLE:-}" ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$BENCH_TABLE"
}
