#!/usr/bin/env bash
# rp-checkpoint(1) EXAMPLES, run against the stack's s3rver as the man
# page writes them (each line through bash, in order), each with a check
# of what it did.  Two things are changed so runs never mix: the job id
# job-42 becomes a job of this run, and /work/ is a directory under
# T_TMP.  An example this file does not know fails the test.
. "$(dirname "$0")/../lib.sh"
need_stack
exec </dev/null
: "${S3_ENDPOINT:?stack.env has no S3_ENDPOINT}"
export AWS_PAGER=""
# The example's aws is one configured for the store.  Debian 12's awscli
# (2.9) does not read AWS_ENDPOINT_URL (2.13 and later do), so the store's
# endpoint is put on its command line by a wrapper first on PATH.
mkdir -p "$T_TMP/path"
printf '#!/bin/sh\nexec %s --endpoint-url "%s" "$@"\n' "$(command -v aws)" "$S3_ENDPOINT" >"$T_TMP/path/aws"
chmod +x "$T_TMP/path/aws"
export PATH="$T_TMP/path:$PATH"
examples() { # every .nf/.fi block of EXAMPLES, unescaped
	awk '/^\.SH EXAMPLES/{e=1; next} e&&/^\.SH /{exit} e&&/^\.nf/{b=1; next} e&&/^\.fi/{b=0; next} e&&b&&!/^\.(RS|RE)/' \
		"$RP_TOP/man/$1" | sed 's/\\-/-/g'
}
tree_sum() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -r sha256sum); }
J=ex-$$
W=$T_TMP/work
D=$W/$J
mkdir -p "$D/seg"
for i in 1 2 3; do head -c 50000 /dev/urandom >"$D/seg/$i.ts"; done
{ echo '#EXTM3U'; for i in 1 2 3; do printf '#EXTINF:4.000,\nseg/%s.ts\n' "$i"; done; } >"$D/index.m3u8"
sum0=$(tree_sum "$D")
cd "$T_TMP" || exit 1

n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	n=$((n + 1))
	run=${ex//\/work\//$W\/}
	run=${run//job-42/$J}
	rc "example: $ex" 0 bash -o pipefail -c "$run"
	out=$(cat "$T_TMP/.out")
	case "$ex" in
	"rp-checkpoint save job-42 /work/job-42 --segments-complete 120 --bitrate-level 2")
		is "  the first checkpoint, with its progress" \
			"$(jq -r '"\(.action) \(.seq) \(.segments_complete) \(.bitrate_level) \(.files)"' <<<"$out")" "save 1 120 2 4"
		rm -rf "$D" ;; # the next example resumes "elsewhere": nothing is left here
	"rp-checkpoint restore job-42 /work/job-42")
		is "  restore: the checkpoint's seq" "$(jq -r '"\(.action) \(.seq)"' <<<"$out")" "restore 1"
		is "  restore: the directory is back, byte for byte" "$(tree_sum "$D")" "$sum0" ;;
	"echo '{\"segments_complete\":120,\"bitrate_level\":2}' | rp-checkpoint save job-42 /work/job-42")
		is "  the progress record from stdin is in the second checkpoint" \
			"$(jq -r '"\(.seq) \(.segments_complete) \(.bitrate_level)"' <<<"$out")" "2 120 2"
		is "  nothing new to upload" "$(jq -r .uploaded <<<"$out")" 0 ;;
	"rp-checkpoint verify job-42")
		is "  the newest checkpoint verifies" "$(jq -r '"\(.action) \(.seq) \(.ok)"' <<<"$out")" "verify 2 true" ;;
	"rp-checkpoint restore --fallback job-42 /work/job-42")
		is "  restore --fallback: the newest, nothing to rewrite" \
			"$(jq -r '"\(.seq) \(.unchanged) \(.files)"' <<<"$out")" "2 4 4" ;;
	"rp-checkpoint prune job-42 --keep 3")
		is "  prune keeps both (fewer than 3)" \
			"$(jq -r '"\(.kept) \(.deleted_manifests) \(.deleted_objects)"' <<<"$out")" "2 0 0" ;;
	"rp-checkpoint -q retry")
		is "  an empty queue: nothing drained, nothing left" \
			"$(jq -r '"\(.action) \(.drained) \(.left)"' <<<"$out")" "retry 0 0" ;;
	"aws s3 cp"*)
		is "  the newest manifest's files, as stored" "$(jq -r '.[].path' <<<"$out" | tr '\n' ' ')" \
			"index.m3u8 seg/1.ts seg/2.ts seg/3.ts " ;;
	*) fail "rp-checkpoint(1) example not checked here: $ex" ;;
	esac
done < <(examples rp-checkpoint.1)
is "every example of rp-checkpoint(1) ran" "$n" 8
done_testing
