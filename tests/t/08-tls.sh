#!/usr/bin/env bash
# 08-tls: credentials travel only over verified TLS (issue 18 items 7, 8).
# A TLS server on loopback with a certificate from CA A; every TLS client
# (RunPod through rp-launch, Kubernetes through rp-drain, S3 through
# rp-checkpoint ping) is pointed at it with CA B (same name, other key):
# the tool fails, the server saw a refused handshake and no request, so no
# Authorization header arrived.  With CA A the request arrives (the
# positive control that lets the test fail).  Plain http:// to a host that
# is not loopback is refused for the four keys (exit 2, one line, nothing
# reaches a listener that would log it).  The checkpoint retry queue goes
# to the configured endpoint, not to one written in its queue file.  A
# running tool has core dumps off.  No stack needed.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
unset RUNPOD_API_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY KUBECONFIG SSL_CERT_FILE
export RP_STATE_DIR="$T_TMP/state"
mkdir -p "$RP_STATE_DIR"

# ---- two CAs with the same name, a server certificate from A ---------------
P=$T_TMP/pki
mkdir -p "$P"
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" \
		-out "$P/$1.crt" -days 2 -subj "/CN=rp-test-ca" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
if ! mkca caA || ! mkca caB; then fail "openssl could not make the test CAs"; done_testing; exit 1; fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" \
	-subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$P/ext"
openssl x509 -req -in "$P/srv.csr" -CA "$P/caA.crt" -CAkey "$P/caA.key" -CAcreateserial -out "$P/srv.crt" \
	-days 2 -extfile "$P/ext" 2>/dev/null
ok "the server certificate verifies against CA A" openssl verify -CAfile "$P/caA.crt" "$P/srv.crt"
ko "and not against CA B (same name, other key)" openssl verify -CAfile "$P/caB.crt" "$P/srv.crt"

# ---- a server that logs every handshake failure and every request -----------
cat >"$T_TMP/srv.py" <<'PY'
import json, socket, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
mode, bind, port_file, log_file = sys.argv[1:5]
lock = threading.Lock()
def log(rec):
    with lock, open(log_file, "a") as f:
        f.write(json.dumps(rec) + "\n")
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        a = self.headers.get("Authorization")
        log({"method": self.command, "path": self.path, "auth": a.split(" ")[0] if a else None})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = any
class S(ThreadingHTTPServer):
    address_family = socket.AF_INET
    def finish_request(self, request, addr):
        if mode == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(sys.argv[5], sys.argv[6])
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log({"tls_error": str(e)[:120]})
                return
        H(request, addr, self)
    def handle_error(self, request, addr):
        pass
srv = S((bind, 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
start_srv() { # NAME MODE BIND [CERT KEY]
	: >"$T_TMP/$1.log"
	python3 "$T_TMP/srv.py" "$2" "$3" "$T_TMP/$1.port" "$T_TMP/$1.log" "${@:4}" </dev/null 2>"$T_TMP/$1.err" &
	at_exit "kill $! 2>/dev/null"
	eventually 10 test -s "$T_TMP/$1.port" || fail "$1 server did not start"
}
start_srv tls tls 127.0.0.1 "$P/srv.crt" "$P/srv.key"
start_srv plain plain 0.0.0.0
TP=$(cat "$T_TMP/tls.port") PP=$(cat "$T_TMP/plain.port")
TLS=https://127.0.0.1:$TP

reqs() { jq -s '[.[] | select(.method)] | length' <"$T_TMP/$1.log"; }
auth_reqs() { jq -s '[.[] | select(.method and .auth)] | length' <"$T_TMP/$1.log"; }
refused() { jq -s '[.[] | select(.tls_error)] | length' <"$T_TMP/$1.log"; }
reset() { : >"$T_TMP/$1.log"; }

export RUNPOD_API_KEY=rpa_tls_test_key AWS_ACCESS_KEY_ID=tlsak AWS_SECRET_ACCESS_KEY=tlssk
export RP_CONFIG=$T_TMP/rp.yaml
cat >"$RP_CONFIG" <<EOF
cluster: tls
runpod:
  api_url: "$TLS/v2"
  graphql_url: "$TLS/graphql"
  request_timeout: 5s
kube:
  kubeconfig: "$T_TMP/kc.yaml"
s3:
  endpoint: "$TLS"
  retries: 0
  timeout: 5s
EOF
kubeconfig() { # SERVER CAFILE
	cat >"$T_TMP/kc.yaml" <<EOF
apiVersion: v1
kind: Config
current-context: t
contexts:
- name: t
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster:
    server: "$1"
    certificate-authority: "$2"
users:
- name: u
  user: {token: kube-tls-test-token}
EOF
}
kubeconfig "$TLS" "$P/caB.crt"

# ---- a wrong CA: refused at the handshake, nothing sent ---------------------
# RunPod: rp-launch's first call is the catalog GET with the bearer key.
reset tls
ko "RunPod, wrong CA: rp-launch fails" env SSL_CERT_FILE="$P/caB.crt" rp-launch --dry-run --count 1
num_ge "RunPod, wrong CA: the client did connect (handshake refused)" "$(refused tls)" 1
is "RunPod, wrong CA: no request reached the server, so no Authorization" "$(reqs tls)" 0
reset tls
env SSL_CERT_FILE="$P/caA.crt" rp-launch --dry-run --count 1 >/dev/null 2>&1
num_ge "RunPod, right CA: the request arrives with its Authorization (control)" "$(auth_reqs tls)" 1

# Kubernetes: rp-drain --node reads the Node first.
reset tls
ko "Kubernetes, wrong CA: rp-drain fails" rp-drain --node n1
num_ge "Kubernetes, wrong CA: the client did connect (handshake refused)" "$(refused tls)" 1
is "Kubernetes, wrong CA: no request reached the server, so no Authorization" "$(reqs tls)" 0
kubeconfig "$TLS" "$P/caA.crt"
reset tls
rp-drain --node n1 >/dev/null 2>&1
num_ge "Kubernetes, right CA: the request arrives with its Authorization (control)" "$(auth_reqs tls)" 1

# S3: one signed listing.
reset tls
ko "S3, wrong CA: rp-checkpoint ping fails" env SSL_CERT_FILE="$P/caB.crt" rp-checkpoint ping
num_ge "S3, wrong CA: the client did connect (handshake refused)" "$(refused tls)" 1
is "S3, wrong CA: no request reached the server, so no Authorization" "$(reqs tls)" 0
reset tls
env SSL_CERT_FILE="$P/caA.crt" rp-checkpoint ping >/dev/null 2>&1
num_ge "S3, right CA: the request arrives with its Authorization (control)" "$(auth_reqs tls)" 1

# ---- the right CA, the wrong name: refused at the handshake, nothing sent ------
# A certificate from CA A for other.example only: neither 127.0.0.1 nor
# localhost may accept it (the name check, IP and DNS, not just the chain).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/other.key" -out "$P/other.csr" \
	-subj "/CN=other.example" 2>/dev/null
printf 'subjectAltName=DNS:other.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$P/oext"
openssl x509 -req -in "$P/other.csr" -CA "$P/caA.crt" -CAkey "$P/caA.key" -CAcreateserial -out "$P/other.crt" \
	-days 2 -extfile "$P/oext" 2>/dev/null
start_srv other tls 127.0.0.1 "$P/other.crt" "$P/other.key"
OP=$(cat "$T_TMP/other.port")
for h in 127.0.0.1 localhost; do
	reset other
	ko "S3, right CA, a certificate for another name: https://$h fails" \
		env SSL_CERT_FILE="$P/caA.crt" rp-checkpoint ping --set "s3.endpoint=https://$h:$OP"
	like "... and says the certificate did not verify" "$(cat "$T_TMP/.err")" 'certificate verify failed'
	num_ge "... the client did connect (handshake refused)" "$(refused other)" 1
	is "... no request reached the server" "$(reqs other)" 0
done
reset tls
env SSL_CERT_FILE="$P/caA.crt" rp-checkpoint ping --set "s3.endpoint=https://localhost:$TP" >/dev/null 2>&1
num_ge "S3, right CA, https://localhost (a DNS name of the certificate's): the request arrives (control)" \
	"$(auth_reqs tls)" 1

# ---- plain http:// to a host that is not loopback: exit 2, nothing sent -----
# The plain listener is on every address; H names this machine without
# being a loopback literal (its hostname, else its first address).
H=$(hostname)
getent hosts "$H" >/dev/null 2>&1 || H=$(hostname -I 2>/dev/null | awk '{print $1}')
reset plain
curl -s -o /dev/null "http://$H:$PP/reachable"
is "control: http://$H:$PP reaches the logging listener" "$(reqs plain)" 1
PL=http://$H:$PP
refuse() { # DESC KEYRE CMD...
	local d=$1 re=$2
	shift 2
	reset plain
	rc "$d: exit 2" 2 "$@"
	is "$d: one line on stderr" "$(wc -l <"$T_TMP/.err")" 1
	like "$d: it names the key and says https" "$(cat "$T_TMP/.err")" "$re.*https://"
	is "$d: nothing reached the listener" "$(reqs plain)" 0
}
refuse "runpod.api_url over plain http" "key 'runpod\.api_url' \(flag\)" \
	rp-launch --dry-run --count 1 --set runpod.api_url="$PL/v2"
refuse "runpod.graphql_url over plain http" "key 'runpod\.graphql_url' \(flag\)" \
	rp-launch --dry-run --count 1 --set runpod.spot=true --set runpod.graphql_url="$PL/graphql"
refuse "s3.endpoint over plain http" "key 's3\.endpoint' \(flag\)" rp-checkpoint --endpoint "$PL" ping
sed "s|^  endpoint: .*|  endpoint: \"$PL\"|" "$RP_CONFIG" >"$T_TMP/plain.yaml"
refuse "s3.endpoint over plain http, from the file" "plain\.yaml:9: key 's3\.endpoint'" \
	env RP_CONFIG="$T_TMP/plain.yaml" rp-checkpoint ping
kubeconfig "$PL" "$P/caA.crt"
refuse "the kubeconfig server over plain http" "kc\.yaml:10: cluster 'k' server" rp-drain --node n1
kubeconfig "$TLS" "$P/caA.crt"
# Loopback stays allowed over plain http (the local stack relies on it).
reset plain
rp-checkpoint --endpoint "http://127.0.0.1:$PP" ping >/dev/null 2>&1
num_ge "plain http to loopback is allowed (the request arrives)" "$(auth_reqs plain)" 1

# ---- the retry queue uses the configured endpoint ---------------------------
mkdir -p "$RP_STATE_DIR/checkpoint-queue" "$T_TMP/job"
echo data >"$T_TMP/job/seg.ts"
printf '{"job":"j1","dir":"%s","endpoint":"http://127.0.0.1:%s","bucket":"checkpoint","attempts":1}\n' \
	"$T_TMP/job" "$PP" >"$RP_STATE_DIR/checkpoint-queue/j1.000000000000.json"
reset plain
reset tls
env SSL_CERT_FILE="$P/caA.crt" rp-checkpoint retry >/dev/null 2>&1
is "retry: nothing went to the endpoint written in the queue file" "$(reqs plain)" 0
num_ge "retry: the save went to the configured endpoint" "$(auth_reqs tls)" 1

# ---- a running tool has core dumps off -------------------------------------
# The hard limit we start it with is not 0, so only the tool can make it 0;
# it waits on the fifo for records, so there is time to look (slow under
# ASan: wait for the limit rather than for the process).
isnt "control: the test runs with a hard core limit that is not 0" "$( (ulimit -Hc))" 0
mkfifo "$T_TMP/in"
rp-drain <"$T_TMP/in" >/dev/null 2>&1 &
dp=$!
exec 7>"$T_TMP/in"
eventually 15 grep -Eq 'Max core file size +0 +0 ' "/proc/$dp/limits"
like "a running rp-drain has RLIMIT_CORE 0 (soft and hard)" \
	"$(grep 'Max core file size' "/proc/$dp/limits" 2>/dev/null)" 'size +0 +0 '
exec 7>&-
wait "$dp" 2>/dev/null

done_testing
