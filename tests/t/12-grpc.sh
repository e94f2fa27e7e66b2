#!/usr/bin/env bash
# rp-lagwatch --serve-grpc: KEDA's external scaler (externalscaler.proto,
# vendored in tests/contract/keda) through a real gRPC client generated
# from the proto (Debian python3-grpcio, python3-grpc-tools), answered from
# the same poller as --serve: metric lag, target kafka.lag_threshold,
# active when lag > 0 or p95 above prometheus.threshold.
. "$(dirname "$0")/../lib.sh"
need_stack
PY=/usr/bin/python3 # Debian's, where python3-grpcio lives
if ! "$PY" -c 'import grpc, grpc_tools' 2>/dev/null; then
	fail "python3-grpcio and python3-grpc-tools are needed (scripts/install-deps)"
	done_testing
	exit 1
fi
run=$$
at_exit "echo all-up >'$KAFKA_CTL'"
dead="http://127.0.0.1:9"

ok "client generated from the vendored proto" "$PY" -m grpc_tools.protoc -I "$RP_TOP/tests/contract/keda" \
	--python_out="$T_TMP" --grpc_python_out="$T_TMP" "$RP_TOP/tests/contract/keda/externalscaler.proto"
cat >"$T_TMP/keda.py" <<'PY'
# What KEDA's external scaler client calls, one JSON line per answer.
import json, sys, threading, grpc
import externalscaler_pb2 as pb, externalscaler_pb2_grpc as pbg
addr, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
stub = pbg.ExternalScalerStub(grpc.insecure_channel(addr))
ref = pb.ScaledObjectRef(name="transcoder", namespace="media", scalerMetadata={"scalerAddress": addr})
def out(**kw):
    print(json.dumps(kw), flush=True)
def err(e):
    out(code=e.code().name, details=e.details())
try:
    if cmd == "active":
        out(code="OK", result=stub.IsActive(ref, timeout=3).result)
    elif cmd == "spec":
        m = stub.GetMetricSpec(ref, timeout=3).metricSpecs
        out(code="OK", specs=[[s.metricName, s.targetSize, s.targetSizeFloat] for s in m])
    elif cmd == "metrics":
        r = stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref, metricName=args[0]), timeout=3)
        out(code="OK", values=[[v.metricName, v.metricValue, v.metricValueFloat] for v in r.metricValues])
    elif cmd == "streamspec":
        list(stub.StreamMetricSpec(ref, timeout=3))
        out(code="OK")
    elif cmd == "stream":  # read N messages within T seconds
        n, t = int(args[0]), float(args[1])
        call = stub.StreamIsActive(ref, timeout=t)
        got = []
        try:
            for m in call:
                got.append(m.result)
                out(code="MSG", result=m.result)
                if len(got) == n:
                    call.cancel()
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                err(e)
    elif cmd == "many":  # N IsActive at once, from N threads
        n, res = int(args[0]), []
        def one():
            try:
                res.append(("OK", stub.IsActive(ref, timeout=3).result))
            except grpc.RpcError as e:
                res.append((e.code().name, None))
        ts = [threading.Thread(target=one) for _ in range(n)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        out(codes=sorted(c for c, _ in res), results=sorted(str(r) for _, r in res))
except grpc.RpcError as e:
    err(e)
PY
keda() { (cd "$T_TMP" && "$PY" keda.py "$gaddr" "$@"); }
j() { jq -c "$1" "$T_TMP/.out"; }

t=gr$run g=gg$run
ok "mock: topic" kctl topic "$t" 2
kctl produce "$t" 0 10 && kctl produce "$t" 1 2 && kctl commit "$g" "$t" 0 6 && kctl commit "$g" "$t" 1 2

rp-lagwatch --serve 127.0.0.1:0 --serve-grpc 127.0.0.1:0 --watch 0.5s --group "$g" --topic "$t" \
	--set prometheus.url=$dead --set kafka.timeout=1s >"$T_TMP/s.out" 2>"$T_TMP/s.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
eventually 10 grep -q 'msg=listening grpc=' "$T_TMP/s.err" || diag "did not start: $(cat "$T_TMP/s.err")"
gaddr=$(sed -n 's/.*msg=listening grpc=\([0-9.:]*\).*/\1/p' "$T_TMP/s.err")
haddr=$(sed -n 's/.*msg=listening addr=\([0-9.:]*\).*/\1/p' "$T_TMP/s.err")
have() { keda metrics lag | grep -q '"OK"'; }
ok "the first poll is served over gRPC" eventually 10 have
rc "GetMetricSpec" 0 keda spec
is "metric lag, target kafka.lag_threshold" "$(j .specs)" '[["lag",5,5]]'
rc "GetMetrics lag" 0 keda metrics lag
is "the total lag (int64 and float)" "$(j .values)" '[["lag",4,4]]'
is "the same as /scaler" "$(curl -sf "http://$haddr/scaler" | jq -r .lag)" 4
rc "IsActive" 0 keda active
is "lag 4 > 0: active" "$(j .result)" true
rc "GetMetrics for another name" 0 keda metrics nope
is "NOT_FOUND" "$(j .code)" '"NOT_FOUND"'
rc "StreamMetricSpec (optional in KEDA)" 0 keda streamspec
is "UNIMPLEMENTED: KEDA falls back to pulling" "$(j .code)" '"UNIMPLEMENTED"'
rc "20 IsActive at once" 0 keda many 20
is "all answered, all active" "$(j '[(.codes | unique), (.results | unique)]')" '[["OK"],["True"]]'

# StreamIsActive: the state at once, then each change
keda stream 2 15 >"$T_TMP/stream.out" 2>&1 &
kpid=$!
first() { grep -q '"MSG"' "$T_TMP/stream.out"; }
ok "the stream sends the state at once" eventually 10 first
is "active" "$(head -1 "$T_TMP/stream.out" | jq -c .result)" true
ok "mock: the group catches up (lag 0)" kctl commit "$g" "$t" 0 10
wait "$kpid"
is "then the change: inactive" "$(sed -n 2p "$T_TMP/stream.out" | jq -c .result)" false
is "two messages, no repeat of an unchanged state" "$(grep -c '"MSG"' "$T_TMP/stream.out")" 2
rc "IsActive at lag 0" 0 keda active
is "inactive (no latency signal)" "$(j .result)" false
rc "GetMetrics at lag 0" 0 keda metrics lag
is "lag 0 (proto3 omits zeros: 0 and 0.0)" "$(j .values)" '[["lag",0,0]]'

# unknown: Kafka down past 3 polls -> UNAVAILABLE, never inactive
ok "mock: all brokers down" kctl all-down
unavail() { keda active | grep -q UNAVAILABLE; }
ok "stale: IsActive is UNAVAILABLE" eventually 15 unavail
rc "GetMetrics when stale" 0 keda metrics lag
is "UNAVAILABLE" "$(j .code)" '"UNAVAILABLE"'
like "with the reason" "$(j .details)" 'older than 3 polls'
ok "mock: brokers up" kctl all-up
ok "known again" eventually 30 have
kill "$spid"
wait "$spid"
st=$?
is "SIGTERM with a stream server: exit 0" "$st" 0
[ "$st" = 0 ] || diag "$(grep -v '^ts=' "$T_TMP/s.err" | head -30)"

# active from latency alone: lag 0, p95 above prometheus.threshold
rp-lagwatch --serve-grpc 127.0.0.1:0 --watch 1s --group "$g" --topic "$t" \
	--set 'prometheus.query=vector(45)' --set prometheus.threshold=30 >/dev/null 2>"$T_TMP/p.err" &
spid=$!
at_exit "kill $spid 2>/dev/null"
eventually 10 grep -q 'msg=listening grpc=' "$T_TMP/p.err"
gaddr=$(sed -n 's/.*msg=listening grpc=\([0-9.:]*\).*/\1/p' "$T_TMP/p.err")
ok "served" eventually 10 have
rc "IsActive: lag 0, p95 45 > 30" 0 keda active
is "active" "$(j .result)" true
rc "GetMetrics still the lag" 0 keda metrics lag
is "lag 0" "$(j '.values[0][1]')" 0
kill "$spid"
wait "$spid"

rc "a bad --serve-grpc address: exit 2" 2 rp-lagwatch --serve-grpc nope
like "one line naming it" "$(cat "$T_TMP/.err")" "^rp-lagwatch: fatal: --serve-grpc: listen address 'nope'"
rc "--serve-grpc with --once: exit 2" 2 rp-lagwatch --serve-grpc 127.0.0.1:0 --once
done_testing
