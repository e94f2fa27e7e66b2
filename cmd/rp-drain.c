/* rp-drain — see rp-drain(1).  Options, input records, then the library:
 * drainset.h picks and vets the targets, drainseq.h drains them in its
 * safety order; the exit code is rp_drain_all()'s. */
#include "cli.h"
#include "drainseq.h"
#include "drainset.h"
#include "kube.h"
#include "log.h"
#include "record.h"
#include "records.h"
#include "rp.h"
#include "runpod.h"

#include <stdlib.h>
#include <unistd.h>

static const char usage[] =
	"usage: rp-drain [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"                [--node NAME]... [--idle DURATION] [--timeout DURATION]\n"
	"                [--force] [--delete-emptydir-data] [--disable-eviction]\n"
	"                [--grace-period SECONDS] [--pod-selector SELECTOR]\n"
	"                [--undo-on-timeout] [--skip-checkpoint]\n"
	"                [--checkpoint-command CMD] [--step N|P%]\n"
	"       rp-drain [options] --worker --id POD_ID [--host HOST] [--port PORT]\n"
	"       rp-drain [options] --preempted\n"
	"       rp-drain [options] --lost\n"
	"       rp-drain [options] < records\n";

enum {
	O_NODE = RP_OPT_TOOL, O_IDLE, O_TIMEOUT, O_FORCE, O_EMPTYDIR, O_NOEVICT, O_GRACE,
	O_PODSEL, O_UNDO, O_SKIPCK, O_CKCMD, O_STEP, O_WORKER, O_ID, O_HOST, O_PORT,
	O_PREEMPTED, O_LOST
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "node", required_argument, NULL, O_NODE },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "force", no_argument, NULL, O_FORCE },
		{ "delete-emptydir-data", no_argument, NULL, O_EMPTYDIR },
		{ "disable-eviction", no_argument, NULL, O_NOEVICT },
		{ "grace-period", required_argument, NULL, O_GRACE },
		{ "pod-selector", required_argument, NULL, O_PODSEL },
		{ "undo-on-timeout", no_argument, NULL, O_UNDO },
		{ "skip-checkpoint", no_argument, NULL, O_SKIPCK },
		{ "checkpoint-command", required_argument, NULL, O_CKCMD },
		{ "step", required_argument, NULL, O_STEP },
		{ "worker", no_argument, NULL, O_WORKER },
		{ "id", required_argument, NULL, O_ID },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "preempted", no_argument, NULL, O_PREEMPTED },
		{ "lost", no_argument, NULL, O_LOST },
		{ 0, 0, 0, 0 }
	};
	struct rp_cli cli;
	struct rp_drain_run x = { 0 };
	struct rp_drain_set set;
	struct rp_config *cfg;
	struct rp_kube *k = NULL;
	struct rp_runpod *rp;
	const char **nodes = NULL;
	size_t nnodes = 0;
	const char *idle = NULL, *wid = NULL, *whost = NULL;
	int worker = 0, wport = 0, preempted = 0, lost = 0, c;
	char *end, *err = NULL;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	x.o.grace_period = -1;
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_NODE:
			nodes = rp_xrealloc(nodes, (nnodes + 1) * sizeof *nodes);
			nodes[nnodes++] = optarg;
			break;
		case O_IDLE:
			idle = optarg;
			rp_cli_key(&cli, "scale.idle", optarg, 0);
			break;
		case O_TIMEOUT:
			rp_cli_key(&cli, "drain.timeout", optarg, 0);
			break;
		case O_FORCE:
			rp_cli_key(&cli, "drain.force", "true", 0);
			break;
		case O_EMPTYDIR:
			rp_cli_key(&cli, "drain.delete_emptydir_data", "true", 0);
			break;
		case O_NOEVICT:
			x.o.disable_eviction = 1;
			break;
		case O_GRACE:
			x.o.grace_period = strtol(optarg, &end, 10);
			if (end == optarg || *end)
				rp_cli_usage(&cli, "--grace-period wants whole seconds, got '%s'", optarg);
			break;
		case O_PODSEL:
			x.o.pod_selector = optarg;
			break;
		case O_UNDO:
			x.undo = 1;
			break;
		case O_SKIPCK:
			x.skip_ck = 1;
			break;
		case O_CKCMD:
			rp_cli_key(&cli, "drain.checkpoint_command", optarg, 0);
			break;
		case O_STEP:
			rp_cli_key(&cli, "scale.step", optarg, 0);
			break;
		case O_WORKER:
			worker = 1;
			break;
		case O_ID:
			wid = optarg;
			break;
		case O_HOST:
			whost = optarg;
			break;
		case O_PREEMPTED:
			preempted = 1;
			break;
		case O_LOST:
			lost = 1;
			break;
		case O_PORT:
			wport = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end || wport < 1 || wport > 65535)
				rp_cli_usage(&cli, "--port wants 1..65535, got '%s'", optarg);
			break;
		default:
			rp_cli_usage(&cli, "unknown option");
		}
	}
	if (optind < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind]);
	if (!worker && (wid || whost || wport))
		rp_cli_usage(&cli, "--id, --host and --port go with --worker");
	if (worker && !wid)
		rp_cli_usage(&cli, "--worker needs --id POD_ID");
	cfg = rp_cli_config(&cli);
	if (preempted && (nnodes || idle || worker || lost))
		rp_cli_usage(&cli, "--preempted goes alone");
	if (lost && (nnodes || idle || worker))
		rp_cli_usage(&cli, "--lost goes alone");
	int from_stdin = !nnodes && !idle && !worker && !preempted && !lost;
	if (from_stdin && isatty(0))
		rp_cli_usage(&cli, "nothing to drain: give --node, --idle, --worker, --lost or records on stdin");

	rp = rp_runpod_open(cfg, &err);
	if (!rp)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	if (!worker || nnodes || idle || from_stdin) {
		k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), &err);
		if (!k)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
	}
	rp_drain_run_config(&x, cfg, k, rp);
	rp_drain_set_init(&set, cfg, k, rp);
	for (size_t i = 0; i < nnodes; i++)
		rp_drain_set_add(&set, nodes[i], NULL, 0, 1);
	if (worker) {
		struct rp_drain_target *t = rp_drain_set_add(&set, NULL, wid, 1, 1);
		t->host = whost ? rp_xstrdup(whost) : NULL;
		t->port = wport;
	}
	if (idle)
		rp_drain_select_idle(&set, 0);
	if (preempted)
		rp_drain_select_preempted(&set);
	if (lost)
		rp_drain_select_lost(&set);
	if (from_stdin) {
		struct rp_rec_reader *r = rp_rec_reader_new(stdin, "<stdin>", 1);
		cJSON *rec;
		const char *raw;
		char why[160];
		int got, took;
		while ((got = rp_rec_read(r, &rec, &raw)) > 0) {
			if ((took = rp_drain_set_record(&set, rec, why, sizeof why)) < 0) {
				rp_out_flush();
				rp_recs_refuse(r, rp_rec_type(rec), why);
			}
			if (!took)
				rp_out_raw(raw);
			cJSON_Delete(rec);
		}
		rp_rec_reader_free(r);
		if (got < 0) {
			rp_out_flush();
			return rp_finish(RP_EXIT_USAGE);
		}
	}
	rp_drain_vet(&set);
	int code = rp_drain_all(&x, &set, rp_drain_at_once(&set));
	rp_drain_set_free(&set);
	free(nodes);
	rp_kube_free(k);
	rp_runpod_free(rp);
	rp_config_free(cfg);
	rp_cli_free(&cli);
	rp_out_flush();
	return rp_finish(code);
}
