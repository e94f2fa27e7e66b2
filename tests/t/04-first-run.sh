#!/usr/bin/env bash
# The first run on a machine where a build package is missing: the
# public targets run deps first and read the pkg-config flags only after
# it (a copy of the tree whose scripts/install-deps "installs" expat's .pc,
# with a pkg-config that fails for expat until then); a module still
# missing is one line naming it, its Debian package and scripts/install-deps,
# never a wall of linker errors.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
unset MAKEFLAGS MAKELEVEL MFLAGS
src=$T_TMP/src mark=$T_TMP/expat-installed
mkdir -p "$src" "$T_TMP/path"
tar -C "$RP_TOP" --exclude=./.git --exclude=./build --exclude='./build-*' --exclude=./bin \
	--exclude=./node_modules -cf - . | tar -C "$src" -xf -
# pkg-config as on a machine without libexpat1-dev, until it is "installed".
cat >"$T_TMP/path/pkg-config" <<PC
#!/bin/sh
if [ ! -e '$mark' ]; then for a; do [ "\$a" = expat ] && exit 1; done; fi
exec $(command -v pkg-config) "\$@"
PC
cat >"$src/scripts/install-deps" <<ID
#!/bin/sh
# stand-in: "apt-get install libexpat1-dev"
case \${1:-} in --check) [ -e '$mark' ] ;; *) touch '$mark' ;; esac
ID
printf '#!/bin/sh\necho demo-ran\n' >"$src/scripts/demo"
printf '#!/bin/sh\necho suite-ran\n' >"$src/tests/run"
chmod +x "$T_TMP/path/pkg-config" "$src/scripts/install-deps" "$src/scripts/demo" "$src/tests/run"
m() { PATH="$T_TMP/path:$PATH" make -C "$src" --no-print-directory -j2 "$@" >"$T_TMP/m.out" 2>&1; }

# Still missing (plain make does not install): exactly one line.
ko "make with expat missing fails" m all
out=$(cat "$T_TMP/m.out")
is "… with one line" "$(wc -l <"$T_TMP/m.out")" 1
like "… naming the module, its package and scripts/install-deps" "$out" \
	"module 'expat' not found \(Debian package libexpat1-dev\); run scripts/install-deps"
unlike "… and no linker errors" "$out" "undefined reference"
ok "… having built nothing" test ! -e "$src/build/librp.a"
# A public target (its deps passes, the module is still missing): the
# same line, no linker errors, and the demo does not start.
printf '#!/bin/sh\nexit 0\n' >"$src/scripts/install-deps"
ko "make demo with expat still missing fails" m demo
out=$(cat "$T_TMP/m.out")
like "… naming the module" "$out" "module 'expat' not found \(Debian package libexpat1-dev\)"
unlike "… no linker errors" "$out" "undefined reference"
unlike "… the demo did not start" "$out" "demo-ran"

# The first make demo: deps installs expat, then the build sees it.
cat >"$src/scripts/install-deps" <<ID
#!/bin/sh
case \${1:-} in --check) [ -e '$mark' ] ;; *) touch '$mark' ;; esac
ID
ok "first make demo on a machine missing a package passes" m demo
sed 's/^/#   /' "$T_TMP/m.out" | grep -v '^#   *\(CC\|AR\|LD\|GEN\) ' | head -20
like "… the demo ran" "$(cat "$T_TMP/m.out")" "demo-ran"
ok "… deps ran first" test -e "$mark"
ok "… the binaries are built" test -x "$src/bin/rp-launch"
# The first make test likewise (a relink that needs the flags).
rm -f "$mark" "$src/bin/rp-cost" "$src/build/cmd/rp-cost.o"
ok "first make test on a machine missing a package passes" m test
like "… the suite ran" "$(cat "$T_TMP/m.out")" "suite-ran"
ok "… rp-cost rebuilt" test -x "$src/bin/rp-cost"

# Objects depend on the headers they include (their .d files), not on
# every header: touch config.h, and only what includes it is rebuilt.
d=$src/build/common
h=$(grep -l 'common/config\.h' "$d"/*.d 2>/dev/null | head -n1)
n=$(grep -L 'common/config\.h' "$d"/*.d 2>/dev/null | head -n1)
if [ -n "$h" ] && [ -n "$n" ]; then
	h=common/$(basename "$h" .d).c n=common/$(basename "$n" .d).c
	touch "$src/common/config.h"
	m all
	like "a header changed: what includes it is rebuilt ($h)" "$(cat "$T_TMP/m.out")" "CC +$h\$"
	unlike "… what does not is not ($n)" "$(cat "$T_TMP/m.out")" "CC +$n\$"
else
	fail "no .d files in build/common (-MMD)"
fi
# A release tarball has no .git: scripts/shell-files (make lint, make
# check) still lists every shell script, the same ones as in a checkout.
ok "the copy has no .git" test ! -e "$src/.git"
is "scripts/shell-files without .git: the checkout's list" \
	"$(cd "$src" && scripts/shell-files | LC_ALL=C sort | tr '\n' ' ')" \
	"$(cd "$RP_TOP" && scripts/shell-files | LC_ALL=C sort | tr '\n' ' ')"
# kubectl: Debian 12's 1.20 is too old for the kube tests, so install-deps
# counts it as missing (its install fetches Debian 13's; that download is
# for scripts/fresh-check, not the suite).  The real install-deps, with a
# kubectl 1.20 and then a 1.32 first on PATH.
mkdir -p "$T_TMP/k20" "$T_TMP/k32"
printf '#!/bin/sh\necho %s\n' "'{\"clientVersion\":{\"major\":\"1\",\"minor\":\"20\"}}'" >"$T_TMP/k20/kubectl"
printf '#!/bin/sh\necho %s\n' "'{\"clientVersion\":{\"major\":\"1\",\"minor\":\"32\"}}'" >"$T_TMP/k32/kubectl"
chmod +x "$T_TMP/k20/kubectl" "$T_TMP/k32/kubectl"
PATH="$T_TMP/k20:$PATH" "$RP_TOP/scripts/install-deps" --check 2>"$T_TMP/id.err"
is "install-deps --check with kubectl 1.20: missing" "$?" 1
like "… it names kubectl >= 1.25" "$(cat "$T_TMP/id.err")" 'missing packages: .*kubectl>=1\.25'
PATH="$T_TMP/k32:$PATH" "$RP_TOP/scripts/install-deps" --check 2>"$T_TMP/id.err"
unlike "with kubectl 1.32: kubectl is not missing" "$(cat "$T_TMP/id.err")" 'kubectl'
done_testing
