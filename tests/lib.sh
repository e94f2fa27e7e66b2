# shellcheck shell=bash
# tests/lib.sh — the assertion library every shell test sources.
# Each assertion prints "ok N - desc" or "not ok N - desc" (TAP-like);
# tests/run counts them.  A test script exits non-zero only on a harness
# problem; failures are counted, not fatal, unless the script says so.
set -u
T_N=0
T_FAIL=0
T_NAME=$(basename "$0" .sh)
: "${RP_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin}"
: "${RP_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}"
RP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RP_BIN RP_BUILD RP_TOP
export PATH="$RP_BIN:$PATH"
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rp-test.XXXXXX")
trap 't_cleanup' EXIT
t_cleanups=()
t_cleanup() { local c; for c in "${t_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$T_TMP"; }
at_exit() { t_cleanups+=("$*"); }

pass() { T_N=$((T_N + 1)); echo "ok $T_N - $T_NAME: $*"; }
fail() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $T_NAME: $*"; }
diag() { echo "# $*"; }

# ok DESC CMD... : CMD exits 0
ok() { local d=$1; shift; if "$@" >"$T_TMP/.out" 2>"$T_TMP/.err"; then pass "$d"; else fail "$d (exit $?)"; sed 's/^/#   /' "$T_TMP/.err" | head -20; fi; }
# ko DESC CMD... : CMD exits non-zero
ko() { local d=$1; shift; if "$@" >"$T_TMP/.out" 2>"$T_TMP/.err"; then fail "$d (exit 0)"; else pass "$d"; fi; }
# rc DESC WANT CMD... : CMD exits with WANT; stdout in $T_TMP/.out, stderr in $T_TMP/.err
rc() { local d=$1 want=$2 got; shift 2; "$@" >"$T_TMP/.out" 2>"$T_TMP/.err"; got=$?
	if [ "$got" = "$want" ]; then pass "$d"; else fail "$d (exit $got, want $want)"; sed 's/^/#   /' "$T_TMP/.err" | head -20; fi; }
# out, err: the last ok/ko/rc command's stdout and stderr
out() { cat "$T_TMP/.out"; }
err() { cat "$T_TMP/.err"; }
# is DESC GOT WANT
is() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
# isnt DESC GOT NOTWANT
isnt() { if [ "$2" != "$3" ]; then pass "$1"; else fail "$1 (got '$2')"; fi; }
# like DESC STRING REGEX (grep -E)
like() { if printf '%s\n' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1 ('$(printf '%s' "$2" | head -c 300)' !~ /$3/)"; fi; }
unlike() { if printf '%s\n' "$2" | grep -Eq -- "$3"; then fail "$1 (matched /$3/)"; else pass "$1"; fi; }
# num_le DESC A B : A <= B (floats)
num_le() { if awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0<=b+0)}'; then pass "$1"; else fail "$1 ($2 > $3)"; fi; }
num_ge() { if awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0>=b+0)}'; then pass "$1"; else fail "$1 ($2 < $3)"; fi; }
# eventually SECONDS CMD... : retry CMD until it succeeds (returns 0/1)
eventually() { local end=$(( $(date +%s) + $1 )); shift; while :; do "$@" >/dev/null 2>&1 && return 0; [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.2; done; }

# need_stack: load the running stack's environment (tests/run starts it).
need_stack() {
	if [ -z "${RP_STACK_ENV:-}" ] || [ ! -r "$RP_STACK_ENV" ]; then
		echo "not ok - $T_NAME: the local stack is not running (RP_STACK_ENV unset); run via make test" >&2
		echo "not ok 0 - $T_NAME: no stack"
		exit 1
	fi
	# shellcheck disable=SC1090
	. "$RP_STACK_ENV"
	# A private state dir per test script: ledgers never mix.
	RP_STATE_DIR="$T_TMP/state"; mkdir -p "$RP_STATE_DIR"; export RP_STATE_DIR
}

# kctl CMD...: one command to the stack's Kafka mock cluster (its control
# FIFO; commands in tests/helpers/rp-kafka-mock.c), waiting for its answer
# line; fails unless the answer is "ok".
kctl_answered() { [ "$(wc -l <"$KAFKA_CTL_OUT")" -gt "$1" ]; }
kctl() {
	local n
	n=$(wc -l <"$KAFKA_CTL_OUT")
	echo "$*" >"$KAFKA_CTL"
	eventually 10 kctl_answered "$n" || { diag "kafka ctl: no answer to: $*"; return 1; }
	tail -n 1 "$KAFKA_CTL_OUT" | grep -q '^ok' || { diag "kafka ctl: $(tail -n 1 "$KAFKA_CTL_OUT")"; return 1; }
}

# burst_node NAME: a bare Node with the stack's burst labels (gpu-type=runpod,
# nvidia.com/gpu), created with the real kubectl and deleted at exit.
burst_node() {
	kubectl create --validate=false -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels: {gpu-type: runpod, nvidia.com/gpu: "true"}
EOF
	at_exit kubectl delete node "$1" --wait=false
}

# shellcheck source=tests/ledger.sh
. "$RP_TOP/tests/ledger.sh"
# shellcheck source=tests/runpod.sh
. "$RP_TOP/tests/runpod.sh"
# shellcheck source=tests/scene.sh
. "$RP_TOP/tests/scene.sh"

# new_pod NODE [worker]: a RunPod pod of ours (CLUSTER-burst-NODE, CLUSTER
# from $RP_CONFIG) in the stand-in, with the ledger lines rp-launch and
# rp-join leave (joined to NODE, or as a worker: no node); its id is
# printed and appended to $T_TMP/pods.
new_pod() {
	local id cl
	cl=$(awk '$1 == "cluster:" {print $2}' "$RP_CONFIG")
	id=$(curl -sf -X POST -H "Authorization: Bearer $RUNPOD_API_KEY" -H 'Content-Type: application/json' \
		"$RUNPOD_URL/v2/pods" -d "{\"name\":\"$cl-burst-$1\",\"gpu\":{\"id\":\"NVIDIA RTX A6000\",\"count\":1},\"image\":\"rp/worker\"}" |
		jq -r .id | tee -a "$T_TMP/pods")
	if [ "${2:-}" = worker ]; then ledger_pod "$id" "$cl-burst-$1"; else ledger_pod "$id" "$cl-burst-$1" "$1"; fi
	echo "$id"
}

done_testing() { echo "# $T_NAME: $T_N assertions, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }
