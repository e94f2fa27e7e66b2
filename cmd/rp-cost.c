/* rp-cost — what the burst costs, and what to buy instead.  See rp-cost(1). */
#include "advise.h"
#include "cli.h"
#include "cost.h"
#include "fleetlog.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"
#include "reconcile.h"
#include "spend.h"
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: rp-cost [options] report [--since T] [--until T] [--by pod|gpu|day] [--egress-gb N] [--reconcile]\n"
	"       rp-cost [options] breakeven\n"
	"       rp-cost [options] recommend [--days N | --gpu-hours N] [--gpu ID] [--spot] [--headroom F]\n"
	"       rp-cost [options] plan TRACE.csv [--gpu ID] [--spot] [--max-servers K] [--format records|gnuplot]\n"
	"       rp-cost [options] simulate TRACE.csv [--seed N] [--seeds N] [--boot DUR] [--preempt-rate R]\n"
	"                         [--baseline-servers K] [--gpu ID] [--spot] [--policy NAME | --compare] [--steps]\n"
	"       rp-cost [options] trace [--kind ledger|smooth|poisson|bursty] [--days N] [--seed N]\n"
	"                         [--scale F] [--job-seconds S] [--since T] [--until T] [--decision FILE]\n"
	"       rp-cost [options] prewarm [--decision FILE] [--boot DUR] [--baseline-servers K] [--gpu ID] [--spot]\n"
	"                         [--job-seconds S]\n"
	"       rp-cost [options] metrics [--output FILE] [--decision FILE]\n"
	"       rp-cost [options] prices [--live]\n"
	"       rp-cost [options] sync\n"
	"options: [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v] [--ledger FILE] [--now T]\n";

enum { O_SINCE = RP_OPT_TOOL, O_UNTIL, O_BY, O_EGRESS, O_DAYS, O_GH, O_GPU, O_SPOT, O_MAXK, O_FORMAT,
       O_SEED, O_BOOT, O_PREEMPT, O_BASE, O_OUTPUT, O_DECISION, O_LIVE, O_LEDGER, O_NOW, O_SEEDS, O_POLICY,
       O_COMPARE, O_HEADROOM, O_KIND, O_SCALE, O_JOBS, O_RECONCILE, O_STEPS };

static struct {
	const char *since, *until, *by, *gpu, *format, *output, *decision, *ledger, *now, *policy;
	double egress_gb, days, gpu_hours, boot, preempt, headroom, scale, job_s;
	const char *kind;
	int spot, maxk, live, baseline_servers, seeds, compare, reconcile, steps;
	unsigned long long seed;
} o = { .by = NULL, .egress_gb = -1, .days = 30, .gpu_hours = -1, .boot = -1, .preempt = -1, .headroom = -1, .scale = 1, .job_s = 120, .maxk = -1,
	.seed = 1, .baseline_servers = -1, .seeds = 1 };

static struct rp_cli cli;
static struct rp_config *cfg;
static double now;

static double parse_time(const char *s, const char *flag)
{
	double t, d;
	if (rp_parse_rfc3339(s, &t) == 0)
		return t;
	if (rp_parse_duration(s, &d) == 0)
		return now - d; /* "30d", "12h": that long ago */
	rp_cli_usage(&cli, "%s wants an RFC 3339 time or a duration ago (e.g. 24h), got '%s'", flag, s);
}

static double num_arg(const char *s, const char *flag)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !isfinite(v) || v < 0)
		rp_cli_usage(&cli, "%s wants a non-negative number, got '%s'", flag, s);
	return v;
}

static int cmd_report(char **err)
{
	struct rp_spend_q q = { .ledger = o.ledger, .now = now, .since = o.since ? parse_time(o.since, "--since") : 0,
				.until = o.until ? parse_time(o.until, "--until") : now, .since_set = !!o.since,
				.by = o.by ? rp_spend_by(o.by) : RP_BY_TOTAL, .egress_gb = o.egress_gb };
	if (q.by < 0)
		rp_cli_usage(&cli, "--by wants pod, gpu or day, got '%s'", o.by);
	if (q.until < q.since)
		rp_cli_usage(&cli, "--until is before --since");
	if (o.reconcile)
		return rp_reconcile(cfg, &q, err);
	return rp_spend_report(cfg, &q, err);
}

static int cmd_metrics(char **err)
{
	struct rp_buf b = { 0 };
	int rc = rp_spend_metrics(o.ledger, now, o.decision, &b, err);
	if (rc == RP_EXIT_OK && o.output && rp_write_atomic(o.output, b.data, b.len, 0644) < 0)
		rp_fatal(RP_EXIT_FAIL, "unable to write %s: %s", o.output, strerror(errno));
	else if (rc == RP_EXIT_OK && !o.output)
		fwrite(b.data, 1, b.len, stdout);
	rp_buf_free(&b);
	return rc;
}

/* trace: a minute trace for simulate, synthetic or from the ledger. */
static int cmd_trace(char **err)
{
	struct rp_mtrace t;
	const char *kind = o.kind ? o.kind : "ledger";
	if (o.days <= 0 || o.days > 366)
		rp_cli_usage(&cli, "--days wants 1 to 366, got %g", o.days);
	if (!strcmp(kind, "ledger")) {
		struct rp_baseline b;
		if (rp_cost_baseline(cfg, &b, err) < 0)
			return RP_EXIT_USAGE;
		struct rp_trace_src src = { .ledger = o.ledger, .decision = o.decision, .job_s = o.job_s,
					    .until = o.until ? parse_time(o.until, "--until") : now,
					    .baseline_slots = (o.baseline_servers >= 0 ? o.baseline_servers : 1) * b.gpus };
		src.since = o.since ? parse_time(o.since, "--since") : src.until - o.days * 86400;
		if (rp_trace_estimate(cfg, &src, &t, err) < 0)
			return RP_EXIT_USAGE;
	} else if (rp_trace_kind(kind) >= 0) {
		rp_trace_synth(rp_trace_kind(kind), o.days, o.scale, o.job_s, o.seed, &t);
	} else {
		rp_cli_usage(&cli, "--kind wants ledger, smooth, poisson or bursty, got '%s'", kind);
	}
	rp_trace_write(stdout, &t);
	rp_trace_free(&t);
	return RP_EXIT_OK;
}

static int cmd_prices(const struct rp_advise *a, char **err)
{
	cJSON *cat = NULL;
	struct rp_runpod *rp = NULL;
	if (rp_cost_prices_check(cfg, err) < 0)
		return RP_EXIT_USAGE;
	if (o.live) {
		rp = rp_runpod_open(cfg, err);
		if (!rp)
			rp_fatal(RP_EXIT_USAGE, "%s", *err);
		int rc = rp_runpod_catalog(rp, &cat, err);
		if (rc)
			rp_fatal(rc, "unable to read the RunPod catalog: %s", *err);
	}
	int rc = rp_advise_prices(a, cat, err);
	cJSON_Delete(cat);
	rp_runpod_free(rp);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "by", required_argument, NULL, O_BY },
		{ "egress-gb", required_argument, NULL, O_EGRESS },
		{ "days", required_argument, NULL, O_DAYS },
		{ "gpu-hours", required_argument, NULL, O_GH },
		{ "gpu", required_argument, NULL, O_GPU },
		{ "spot", no_argument, NULL, O_SPOT },
		{ "max-servers", required_argument, NULL, O_MAXK },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "boot", required_argument, NULL, O_BOOT },
		{ "preempt-rate", required_argument, NULL, O_PREEMPT },
		{ "baseline-servers", required_argument, NULL, O_BASE },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "decision", required_argument, NULL, O_DECISION },
		{ "live", no_argument, NULL, O_LIVE },
		{ "ledger", required_argument, NULL, O_LEDGER },
		{ "now", required_argument, NULL, O_NOW },
		{ "seeds", required_argument, NULL, O_SEEDS },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "compare", no_argument, NULL, O_COMPARE },
		{ "steps", no_argument, NULL, O_STEPS },
		{ "headroom", required_argument, NULL, O_HEADROOM },
		{ "kind", required_argument, NULL, O_KIND },
		{ "scale", required_argument, NULL, O_SCALE },
		{ "job-seconds", required_argument, NULL, O_JOBS },
		{ "reconcile", no_argument, NULL, O_RECONCILE },
		{ 0, 0, 0, 0 }
	};
	int c;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_SINCE: o.since = optarg; break;
		case O_UNTIL: o.until = optarg; break;
		case O_BY: o.by = optarg; break;
		case O_EGRESS: o.egress_gb = num_arg(optarg, "--egress-gb"); break;
		case O_DAYS: o.days = num_arg(optarg, "--days"); break;
		case O_GH: o.gpu_hours = num_arg(optarg, "--gpu-hours"); break;
		case O_GPU: o.gpu = optarg; break;
		case O_SPOT: o.spot = 1; break;
		case O_MAXK: o.maxk = (int)num_arg(optarg, "--max-servers"); break;
		case O_FORMAT: o.format = optarg; break;
		case O_SEED: o.seed = (unsigned long long)num_arg(optarg, "--seed"); break;
		case O_BOOT:
			if (rp_parse_duration(optarg, &o.boot) < 0)
				rp_cli_usage(&cli, "--boot wants a duration, got '%s'", optarg);
			break;
		case O_PREEMPT: o.preempt = num_arg(optarg, "--preempt-rate"); break;
		case O_BASE: o.baseline_servers = (int)num_arg(optarg, "--baseline-servers"); break;
		case O_OUTPUT: o.output = optarg; break;
		case O_DECISION: o.decision = optarg; break;
		case O_LIVE: o.live = 1; break;
		case O_RECONCILE: o.reconcile = 1; break;
		case O_LEDGER: o.ledger = optarg; break;
		case O_NOW: o.now = optarg; break;
		case O_SEEDS:
			o.seeds = (int)num_arg(optarg, "--seeds");
			if (o.seeds < 1 || o.seeds > 1000)
				rp_cli_usage(&cli, "--seeds wants 1 to 1000, got '%s'", optarg);
			break;
		case O_POLICY: o.policy = optarg; break;
		case O_COMPARE: o.compare = 1; break;
		case O_STEPS: o.steps = 1; break;
		case O_KIND: o.kind = optarg; break;
		case O_SCALE: o.scale = num_arg(optarg, "--scale"); break;
		case O_JOBS: o.job_s = num_arg(optarg, "--job-seconds"); break;
		case O_HEADROOM:
			o.headroom = num_arg(optarg, "--headroom");
			if (o.headroom >= 1)
				rp_cli_usage(&cli, "--headroom wants a fraction below 1, got '%s'", optarg);
			break;
		}
	}
	cfg = rp_cli_config(&cli);
	now = rp_now();
	if (o.now && rp_parse_rfc3339(o.now, &now) < 0)
		rp_cli_usage(&cli, "--now wants an RFC 3339 time, got '%s'", o.now);
	if (optind >= argc)
		rp_cli_usage(&cli, "a subcommand is required");
	const char *sub = argv[optind++];
	int want_arg = !strcmp(sub, "plan") || !strcmp(sub, "simulate");
	if (want_arg && optind >= argc)
		rp_cli_usage(&cli, "%s needs a TRACE.csv", sub);
	if (optind + want_arg < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind + want_arg]);
	struct rp_advise a = { .cfg = cfg, .ledger = o.ledger, .now = now, .gpu = o.gpu, .spot = o.spot,
			       .days = o.days, .gpu_hours = o.gpu_hours, .max_servers = o.maxk,
			       .gnuplot = o.format && !strcmp(o.format, "gnuplot"), .seed = o.seed, .boot = o.boot,
			       .preempt_rate = o.preempt, .baseline_servers = o.baseline_servers, .seeds = o.seeds,
			       .compare = o.compare, .policy = o.policy, .headroom = o.headroom,
			       .decision = o.decision, .job_s = o.job_s, .steps = o.steps };
	if (o.compare && o.policy)
		rp_cli_usage(&cli, "--policy and --compare do not go together");
	if (o.steps && o.seeds > 1)
		rp_cli_usage(&cli, "--steps and --seeds do not go together (one seed's polls)");
	char *err = NULL;
	int rc;
	/* The fleet's ledger (fleetlog.h), not this host's alone: brought up
	 * to date first; without the store the local view is reported. */
	if (!strcmp(sub, "sync")) {
		rc = rp_fleetlog_sync(&err);
		if (rc)
			rp_fatal(rc, "%s", err);
		return rp_finish(rc);
	}
	int reads = !strcmp(sub, "report") || !strcmp(sub, "breakeven") || !strcmp(sub, "recommend") ||
		    !strcmp(sub, "metrics") || !strcmp(sub, "prewarm");
	if (reads && !o.ledger && rp_fleetlog_sync(&err)) {
		rp_logw("fleet store unavailable: this host's ledger only", "error", err);
		free(err);
		err = NULL;
	}
	if (o.reconcile && strcmp(sub, "report"))
		rp_cli_usage(&cli, "--reconcile goes with report");
	if (!strcmp(sub, "report"))
		rc = cmd_report(&err);
	else if (!strcmp(sub, "breakeven"))
		rc = rp_advise_breakeven(&a, &err);
	else if (!strcmp(sub, "recommend") && o.gpu_hours < 0 && o.days <= 0)
		rp_cli_usage(&cli, "--days must be positive");
	else if (!strcmp(sub, "recommend"))
		rc = rp_advise_recommend(&a, &err);
	else if (!strcmp(sub, "plan") && o.format && !a.gnuplot && strcmp(o.format, "records"))
		rp_cli_usage(&cli, "--format wants records or gnuplot, got '%s'", o.format);
	else if (!strcmp(sub, "plan"))
		rc = rp_advise_plan(&a, argv[optind], &err);
	else if (!strcmp(sub, "simulate"))
		rc = rp_advise_simulate(&a, argv[optind], &err);
	else if (!strcmp(sub, "trace"))
		rc = cmd_trace(&err);
	else if (!strcmp(sub, "metrics"))
		rc = cmd_metrics(&err);
	else if (!strcmp(sub, "prewarm"))
		rc = rp_advise_prewarm(&a, &err);
	else if (!strcmp(sub, "prices"))
		rc = cmd_prices(&a, &err);
	else
		rp_cli_usage(&cli, "unknown subcommand '%s'", sub);
	if (rc != RP_EXIT_OK)
		rp_fatal(rc, "%s", err);
	rp_out_flush();
	rp_config_free(cfg);
	rp_cli_free(&cli);
	return rp_finish(rc);
}
