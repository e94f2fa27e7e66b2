/* rp-launch — turn an `up` decision into RunPod pods that are really
 * ready; --reap terminates our orphans; --adopt hands a dead replica's
 * pods to rp-join.  See rp-launch(1).  The create engine is wave.h, the
 * reaper reap.h, adoption adopt.h, the rules they share launch.h. */
#include "adopt.h"
#include "cli.h"
#include "launch.h"
#include "log.h"
#include "reap.h"
#include "record.h"
#include "records.h"
#include "rp.h"
#include "wave.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: rp-launch [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"                 [--count N] [--dry-run] [--gpu-type ID]... [--data-center DC]...\n"
	"                 [--spot | --no-spot] [--max-bid USD] [--max-nodes N] [--ready-timeout DUR]\n"
	"                 [--order preference|price] [--cluster NAME] [--image IMAGE] [< decisions]\n"
	"       rp-launch --reap [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v] [--dry-run]\n"
	"       rp-launch --adopt [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v] [< decision]\n";

enum {
	O_COUNT = RP_OPT_TOOL, O_DRY, O_REAP, O_GPU, O_DC, O_SPOT, O_NOSPOT, O_BID, O_MAXN, O_READY,
	O_ORDER, O_CLUSTER, O_IMAGE, O_ADOPT
};

/* --adopt: the last decision's lag (adopt.h); every other record is
 * passed through. */
static void read_adopt_input(struct rp_adopt_in *in)
{
	struct rp_rec_reader *rd = rp_rec_reader_new(stdin, "<stdin>", 1);
	cJSON *rec;
	const char *raw;
	char why[160];
	int rc;
	memset(in, 0, sizeof *in);
	while ((rc = rp_rec_read(rd, &rec, &raw)) == 1) {
		struct rp_decision d;
		int r = rp_decision_read(rec, &d, why, sizeof why);
		if (r < 0)
			rp_recs_refuse(rd, "decision", why);
		if (r > 0) {
			in->lag_known = d.lag_known;
			in->lag = d.lag;
			in->down = d.action && !strcmp(d.action, "down");
		} else {
			rp_out_raw(raw);
		}
		cJSON_Delete(rec);
	}
	if (rc < 0)
		exit(rp_finish(RP_EXIT_USAGE)); /* the reader said which line */
	rp_rec_reader_free(rd);
}

/* Read every record first; nothing is launched if one is malformed.  Up
 * decisions add to the count; everything else is passed through. */
static long read_input(char ***pass, size_t *npass)
{
	struct rp_rec_reader *rd = rp_rec_reader_new(stdin, "<stdin>", 1);
	cJSON *rec;
	const char *raw;
	char why[160];
	int rc;
	long want = 0, n;
	*pass = NULL;
	*npass = 0;
	while ((rc = rp_rec_read(rd, &rec, &raw)) == 1) {
		int d = rp_launch_decision(rec, &n, why, sizeof why);
		if (d < 0)
			rp_recs_refuse(rd, "decision", why);
		if (d > 0) {
			want += n;
		} else {
			*pass = rp_xrealloc(*pass, (*npass + 1) * sizeof **pass);
			(*pass)[(*npass)++] = rp_xstrdup(raw);
		}
		cJSON_Delete(rec);
	}
	if (rc < 0)
		exit(rp_finish(RP_EXIT_USAGE)); /* the reader said which line */
	rp_rec_reader_free(rd);
	return want;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "count", required_argument, NULL, O_COUNT },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "reap", no_argument, NULL, O_REAP },
		{ "adopt", no_argument, NULL, O_ADOPT },
		{ "gpu-type", required_argument, NULL, O_GPU },
		{ "data-center", required_argument, NULL, O_DC },
		{ "spot", no_argument, NULL, O_SPOT },
		{ "no-spot", no_argument, NULL, O_NOSPOT },
		{ "max-bid", required_argument, NULL, O_BID },
		{ "max-nodes", required_argument, NULL, O_MAXN },
		{ "ready-timeout", required_argument, NULL, O_READY },
		{ "order", required_argument, NULL, O_ORDER },
		{ "cluster", required_argument, NULL, O_CLUSTER },
		{ "image", required_argument, NULL, O_IMAGE },
		{ 0, 0, 0, 0 }
	};
	struct rp_cli cli;
	int c, dry = 0, reap_mode = 0, adopt_mode = 0;
	long count = -1;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_COUNT: {
			char *end;
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || count < 0 || count > 10000)
				rp_cli_usage(&cli, "--count wants a whole number 0..10000, got '%s'", optarg);
			break;
		}
		case O_DRY: dry = 1; break;
		case O_REAP: reap_mode = 1; break;
		case O_ADOPT: adopt_mode = 1; break;
		case O_GPU: rp_cli_key(&cli, "runpod.gpu_types", optarg, 1); break;
		case O_DC: rp_cli_key(&cli, "runpod.data_centers", optarg, 1); break;
		case O_SPOT: rp_cli_key(&cli, "runpod.spot", "true", 0); break;
		case O_NOSPOT: rp_cli_key(&cli, "runpod.spot", "false", 0); break;
		case O_BID: rp_cli_key(&cli, "runpod.max_bid_per_gpu", optarg, 0); break;
		case O_MAXN: rp_cli_key(&cli, "runpod.max_nodes", optarg, 0); break;
		case O_READY: rp_cli_key(&cli, "runpod.ready_timeout", optarg, 0); break;
		case O_ORDER: rp_cli_key(&cli, "runpod.order", optarg, 0); break;
		case O_CLUSTER: rp_cli_key(&cli, "cluster", optarg, 0); break;
		case O_IMAGE: rp_cli_key(&cli, "runpod.image", optarg, 0); break;
		default: rp_cli_usage(&cli, "unexpected option");
		}
	}
	if (optind < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind]);
	if (reap_mode && count >= 0)
		rp_cli_usage(&cli, "--reap takes no --count");
	if (adopt_mode && (reap_mode || count >= 0 || dry))
		rp_cli_usage(&cli, "--adopt takes no --reap, --count or --dry-run");
	struct rp_config *cfg = rp_cli_config(&cli);
	const char *cl = rp_cfg_str(cfg, "cluster");
	if (!cl || !rp_safe_name(cl))
		rp_fatal(RP_EXIT_USAGE, "cluster (%s): '%s' is not a safe name ([A-Za-z0-9._-]+)",
			 rp_cfg_where(cfg, "cluster"), cl ? cl : "");
	int rc;
	if (reap_mode) {
		rc = rp_reap(cfg, dry);
	} else if (adopt_mode) {
		struct rp_adopt_in in;
		read_adopt_input(&in);
		rc = rp_adopt(cfg, &in);
	} else {
		char **pass = NULL;
		size_t npass = 0;
		long want = count >= 0 ? count : read_input(&pass, &npass);
		for (size_t i = 0; i < npass; i++) {
			rp_out_raw(pass[i]);
			free(pass[i]);
		}
		free(pass);
		rc = want > 0 ? rp_wave_launch(cfg, want, dry) : RP_EXIT_OK;
		if (want <= 0)
			rp_debug("nothing to launch");
	}
	rp_out_flush();
	rp_config_free(cfg);
	rp_cli_free(&cli);
	return rp_finish(rc);
}
