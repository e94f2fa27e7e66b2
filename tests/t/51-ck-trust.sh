#!/usr/bin/env bash
# 51-ck-trust: a checkpoint written by an untrusted pod.  Forged manifests
# (a recomputed self-hash), a manifest moved to another job, an unsigned
# one, a raw key path, a setuid mode, a zstd bomb, a checkpoint bigger
# than the disk, verify --all, and the documented migration of unsigned
# checkpoints (restore without the signing key, save with it).
. "$(dirname "$0")/../lib.sh"
need_stack
: "${S3_ENDPOINT:?stack.env has no S3_ENDPOINT}"

ek=$T_TMP/enc.key
sk=$T_TMP/sign.key
openssl rand -hex 32 >"$ek"
openssl rand -hex 32 >"$sk"
chmod 600 "$ek" "$sk"
# Without the signing key (old checkpoints, the forger) and with it.
ck() { rp-checkpoint -o json --set s3.encryption_key_file="$ek" "$@" </dev/null; }
cks() { rp-checkpoint -o json --set s3.encryption_key_file="$ek" --set s3.signing_key_file="$sk" "$@" </dev/null; }
J=t51-$$
get() { curl -sf -o "$2" "$S3_ENDPOINT/checkpoint/$1"; }
put() { curl -sf -X PUT --data-binary @"$2" "$S3_ENDPOINT/checkpoint/$1" >/dev/null; } # s3rver takes unsigned PUTs
mkey() { printf '%s/manifests/%010d.json' "$1" "$2"; }
field() { jq -r ".$2" <"$1"; }
# forge IN OUT PYEXPR: edit the manifest as a dict m, drop the signature,
# recompute the self-hash (what anyone who can write the bucket can do).
forge() {
	python3 - "$1" "$2" "$3" <<'EOF'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
m.pop("manifest_hmac", None); m.pop("manifest_sha256", None)
exec(sys.argv[3])
body = json.dumps(m, separators=(",", ":"))
open(sys.argv[2], "w").write(body[:-1] + ',"manifest_sha256":"' + hashlib.sha256(body.encode()).hexdigest() + '"}')
EOF
}

A=$T_TMP/a
mkdir -p "$A/seg" "$A/keys"
head -c 200000 /dev/urandom >"$A/seg/1.ts"
seq 1 3000 >"$A/index.m3u8"
printf 'DRMKEY-%s' "$(openssl rand -hex 16)" >"$A/keys/k1.bin"

# ---- signed save, restore, verify ------------------------------------------
rc "signed save" 0 cks save "$J" "$A"
get "$(mkey "$J" 1)" "$T_TMP/m1"
like "the manifest carries manifest_hmac after manifest_sha256" "$(cat "$T_TMP/m1")" '"manifest_sha256":"[0-9a-f]{64}","manifest_hmac":"[0-9a-f]{64}"}$'
rc "signed restore" 0 cks restore "$J" "$T_TMP/r1"
is "signed restore is bit-exact" "$(cmp "$A/seg/1.ts" "$T_TMP/r1/seg/1.ts" && echo same)" same
rc "signed verify" 0 cks verify "$J"
rc "a reader without the signing key still reads it (self-hash)" 0 ck verify "$J"

# ---- a forged manifest with a recomputed hash ---------------------------------
forge "$T_TMP/m1" "$T_TMP/f2" 'm["seq"]=2; m["progress"]={"segments_complete":999}'
put "$(mkey "$J" 2)" "$T_TMP/f2"
rc "verify refuses the forged (unsigned, hash recomputed) manifest -> 1" 1 cks verify "$J"
like "  named: unsigned manifest refused" "$(cat "$T_TMP/.err")" "$(mkey "$J" 2): unsigned manifest refused"
rc "restore refuses it -> 1" 1 cks restore "$J" "$T_TMP/r2"
is "  and writes nothing" "$(find "$T_TMP/r2" -type f 2>/dev/null | wc -l)" 0
# The same forgery keeping the old signature field: a wrong signature.
python3 -c 'import sys; t=open(sys.argv[1]).read(); s=open(sys.argv[2]).read(); print(t[:-1] + s[s.index(",\"manifest_hmac\""):], end="")' \
	"$T_TMP/f2" "$T_TMP/m1" >"$T_TMP/f2s"
put "$(mkey "$J" 2)" "$T_TMP/f2s"
rc "verify refuses a wrongly signed manifest -> 1" 1 cks verify "$J"
like "  named: bad manifest signature" "$(cat "$T_TMP/.err")" "$(mkey "$J" 2): bad manifest signature"
rc "restore --fallback skips it to the signed seq 1" 0 cks restore --fallback "$J" "$T_TMP/r3"
is "  seq 1" "$(field "$T_TMP/.out" seq)" 1
rc "verify --all -> 1 (one bad of two)" 1 cks verify --all "$J"
is "verify --all: one record per manifest, ok flags" "$(jq -s -c 'map([.seq,.ok])' <"$T_TMP/.out")" "[[1,true],[2,false]]"
like "verify --all: says how many were bad" "$(cat "$T_TMP/.err")" '1 of 2 manifests bad'
rc "verify --all with --at -> 2" 2 cks verify --all --at 1 "$J"
# prune counts only manifests that verify: the forged seq 2 (the newest)
# is neither kept nor deleted, and the signed seq 1 is what --keep 1 keeps.
rc "prune --keep 1 with a forged newest manifest" 0 cks prune "$J" --keep 1
is "  kept 1, deleted no manifest" "$(jq -c '[.kept,.deleted_manifests,.deleted_objects]' <"$T_TMP/.out")" "[1,0,0]"
like "  the forged one named, not counted" "$(cat "$T_TMP/.err")" "seq 2: .*neither kept nor deleted"
ok "  the signed seq 1 is still there" get "$(mkey "$J" 1)" "$T_TMP/still1"
rc "  and restore still finds seq 1" 0 cks restore --fallback "$J" "$T_TMP/r4"

# ---- one job's signature does not open another job --------------------------------
J2=$J-other
rc "a second job saved signed" 0 cks save "$J2" "$A"
# Job 1's signed manifest, re-labelled for job 2 with its hash recomputed
# but job 1's signature kept: the per-job key (HKDF) refuses it.
python3 - "$T_TMP/m1" "$J" "$J2" >"$T_TMP/moved" <<'EOF'
import hashlib, sys
t = open(sys.argv[1]).read()
sig = t[t.index(',"manifest_hmac"'):]
body = t[:t.index(',"manifest_sha256"')] + "}"
body = body.replace('"job":"%s"' % sys.argv[2], '"job":"%s"' % sys.argv[3]).replace('"seq":1,', '"seq":2,')
print(body[:-1] + ',"manifest_sha256":"' + hashlib.sha256(body.encode()).hexdigest() + '"' + sig, end="")
EOF
put "$(mkey "$J2" 2)" "$T_TMP/moved"
rc "another job's signature is refused -> 1" 1 cks verify "$J2" --at 2
like "  bad manifest signature" "$(cat "$T_TMP/.err")" 'bad manifest signature'

# ---- migration of unsigned checkpoints (man rp-checkpoint, MIGRATION) --------------
J3=$J-old
rc "an old, unsigned checkpoint" 0 ck save "$J3" "$A"
rc "with the signing key it is refused -> 1" 1 cks restore "$J3" "$T_TMP/m3"
rc "migration 1: restore without the signing key" 0 ck restore "$J3" "$T_TMP/m3"
rc "migration 2: save it again with the signing key" 0 cks save "$J3" "$T_TMP/m3"
rc "the migrated checkpoint verifies signed" 0 cks verify "$J3"
rc "restore with the signing key takes the signed seq 2" 0 cks restore "$J3" "$T_TMP/m3b"
is "  seq 2" "$(field "$T_TMP/.out" seq)" 2

# ---- entry rules, even without a signing key ----------------------------------------
J4=$J-rules
rc "a plain checkpoint to forge from" 0 ck save "$J4" "$A"
get "$(mkey "$J4" 1)" "$T_TMP/p1"
# A raw (unsealed) object under a key path.
forge "$T_TMP/p1" "$T_TMP/k2" '
e = [f for f in m["files"] if f["path"] == "seg/1.ts"][0]
m["seq"] = 2; m["files"].append(dict(e, path="keys/evil.key"))'
put "$(mkey "$J4" 2)" "$T_TMP/k2"
rc "restore refuses a raw key path -> 1" 1 ck restore "$J4" "$T_TMP/k"
like "  named: a key path stored unsealed" "$(cat "$T_TMP/.err")" 'keys/evil.key.*a key path stored unsealed'
is "  nothing written" "$(find "$T_TMP/k" -type f 2>/dev/null | wc -l)" 0
# setuid, setgid, sticky and world-writable: masked.
forge "$T_TMP/p1" "$T_TMP/k3" '
m["seq"] = 3
for f in m["files"]:
    if f["path"] == "seg/1.ts": f["mode"] = 0o7777
    if f["path"] == "index.m3u8": f["mode"] = 0o6666'
put "$(mkey "$J4" 3)" "$T_TMP/k3"
rc "restore of a manifest with modes 07777 and 06666" 0 ck restore "$J4" "$T_TMP/mode" --at 3
is "07777 restored as 0755" "$(stat -c %a "$T_TMP/mode/seg/1.ts")" 755
is "06666 restored as 0644" "$(stat -c %a "$T_TMP/mode/index.m3u8")" 644
is "a key is restored 0600" "$(stat -c %a "$T_TMP/mode/keys/k1.bin")" 600
# A decompression bomb: 3 KB of zstd claiming to be a small file, 100 MB inside.
head -c 100000000 /dev/zero | zstd -q -19 --stream-size=100000000 -c >"$T_TMP/bomb.zst"
bsha=$(head -c 100000000 /dev/zero | sha256sum | cut -c1-64)
put "$J4/data/$bsha.zst" "$T_TMP/bomb.zst"
forge "$T_TMP/p1" "$T_TMP/k4" "
m['seq'] = 4
m['files'].append(dict(path='bomb.txt', size=3000, mode=420, sha256='$bsha', enc='zstd', obj='$bsha.zst', stored=$(stat -c %s "$T_TMP/bomb.zst")))
m['bytes'] += 3000"
put "$(mkey "$J4" 4)" "$T_TMP/k4"
rc "restore refuses the zstd bomb -> 1" 1 ck restore "$J4" "$T_TMP/bomb" --at 4
like "  named: content size is not the recorded size" "$(cat "$T_TMP/.err")" 'bomb.txt.*content size is not the recorded size 3000'
is "  nothing written" "$(find "$T_TMP/bomb" -type f 2>/dev/null | wc -l)" 0
num_le "  nor any big temporary file left" "$(du -sk "$T_TMP/bomb" 2>/dev/null | cut -f1)" 100
is "the bomb's frame states its 100 MB (so the size check, not the format, refused it)" \
	"$(zstd -lv "$T_TMP/bomb.zst" 2>/dev/null | sed -n 's/.*Decompressed Size:.*(\([0-9]*\) B).*/\1/p')" 100000000
# A checkpoint bigger than the free space: refused before anything is written.
forge "$T_TMP/p1" "$T_TMP/k5" '
m["seq"] = 5
m["files"][0]["size"] = 2**61; m["bytes"] = sum(f["size"] for f in m["files"])'
put "$(mkey "$J4" 5)" "$T_TMP/k5"
rc "restore checks free space first -> 1" 1 ck restore "$J4" "$T_TMP/big" --at 5
like "  says what it needs" "$(cat "$T_TMP/.err")" 'seq 5 needs [0-9]+ bytes.*free; nothing written'
is "  nothing written" "$(find "$T_TMP/big" -type f 2>/dev/null | wc -l)" 0

# ---- restore writes only inside its target ----------------------------------------------
J5=$J-links
rc "a checkpoint with files in subdirectories" 0 ck save "$J5" "$A"
out=$T_TMP/outside
mkdir -p "$out"
T1=$T_TMP/t1
mkdir -p "$T1"
ln -s "$out" "$T1/seg"
rc "a symlinked directory in the target: restore refuses -> 1" 1 ck restore "$J5" "$T1"
like "  named: a symbolic link on the path" "$(cat "$T_TMP/.err")" 'seg/1.ts: a symbolic link or not a directory on the path \(refused\)'
is "  nothing written outside the target" "$(find "$out" | wc -l)" 1
is "  nothing renamed into place inside it" "$(find "$T1" -type f | wc -l)" 0
T2=$T_TMP/t2
mkdir -p "$T2"
echo victim >"$out/victim"
ln -s "$out/victim" "$T2/index.m3u8"
rc "a symlink at a file's path: restore refuses -> 1" 1 ck restore "$J5" "$T2"
like "  named: a symbolic link (refused)" "$(cat "$T_TMP/.err")" 'index.m3u8: a symbolic link \(refused\)'
is "  the link's target is untouched" "$(cat "$out/victim")" victim
is "  the link is still a link" "$(test -L "$T2/index.m3u8" && echo link)" link
T3=$T_TMP/t3
mkdir -p "$T3/keys"
rm -rf "$T3/keys" && ln -s "$out" "$T3/keys"
rc "a symlinked keys/ directory: restore refuses -> 1" 1 ck restore "$J5" "$T3"
is "  no key written through it" "$(find "$out" -type f | wc -l)" 1
rc "a clean target still restores" 0 ck restore "$J5" "$T_TMP/t4"
is "  every file" "$(find "$T_TMP/t4" -type f | wc -l)" 3

done_testing
