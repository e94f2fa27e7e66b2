/* rp-drain — see rp-drain(1). */
#include "cli.h"
#include "rp.h"

static const char usage[] =
	"usage: rp-drain [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n";

int main(int argc, char **argv)
{
	static const struct option lo[] = { RP_CLI_LONG, { 0, 0, 0, 0 } };
	struct rp_cli cli;
	int c;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1)
		rp_cli_opt(&cli, c, optarg);
	rp_fatal(RP_EXIT_FAIL, "not yet implemented");
}
