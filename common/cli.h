/* cli.h — the options every rp binary shares, parsed one way.
 *
 * Promises:
 *  - -c/--config FILE, --set KEY=VALUE (any config key, repeatable),
 *    -o json|table (short only: --output is free for a tool's own file argument), -q/--quiet, -v/--verbose, -h/--help,
 *    -V/--version mean the same in every binary.
 *  - --help prints the usage text (the man page SYNOPSIS) on stdout, exit 0;
 *    a bad flag prints "PROG: usage: …" and the usage on stderr, exit 2.
 *  - rp_cli_init(), the first call of every tool, turns core dumps off
 *    before any secret is in memory: RLIMIT_CORE 0 (soft and hard) and
 *    PR_SET_DUMPABLE 0 (no core, no ptrace attach by the same user).
 *  - rp_cli_config() loads the config, then applies tool flags and --set
 *    in command-line order; any error is one line and exit 2.
 */
#ifndef RP_CLI_H
#define RP_CLI_H
#include <getopt.h>
#include "config.h"

enum { RP_OPT_SET = 1000, RP_OPT_TOOL = 1100 };

#define RP_CLI_SHORT "c:o:qvhV"
#define RP_CLI_LONG                                             \
	{ "config", required_argument, NULL, 'c' },             \
	{ "set", required_argument, NULL, RP_OPT_SET },         \
	{ "quiet", no_argument, NULL, 'q' },                    \
	{ "verbose", no_argument, NULL, 'v' },                  \
	{ "help", no_argument, NULL, 'h' },                     \
	{ "version", no_argument, NULL, 'V' }

struct rp_cli {
	const char *usage;       /* full usage text, ends with \n */
	const char *config_path;
	int out_mode;
	int verbose;             /* -v count */
	struct rp_cli_set { char *key, *val; int append; } *sets;
	size_t nsets;
};

void rp_cli_init(struct rp_cli *cli, const char *usage);
/* Handle a shared option; returns 1 if handled.  Exits on -h, -V, '?'. */
int rp_cli_opt(struct rp_cli *cli, int opt, const char *arg);
/* Queue a config key from a tool flag (append for repeatable list flags). */
void rp_cli_key(struct rp_cli *cli, const char *key, const char *val, int append);
_Noreturn void rp_cli_usage(const struct rp_cli *cli, const char *fmt, ...) __attribute__((noreturn))
	__attribute__((format(printf, 2, 3)));
/* Load config, apply queued keys; exit 2 on error.  Also rp_out_init(). */
struct rp_config *rp_cli_config(struct rp_cli *cli);
void rp_cli_free(struct rp_cli *cli);

#endif
