/* rp-lagwatch — Kafka lag and p95 latency to a scale decision; see rp-lagwatch(1). */
#include "cli.h"
#include "extscaler.h"
#include "http.h"
#include "httpd.h"
#include "kube.h"
#include "lease.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "scaler.h"
#include "trigger.h"
#include "watch.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>

static const char usage[] =
	"usage: rp-lagwatch [--once [--if-idle] | --watch INTERVAL [--trigger CMD [--period PERIOD]] |\n"
	"                    [--serve [ADDR]] [--serve-grpc ADDR] [--watch INTERVAL]]\n"
	"                   [--lag-only]\n"
	"                   [--group G]... [--topic [G:]T]... [--nodes N]\n"
	"                   [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"       rp-lagwatch --hold-lease NAME --identity ID [--lease-namespace NS]\n"
	"                   [--lease-duration S] [--renew-deadline S] [--retry-period S]\n"
	"                   [--watch-pid PID] [-c FILE] [-q|-v]\n";

enum { O_ONCE = RP_OPT_TOOL, O_WATCH, O_SERVE, O_GRPC, O_GROUP, O_TOPIC, O_NODES, O_LAGONLY, O_HOLD, O_IDENT, O_LNS,
       O_LDUR, O_LDEAD, O_LRETRY, O_WPID, O_TRIGGER, O_IFIDLE,
       O_PERIOD };

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static double seconds(const struct rp_cli *cli, const char *flag, const char *arg)
{
	double v;
	if (rp_parse_duration(arg, &v) < 0 || v <= 0)
		rp_cli_usage(cli, "%s: want a duration, got '%s'", flag, arg);
	return v;
}

/* --hold-lease: the tick's Lease renewer (lease.h). */
static int hold(struct rp_cli *cli, struct rp_config *cfg, struct rp_lease_opts *o, long wpid)
{
	char *err = NULL;
	if (!o->identity || !*o->identity)
		rp_cli_usage(cli, "--hold-lease needs --identity");
	rp_lease_defaults(o);
	if (o->renew_deadline >= o->duration || o->retry_period >= o->renew_deadline)
		rp_cli_usage(cli, "want --retry-period < --renew-deadline < --lease-duration");
	rp_http_global_init();
	struct rp_kube *k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), &err);
	if (!k) {
		rp_loge("kubeconfig", "error", err);
		free(err);
		return rp_finish(RP_EXIT_TEMP);
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = rp_lease_hold(k, o, wpid, &stop);
	rp_kube_free(k);
	rp_config_free(cfg);
	rp_cli_free(cli);
	return rp_finish(rc);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { RP_CLI_LONG,
					    { "once", no_argument, NULL, O_ONCE },
					    { "watch", required_argument, NULL, O_WATCH },
					    { "serve", optional_argument, NULL, O_SERVE },
					    { "serve-grpc", required_argument, NULL, O_GRPC },
					    { "group", required_argument, NULL, O_GROUP },
					    { "topic", required_argument, NULL, O_TOPIC },
					    { "nodes", required_argument, NULL, O_NODES },
					    { "lag-only", no_argument, NULL, O_LAGONLY },
					    { "hold-lease", required_argument, NULL, O_HOLD },
					    { "identity", required_argument, NULL, O_IDENT },
					    { "lease-namespace", required_argument, NULL, O_LNS },
					    { "lease-duration", required_argument, NULL, O_LDUR },
					    { "renew-deadline", required_argument, NULL, O_LDEAD },
					    { "retry-period", required_argument, NULL, O_LRETRY },
					    { "watch-pid", required_argument, NULL, O_WPID },
					    { "trigger", required_argument, NULL, O_TRIGGER },
					    { "if-idle", no_argument, NULL, O_IFIDLE },
					    { "period", required_argument, NULL, O_PERIOD },
					    { 0, 0, 0, 0 } };
	struct rp_cli cli;
	struct rp_watch_opts opt = { .nodes = -1 };
	struct rp_config *cfg;
	struct rp_watch *lw;
	const char *watch = NULL, *serve = NULL, *grpc = NULL, *trigger = NULL;
	struct rp_lease_opts lo_ = { .ns = "default" };
	long wpid = 0;
	double period = 0;
	int c, once = 0, rc = RP_EXIT_OK;
	char *end, *err = NULL;

	rp_init(argv[0]);
	/* librdkafka's threads (fleet.store kafka) and the lag poll's would
	 * each get a malloc arena: two are plenty (fewer page faults, less
	 * resident memory). */
	mallopt(M_ARENA_MAX, 2);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		switch (c) {
		case O_ONCE: once = 1; break;
		case O_WATCH: watch = optarg; break;
		case O_SERVE: /* --serve, --serve=ADDR or --serve ADDR; none: lagwatch.listen */
			serve = optarg ? optarg : optind < argc && argv[optind][0] != '-' ? argv[optind++] : "";
			if (*serve)
				rp_cli_key(&cli, "lagwatch.listen", serve, 0);
			break;
		case O_GROUP: rp_cli_key(&cli, "kafka.group", optarg, 1); break;
		case O_TOPIC: rp_cli_key(&cli, "kafka.topic", optarg, 1); break;
		case O_GRPC: grpc = optarg; break;
		case O_TRIGGER: trigger = optarg; break;
		case O_PERIOD: period = seconds(&cli, "--period", optarg); break;
		case O_LAGONLY: opt.lag_only = 1; break;
		case O_IFIDLE: opt.if_idle = 1; break;
		case O_HOLD: lo_.name = optarg; break;
		case O_IDENT: lo_.identity = optarg; break;
		case O_LNS: lo_.ns = optarg; break;
		case O_LDUR: lo_.duration = seconds(&cli, "--lease-duration", optarg); break;
		case O_LDEAD: lo_.renew_deadline = seconds(&cli, "--renew-deadline", optarg); break;
		case O_LRETRY: lo_.retry_period = seconds(&cli, "--retry-period", optarg); break;
		case O_WPID:
			wpid = strtol(optarg, &end, 10);
			if (!*optarg || *end || wpid <= 0)
				rp_cli_usage(&cli, "--watch-pid: want a process id, got '%s'", optarg);
			break;
		case O_NODES:
			opt.nodes = strtol(optarg, &end, 10);
			if (!*optarg || *end || opt.nodes < 0)
				rp_cli_usage(&cli, "--nodes: want a count, got '%s'", optarg);
			break;
		default: rp_cli_opt(&cli, c, optarg);
		}
	}
	if (optind < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind]);
	int serving = serve || grpc;
	if (once + !!watch + serving > 1 && !(serving && watch && !once))
		rp_cli_usage(&cli, "--once, --watch and --serve/--serve-grpc exclude each other "
				   "(a server takes --watch as its poll interval)");
	if (trigger && (!watch || serving || opt.lag_only || !*trigger))
		rp_cli_usage(&cli, "--trigger wants --watch INTERVAL and a command, without --serve or --lag-only");
	if (period > 0 && !trigger)
		rp_cli_usage(&cli, "--period goes with --trigger (a tick every PERIOD as well)");
	if (opt.if_idle && (!once || opt.lag_only))
		rp_cli_usage(&cli, "--if-idle goes with --once, without --lag-only");
	double interval = serving ? 15 : 0;
	if (watch && (rp_parse_duration(watch, &interval) < 0 || interval <= 0))
		rp_cli_usage(&cli, "--watch: bad interval '%s'", watch);

	cfg = rp_cli_config(&cli);
	if (lo_.name)
		return hold(&cli, cfg, &lo_, wpid);
	opt.verbose = cli.verbose;
	lw = rp_watch_open(cfg, &opt, &err);
	if (!lw)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	if (!opt.lag_only)
		rp_http_global_init(); /* else never needed: saves OpenSSL init */

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (serving) {
		/* Requests are answered from the last poll; one thread polls. */
		struct rp_httpd *h = NULL;
		struct rp_extscaler *x = NULL;
		if (serve && !(h = rp_httpd_open(rp_cfg_str(cfg, "lagwatch.listen"), &err)))
			rp_fatal(RP_EXIT_USAGE, "--serve (%s): %s", rp_cfg_where(cfg, "lagwatch.listen"), err);
		struct rp_scaler *sc = rp_scaler_start(lw, cfg, interval, &err);
		if (!sc)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
		if (grpc && !(x = rp_extscaler_start(grpc, sc, &err)))
			rp_fatal(RP_EXIT_USAGE, "--serve-grpc: %s", err);
		char iv[32];
		snprintf(iv, sizeof iv, "%gs", interval);
		if (h)
			rp_info("listening", "addr", rp_httpd_addr(h), "interval", iv);
		if (x)
			rp_info("listening", "grpc", rp_extscaler_addr(x), "interval", iv);
		while (!stop) {
			if (h)
				rp_httpd_serve_one(h, 0.2, rp_scaler_http, sc);
			else
				rp_sleep(0.2);
		}
		rp_httpd_close(h);
		rp_extscaler_stop(x);
		rp_scaler_stop(sc);
	} else if (trigger) {
		rp_trigger_loop(lw, trigger, interval, period, &stop);
	} else if (watch) {
		while (!stop) {
			double t0 = rp_mono();
			if (rp_watch_tick(lw, &err) == RP_EXIT_USAGE)
				rp_fatal(RP_EXIT_USAGE, "%s", err);
			rp_out_flush();
			if (ferror(stdout))
				break;
			while (!stop && rp_mono() - t0 < interval)
				rp_sleep(interval - (rp_mono() - t0) < 0.2 ? interval - (rp_mono() - t0) : 0.2);
		}
	} else {
		rc = rp_watch_tick(lw, &err);
		if (rc == RP_EXIT_USAGE)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
		if (rc == RP_WATCH_NOT_IDLE) { /* nothing printed: the full tick's to decide */
			rp_debug("not idle: no decision");
			rc = RP_EXIT_OK;
		}
	}
	rp_out_flush();
	rp_watch_close(lw);
	rp_config_free(cfg);
	rp_cli_free(&cli);
	return rp_finish(rc);
}
