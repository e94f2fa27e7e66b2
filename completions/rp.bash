# bash completion for the rp toolkit (rp-launch rp-join rp-drain
# rp-checkpoint rp-lagwatch rp-cost rp-autoscale).
# Options are read from each binary's --help, so they never go stale.
_rp_complete()
{
	local cur prev cmd opts subs
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[0]##*/}
	case $prev in
	-c|--config|--ledger|--output|--decision|--identity-file|--lock-file)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
	-o) mapfile -t COMPREPLY < <(compgen -W "json table" -- "$cur"); return ;;
	--by) mapfile -t COMPREPLY < <(compgen -W "pod gpu day" -- "$cur"); return ;;
	--format) mapfile -t COMPREPLY < <(compgen -W "records gnuplot" -- "$cur"); return ;;
	--lock) mapfile -t COMPREPLY < <(compgen -W "flock lease" -- "$cur"); return ;;
	--order) mapfile -t COMPREPLY < <(compgen -W "preference price value" -- "$cur"); return ;;
	--kind) mapfile -t COMPREPLY < <(compgen -W "ledger smooth poisson bursty" -- "$cur"); return ;;
	--policy) mapfile -t COMPREPLY < <(compgen -W "seed default prewarm warmpool spot spot-warmpool" -- "$cur"); return ;;
	--set)
		local keys
		keys=$(man -P cat rp-config 2>/dev/null | grep -Eo '^ +[a-z_]+\.[a-z_.]+' | tr -d ' ')
		mapfile -t COMPREPLY < <(compgen -W "$keys" -S = -- "$cur"); compopt -o nospace; return ;;
	esac
	case $cmd in
	rp-checkpoint) subs="save restore list verify prune ping retry" ;;
	rp-cost) subs="report breakeven recommend plan simulate trace metrics prices" ;;
	*) subs="" ;;
	esac
	if [[ $cur == -* ]] || [[ -z $subs ]]; then
		opts="--help --version --set -c -o -q -v $("$cmd" --help 2>/dev/null | grep -Eo -- "--?[A-Za-z][A-Za-z0-9-]*" | sort -u)"
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi
	local w have=
	for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
		[[ " $subs " == *" $w "* ]] && have=$w
	done
	if [[ -z $have ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}
complete -F _rp_complete rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost rp-autoscale
