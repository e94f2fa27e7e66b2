# shellcheck shell=bash
# tests/scene.sh — sourced by tests/lib.sh: what the drain tests (40-drain,
# 41-drain-k8s, 63-egress-drain) share about the scenes they build on the
# stack's Kubernetes and RunPod stand-ins.
#
# pstatus ID: a RunPod pod's status from the API (which answers 404 for a
# TERMINATED pod)
pstatus() {
	local out
	out=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $RUNPOD_API_KEY" "$RUNPOD_URL/v2/pods/$1")
	case ${out##*$'\n'} in
	404) echo TERMINATED ;;
	200) jq -r .status <<<"${out%$'\n'*}" ;;
	*) echo "unknown (${out##*$'\n'})" ;;
	esac
}
# scene_cleanup LABEL: at exit, everything a scene made: the Kubernetes
# objects labelled rp-test=LABEL (ReplicaSets first, so their pending
# replacement pods go for good) and the RunPod pods listed in $T_TMP/pods
scene_cleanup() {
	kubectl delete rs,pdb -A -l "rp-test=$1" --wait=false >/dev/null 2>&1
	kubectl delete pods -A -l "rp-test=$1" --grace-period=0 --force --wait=false >/dev/null 2>&1
	kubectl delete nodes -l "rp-test=$1" --wait=false >/dev/null 2>&1
	local id
	while read -r id; do
		curl -sf -X DELETE -H "Authorization: Bearer $RUNPOD_API_KEY" "$RUNPOD_URL/v2/pods/$id" >/dev/null 2>&1
	done <"$T_TMP/pods"
}
