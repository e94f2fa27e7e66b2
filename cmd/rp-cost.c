/* rp-cost — what the burst costs, and what to buy instead.  See rp-cost(1). */
#include "cli.h"
#include "cost.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: rp-cost [options] report [--since T] [--until T] [--by pod|gpu|day] [--egress-gb N]\n"
	"       rp-cost [options] breakeven\n"
	"       rp-cost [options] recommend [--days N | --gpu-hours N] [--gpu ID] [--spot]\n"
	"       rp-cost [options] plan TRACE.csv [--gpu ID] [--spot] [--max-servers K] [--format records|gnuplot]\n"
	"       rp-cost [options] simulate TRACE.csv [--seed N] [--boot DUR] [--preempt-rate R]\n"
	"                         [--baseline-servers K] [--gpu ID] [--spot]\n"
	"       rp-cost [options] metrics [--output FILE] [--decision FILE]\n"
	"       rp-cost [options] prices [--live]\n"
	"options: [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v] [--ledger FILE] [--now T]\n";

enum { O_SINCE = RP_OPT_TOOL, O_UNTIL, O_BY, O_EGRESS, O_DAYS, O_GH, O_GPU, O_SPOT, O_MAXK, O_FORMAT,
       O_SEED, O_BOOT, O_PREEMPT, O_BASE, O_OUTPUT, O_DECISION, O_LIVE, O_LEDGER, O_NOW };

static struct {
	const char *since, *until, *by, *gpu, *format, *output, *decision, *ledger, *now;
	double egress_gb, days, gpu_hours, boot, preempt;
	int spot, maxk, live, baseline_servers;
	unsigned long long seed;
} o = { .by = NULL, .egress_gb = -1, .days = 30, .gpu_hours = -1, .boot = -1, .maxk = -1, .seed = 1,
	.baseline_servers = -1 };

static struct rp_cli cli;
static struct rp_config *cfg;
static double now;

static double r2(double x) /* to the cent, for money */
{
	return round(x * 100.0) / 100.0;
}

static double r4(double x)
{
	return round(x * 10000.0) / 10000.0;
}

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

static void die2(const char *err)
{
	rp_fatal(RP_EXIT_USAGE, "%s", err);
}

/* ---- report ---- */

struct bucket {
	char key[96];
	char gpu[64];
	int spot;
	double hours, gpu_hours, spend_od, spend_spot;
	long pods;
};
struct report {
	double since, until;
	int by; /* 0 total only, 1 pod, 2 gpu, 3 day */
	struct bucket total;
	struct bucket *b;
	size_t n;
	long running;
	double first; /* earliest start counted */
};

static struct bucket *bucket(struct report *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->b[i].key, key))
			return &r->b[i];
	r->b = rp_xrealloc(r->b, (r->n + 1) * sizeof *r->b);
	struct bucket *b = &r->b[r->n++];
	memset(b, 0, sizeof *b);
	snprintf(b->key, sizeof b->key, "%s", key);
	return b;
}

static void add(struct bucket *b, const struct rp_cost_pod *p, double h)
{
	double s = h * p->cost_per_hr;
	b->hours += h;
	b->gpu_hours += h * (p->gpu_count > 0 ? p->gpu_count : 1);
	if (p->spot)
		b->spend_spot += s;
	else
		b->spend_od += s;
}

static cJSON *bucket_rec(const char *by, const struct bucket *b)
{
	cJSON *r = rp_rec_new("cost");
	cJSON_AddStringToObject(r, "by", by);
	if (strcmp(by, "total"))
		cJSON_AddStringToObject(r, "key", b->key);
	if (!strcmp(by, "pod")) {
		cJSON_AddStringToObject(r, "gpu", b->gpu);
		cJSON_AddBoolToObject(r, "spot", b->spot);
	}
	cJSON_AddNumberToObject(r, "pods", (double)b->pods);
	cJSON_AddNumberToObject(r, "hours", r4(b->hours));
	cJSON_AddNumberToObject(r, "gpu_hours", r4(b->gpu_hours));
	cJSON_AddNumberToObject(r, "spend_on_demand", r2(b->spend_od));
	cJSON_AddNumberToObject(r, "spend_spot", r2(b->spend_spot));
	cJSON_AddNumberToObject(r, "spend", r2(b->spend_od + b->spend_spot));
	return r;
}

static void report_cb(const struct rp_cost_pod *p, void *arg)
{
	struct report *r = arg;
	double h = rp_cost_hours(p, r->since, r->until);
	/* a pod whose interval touches the window counts, even a zero-length
	 * one (a clock that jumped back between its launch and its end) */
	if (p->start > r->until || p->end < r->since)
		return;
	add(&r->total, p, h);
	r->total.pods++;
	if (!r->first || p->start < r->first)
		r->first = p->start > r->since ? p->start : r->since;
	if (p->running)
		r->running++;
	if (r->by == 1) {
		struct bucket b = { 0 };
		snprintf(b.key, sizeof b.key, "%s", p->id);
		snprintf(b.gpu, sizeof b.gpu, "%s", p->gpu);
		b.spot = p->spot;
		b.pods = 1;
		add(&b, p, h);
		cJSON *rec = bucket_rec("pod", &b);
		cJSON_AddStringToObject(rec, "name", p->name);
		cJSON_AddBoolToObject(rec, "running", p->running);
		rp_out_rec(rec);
		cJSON_Delete(rec);
	} else if (r->by == 2) {
		struct bucket *b = bucket(r, p->gpu[0] ? p->gpu : "unknown");
		add(b, p, h);
		b->pods++;
	} else if (r->by == 3) {
		double a = p->start > r->since ? p->start : r->since;
		double e = p->end < r->until ? p->end : r->until;
		while (a < e) {
			double day0 = floor(a / 86400.0) * 86400.0, day1 = day0 + 86400.0;
			double seg = (e < day1 ? e : day1) - a;
			char key[16];
			time_t tt = (time_t)day0;
			struct tm tm;
			gmtime_r(&tt, &tm);
			strftime(key, sizeof key, "%Y-%m-%d", &tm);
			struct bucket *b = bucket(r, key);
			add(b, p, seg / 3600.0);
			b->pods++;
			a = day1;
		}
	}
}

static int cmd_report(void)
{
	struct report r = { .since = o.since ? parse_time(o.since, "--since") : 0,
			    .until = o.until ? parse_time(o.until, "--until") : now };
	if (!o.by)
		r.by = 0;
	else if (!strcmp(o.by, "pod"))
		r.by = 1;
	else if (!strcmp(o.by, "gpu"))
		r.by = 2;
	else if (!strcmp(o.by, "day"))
		r.by = 3;
	else
		rp_cli_usage(&cli, "--by wants pod, gpu or day, got '%s'", o.by);
	if (r.until < r.since)
		rp_cli_usage(&cli, "--until is before --since");
	long torn;
	char *err;
	if (rp_cost_scan(o.ledger, now, report_cb, &r, &torn, &err) < 0)
		die2(err);
	if (torn)
		rp_warn("ledger line %ld is torn (an interrupted write): ignored", torn);
	if (r.by == 3) /* days in order */
		for (size_t i = 1; i < r.n; i++)
			for (size_t j = i; j > 0 && strcmp(r.b[j - 1].key, r.b[j].key) > 0; j--) {
				struct bucket x = r.b[j];
				r.b[j] = r.b[j - 1];
				r.b[j - 1] = x;
			}
	for (size_t i = 0; i < r.n; i++) {
		cJSON *rec = bucket_rec(r.by == 2 ? "gpu" : "day", &r.b[i]);
		rp_out_rec(rec);
		cJSON_Delete(rec);
	}
	cJSON *t = bucket_rec("total", &r.total);
	char a[40], b[40];
	/* without --since, the window starts at the first pod it counted */
	double since = o.since ? r.since : (r.first > 0 ? r.first : r.until);
	cJSON_AddStringToObject(t, "since", rp_rfc3339(since, a, sizeof a));
	cJSON_AddStringToObject(t, "until", rp_rfc3339(r.until, b, sizeof b));
	cJSON_AddNumberToObject(t, "running", (double)r.running);
	if (o.egress_gb >= 0) {
		double per = rp_cfg_num(cfg, "cost.egress_per_gb");
		cJSON_AddNumberToObject(t, "egress_gb", o.egress_gb);
		cJSON_AddNumberToObject(t, "egress_cost", r2(o.egress_gb * per));
		cJSON_AddNumberToObject(t, "spend_with_egress",
					r2(r.total.spend_od + r.total.spend_spot + o.egress_gb * per));
	}
	if (torn)
		cJSON_AddNumberToObject(t, "torn_line", (double)torn);
	rp_out_rec(t);
	cJSON_Delete(t);
	free(r.b);
	return RP_EXIT_OK;
}

/* ---- breakeven ---- */

static int cmd_breakeven(void)
{
	struct rp_baseline b;
	char *err;
	if (rp_cost_baseline(cfg, &b, &err) < 0 || rp_cost_prices_check(cfg, &err) < 0)
		die2(err);
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(cfg, "cost.prices"))
	{
		for (int spot = 0; spot < 2; spot++) {
			double p;
			rp_cost_price(cfg, e->string, spot, &p, &err);
			cJSON *r = rp_rec_new("breakeven");
			cJSON_AddStringToObject(r, "gpu", e->string);
			cJSON_AddStringToObject(r, "market", spot ? "spot" : "on_demand");
			cJSON_AddNumberToObject(r, "price_per_gpu_hour", p);
			double gh = p > 0 ? b.monthly / p : INFINITY;
			cJSON_AddNumberToObject(r, "gpu_hours", isfinite(gh) ? round(gh * 10) / 10 : -1);
			cJSON_AddNumberToObject(r, "server_hours", isfinite(gh) ? round(gh / b.gpus * 10) / 10 : -1);
			cJSON_AddNumberToObject(r, "baseline_monthly", r2(b.monthly));
			cJSON_AddNumberToObject(r, "gpus_per_server", b.gpus);
			cJSON_AddNumberToObject(r, "hours_per_month", b.hours);
			char *arith = rp_xasprintf("%.0f + %.2f kW x %.0f h x %.2f = %.2f/month; / %.2f per GPU-hour"
						   " = %.1f GPU-hours = %.1f server-hours (%d GPUs)",
						   b.capex, b.power_kw, b.hours, b.kwh_price, b.monthly, p, gh,
						   gh / b.gpus, b.gpus);
			cJSON_AddStringToObject(r, "arithmetic", arith);
			free(arith);
			rp_out_rec(r);
			cJSON_Delete(r);
		}
	}
	return RP_EXIT_OK;
}

/* ---- recommend ---- */

struct gh_sum {
	double since, until, gpu_hours;
};

static void gh_cb(const struct rp_cost_pod *p, void *arg)
{
	struct gh_sum *s = arg;
	s->gpu_hours += rp_cost_hours(p, s->since, s->until) * (p->gpu_count > 0 ? p->gpu_count : 1);
}

static const char *pick_gpu(void)
{
	return o.gpu ? o.gpu : rp_cfg_str(cfg, "cost.baseline_gpu");
}

static int cmd_recommend(void)
{
	struct rp_baseline b;
	char *err;
	double p;
	if (rp_cost_baseline(cfg, &b, &err) < 0 || rp_cost_price(cfg, pick_gpu(), o.spot, &p, &err) < 0)
		die2(err);
	double h;
	const char *source;
	if (o.gpu_hours >= 0) {
		h = o.gpu_hours;
		source = "--gpu-hours";
	} else {
		if (o.days <= 0)
			rp_cli_usage(&cli, "--days must be positive");
		struct gh_sum s = { now - o.days * 86400, now, 0 };
		long torn;
		if (rp_cost_scan(o.ledger, now, gh_cb, &s, &torn, &err) < 0)
			die2(err);
		h = s.gpu_hours * b.hours / (o.days * 24);
		source = "ledger";
	}
	double cap = b.gpus * b.hours; /* GPU-hours one server gives a month */
	double cost[4];
	int best = 0;
	for (int k = 0; k < 4; k++) {
		double burst = h - k * cap;
		cost[k] = k * b.monthly + (burst > 0 ? burst : 0) * p;
		if (cost[k] < cost[best] - 1e-9)
			best = k;
	}
	static const char *names[] = { "RunPod only", "hybrid: burst + 1 baseline", "2+ baselines + burst for peaks" };
	cJSON *r = rp_rec_new("recommendation");
	cJSON_AddStringToObject(r, "recommendation", names[best > 2 ? 2 : best]);
	cJSON_AddNumberToObject(r, "baseline_servers", best);
	cJSON_AddStringToObject(r, "source", source);
	cJSON_AddNumberToObject(r, "burst_gpu_hours_per_month", r4(h));
	cJSON_AddNumberToObject(r, "breakeven_gpu_hours", round(b.monthly / p * 10) / 10);
	cJSON_AddNumberToObject(r, "server_capacity_gpu_hours", cap);
	cJSON_AddStringToObject(r, "gpu", pick_gpu());
	cJSON_AddStringToObject(r, "market", o.spot ? "spot" : "on_demand");
	cJSON_AddNumberToObject(r, "monthly_cost_runpod_only", r2(cost[0]));
	cJSON_AddNumberToObject(r, "monthly_cost_1_baseline", r2(cost[1]));
	cJSON_AddNumberToObject(r, "monthly_cost_2_baselines", r2(cost[2]));
	cJSON_AddNumberToObject(r, "monthly_cost_3_baselines", r2(cost[3]));
	rp_out_rec(r);
	cJSON_Delete(r);
	return RP_EXIT_OK;
}

/* ---- plan ---- */

static int cmd_plan(const char *path)
{
	struct rp_baseline b;
	struct rp_trace t = { 0 };
	char *err;
	double p;
	if (rp_cost_baseline(cfg, &b, &err) < 0 || rp_cost_price(cfg, pick_gpu(), o.spot, &p, &err) < 0)
		die2(err);
	if (rp_trace_load(path, &t, &err) < 0)
		die2(err);
	double peak = 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i] > peak)
			peak = t.v[i];
	int kmax = o.maxk >= 0 ? o.maxk : (int)ceil(peak / b.gpus);
	if (kmax > 1000)
		kmax = 1000;
	double *cost = rp_xcalloc((size_t)kmax + 1, sizeof *cost), *burst = rp_xcalloc((size_t)kmax + 1, sizeof *burst);
	int best = 0;
	for (int k = 0; k <= kmax; k++) {
		cost[k] = rp_plan_cost(&t, k, &b, p, &burst[k]);
		if (cost[k] < cost[best] - 1e-9)
			best = k;
	}
	double next = INFINITY;
	for (int k = 0; k <= kmax; k++)
		if (k != best && cost[k] < next)
			next = cost[k];
	int gnuplot = o.format && !strcmp(o.format, "gnuplot");
	if (o.format && !gnuplot && strcmp(o.format, "records"))
		rp_cli_usage(&cli, "--format wants records or gnuplot, got '%s'", o.format);
	if (gnuplot)
		printf("# baseline_servers monthly_cost burst_gpu_hours best\n");
	for (int k = 0; k <= kmax; k++) {
		if (gnuplot) {
			printf("%d %.2f %.2f %d\n", k, cost[k], burst[k], k == best);
			continue;
		}
		cJSON *r = rp_rec_new("plan");
		cJSON_AddNumberToObject(r, "baseline_servers", k);
		cJSON_AddNumberToObject(r, "monthly_cost", r2(cost[k]));
		cJSON_AddNumberToObject(r, "burst_gpu_hours", r4(burst[k]));
		cJSON_AddBoolToObject(r, "best", k == best);
		if (k == best && isfinite(next))
			cJSON_AddNumberToObject(r, "saving_vs_next", r2(next - cost[k]));
		cJSON_AddNumberToObject(r, "trace_hours", (double)t.n);
		rp_out_rec(r);
		cJSON_Delete(r);
	}
	free(cost);
	free(burst);
	free(t.v);
	return RP_EXIT_OK;
}

/* ---- simulate ---- */

static int cmd_simulate(const char *path)
{
	struct rp_baseline b;
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	char *err;
	double p;
	if (rp_cost_baseline(cfg, &b, &err) < 0 || rp_cost_price(cfg, pick_gpu(), o.spot, &p, &err) < 0)
		die2(err);
	if (rp_sim_load(path, &in, &err) < 0)
		die2(err);
	int k = o.baseline_servers >= 0 ? o.baseline_servers : 1;
	in.baseline_gpus = k * b.gpus;
	in.lag_threshold = (int)rp_cfg_int(cfg, "kafka.lag_threshold");
	in.idle = rp_cfg_dur(cfg, "scale.idle");
	in.cooldown = rp_cfg_dur(cfg, "scale.cooldown");
	in.boot = o.boot >= 0 ? o.boot : 120;
	in.tick = 15;
	in.max_nodes = (int)rp_cfg_int(cfg, "runpod.max_nodes");
	in.gpus_per_node = (int)rp_cfg_int(cfg, "runpod.gpu_count");
	in.preempt_per_hour = o.preempt;
	in.price_per_node_hour = p * in.gpus_per_node;
	in.baseline_monthly = k * b.monthly;
	in.hours_per_month = b.hours;
	in.seed = o.seed;
	rp_simulate(&in, &out);
	cJSON *r = rp_rec_new("simulation");
	cJSON_AddNumberToObject(r, "seed", (double)o.seed);
	cJSON_AddNumberToObject(r, "minutes", (double)in.minutes);
	cJSON_AddNumberToObject(r, "jobs", out.jobs);
	cJSON_AddNumberToObject(r, "baseline_servers", k);
	cJSON_AddNumberToObject(r, "lag_threshold", in.lag_threshold);
	cJSON_AddNumberToObject(r, "idle_s", in.idle);
	cJSON_AddNumberToObject(r, "cooldown_s", in.cooldown);
	cJSON_AddNumberToObject(r, "boot_s", in.boot);
	cJSON_AddNumberToObject(r, "launches", (double)out.launches);
	cJSON_AddNumberToObject(r, "preemptions", (double)out.preemptions);
	cJSON_AddNumberToObject(r, "node_hours", r4(out.node_hours));
	cJSON_AddNumberToObject(r, "burst_cost", r2(out.burst_cost));
	cJSON_AddNumberToObject(r, "baseline_cost", r2(out.baseline_cost));
	cJSON_AddNumberToObject(r, "cost_per_1000_jobs", r4(out.cost_per_1000));
	cJSON_AddNumberToObject(r, "wait_p50_s", r4(out.wait_p50));
	cJSON_AddNumberToObject(r, "wait_p95_s", r4(out.wait_p95));
	cJSON_AddNumberToObject(r, "wait_max_s", r4(out.wait_max));
	rp_out_rec(r);
	cJSON_Delete(r);
	free(in.jobs);
	free(in.work);
	return RP_EXIT_OK;
}

/* ---- metrics ---- */

struct metrics {
	struct rp_buf inst, up;
	double spend;
	long nodes;
};

static void label(struct rp_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			rp_buf_add(b, "\\", 1);
		if (*s == '\n')
			rp_buf_adds(b, "\\n");
		else
			rp_buf_add(b, s, 1);
	}
}

static void metrics_cb(const struct rp_cost_pod *p, void *arg)
{
	struct metrics *m = arg;
	m->spend += rp_cost_hours(p, 0, now) * p->cost_per_hr;
	if (!p->running)
		return;
	m->nodes++;
	struct rp_buf *bs[] = { &m->inst, &m->up };
	double vals[] = { p->cost_per_hr, (p->end - p->start) / 3600.0 };
	const char *names[] = { "runpod_instance_cost_per_hour", "runpod_instance_uptime_hours" };
	for (int i = 0; i < 2; i++) {
		rp_buf_addf(bs[i], "%s{pod=\"", names[i]);
		label(bs[i], p->name[0] ? p->name : p->id);
		rp_buf_adds(bs[i], "\",id=\"");
		label(bs[i], p->id);
		rp_buf_adds(bs[i], "\",gpu=\"");
		label(bs[i], p->gpu);
		rp_buf_addf(bs[i], "\",spot=\"%s\"} %.6g\n", p->spot ? "true" : "false", vals[i]);
	}
}

static int cmd_metrics(void)
{
	struct metrics m = { 0 };
	char *err;
	long torn;
	if (rp_cost_scan(o.ledger, now, metrics_cb, &m, &torn, &err) < 0)
		die2(err);
	struct rp_buf b = { 0 };
	rp_buf_adds(&b, "# HELP runpod_instance_cost_per_hour Price of each running burst pod, USD per hour.\n"
			"# TYPE runpod_instance_cost_per_hour gauge\n");
	if (m.inst.data)
		rp_buf_adds(&b, m.inst.data);
	rp_buf_adds(&b, "# HELP runpod_instance_uptime_hours Hours since each running burst pod was launched.\n"
			"# TYPE runpod_instance_uptime_hours gauge\n");
	if (m.up.data)
		rp_buf_adds(&b, m.up.data);
	rp_buf_addf(&b, "# HELP rp_spend_dollars_total Burst spend recorded in the ledger, USD.\n"
			"# TYPE rp_spend_dollars_total counter\nrp_spend_dollars_total %.4f\n", m.spend);
	rp_buf_addf(&b, "# HELP rp_burst_nodes Burst pods running, from the ledger.\n"
			"# TYPE rp_burst_nodes gauge\nrp_burst_nodes %ld\n", m.nodes);
	if (o.decision) {
		/* the last decision record of a file: queue depth and p95 */
		FILE *f = fopen(o.decision, "r");
		if (!f)
			rp_fatal(RP_EXIT_USAGE, "--decision %s: cannot read", o.decision);
		struct rp_rec_reader *rd = rp_rec_reader_new(f, o.decision, 0);
		cJSON *rec, *last = NULL;
		const char *raw;
		while (rp_rec_read(rd, &rec, &raw) == 1) {
			if (!strcmp(rp_rec_type(rec), "decision")) {
				cJSON_Delete(last);
				last = rec;
			} else {
				cJSON_Delete(rec);
			}
		}
		rp_rec_reader_free(rd);
		fclose(f);
		if (last) {
			double lag = rp_rec_num(last, "lag", NAN), p95 = rp_rec_num(last, "p95_s", NAN);
			if (!isnan(lag))
				rp_buf_addf(&b, "# HELP rp_queue_lag Kafka consumer-group lag (messages).\n"
						"# TYPE rp_queue_lag gauge\nrp_queue_lag %.0f\n", lag);
			if (!isnan(p95))
				rp_buf_addf(&b, "# HELP rp_p95_latency_seconds p95 transcoding latency.\n"
						"# TYPE rp_p95_latency_seconds gauge\nrp_p95_latency_seconds %.3f\n", p95);
			const char *act = rp_rec_str(last, "action");
			rp_buf_addf(&b, "# HELP rp_last_decision_timestamp_seconds Time of the last decision.\n"
					"# TYPE rp_last_decision_timestamp_seconds gauge\n"
					"rp_last_decision_timestamp_seconds{action=\"%s\"} %.0f\n", act ? act : "unknown", now);
			cJSON_Delete(last);
		}
	}
	if (o.output) {
		if (rp_write_atomic(o.output, b.data, b.len, 0644) < 0)
			rp_fatal(RP_EXIT_FAIL, "unable to write %s: %s", o.output, strerror(errno));
	} else {
		fwrite(b.data, 1, b.len, stdout);
	}
	rp_buf_free(&b);
	rp_buf_free(&m.inst);
	rp_buf_free(&m.up);
	return RP_EXIT_OK;
}

/* ---- prices ---- */

static int cmd_prices(void)
{
	char *err;
	if (rp_cost_prices_check(cfg, &err) < 0)
		die2(err);
	cJSON *cat = NULL;
	struct rp_runpod *rp = NULL;
	if (o.live) {
		rp = rp_runpod_open(cfg, &err);
		if (!rp)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
		int rc = rp_runpod_catalog(rp, &cat, &err);
		if (rc)
			rp_fatal(rc, "unable to read the RunPod catalog: %s", err);
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(cfg, "cost.prices"))
	{
		double od, sp;
		rp_cost_price(cfg, e->string, 0, &od, &err);
		rp_cost_price(cfg, e->string, 1, &sp, &err);
		cJSON *r = rp_rec_new("price");
		cJSON_AddStringToObject(r, "gpu", e->string);
		cJSON_AddNumberToObject(r, "on_demand", od);
		cJSON_AddNumberToObject(r, "spot", sp);
		if (cat) {
			const cJSON *g, *hit = NULL;
			cJSON_ArrayForEach(g, cat)
			{
				const cJSON *id = cJSON_GetObjectItemCaseSensitive(g, "id");
				if (cJSON_IsString(id) && !strcmp(id->valuestring, e->string))
					hit = g;
			}
			if (hit) {
				const char *cloud = rp_cfg_str(cfg, "runpod.cloud");
				double lod = rp_runpod_catalog_price(hit, cloud, 0), lsp = rp_runpod_catalog_price(hit, cloud, 1);
				const char *av = rp_runpod_catalog_avail(hit, NULL);
				if (lod >= 0)
					cJSON_AddNumberToObject(r, "live_on_demand", lod);
				if (lsp >= 0)
					cJSON_AddNumberToObject(r, "live_spot", lsp);
				if (av)
					cJSON_AddStringToObject(r, "availability", av);
			} else {
				cJSON_AddStringToObject(r, "live", "not in catalog");
			}
		}
		rp_out_rec(r);
		cJSON_Delete(r);
	}
	cJSON_Delete(cat);
	rp_runpod_free(rp);
	return RP_EXIT_OK;
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
		case O_LEDGER: o.ledger = optarg; break;
		case O_NOW: o.now = optarg; break;
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
	int rc;
	if (!strcmp(sub, "report"))
		rc = cmd_report();
	else if (!strcmp(sub, "breakeven"))
		rc = cmd_breakeven();
	else if (!strcmp(sub, "recommend"))
		rc = cmd_recommend();
	else if (!strcmp(sub, "plan"))
		rc = cmd_plan(argv[optind]);
	else if (!strcmp(sub, "simulate"))
		rc = cmd_simulate(argv[optind]);
	else if (!strcmp(sub, "metrics"))
		rc = cmd_metrics();
	else if (!strcmp(sub, "prices"))
		rc = cmd_prices();
	else
		rp_cli_usage(&cli, "unknown subcommand '%s'", sub);
	rp_out_flush();
	rp_config_free(cfg);
	rp_cli_free(&cli);
	return rp_finish(rc);
}
