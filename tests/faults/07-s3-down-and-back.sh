#!/usr/bin/env bash
# Fault: the S3 server dies (kill -9) in the middle of a multi-segment
# save, then comes back.  The save fails and is queued; the previous
# checkpoint still restores byte for byte; the tick shows the queue;
# rp-checkpoint retry drains it once S3 is back; no manifest points at a
# missing object.  Our own s3rver on its own port, so the stack's stays up.
. "$(dirname "$0")/lib.sh"
f_setup
S3RVER=$RP_TOP/node_modules/.bin/s3rver
[ -x "$S3RVER" ] || { fail "s3rver is not installed (scripts/install-deps: npm ci)"; exit 1; }
# a port below the ephemeral range, as the stack's, so no client socket
# takes it while our s3rver is down
port=$(. "$RP_TOP/tests/stack/lib.sh" && free_ports 1)
[ -n "$port" ] || { fail "no free port for our s3rver"; exit 1; }
mkdir -p "$T_TMP/s3"
s3pid=
s3_start() {
	"$S3RVER" --directory "$T_TMP/s3" --port "$port" --address 127.0.0.1 --configure-bucket checkpoint --silent \
		>>"$T_TMP/s3.log" 2>&1 & s3pid=$!
	eventually 20 curl -sf -o /dev/null "http://127.0.0.1:$port/checkpoint"
}
s3_kill() { [ -n "$s3pid" ] && kill -9 "$s3pid" 2>/dev/null; wait "$s3pid" 2>/dev/null; s3pid=; }
at_exit s3_kill
s3_start || { fail "our s3rver did not start on $port: $(tail -n3 "$T_TMP/s3.log")"; exit 1; }
export S3_ENDPOINT=http://127.0.0.1:$port # the invariant lists this bucket
sed -i "s|^  endpoint: .*|  endpoint: \"$S3_ENDPOINT\"|" "$RP_CONFIG"
f_conf s3 'parallel: 1'
f_conf s3 'timeout: 3s'
JOB=fault-s3-$$
job=$T_TMP/job; mkdir -p "$job"
for i in $(seq 1 5); do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
printf '#EXTM3U\nseg_1.ts\n' >"$job/index.m3u8"
rc "first save (S3 up)" 0 rp-checkpoint save "$JOB" "$job" --segments-complete 5
(cd "$job" && sha256sum ./* | sort -k2) >"$T_TMP/v1.sum"
# the second save: many more segments, killed halfway
for i in $(seq 6 60); do head -c 100000 /dev/urandom >"$job/seg_$i.ts"; done
printf '#EXTM3U\nseg_60.ts\n' >"$job/index.m3u8"
rp-checkpoint save "$JOB" "$job" --segments-complete 60 >"$T_TMP/save2.out" 2>"$T_TMP/save2.err" & sp=$!
objs() { find "$T_TMP/s3/checkpoint/$JOB" -type f 2>/dev/null | wc -l; }
n1=$(objs)
midway() { [ "$(objs)" -ge $((n1 + 20)) ]; }
if eventually 30 midway; then pass "the second save is uploading"; else fail "the second save never got going"; fi
s3_kill
wait "$sp"; st=$?
isnt "the interrupted save does not report success" "$st" 0
is "the save is queued for retry" "$(find "$RP_STATE_DIR/checkpoint-queue" -maxdepth 1 -type f -name '*.json' | wc -l)" 1
tick >"$T_TMP/t.out" 2>/dev/null
like "the tick's metrics show the queue" "$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_checkpoint_queue_length 1"
rc "retry while S3 is down: still queued, not 0" 75 rp-checkpoint retry
queued() { find "$RP_STATE_DIR/checkpoint-queue" -maxdepth 1 -type f -name '*.json' 2>/dev/null | wc -l; }
is "the queue is kept" "$(queued)" 1
# S3 back
s3_start || { fail "our s3rver did not come back on $port: $(tail -n3 "$T_TMP/s3.log"; ss -Htanp "sport = :$port" | head -3)"; exit 1; }
mkdir -p "$T_TMP/r1"
rc "the previous checkpoint still restores" 0 rp-checkpoint restore "$JOB" "$T_TMP/r1" --at 1
is "byte for byte" "$(cd "$T_TMP/r1" && sha256sum ./* | sort -k2)" "$(cat "$T_TMP/v1.sum")"
rc "rp-checkpoint retry drains the queue" 0 rp-checkpoint retry
is "the queue is empty" "$(queued)" 0
tick >/dev/null 2>&1
like "the next tick's metrics show it empty (the queue's lock file is not a save)" \
	"$(cat "$RP_STATE_DIR/metrics/autoscale.prom")" "rp_checkpoint_queue_length 0"
mkdir -p "$T_TMP/r2"
rc "the retried save restores" 0 rp-checkpoint restore "$JOB" "$T_TMP/r2"
is "with all 60 segments" "$(find "$T_TMP/r2" -name 'seg_*.ts' | wc -l)" 60
is "and the new playlist" "$(tail -n1 "$T_TMP/r2/index.m3u8")" seg_60.ts
invariant
done_testing
