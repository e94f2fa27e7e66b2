#!/usr/bin/env bash
# 90-fuzz-regress: every fuzz target (tests/fuzz/fuzz_*.c), built without
# libFuzzer (tests/fuzz/standalone.c) against this build's library (the
# sanitizer one under `make check`), runs once over its seed corpus and
# its regression inputs (crashes found by `make fuzz`, kept once fixed).
# A crash, a sanitizer report, a leak or a failed property fails it.
. "$(dirname "$0")/../lib.sh"
cd "$RP_TOP" || exit 1

lib=$RP_BUILD/librp.a
[ -r "$lib" ] || { fail "no library at $lib (make units first)"; done_testing; exit 1; }
cc=${CC:-cc}
pkgs="libssl libcjson libssh2 yaml-0.1 rdkafka libzstd libcrypto expat"
# shellcheck disable=SC2086
read -r -a pkgcf <<<"$(pkg-config --cflags $pkgs)"
# shellcheck disable=SC2086
read -r -a pkglib <<<"$(pkg-config --libs $pkgs)"
san=()
# The sanitizer build of the library needs the sanitizer runtimes.
if nm -A "$lib" 2>/dev/null | grep -q '__asan_report'; then
	san=("-fsanitize=address,undefined" -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
fi

n=0
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c); t=${t#fuzz_}
	bin=$T_TMP/fuzz_$t
	ok "fuzz_$t builds standalone" "$cc" -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Icommon -Itests/fuzz \
		"${pkgcf[@]}" "${san[@]}" -o "$bin" "$src" tests/fuzz/standalone.c "$lib" "${pkglib[@]}" -lpthread -lm
	[ -x "$bin" ] || continue
	seeds=$(find "tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
	num_ge "fuzz_$t has a seed corpus" "$seeds" 1
	out=$(timeout 20 "$bin" "tests/fuzz/corpus/$t" "tests/fuzz/regress/$t" </dev/null 2>"$T_TMP/$t.err"); rc=$?
	want=$(( seeds + $(find "tests/fuzz/regress/$t" -type f 2>/dev/null | wc -l) ))
	if [ "$rc" = 0 ] && ! grep -qE 'ERROR|runtime error|property failed' "$T_TMP/$t.err"; then
		is "fuzz_$t: every corpus and regression input runs clean" "$out" "$want inputs"
	else
		fail "fuzz_$t: an input crashes (exit $rc)"
		grep -E 'ERROR|SUMMARY|runtime error|property failed|#[0-9] ' "$T_TMP/$t.err" | head -15 | sed 's/^/#   /'
	fi
	n=$((n + 1))
done
num_ge "there are fuzz targets" "$n" 10
done_testing
