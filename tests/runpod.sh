# shellcheck shell=bash
# tests/runpod.sh — sourced by tests/lib.sh: the RunPod stand-in's admin
# endpoints and rp-launch as the launch tests run it (20-launch,
# 22-runpod-launch).  The stand-in is the stack's ($RUNPOD_URL).
#
# admin PATH [JSON]: POST JSON (default {}) to the stand-in's /_admin/PATH
admin() { curl -sf -o /dev/null -X POST "$RUNPOD_URL/_admin/$1" -H 'Content-Type: application/json' --data "${2:-{\}}"; }
# state: the stand-in's whole state (terminated pods too)
state() { curl -sf "$RUNPOD_URL/_admin/state"; }
# npods [JQ-FILTER]: how many of its pods pass the filter
npods() { state | jq "[.pods[] | select(${1:-true})] | length"; }
# posts [JQ]: the pod creates (POST /v2/pods) it was sent, through JQ (default: how many)
posts() { curl -sf "$RUNPOD_URL/_admin/requests" | jq -r "[.[] | select(.method==\"POST\" and .path==\"/v2/pods\")] | ${1:-length}"; }
launch() { rp-launch -o json --set runpod.poll_interval=0.2s "$@"; }
# runpod_scene NAME: a new scenario: the stand-in reset, pods ready in 0.5 s
runpod_scene() {
	diag "scenario $1 at +${SECONDS}s"
	admin reset
	admin config '{"provision_delay":0.1,"start_delay":0.1,"boot_delay":0.3}'
}
