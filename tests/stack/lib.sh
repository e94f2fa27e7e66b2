# shellcheck shell=bash disable=SC2034
# tests/stack/lib.sh — what up, down and sshd-add share.  Sourced, not run.
# Every process the stack starts goes through start_bg, which records its
# pid in $DIR/pids/NAME.pid; down stops those pids and their descendants.

STACK_T0=${STACK_T0:-$(date +%s%N)}
export STACK_T0
STACK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STACK_TOP=$(cd "$STACK_LIB/../.." && pwd)
PY=/usr/bin/python3

say() { printf '%s\n' "stack: $*" >&2; }
die() { printf '%s\n' "stack: error: $*" >&2; exit 1; }

# Last lines of a service's log, indented, for a loud failure.
show_log() { [ -r "$DIR/logs/$1.log" ] && tail -n "${2:-15}" "$DIR/logs/$1.log" | sed 's/^/    | /' >&2; true; }

# start_bg NAME CMD... : start CMD in its own session (so down can stop its
# whole process group), stdin from /dev/null, output to logs/NAME.log.
start_bg() {
	local name=$1
	shift
	mkdir -p "$DIR/pids" "$DIR/logs"
	setsid "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
	echo $! >"$DIR/pids/$name.pid"
}

pid_of() { local p; read -r p <"$DIR/pids/$1.pid" 2>/dev/null && echo "$p"; }
# alive NAME : its recorded process runs (no fork: this is polled).
# alive NAME: its process exists and is not a zombie (a dead child nobody
# reaped yet still answers kill -0).
alive() {
	local p st
	read -r p <"$DIR/pids/$1.pid" 2>/dev/null && [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
	st=$(ps -o stat= -p "$p" 2>/dev/null) || return 1
	case $st in Z*) return 1 ;; esac
}
# now_ms : wall clock in milliseconds, without a fork.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_for SECONDS NAME CMD... : poll CMD every 0.1 s until it succeeds;
# fail loudly if NAME's process dies or the time runs out.
wait_for() {
	local secs=$1 name=$2 end t p
	shift 2
	t=${EPOCHREALTIME/./}
	end=$((t / 1000 + secs * 1000))
	while ! "$@" >/dev/null 2>&1; do
		if ! alive "$name"; then
			read -r p <"$DIR/pids/$name.pid" 2>/dev/null
			wait "$p" 2>/dev/null
			say "$name exited (status $?) while starting; its log:"
			show_log "$name"
			return 1
		fi
		t=${EPOCHREALTIME/./}
		if [ $((t / 1000)) -ge "$end" ]; then
			say "$name did not become ready in ${secs}s; its log:"
			show_log "$name"
			return 1
		fi
		sleep 0.1
	done
	[ -z "${STACK_DEBUG:-}" ] || say "$name ready at +$(($(now_ms) - ${STACK_T0:-0} / 1000000))ms"
}

# free_ports N : N distinct TCP ports free on 127.0.0.1, taken below the
# kernel's ephemeral range (32768+) so no client socket grabs them meanwhile.
free_ports() {
	local used out=() p tries=0
	used=" $(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); printf "%s ", a[n] }') "
	while [ ${#out[@]} -lt "$1" ] && [ $tries -lt 5000 ]; do
		tries=$((tries + 1))
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case "$used" in *" $p "*) continue ;; esac
		used="$used$p "
		out+=("$p")
	done
	echo "${out[*]}"
}

# port_open PORT : something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# descendants PID... : every process below the PIDs (one ps snapshot).
descendants() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
		{ parent[$1] = $2 }
		END {
			do {
				grew = 0
				for (p in parent)
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; grew = 1; print p }
			} while (grew)
		}'
}

# running PID... : those of the PIDs that are alive and not zombies.
running() {
	ps -e -o pid=,stat= | awk -v pids="$*" '
		BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		($1 in want) && $2 !~ /^Z/ { print $1 }'
}
