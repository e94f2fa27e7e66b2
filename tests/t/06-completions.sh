#!/usr/bin/env bash
# Completions: bash completes every binary's options and subcommands.
. "$(dirname "$0")/../lib.sh"
exec </dev/null
# shellcheck source=completions/rp.bash
. "$RP_TOP/completions/rp.bash"
complete_words() { # cmdline... : prints candidates for the last word
	COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
	_rp_complete
	printf '%s\n' "${COMPREPLY[@]}"
}
for t in rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost; do
	like "$t: --he completes to --help" "$(complete_words "$t" --he)" "^--help$"
	is "$t is registered" "$(complete -p "$t" 2>/dev/null | grep -c _rp_complete)" 1
	like "$t is in the zsh file" "$(head -1 "$RP_TOP/completions/_rp")" "$t"
done
like "rp-cost subcommands" "$(complete_words rp-cost br)" "^breakeven$"
like "rp-checkpoint subcommands" "$(complete_words rp-checkpoint re)" "restore"
like "-o values" "$(complete_words rp-cost -o t)" "^table$"
like "rp-launch options from its --help" "$(complete_words rp-launch --dr)" "^--dry-run$"
like "rp-join --virtual from its --help" "$(complete_words rp-join --vir)" "^--virtual$"
like "rp-join --once from its --help" "$(complete_words rp-join --onc)" "^--once$"
done_testing
