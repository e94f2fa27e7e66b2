#!/usr/bin/env bash
# Install as a package would: `make install PREFIX=/usr DESTDIR=…` puts
# every binary, man page, completion, unit, the cron file, the alert rules
# and their tests and the generated example configuration in place; the
# units start the installed binaries (systemd-analyze verify), every
# installed binary answers --help, every tool loads the example config as
# is (and it means exactly the defaults); a failing step stops the install;
# `make deb` builds a package with its runtime dependencies declared.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
# This test runs make itself: not as part of the make that runs the suite.
unset MAKEFLAGS MAKELEVEL MFLAGS
export RP_STATE_DIR="$T_TMP/state"
mkdir -p "$RP_STATE_DIR"
D=$T_TMP/root
mk() { make -C "$RP_TOP" --no-print-directory BIN="$RP_BIN" BUILD="$RP_BUILD" "$@"; }

ok "make install PREFIX=/usr DESTDIR=…" mk install PREFIX=/usr DESTDIR="$D"
U=$D/usr/lib/systemd/system S=$D/usr/share
for f in bin/rp-launch bin/rp-join bin/rp-drain bin/rp-checkpoint bin/rp-lagwatch bin/rp-cost \
	bin/rp-autoscale bin/rp-cost-plot \
	share/man/man1/rp-launch.1 share/man/man5/rp-config.5 share/man/man7/rp.7 share/man/man8/rp-autoscale.8 \
	share/bash-completion/completions/rp share/bash-completion/completions/rp-launch \
	share/zsh/site-functions/_rp \
	lib/systemd/system/rp-autoscale.service lib/systemd/system/rp-autoscale.timer \
	lib/systemd/system/rp-lagwatch.service lib/systemd/system/rp-tunnel@.service \
	lib/systemd/system/rp-virtual-node@.service lib/systemd/system/rp-autoscale-trigger.service \
	share/rp/cron.d/rp-autoscale share/rp/prometheus/rp-alerts.yml share/rp/prometheus/rp-alerts.test.yml \
	share/doc/rp/examples/config.yaml; do
	ok "installed: /usr/$f" test -s "$D/usr/$f"
done
is "every man page is installed" "$(find "$S/man" -type f | wc -l)" "$(find "$RP_TOP/man" -name '*.[1578]' | wc -l)"
v=$("$RP_BIN/rp-lagwatch" --version); v=${v#rp-lagwatch }
is "man pages carry the version" "$(head -n1 "$S/man/man1/rp-launch.1" | grep -o '"rp [0-9][^"]*"')" "\"rp $v\""

# Every installed binary answers --help (from the installed place).
for t in rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost rp-autoscale rp-cost-plot; do
	rc "installed $t --help exits 0" 0 env PATH="$D/usr/bin:$PATH" "$t" --help
	like "installed $t --help prints its usage" "$(cat "$T_TMP/.out")" "^usage: $t"
done
rc "installed rp-autoscale --version" 0 env PATH="$D/usr/bin:$PATH" rp-autoscale --version
is "rp-autoscale has the one version" "$(cat "$T_TMP/.out")" "rp-autoscale $v"

# The units start the real prefix's binaries; verify them against the
# installed ones (the DESTDIR stands in for /).
units=$(cat "$U"/*)
unlike "no unit names /usr/local" "$units" "/usr/local"
like "units start /usr/bin/rp-autoscale" "$units" "^ExecStart=/usr/bin/rp-autoscale "
like "units start /usr/bin/rp-lagwatch" "$units" "^ExecStart=/usr/bin/rp-lagwatch "
like "units start /usr/bin/rp-join" "$units" "^ExecStart=/usr/bin/rp-join "
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T_TMP/units"
	for u in "$U"/*; do
		sed "s|^ExecStart=/usr/bin/|ExecStart=$D/usr/bin/|" "$u" >"$T_TMP/units/${u##*/}"
	done
	for u in "$T_TMP"/units/*; do
		ok "systemd-analyze verify installed ${u##*/}" systemd-analyze verify --man=no "$u"
	done
else
	fail "systemd-analyze is not installed (scripts/install-deps installs systemd)"
fi

# The cron file, ready for /etc/cron.d (cron skips names with a dot).
cron=$(cat "$S/rp/cron.d/rp-autoscale")
like "cron: PATH is the prefix's" "$cron" "^PATH=/usr/bin:/bin$"
is "cron: four ticks a minute" "$(grep -c 'rp-autoscale -q' "$S/rp/cron.d/rp-autoscale")" 4
is "cron: file name fit for /etc/cron.d" "$(find "$S/rp/cron.d" -type f -name '*.*' | wc -l)" 0
if command -v promtool >/dev/null 2>&1; then
	ok "installed alert rules: promtool check rules" promtool check rules "$S/rp/prometheus/rp-alerts.yml"
	ok "installed alert rules: promtool test rules" sh -c "cd '$S/rp/prometheus' && promtool test rules rp-alerts.test.yml"
else
	fail "promtool is not installed"
fi

# The example configuration: every key of rp-config(5), each with a line
# of meaning, and nothing else; every tool loads it as is and behaves as
# with the defaults.
EX=$S/doc/rp/examples/config.yaml
keys() { # the example's keys as section.key (commented ones too; a section
	# none of whose keys has a default is itself commented: "# worker:")
	awk '/^(# )?[a-z_0-9]+:$/ { s = substr($NF, 1, length($NF) - 1) "."; next }
	     /^[a-z_0-9]+: / { s = ""; sub(/:.*/, ""); print; next }
	     /^  [a-z_0-9]+: |^  # [a-z_0-9]+:$/ { k = $0; sub(/^  (# )?/, "", k); sub(/:.*/, "", k); print s k }' "$1" | sort
}
is "example config: exactly the keys of rp-config(5)" "$(keys "$EX" | tr '\n' ' ')" \
	"$(sed -n 's/^\.BR \([a-z_.0-9]*\) "\{0,1\} (.*/\1/p' "$RP_TOP/man/rp-config.5" | sort | tr '\n' ' ')"
is "example config: a line of meaning above every key" \
	"$(awk '(/^ *[a-z_0-9]+: / || /^  +# [a-z_0-9]+:$/) { if (prev !~ /^ *# ./) bad++ } { prev = $0 } END { print bad + 0 }' "$EX")" 0
printf 'cluster: rp\n' >"$T_TMP/min.yaml"
printf 'cluster: rp\nscale:\n  idel: 5s\n' >"$T_TMP/typo.yaml"
probe() { # CONFIG TOOL ARGS... -> "rc: stderr without timestamps and the config's name"
	local c=$1 r; shift
	env RUNPOD_API_KEY=x PATH="$D/usr/bin:$PATH" "$@" -c "$c" \
		--set kafka.bootstrap_servers=127.0.0.1:1 --set kafka.timeout=1s \
		--set prometheus.url=http://127.0.0.1:1 >"$T_TMP/p.out" 2>"$T_TMP/p.err"
	r=$?
	echo "$r: $(sed -e 's/ts=[^ ]* //' -e 's/after [0-9]* ms/after N ms/' -e "s|$c|CONFIG|g" "$T_TMP/p.err" | tr '\n' ' ')"
}
for cmd in "rp-launch --dry-run" "rp-join" "rp-drain" "rp-checkpoint list" "rp-lagwatch --once" "rp-cost breakeven"; do
	# shellcheck disable=SC2086 # the tool and its subcommand
	got=$(probe "$EX" $cmd) want=$(probe "$T_TMP/min.yaml" $cmd)
	is "$cmd -c example: the same as the defaults" "$got" "$want"
	unlike "$cmd -c example: no config error" "$got" "^2: .*CONFIG:[0-9]+:"
	# shellcheck disable=SC2086
	like "$cmd -c a config with a typo: refused (so -c is read)" "$(probe "$T_TMP/typo.yaml" $cmd)" "^2: .*CONFIG:3: .*'scale\.idel'"
done
is "rp-cost breakeven: the example's numbers are the defaults'" \
	"$(RP_CONFIG=$EX "$D/usr/bin/rp-cost" breakeven | sed 's/"ts":"[^"]*",//')" \
	"$(RP_CONFIG=$T_TMP/min.yaml "$D/usr/bin/rp-cost" breakeven | sed 's/"ts":"[^"]*",//')"

# A failing step stops the install: a directory where the cron file goes.
mkdir -p "$T_TMP/stuck/usr/share/rp/cron.d/rp-autoscale"
ko "make install stops when a step fails" mk install PREFIX=/usr DESTDIR="$T_TMP/stuck"
ok "… and does not go on to the later steps" test ! -e "$T_TMP/stuck/usr/share/doc/rp/examples/config.yaml"

# make deb: dpkg-deb, no network; Depends from the linked libraries.
if command -v dpkg-deb >/dev/null 2>&1 && command -v dpkg-shlibdeps >/dev/null 2>&1; then
	ok "make deb" mk deb
	deb=$(find "$RP_BUILD" -maxdepth 1 -name "rp_${v}_*.deb" | head -n1)
	ok "the package is built" test -s "$deb"
	dep=$(dpkg-deb -f "$deb" Depends 2>/dev/null)
	for l in libc6 libcjson1 libssh2-1 libyaml-0-2 librdkafka1 libzstd1 libssl3 libexpat1 jq; do
		like "Depends names $l" "$dep" "(^|, )$l( |,|$)"
	done
	unlike "Depends no longer names libcurl4 (http.c speaks HTTP itself)" "$dep" "libcurl"
	is "package version" "$(dpkg-deb -f "$deb" Version)" "$v"
	x=$T_TMP/deb
	ok "the package unpacks" dpkg-deb -x "$deb" "$x"
	for t in rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost rp-autoscale rp-cost-plot; do
		rc "from the package: $t --help" 0 env PATH="$x/usr/bin:$PATH" "$t" --help
	done
	list=$(dpkg-deb -c "$deb")
	for f in usr/share/man/man1/rp-drain.1 usr/share/bash-completion/completions/rp \
		usr/share/zsh/site-functions/_rp usr/lib/systemd/system/rp-autoscale.timer \
		usr/share/doc/rp/examples/config.yaml usr/share/rp/cron.d/rp-autoscale; do
		like "the package holds /$f" "$list" " \./$f$"
	done
	unlike "the package's units name no /usr/local" "$(cat "$x"/usr/lib/systemd/system/*)" "/usr/local"
	like "the package creates the units' user" "$(dpkg-deb -I "$deb" postinst)" "useradd --system"
else
	fail "dpkg-deb or dpkg-shlibdeps is not installed"
fi
done_testing
