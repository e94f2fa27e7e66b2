/* cli.c — shared options. */
#include "cli.h"
#include "fleetlog.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

void rp_cli_init(struct rp_cli *cli, const char *usage)
{
	/* Before any secret is read: no core file, and no ptrace or
	 * /proc/PID/mem by other processes of the same user.  The limit is
	 * inherited by what we run (ssh, hooks); dumpable resets on exec. */
	struct rlimit no_core = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		rp_fatal(RP_EXIT_FAIL, "cannot turn core dumps off: %s", strerror(errno));
	memset(cli, 0, sizeof *cli);
	cli->usage = usage;
	cli->out_mode = RP_OUT_AUTO;
}

void rp_cli_usage(const struct rp_cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rp_usage_error(cli->usage, "%s", msg);
}

void rp_cli_key(struct rp_cli *cli, const char *key, const char *val, int append)
{
	cli->sets = rp_xrealloc(cli->sets, (cli->nsets + 1) * sizeof *cli->sets);
	cli->sets[cli->nsets].key = rp_xstrdup(key);
	cli->sets[cli->nsets].val = rp_xstrdup(val);
	cli->sets[cli->nsets].append = append;
	cli->nsets++;
}

int rp_cli_opt(struct rp_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'c':
		cli->config_path = arg;
		return 1;
	case RP_OPT_SET: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			rp_cli_usage(cli, "--set wants KEY=VALUE, got '%s'", arg);
		char *k = rp_xstrdup(arg);
		k[eq - arg] = 0;
		rp_cli_key(cli, k, eq + 1, 0);
		free(k);
		return 1;
	}
	case 'o': {
		int m = rp_out_parse(arg);
		if (m < 0)
			rp_cli_usage(cli, "-o wants json or table, got '%s'", arg);
		cli->out_mode = m;
		return 1;
	}
	case 'q':
		rp_log_level = RP_LOG_WARN;
		return 1;
	case 'v':
		cli->verbose++;
		rp_log_level = RP_LOG_DEBUG;
		return 1;
	case 'h':
		fputs(cli->usage, stdout);
		exit(rp_finish(RP_EXIT_OK));
	case 'V':
		printf("%s %s\n", rp_prog, RP_VERSION);
		exit(rp_finish(RP_EXIT_OK));
	case '?':
	case ':':
		/* getopt already said what was wrong. */
		fputs(cli->usage, stderr);
		exit(RP_EXIT_USAGE);
	}
	return 0;
}

struct rp_config *rp_cli_config(struct rp_cli *cli)
{
	char *err = NULL;
	struct rp_config *c = rp_config_load(cli->config_path, &err);
	if (!c)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	for (size_t i = 0; i < cli->nsets; i++) {
		int r = cli->sets[i].append ? rp_cfg_append(c, cli->sets[i].key, cli->sets[i].val, &err)
					    : rp_cfg_set(c, cli->sets[i].key, cli->sets[i].val, &err);
		if (r < 0)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
	}
	if (rp_config_check(c, &err) < 0)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	rp_out_init(cli->out_mode);
	rp_fleetlog_init(c);
	return c;
}

void rp_cli_free(struct rp_cli *cli)
{
	for (size_t i = 0; i < cli->nsets; i++) {
		free(cli->sets[i].key);
		free(cli->sets[i].val);
	}
	free(cli->sets);
	cli->sets = NULL;
	cli->nsets = 0;
}
