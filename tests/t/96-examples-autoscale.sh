#!/usr/bin/env bash
# rp-autoscale(8) EXAMPLES against the stack, each line through bash as the
# man page writes it, with a check of what it did.  The state directory is
# this test's own, so /var/lib/rp in the page is read as $RP_STATE_DIR; the
# Lease is the default one (rp-autoscale), removed before and after.
# `systemctl enable --now` cannot run without systemd: the unit it names
# must exist and start the tick (03-install checks the installed units
# with systemd-analyze).  An example this file does not know fails.
. "$(dirname "$0")/../lib.sh"
need_stack
exec </dev/null
examples() { # the first .nf/.fi block of EXAMPLES, unescaped
	awk '/^\.SH EXAMPLES/{e=1; next} e&&/^\.SH /{exit} e&&/^\.nf/{b=1; next} e&&b&&/^\.fi/{exit} e&&b' "$RP_TOP/man/$1" |
		sed 's/\\-/-/g'
}
export RP_STATE_DIR="$T_TMP/state" PATH="$RP_TOP/scripts:$PATH"
TOPIC=exas-$$ GROUP=exas-g-$$
"$KAFKACTL" topic "$TOPIC" 1 >/dev/null || diag "kafkactl topic failed"
"$KAFKACTL" commit "$GROUP" "$TOPIC" 0 0 >/dev/null
sed -e "s/^cluster: .*/cluster: exas/" -e "s/^  group: .*/  group: [\"$GROUP\"]/" \
    -e "s/^  topic: .*/  topic: [\"$TOPIC\"]/" "$RP_CONFIG" >"$T_TMP/rp.yaml"
export RP_CONFIG="$T_TMP/rp.yaml"
kubectl delete lease rp-autoscale >/dev/null 2>&1
at_exit "kubectl delete lease rp-autoscale >/dev/null 2>&1"

n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	n=$((n + 1))
	ex=${ex//\/var\/lib\/rp/\$RP_STATE_DIR}
	case "$ex" in
	"systemctl enable --now rp-autoscale.timer")
		ok "example: $ex (no systemd here: the timer and its service exist)" \
			test -f "$RP_TOP/scripts/systemd/rp-autoscale.timer" -a -f "$RP_TOP/scripts/systemd/rp-autoscale.service"
		like "  the service runs one tick of rp-autoscale" "$(cat "$RP_TOP/scripts/systemd/rp-autoscale.service")" 'ExecStart=.*rp-autoscale'
		continue ;;
	esac
	rc "example: $ex" 0 env POD_NAME=exas-replica-0 bash -o pipefail -c "${ex%%#*}"
	out=$(cat "$T_TMP/.out") err=$(cat "$T_TMP/.err")
	case "$ex" in
	"rp-autoscale -v "*)
		is "  one tick: a tick record saying hold (no lag)" "$(jq -r 'select(.type=="tick") | .action' <<<"$out")" hold
		like "  -v talks on stderr" "$err" 'msg=' ;;
	"rp-autoscale --lock lease --identity \"\$POD_NAME\"")
		is "  the Lease is held by \$POD_NAME" "$(kubectl get lease rp-autoscale -o jsonpath='{.spec.holderIdentity}')" exas-replica-0 ;;
	"jq -c 'select(.type==\"tick\")' \$RP_STATE_DIR/ticks/*.jsonl | tail")
		is "  the two ticks above, one line each" "$(wc -l <<<"$out")" 2
		is "  each a tick record" "$(jq -r .type <<<"$out" | sort -u)" tick ;;
	*) fail "rp-autoscale(8) example not checked here: $ex" ;;
	esac
done < <(examples rp-autoscale.8)
is "every example of rp-autoscale(8) ran" "$n" 4
done_testing
