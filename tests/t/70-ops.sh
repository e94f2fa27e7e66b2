#!/usr/bin/env bash
# Operations: systemd units verify, alert rules check and unit-test with
# promtool, the cron file has four offset ticks, scripts are shellcheck-clean.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T_TMP/units"
	for u in "$RP_TOP"/scripts/systemd/*; do
		# point ExecStart at this build so verify can check the binaries exist
		sed -e "s|/usr/local/bin/rp-autoscale|$RP_TOP/scripts/rp-autoscale|" \
		    -e "s|/usr/local/bin/\(rp-[a-z]*\)|$RP_BIN/\1|g" "$u" >"$T_TMP/units/$(basename "$u")"
	done
	for u in "$T_TMP"/units/*; do
		ok "systemd-analyze verify $(basename "$u")" systemd-analyze verify --man=no "$u"
	done
	timer=$(cat "$RP_TOP/scripts/systemd/rp-autoscale.timer")
	like "timer every 15 s" "$timer" "OnUnitActiveSec=15s"
	like "timer accuracy 1 s" "$timer" "AccuracySec=1s"
	trig=$(cat "$RP_TOP/scripts/systemd/rp-autoscale-trigger.service")
	like "the early trigger runs the same tick as the timer" "$trig" \
		'^ExecStart=/usr/local/bin/rp-lagwatch .*--watch 1s --trigger "/usr/local/bin/rp-autoscale -q --metrics-dir /var/lib/node_exporter/textfile"$'
	like "the timer's tick is the same" "$(cat "$RP_TOP/scripts/systemd/rp-autoscale.service")" \
		'^ExecStart=/usr/local/bin/rp-autoscale -q --metrics-dir /var/lib/node_exporter/textfile$'
	like "a tick under way finishes on stop" "$trig" '^KillMode=mixed$' 
	for u in rp-autoscale.service rp-lagwatch.service rp-autoscale-trigger.service; do
		s=$(cat "$RP_TOP/scripts/systemd/$u")
		like "$u: NoNewPrivileges" "$s" "^NoNewPrivileges=yes"
		like "$u: ProtectSystem=strict" "$s" "^ProtectSystem=strict"
		like "$u: writes only its state dir" "$s" "^ReadWritePaths=/var/lib/rp"
		like "$u: a dedicated user" "$s" "^User=rp"
	done
else
	fail "systemd-analyze is not installed"
fi
PROMTOOL=$(command -v promtool || true)
if [ -n "$PROMTOOL" ]; then
	ok "promtool check rules" promtool check rules "$RP_TOP/scripts/prometheus/rp-alerts.yml"
	ok "promtool test rules (every alert fires and stays quiet when it should)" \
		sh -c "cd '$RP_TOP/scripts/prometheus' && promtool test rules rp-alerts.test.yml"
	for a in RpQueueDepthHigh RpLatencyHigh RpBurstGpuIdle RpCheckpointFailing; do
		like "alert $a has a unit test" "$(cat "$RP_TOP/scripts/prometheus/rp-alerts.test.yml")" "alertname: $a"
	done
else
	fail "promtool is not installed"
fi
is "cron: four ticks a minute" "$(grep -c 'rp-autoscale -q' "$RP_TOP/scripts/cron/rp-autoscale")" 4
like "cron: sleep offsets" "$(cat "$RP_TOP/scripts/cron/rp-autoscale")" "sleep 45;"
rc "rp-autoscale --help" 0 "$RP_TOP/scripts/rp-autoscale" --help
like "usage" "$(cat "$T_TMP/.out")" "^usage: rp-autoscale"
rc "rp-autoscale bad flag -> 2" 2 "$RP_TOP/scripts/rp-autoscale" --frob
rc "rp-autoscale bad lock -> 2" 2 "$RP_TOP/scripts/rp-autoscale" --lock nfs
# the docs stay true: every config key of the schema is in rp-config(5)
keys=$(sed -n '/static const struct key schema/,/{ NULL/p' "$RP_TOP/common/config.c" | sed -n 's/.*{ "\([a-z0-9_.]*\)".*/\1/p' | sort)
documented=$(grep '^\.BR [a-z0-9_.]* "' "$RP_TOP/man/rp-config.5" | awk '{print $2}' | sort)
is "rp-config(5) documents every config key" "$(comm -23 <(printf '%s\n' "$keys") <(printf '%s\n' "$documented") | tr '\n' ' ')" ""
num_ge "and there are keys" "$(printf '%s\n' "$keys" | wc -l)" 60
for b in rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost; do
	ok "man page of $b renders" sh -c "man -l '$RP_TOP/man/$b.1' >/dev/null 2>&1 || MANWIDTH=80 groff -man -Tutf8 '$RP_TOP/man/$b.1' >/dev/null"
	for s in SYNOPSIS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
		like "$b(1) has $s" "$(grep -c "^\.SH \"\?$s" "$RP_TOP/man/$b.1")" '^[1-9]'
	done
done
done_testing
