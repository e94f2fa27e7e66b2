#!/usr/bin/env bash
# rp-checkpoint against the stack's s3rver, checked with awscli; a second
# s3rver of our own for the server-down/up part; a small Python S3 stub
# (written below) for what s3rver does not do: conditional PUT (412),
# SigV4 checking, continuation tokens, a Complete that answers 200 with
# an error, and counting requests.
. "$(dirname "$0")/../lib.sh"
need_stack

AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=$(command -v aws) || { echo "not ok 0 - 50-checkpoint: awscli missing"; exit 1; }
S3RVER=$RP_TOP/node_modules/.bin/s3rver
[ -x "$S3RVER" ] || { echo "not ok 0 - 50-checkpoint: $S3RVER missing (npm ci)"; exit 1; }
: "${S3_ENDPOINT:?stack.env has no S3_ENDPOINT}"
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
s3() { "$AWS" --endpoint-url "$S3_ENDPOINT" s3 "$@"; }

ek=$T_TMP/enc.key
openssl rand -hex 32 >"$ek"
chmod 600 "$ek"
# save reads a progress record from stdin when it is a pipe or a file:
# give it /dev/null unless the test means it (ck_in).
ck() { rp-checkpoint -o json --set s3.encryption_key_file="$ek" "$@" </dev/null; }
ck_in() { rp-checkpoint -o json --set s3.encryption_key_file="$ek" "$@"; }
J=t50-$$
tree_sum() { (cd "$1" && find . -type f ! -name '*.rp-part-*' | LC_ALL=C sort | xargs -r sha256sum); }
# Keys of the bucket under a prefix, from s3rver itself (unsigned listing).
keys() { curl -sf "$S3_ENDPOINT/checkpoint?list-type=2&prefix=$1" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'; }
# Key and LastModified pairs.
key_times() { curl -sf "$S3_ENDPOINT/checkpoint?list-type=2&prefix=$1" | grep -o '<Key>[^<]*</Key><LastModified>[^<]*' | LC_ALL=C sort; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { jq -r ".$2" <"$1"; }

mkjob() { # DIR NSEGS SIZE
	mkdir -p "$1/seg" "$1/keys" "$1/dash"
	local i
	for i in $(seq 1 "$2"); do head -c "$3" /dev/urandom >"$1/seg/$i.ts"; done
	{ echo '#EXTM3U'; for i in $(seq 1 "$2"); do printf '#EXTINF:4.000,\nseg/%s.ts\n' "$i"; done; } >"$1/index.m3u8"
	printf '<?xml version="1.0"?><MPD>%s</MPD>\n' "$(seq 1 400 | sed 's/.*/<S t="&" d="4"\/>/')" >"$1/dash/manifest.mpd"
	printf 'DRMKEY-%s-%s' "$$" "$(openssl rand -hex 16)" >"$1/keys/k1.bin"
	printf 'CONTENTKEY-%s' "$(openssl rand -hex 16)" >"$1/content.key"
}

# ---- ping, bad input ------------------------------------------------------
rc "ping answers" 0 ck ping
like "ping record" "$(cat "$T_TMP/.out")" '"type":"checkpoint".*"action":"ping"'
for bad in '../x' 'a/b' '.' 'x y'; do
	rc "unsafe job id '$bad' -> 2" 2 ck save "$bad" "$T_TMP"
done
rc "unknown command -> 2" 2 ck frobnicate
rc "bad flag -> 2" 2 ck --nope ping
rc "--help -> 0" 0 ck --help
like "--help shows the subcommands" "$(cat "$T_TMP/.out")" 'restore JOB DIR'

# ---- round trip ------------------------------------------------------------
A=$T_TMP/a
mkjob "$A" 6 300000
rc "save v1" 0 ck save "$J" "$A" --segments-complete 6 --bitrate-level 2
cp "$T_TMP/.out" "$T_TMP/save1.json"
is "save v1: seq 1" "$(field "$T_TMP/save1.json" seq)" 1
is "save v1: key" "$(field "$T_TMP/save1.json" key)" "$J/manifests/0000000001.json"
is "save v1: segments_complete" "$(field "$T_TMP/save1.json" segments)" 6
is "save v1: all 10 files uploaded" "$(field "$T_TMP/save1.json" uploaded)" 10
R=$T_TMP/r1
rc "restore v1" 0 ck restore "$J" "$R"
is "restore: bitrate_level from the checkpoint" "$(field "$T_TMP/.out" bitrate_level)" 2
is "round trip is bit-exact (sha256 of every file)" "$(tree_sum "$R")" "$(tree_sum "$A")"
is "restored key file is 0600" "$(stat -c %a "$R/keys/k1.bin")" 600
rc "verify v1" 0 ck verify "$J"

# Progress record on stdin.
echo '{"type":"progress","segments_complete":7,"bitrate_level":"720p","timestamp":"2026-11-28T00:00:00Z"}' >"$T_TMP/prog.json"
rc "save with a progress record on stdin" 0 ck_in save "$J" "$A" <"$T_TMP/prog.json"
is "stdin progress: segments" "$(field "$T_TMP/.out" segments_complete)" 7
is "stdin progress: bitrate_level" "$(field "$T_TMP/.out" bitrate_level)" 720p
is "unchanged tree: nothing uploaded" "$(field "$T_TMP/.out" uploaded)" 0
echo 'not json' | rc "bad progress on stdin -> 2" 2 ck_in save "$J" "$A"

# ---- interop with awscli, and what is stored how -------------------------------
D=$T_TMP/bucket
rc "aws s3 cp --recursive reads everything rp-checkpoint wrote" 0 s3 cp --recursive --quiet "s3://checkpoint/$J/" "$D"
mf=$D/manifests/0000000001.json
ok "manifest is JSON awscli fetched" jq -e .files "$mf"
seg1=$(sha256sum "$A/seg/1.ts" | cut -c1-64)
is "random segment stored as it is, under its sha256" "$(jq -r '.files[] | select(.path=="seg/1.ts") | .enc + " " + .obj' "$mf")" "raw $seg1"
is "object bytes = segment bytes" "$(sha256sum <"$D/data/$seg1" | cut -c1-64)" "$seg1"
pl=$(jq -r '.files[] | select(.path=="index.m3u8") | .enc + " " + .obj' "$mf")
like "playlist stored zstd-compressed" "$pl" '^zstd [0-9a-f]{64}\.zst$'
is "the zstd object decompresses (zstd CLI) to the playlist" \
	"$(zstd -dc <"$D/data/${pl#zstd }" | sha256sum | cut -c1-64)" "$(sha256sum <"$A/index.m3u8" | cut -c1-64)"
like "DASH MPD stored zstd-compressed" "$(jq -r '.files[] | select(.path=="dash/manifest.mpd") | .enc' "$mf")" '^zstd$'
for k in keys/k1.bin content.key; do
	o=$(jq -r --arg p "$k" '.files[] | select(.path==$p) | .enc + " " + .obj' "$mf")
	like "$k sealed with AES-256-GCM" "$o" '^aes-256-gcm [0-9a-f]{64}\.enc$'
	f=$D/data/${o#aes-256-gcm }
	is "$k: object starts with the RPE1 header" "$(head -c 4 "$f")" RPE1
	if grep -qF "$(cat "$A/$k")" "$f"; then fail "$k: plaintext in the bucket"; else pass "$k: no plaintext in the bucket"; fi
	unlike "$k: manifest holds no plain hash of the key" "$(cat "$mf")" "$(sha256sum <"$A/$k" | cut -c1-64)"
done

# An object uploaded by awscli at the content address is referenced, not re-sent.
B=$T_TMP/b
mkdir -p "$B"
head -c 200000 /dev/urandom >"$B/ext.ts"
ext=$(sha256sum <"$B/ext.ts" | cut -c1-64)
ok "aws s3 cp a plain segment to data/<sha256>" s3 cp --quiet "$B/ext.ts" "s3://checkpoint/$J-ext/data/$ext"
rc "save references the awscli object" 0 ck save "$J-ext" "$B"
is "nothing uploaded for it" "$(field "$T_TMP/.out" uploaded)" 0
rc "restore of the awscli object" 0 ck restore "$J-ext" "$T_TMP/b2"
is "awscli object restores bit-exact" "$(tree_sum "$T_TMP/b2")" "$(tree_sum "$B")"

# ---- keys need an encryption key ----------------------------------------------
rc "save with DRM keys and no encryption key -> 2" 2 rp-checkpoint -o json save "$J-nokey" "$A"
like "refusal names the key file" "$(cat "$T_TMP/.err")" 'keys/k1.bin|content.key'
is "nothing stored for the refused save" "$(keys "$J-nokey/" | wc -l)" 0
rc "restore of a checkpoint with keys and no encryption key -> 2" 2 rp-checkpoint -o json restore "$J" "$T_TMP/nokey"

# ---- incremental: only new segments go up -----------------------------------
before=$(keys "$J/data/" | LC_ALL=C sort)
key_times "$J/data/" >"$T_TMP/lm1"
head -c 300000 /dev/urandom >"$A/seg/7.ts"
head -c 300000 /dev/urandom >"$A/seg/8.ts"
printf '#EXTINF:4.000,\nseg/7.ts\n#EXTINF:4.000,\nseg/8.ts\n' >>"$A/index.m3u8"
sleep 1 # LastModified has one-second resolution
rc "incremental save" 0 ck save "$J" "$A" --segments-complete 8 --bitrate-level 2
is "incremental: 3 objects uploaded (2 segments + the playlist)" "$(field "$T_TMP/.out" uploaded)" 3
after=$(keys "$J/data/" | LC_ALL=C sort)
is "incremental: the bucket gained exactly 3 data objects" "$(comm -13 <(echo "$before") <(echo "$after") | wc -l)" 3
key_times "$J/data/" >"$T_TMP/lm2"
is "incremental: no old object was rewritten (LastModified unchanged)" "$(comm -23 "$T_TMP/lm1" "$T_TMP/lm2" | wc -l)" 0
rc "restore newest" 0 ck restore "$J" "$T_TMP/r2"
is "restore newest is bit-exact" "$(tree_sum "$T_TMP/r2")" "$(tree_sum "$A")"
rc "restore --at 1" 0 ck restore "$J" "$R" --at 1
is "restore --at 1 gives v1, rewriting only the 2 keys" "$(field "$T_TMP/.out" seq) $(field "$T_TMP/.out" unchanged)" "1 8"

# ---- multipart over the threshold ------------------------------------------------
M=$T_TMP/mp
mkdir -p "$M"
head -c 12000000 /dev/urandom >"$M/big.ts"
rc "multipart save (threshold 1 MiB)" 0 ck -v --set s3.multipart_threshold=1048576 --set s3.part_size=5242880 save "$J-mp" "$M"
like "it went up in 3 parts" "$(cat "$T_TMP/.err")" 'msg="multipart upload".*parts=3'
rc "multipart restore" 0 ck restore "$J-mp" "$T_TMP/mp2"
is "multipart object is bit-exact" "$(tree_sum "$T_TMP/mp2")" "$(tree_sum "$M")"

# ---- tampering ---------------------------------------------------------------------
seg7=$(sha256sum <"$A/seg/7.ts" | cut -c1-64)
cp "$A/seg/7.ts" "$T_TMP/obj"
printf '\377' | dd of="$T_TMP/obj" bs=1 seek=1000 conv=notrunc status=none
s3 cp --quiet "$T_TMP/obj" "s3://checkpoint/$J/data/$seg7"
rc "verify finds the flipped byte -> 1" 1 ck verify "$J"
like "verify names the object and the file" "$(cat "$T_TMP/.err")" "$J/data/$seg7 \\(seg/7.ts\\): sha256 mismatch"
rc "restore refuses the tampered checkpoint -> 1" 1 ck restore "$J" "$T_TMP/r3"
like "restore names the object" "$(cat "$T_TMP/.err")" "$J/data/$seg7"
is "a failed restore writes nothing" "$(find "$T_TMP/r3" -type f | wc -l)" 0
rc "restore --fallback takes the previous checkpoint" 0 ck restore --fallback "$J" "$T_TMP/r3"
is "fallback restored seq 2 (before seg 7)" "$(field "$T_TMP/.out" seq)" 2
is "fallback tree = v1" "$(tree_sum "$T_TMP/r3")" "$(tree_sum "$R")"
curl -sf -X PUT --data-binary @"$A/seg/7.ts" "$S3_ENDPOINT/checkpoint/$J/data/$seg7" # repair (s3rver takes unsigned PUTs)
rc "repaired: verify ok" 0 ck verify "$J"
# A flipped byte in the manifest.
curl -sf -o "$T_TMP/m3" "$S3_ENDPOINT/checkpoint/$J/manifests/0000000003.json"
sed 's/"bitrate_level":2/"bitrate_level":3/' "$T_TMP/m3" >"$T_TMP/m3x"
s3 cp --quiet "$T_TMP/m3x" "s3://checkpoint/$J/manifests/0000000003.json"
rc "verify finds the tampered manifest -> 1" 1 ck verify "$J"
like "by name" "$(cat "$T_TMP/.err")" "$J/manifests/0000000003.json: manifest hash mismatch"
rc "restore without --fallback -> 1" 1 ck restore "$J" "$T_TMP/r4"
rc "restore --fallback skips it" 0 ck restore --fallback "$J" "$T_TMP/r4"
is "fallback went to seq 2" "$(field "$T_TMP/.out" seq)" 2
curl -sf -X PUT --data-binary @"$T_TMP/m3" "$S3_ENDPOINT/checkpoint/$J/manifests/0000000003.json"

# ---- prune ---------------------------------------------------------------------------
K=$T_TMP/k
mkdir -p "$K"
mkseg() { (cd "$1" && head -c "$2" /dev/urandom | split -b "$3" -a 2 --additional-suffix=.ts - s); }
mkseg "$K" 6000000 200000
rc "prune test: first save" 0 ck save "$J-prune" "$K"
mkseg "$K" 6000000 200000
rc "prune test: second save, all new" 0 ck save "$J-prune" "$K"
rc "prune --keep 1 --grace 0s" 0 ck prune "$J-prune" --keep 1 --grace 0s
is "prune removed the old manifest and its 30 objects" \
	"$(field "$T_TMP/.out" deleted_manifests) $(field "$T_TMP/.out" deleted_objects)" "1 30"
is "30 objects left" "$(keys "$J-prune/data/" | wc -l)" 30
rc "verify after prune" 0 ck verify "$J-prune"
mkseg "$K" 6000000 200000
rc "prune test: third save" 0 ck save "$J-prune" "$K"
rc "prune --keep 1 (grace 1h)" 0 ck prune "$J-prune" --keep 1
is "young unreferenced objects are spared" \
	"$(field "$T_TMP/.out" deleted_manifests) $(field "$T_TMP/.out" deleted_objects)" "1 0"

# The data listing runs beside the hashing; when it fails, that is the error.
rc "save into a bucket that does not exist: exit 1" 1 env RP_STATE_DIR="$T_TMP/nobucket" \
	rp-checkpoint -q --set s3.encryption_key_file="$ek" --bucket no-such-bucket save "$J-nb" "$A"
like "... the listing's own error, named" "$(cat "$T_TMP/.err")" "$J-nb/data/: HTTP 404 NoSuchBucket"

# ---- concurrent saves of one job --------------------------------------------------
for i in 1 2 3 4 5; do
	mkdir -p "$T_TMP/c$i"
	head -c 200000 /dev/urandom >"$T_TMP/c$i/s.ts"
done
pids=()
for i in 1 2 3 4 5; do
	ck save "$J-conc" "$T_TMP/c$i" --segments-complete "$i" >"$T_TMP/conc$i.json" 2>"$T_TMP/conc$i.err" &
	pids+=($!)
done
cfail=0
for p in "${pids[@]}"; do wait "$p" || cfail=$((cfail + 1)); done
is "5 concurrent saves all succeed" "$cfail" 0
is "5 distinct sequence numbers 1..5" "$(cat "$T_TMP"/conc*.json | jq -s -c 'map(.seq) | sort')" "[1,2,3,4,5]"
is "5 manifests in the bucket" "$(keys "$J-conc/manifests/" | wc -l)" 5
torn=0
for i in 1 2 3 4 5; do
	s=$(field "$T_TMP/conc$i.json" seq)
	ck restore "$J-conc" "$T_TMP/cr$i" --at "$s" >"$T_TMP/cr.json" 2>/dev/null || torn=$((torn + 1))
	[ "$(field "$T_TMP/cr.json" segments_complete)" = "$i" ] || torn=$((torn + 1))
	cmp -s "$T_TMP/c$i/s.ts" "$T_TMP/cr$i/s.ts" || torn=$((torn + 1))
done
is "each writer's manifest holds its own files and progress (no torn sequence)" "$torn" 0

# ---- list ---------------------------------------------------------------------------
rc "list JOB" 0 ck list "$J"
is "list JOB: one record per manifest" "$(jq -s length <"$T_TMP/.out")" 3
rc "list" 0 ck list
like "list: the job is there" "$(cat "$T_TMP/.out")" "\"job\":\"$J\".*\"checkpoints\":3"

# ---- server down, queue, server back: retry ------------------------------------------
port=$(free_port)
sd=$T_TMP/s3rver
mkdir -p "$sd"
start_own() {
	NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$sd" -a 127.0.0.1 -p "$port" --no-vhost-buckets \
		--configure-bucket checkpoint -s >>"$T_TMP/s3rver.log" 2>&1 &
	own=$!
	eventually 60 curl -sf "http://127.0.0.1:$port/checkpoint?list-type=2"
}
start_own || fail "own s3rver did not start"
# shellcheck disable=SC2016 # $own is the pid of the latest start
at_exit 'kill $own 2>/dev/null'
own_ck() { ck --endpoint "http://127.0.0.1:$port" --set s3.retries=1 "$@"; }
rc "own server: save" 0 own_ck save "$J" "$A" --segments-complete 8
kill "$own"
wait "$own" 2>/dev/null
rc "ping on a dead endpoint -> 75" 75 own_ck ping
head -c 300000 /dev/urandom >"$A/seg/9.ts"
rc "save while the server is down -> 75" 75 own_ck save "$J" "$A" --segments-complete 9
is "one line on stderr" "$(wc -l <"$T_TMP/.err")" 1
like "it says the save was queued" "$(cat "$T_TMP/.err")" 'queued for rp-checkpoint retry'
is "one entry in the queue" "$(find "$RP_STATE_DIR/checkpoint-queue" -name '*.json' | wc -l)" 1
rc "retry while still down -> 75" 75 own_ck retry
is "still queued" "$(find "$RP_STATE_DIR/checkpoint-queue" -name '*.json' | wc -l)" 1
badcreds() { AWS_ACCESS_KEY_ID=nobody ck --set s3.access_key_file= "$@"; }
rc "bad credentials -> 1" 1 badcreds ping
like "bad credentials: one line naming the error" "$(cat "$T_TMP/.err")" '^rp-checkpoint: fatal: .*InvalidAccessKeyId'
rc "missing bucket -> 1" 1 ck --bucket no-such-bucket ping
start_own || fail "own s3rver did not restart"
# One retry at a time: while another holds the queue's lock, retry answers 75 at once.
exec 9>"$RP_STATE_DIR/checkpoint-queue/.lock"
flock -n 9 || fail "could not take the queue lock for the test"
rc "rp-checkpoint retry while another retry holds the queue -> 75" 75 ck retry
like "  it says another retry is running" "$(cat "$T_TMP/.err")" 'another retry is running'
is "  and leaves the queue as it was" "$(find "$RP_STATE_DIR/checkpoint-queue" -name '*.json' | wc -l)" 1
exec 9>&-
rc "retry after the server is back" 0 own_ck retry
is "retry drained the save" "$(jq -s -c 'map(select(.action=="retry"))[0] | [.drained,.left]' <"$T_TMP/.out")" "[1,0]"
is "retried save (on the configured endpoint) remembered its progress" \
	"$(jq -s -c 'map(select(.action=="save"))[0] | [.seq,.segments_complete]' <"$T_TMP/.out")" "[2,9]"
is "queue empty" "$(find "$RP_STATE_DIR/checkpoint-queue" -name '*.json' | wc -l)" 0
rc "restore from the server that came back" 0 own_ck restore "$J" "$T_TMP/own"
is "it is bit-exact" "$(tree_sum "$T_TMP/own")" "$(tree_sum "$A")"

# ---- the stub: conditional PUT, signatures, continuation, Complete errors ----------------
cat >"$T_TMP/stub.py" <<'PY'
import base64, hashlib, hmac, json, os, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port_file, log_file, mode = sys.argv[1:4]
SECRET = os.environ["STUB_SECRET"]
store, uploads, lock, state = {}, {}, threading.Lock(), {"raced": False, "failed": set()}
q = lambda s: urllib.parse.quote(s, safe="-_.~")

def sig_ok(h, method, raw):
    auth = h.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False
    f = dict(p.strip().split("=", 1) for p in auth[17:].split(","))
    cred, signed = f["Credential"].split("/"), f["SignedHeaders"].split(";")
    path, _, query = raw.partition("?")
    pairs = [(urllib.parse.unquote(k), urllib.parse.unquote(v))
             for k, _, v in (x.partition("=") for x in query.split("&") if x)]
    cq = "&".join(q(k) + "=" + q(v) for k, v in sorted(pairs))
    ch = "".join(n + ":" + " ".join(h.get(n, "").split()) + "\n" for n in signed)
    creq = "\n".join([method, urllib.parse.quote(urllib.parse.unquote(path), safe="/-_.~"), cq, ch,
                      ";".join(signed), h.get("x-amz-content-sha256", "")])
    sts = "\n".join(["AWS4-HMAC-SHA256", h.get("x-amz-date", ""), "/".join(cred[1:]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for part in cred[1:]:
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), f["Signature"])

def err(code, status):
    return status, {}, ("<Error><Code>%s</Code><Message>stub</Message></Error>" % code).encode()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path, _, query = self.path.partition("?")
        qs = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        bucket, _, key = path.lstrip("/").partition("/")
        sha = self.headers.get("x-amz-content-sha256", "")
        rec = {"m": self.command, "key": key, "q": query, "inm": self.headers.get("If-None-Match"),
               "sha": sha, "len": n, "port": self.client_address[1], "sig_ok": sig_ok(self.headers, self.command, self.path),
               "payload_ok": sha == "UNSIGNED-PAYLOAD" or sha == hashlib.sha256(body).hexdigest()}
        if mode == "slow" and self.command == "PUT" and "/data/" in key:
            time.sleep(0.1)  # outside the lock: a slow server, not a serial one
        with lock:
            st, hd, out = self.route(key, qs, body, rec)
            rec["status"] = st
            with open(log_file, "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.send_response(st)
        for k, v in hd.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    def route(self, key, qs, body, rec):
        m = self.command
        if mode == "flaky" and "/data/" in key and (m, key) not in state["failed"]:
            state["failed"].add((m, key))  # the first PUT and GET of each object fail
            return err("InternalError", 500 if m == "GET" else 503)
        if not key:
            if m != "GET" or qs.get("list-type") != "2":
                return err("NotImplemented", 501)
            if mode == "flaky" and "continuation-token" in qs:
                return err("InternalError", 500)  # like s3rver 3.7 on OpenSSL 3
            pre, mk = qs.get("prefix", ""), int(qs.get("max-keys", "1000"))
            if mode == "noprefix":
                pre = ""  # a server that ignores prefix: it answers every key
            start = qs.get("start-after", "")
            if "continuation-token" in qs:
                start = base64.b64decode(qs["continuation-token"])[3:].decode()
            ks = sorted(k for k in store if k.startswith(pre) and k > start)
            page, more = ks[:mk], len(ks) > mk
            x = "".join("<Contents><Key>%s</Key><Size>%d</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
                        "<ETag>&quot;x&quot;</ETag></Contents>" % (k, len(store[k])) for k in page)
            if more:
                tok = base64.b64encode(b"\xfb\xef\xbe" + page[-1].encode()).decode()
                x += "<NextContinuationToken>%s</NextContinuationToken>" % tok
            x = ('<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 "<IsTruncated>%s</IsTruncated>%s</ListBucketResult>" % ("true" if more else "false", x))
            return 200, {}, x.encode()
        if m == "POST" and "uploads" in qs:
            uid = "up%d" % len(uploads)
            uploads[uid] = {}
            return 200, {}, ("<InitiateMultipartUploadResult><UploadId>%s</UploadId></InitiateMultipartUploadResult>" % uid).encode()
        if m == "PUT" and "uploadId" in qs:
            uploads[qs["uploadId"]][int(qs["partNumber"])] = body
            return 200, {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}, b""
        if m == "POST" and "uploadId" in qs:
            if mode == "complete-error":
                return err("InternalError", 200)
            parts = uploads.pop(qs["uploadId"])
            store[key] = b"".join(parts[i] for i in sorted(parts))
            return 200, {}, b"<CompleteMultipartUploadResult><Key>k</Key></CompleteMultipartUploadResult>"
        if m == "DELETE" and "uploadId" in qs:
            uploads.pop(qs["uploadId"], None)
            return 204, {}, b""
        if m == "PUT":
            if rec["inm"] == "*" and mode == "race" and "/manifests/" in key and not state["raced"]:
                state["raced"] = True
                store[key] = b'{"another":"writer"}'
                return err("PreconditionFailed", 412)
            if rec["inm"] == "*" and mode == "late" and "/manifests/" in key and not state["raced"]:
                # a server that ignores If-None-Match (s3rver), and another
                # writer whose HEAD came before our PUT: its PUT lands 30 ms
                # after ours
                state["raced"] = True
                store[key] = body
                threading.Timer(0.03, store.__setitem__, (key, b'{"another":"late writer"}')).start()
                return 200, {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}, b""
            if rec["inm"] == "*" and key in store and mode != "late":  # late: ignored, as s3rver does
                return err("PreconditionFailed", 412)
            store[key] = body
            return 200, {"ETag": '"%s"' % hashlib.md5(body).hexdigest()}, b""
        if key not in store:
            return err("NoSuchKey", 404)
        if m == "DELETE":
            del store[key]
            return 204, {}, b""
        return 200, {}, store[key]

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
stub() { # MODE -> $sport, $slog
	slog=$T_TMP/stub-$1.log
	: >"$slog"
	rm -f "$T_TMP/stub.port"
	STUB_SECRET=$AWS_SECRET_ACCESS_KEY /usr/bin/python3 "$T_TMP/stub.py" "$T_TMP/stub.port" "$slog" "$1" 2>>"$T_TMP/stub.err" &
	spid=$!
	at_exit "kill $spid 2>/dev/null"
	eventually 10 test -s "$T_TMP/stub.port" || fail "stub did not start"
	sport=$(cat "$T_TMP/stub.port")
}
stub_ck() { ck --endpoint "http://127.0.0.1:$sport" --bucket stub "$@"; }
cnt() { jq -s "map(select($1)) | length" <"$slog"; }

stub plain
rc "stub: save" 0 stub_ck save "$J" "$A"
is "stub: every request carries a valid SigV4 signature" "$(cnt '.sig_ok | not')" 0
is "stub: every request carries x-amz-content-sha256" "$(cnt '.sha == ""')" 0
is "stub: every payload hash matches" "$(cnt '.payload_ok | not')" 0
is "stub: manifest PUT sent If-None-Match: *" "$(cnt '.m=="PUT" and (.key|test("/manifests/")) and .inm=="*"')" 1
is "stub: data PUTs of a fresh job" "$(cnt '.m=="PUT" and (.key|test("/data/"))')" 13
reqs=$(jq -s 'length' <"$slog") conns=$(jq -s 'map(.port) | unique | length' <"$slog")
ok "stub: connections kept: $conns for $reqs requests (one per request without keep-alive)" test "$conns" -lt "$reqs"
is "stub: the probe: two create-only PUTs of the probe key" "$(cnt '.m=="PUT" and (.key|test("/probe-if-none-match$")) and .inm=="*"')" 2
is "stub: ... the second refused (412): the store honours If-None-Match" "$(cnt '(.key|test("/probe-if-none-match$")) and .status==412')" 1
is "stub: so the claim is that one PUT: no HEAD, no read-back of the manifest" "$(cnt '(.key|test("/manifests/")) and (.m=="HEAD" or .m=="GET")')" 0
: >"$slog"
head -c 300000 /dev/urandom >"$A/seg/10.ts"
rc "stub: incremental save" 0 stub_ck save "$J" "$A"
is "stub: incremental save PUT only the new segment" "$(cnt '.m=="PUT" and (.key|test("/data/"))')" 1
is "stub: ... and no HEAD/GET per object (one listing)" "$(cnt '.m=="HEAD" and (.key|test("/data/"))')" 0
is "stub: ... one probe PUT, refused: the key is there" "$(cnt '(.key|test("/probe-if-none-match$")) and .status==412')" 1
: >"$slog"
rc "stub: restore with 2-key pages (continuation tokens with + / =)" 0 env RP_S3_PAGE_SIZE=2 "$RP_BIN/rp-checkpoint" -o json \
	--set s3.encryption_key_file="$ek" --endpoint "http://127.0.0.1:$sport" --bucket stub restore "$J" "$T_TMP/st1"
num_ge "stub: several pages were asked for" "$(cnt '.q|test("continuation-token=")')" 5
is "stub: restore over pages is bit-exact" "$(tree_sum "$T_TMP/st1")" "$(tree_sum "$A")"
is "stub: list requests signed right with an encoded token" "$(cnt '.sig_ok | not')" 0
kill "$spid"

stub race
rc "stub race: save while another writer takes the sequence number" 0 stub_ck save "$J" "$A"
is "stub race: the 412 was seen" "$(cnt '.status==412 and (.key|test("/manifests/"))')" 1
is "stub race: the save moved on to seq 2" "$(field "$T_TMP/.out" seq)" 2
rc "stub race: restore ignores the other writer's non-manifest and takes seq 2" 0 stub_ck restore "$J" "$T_TMP/st2"
kill "$spid"

stub late
rc "stub late: save on a server that ignores If-None-Match" 0 stub_ck save "$J" "$A"
is "stub late: another writer's PUT 30 ms after ours was seen: the save moved on to seq 2" "$(field "$T_TMP/.out" seq)" 2
is "stub late: the probe's two create-only PUTs were both taken: the header is ignored" "$(cnt '(.key|test("/probe-if-none-match$")) and .inm=="*" and .status==200')" 2
is "stub late: so each manifest PUT went after a HEAD and was read back" "$(cnt '(.key|test("/manifests/")) and .m=="GET"')" 2
is "stub late: ... and seq 1 is the other writer's" "$(curl -s "http://127.0.0.1:$sport/stub/$J/manifests/0000000001.json")" '{"another":"late writer"}'
kill "$spid"

stub flaky
rc "stub flaky: save through a 503 on every first data PUT" 0 stub_ck save "$J" "$A"
is "stub flaky: each data PUT was answered 503 once" "$(cnt '.m=="PUT" and (.key|test("/data/")) and .status==503')" 14
is "stub flaky: ... and stored on the retry, body replayed whole" "$(cnt '.m=="PUT" and (.key|test("/data/")) and .status==200 and .payload_ok')" 14
rc "stub flaky: restore through a 500 on every first GET" 0 stub_ck restore "$J" "$T_TMP/st3"
is "stub flaky: restore after retries is bit-exact" "$(tree_sum "$T_TMP/st3")" "$(tree_sum "$A")"
rc "stub flaky: listing pages go on with start-after when tokens fail" 0 env RP_S3_PAGE_SIZE=3 "$RP_BIN/rp-checkpoint" \
	-o json --set s3.retries=1 --set s3.encryption_key_file="$ek" --endpoint "http://127.0.0.1:$sport" --bucket stub \
	restore "$J" "$T_TMP/st4"
like "stub flaky: said so" "$(cat "$T_TMP/.err")" 'continuation token refused'
num_ge "stub flaky: start-after pages asked" "$(cnt '.q|test("start-after=")')" 3
is "stub flaky: restore over start-after pages is bit-exact" "$(tree_sum "$T_TMP/st4")" "$(tree_sum "$A")"
kill "$spid"

# kill -9 mid-save, against a server slow enough to be caught in the act.
stub slow
KS=$T_TMP/ks
mkdir -p "$KS"
mkseg "$KS" 2000000 100000
rc "kill test: first save" 0 stub_ck save "$J-kill" "$KS"
kill_sum=$(tree_sum "$KS")
mkseg "$KS" 2000000 100000
stored() { cnt '.m=="PUT" and (.key|test("/data/")) and .status==200'; }
stored_ge() { [ "$(stored)" -ge "$1" ]; }
n0=$(stored)
"$RP_BIN/rp-checkpoint" -o json --endpoint "http://127.0.0.1:$sport" --bucket stub --parallel 1 \
	save "$J-kill" "$KS" </dev/null >/dev/null 2>&1 &
pid=$!
eventually 30 stored_ge $((n0 + 3)) || fail "the save never got going"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
# a PUT the killed client had in flight may still land on the server:
# count once the count stops moving
n1=$(stored); sleep 1
while [ "$(stored)" != "$n1" ]; do n1=$(stored); sleep 1; done
num_ge "killed while uploading (some new objects are there)" "$n1" $((n0 + 3))
num_le "killed before the end (not all new objects are there)" "$n1" $((n0 + 19))
is "no manifest for the killed save" "$(cnt '.m=="PUT" and (.key|test("/manifests/")) and .status==200')" 1
rc "after kill -9: restore gives the previous checkpoint" 0 stub_ck restore "$J-kill" "$T_TMP/k2"
is "after kill -9: previous tree bit-exact" "$(tree_sum "$T_TMP/k2")" "$kill_sum"
rc "after kill -9: verify ok (no manifest names a missing object)" 0 stub_ck verify "$J-kill"
rc "the save again after the kill" 0 stub_ck save "$J-kill" "$KS"
is "it only sends what the killed save had not" "$(field "$T_TMP/.out" uploaded)" $((20 - (n1 - n0)))
rc "restore after the second save" 0 stub_ck restore "$J-kill" "$T_TMP/k3"
is "second save restores bit-exact" "$(tree_sum "$T_TMP/k3")" "$(tree_sum "$KS")"
kill "$spid"

# A server that ignores prefix: prune of one job must not touch another's
# objects, and a key shorter than the prefix must not be read past its end
# (ASan under make check).
stub noprefix
rc "noprefix: save job $J-a" 0 stub_ck save "$J-a" "$B"
head -c 1000 /dev/urandom >"$T_TMP/nb.ts"
mkdir -p "$T_TMP/nb" && mv "$T_TMP/nb.ts" "$T_TMP/nb/"
rc "noprefix: save job $J-ab (its keys sort after and share the prefix text)" 0 stub_ck save "$J-ab" "$T_TMP/nb"
curl -sf -X PUT --data-binary x "http://127.0.0.1:$sport/stub/ab" >/dev/null
rc "noprefix: second save of $J-a, then prune it to 1 with no grace" 0 stub_ck save "$J-a" "$A"
rc "noprefix: prune --keep 1 --grace 0s" 0 stub_ck prune "$J-a" --keep 1 --grace 0s
is "noprefix: prune deleted only $J-a/ keys" "$(cnt '.m=="DELETE" and (.key|startswith("'"$J-a/"'")|not)')" 0
like "noprefix: it warned that the server answered keys outside the prefix" "$(cat "$T_TMP/.err")" 'outside the prefix'
rc "noprefix: the other job still restores" 0 stub_ck restore "$J-ab" "$T_TMP/nb2"
is "noprefix: and bit-exact" "$(tree_sum "$T_TMP/nb2")" "$(tree_sum "$T_TMP/nb")"
rc "noprefix: verify $J-a (manifests listed from its own prefix only)" 0 stub_ck verify "$J-a"
rc "noprefix: list $J-a: one manifest" 0 stub_ck list "$J-a"
is "noprefix: list shows only $J-a's manifest" "$(jq -s -c 'map(.job) | unique' <"$T_TMP/.out")" "[\"$J-a\"]"
kill "$spid"

stub complete-error
rc "stub: Complete answering 200 with an error fails the save" 75 stub_ck --set s3.retries=1 --no-queue --set s3.multipart_threshold=1048576 --set s3.part_size=5242880 save "$J-mp" "$M"
like "stub: named as a Complete error" "$(cat "$T_TMP/.err")" 'CompleteMultipartUpload answered 200 with Error InternalError'
is "stub: parts were >= 5 MiB except the last" "$(cnt '.m=="PUT" and (.q|test("partNumber=[12]&")) and .len < 5242880')" 0
is "stub: the upload was aborted" "$(cnt '.m=="DELETE" and (.q|test("uploadId="))')" 1
is "stub: no manifest written" "$(cnt '.m=="PUT" and (.key|test("/manifests/"))')" 0
kill "$spid"

done_testing
