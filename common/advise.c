/* advise.c — rp-cost breakeven, recommend, plan, simulate, prices (see advise.h). */
#include "advise.h"
#include "cost.h"
#include "decide.h"
#include "prewarm.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"
#include "policy.h"
#include "sim.h"
#include "state.h"
#include "trace.h"
#include "warmpool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *pick_gpu(const struct rp_advise *a)
{
	return a->gpu ? a->gpu : rp_cfg_str(a->cfg, "cost.baseline_gpu");
}

/* The baseline and the price of the GPU compared with it, in a market. */
static int base_price(const struct rp_advise *a, int spot, struct rp_baseline *b, double *p, char **err)
{
	if (rp_cost_baseline(a->cfg, b, err) < 0 || rp_cost_price(a->cfg, pick_gpu(a), spot, p, err) < 0)
		return -1;
	return 0;
}

int rp_advise_breakeven(const struct rp_advise *a, char **err)
{
	struct rp_baseline b;
	if (rp_cost_baseline(a->cfg, &b, err) < 0 || rp_cost_prices_check(a->cfg, err) < 0)
		return RP_EXIT_USAGE;
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(a->cfg, "cost.prices"))
	{
		for (int spot = 0; spot < 2; spot++) {
			double p;
			rp_cost_price(a->cfg, e->string, spot, &p, err);
			cJSON *r = rp_rec_new("breakeven");
			cJSON_AddStringToObject(r, "gpu", e->string);
			cJSON_AddStringToObject(r, "market", spot ? "spot" : "on_demand");
			cJSON_AddNumberToObject(r, "price_per_gpu_hour", p);
			double gh = p > 0 ? b.monthly / p : INFINITY;
			cJSON_AddNumberToObject(r, "gpu_hours", isfinite(gh) ? round(gh * 10) / 10 : -1);
			cJSON_AddNumberToObject(r, "server_hours", isfinite(gh) ? round(gh / b.gpus * 10) / 10 : -1);
			cJSON_AddNumberToObject(r, "baseline_monthly", rp_cost_cents(b.monthly));
			cJSON_AddNumberToObject(r, "gpus_per_server", b.gpus);
			cJSON_AddNumberToObject(r, "hours_per_month", b.hours);
			/* one server gives at most hours_per_month server-hours a month */
			int never = !isfinite(gh) || gh / b.gpus > b.hours;
			cJSON_AddStringToObject(r, "breakeven", never ? "never" : "reached");
			char *arith = rp_xasprintf("%.0f + %.2f kW x %.0f h x %.2f = %.2f/month; / %.2f per GPU-hour"
						   " = %.1f GPU-hours = %.1f server-hours (%d GPUs)%s",
						   b.capex, b.power_kw, b.hours, b.kwh_price, b.monthly, p, gh,
						   gh / b.gpus, b.gpus,
						   never ? "; more than one server gives in a month: never" : "");
			cJSON_AddStringToObject(r, "arithmetic", arith);
			free(arith);
			rp_out_rec(r);
			cJSON_Delete(r);
		}
	}
	return RP_EXIT_OK;
}

/* Burst GPU-hours by hour of day, summed over the window (ledger). */
struct gh_prof {
	double since, until, by_hour[24];
};

static void prof_cb(const struct rp_cost_pod *p, void *arg)
{
	struct gh_prof *s = arg;
	double a = p->start > s->since ? p->start : s->since, e = p->end < s->until ? p->end : s->until;
	double n = p->gpu_count > 0 ? p->gpu_count : 1;
	while (a < e) { /* hour by hour */
		double next = (floor(a / 3600) + 1) * 3600, b = next < e ? next : e;
		s->by_hour[(long)(a / 3600) % 24] += (b - a) / 3600 * n;
		a = b;
	}
}

int rp_advise_recommend(const struct rp_advise *a, char **err)
{
	struct rp_baseline b;
	double p;
	/* the market rp-launch rents (the default policy's): spot first */
	int fallback, spot = rp_policy_spot(a->cfg, a->spot, &fallback);
	if (base_price(a, spot, &b, &p, err) < 0)
		return RP_EXIT_USAGE;
	double h, prof[24]; /* prof: burst GPUs busy at each hour of day, on average */
	const char *source;
	if (a->gpu_hours >= 0) {
		h = a->gpu_hours;
		source = "--gpu-hours";
		for (int i = 0; i < 24; i++)
			prof[i] = h / b.hours; /* flat */
	} else {
		struct gh_prof s = { a->now - a->days * 86400, a->now, { 0 } };
		long torn;
		if (rp_cost_scan(a->ledger, a->now, prof_cb, &s, &torn, err) < 0)
			return RP_EXIT_USAGE;
		h = 0;
		for (int i = 0; i < 24; i++) {
			prof[i] = s.by_hour[i] / a->days;
			h += s.by_hour[i];
		}
		h = h * b.hours / (a->days * 24);
		source = "ledger";
	}
	/* k servers with headroom give k x gpus x (1 - headroom) GPUs each
	 * hour (queues stay short below full load); the rest bursts. */
	double headroom = a->headroom >= 0 && a->headroom < 1 ? a->headroom : 0.2;
	double peak = 0;
	for (int i = 0; i < 24; i++)
		peak = prof[i] > peak ? prof[i] : peak;
	int kmax = (int)ceil(peak / (b.gpus * (1 - headroom))) + 1;
	if (kmax < 3)
		kmax = 3;
	if (kmax > 1000)
		kmax = 1000;
	double *cost = rp_xcalloc((size_t)kmax + 1, sizeof *cost);
	int best = 0;
	for (int k = 0; k <= kmax; k++) {
		double burst = 0, cap = k * b.gpus * (1 - headroom);
		for (int i = 0; i < 24; i++)
			burst += prof[i] > cap ? prof[i] - cap : 0;
		cost[k] = k * b.monthly + burst * b.hours / 24 * p;
		if (cost[k] < cost[best] - 1e-9)
			best = k;
	}
	static const char *names[] = { "RunPod only", "hybrid: burst + 1 baseline", "2+ baselines + burst for peaks" };
	char *bgerr = NULL;
	const char *burst_gpu = rp_policy_burst_gpu(a->cfg, spot, &bgerr);
	cJSON *r = rp_rec_new("recommendation");
	cJSON_AddStringToObject(r, "recommendation", names[best > 2 ? 2 : best]);
	cJSON_AddNumberToObject(r, "baseline_servers", best);
	cJSON_AddStringToObject(r, "source", source);
	cJSON_AddNumberToObject(r, "burst_gpu_hours_per_month", rp_cost_r4(h));
	cJSON_AddNumberToObject(r, "peak_burst_gpus", rp_cost_r4(peak));
	cJSON_AddNumberToObject(r, "headroom", headroom);
	cJSON_AddNumberToObject(r, "breakeven_gpu_hours", round(b.monthly / p * 10) / 10);
	cJSON_AddNumberToObject(r, "server_capacity_gpu_hours", b.gpus * b.hours);
	cJSON_AddStringToObject(r, "gpu", pick_gpu(a));
	cJSON_AddStringToObject(r, "market", spot ? "spot" : "on_demand");
	if (spot)
		cJSON_AddBoolToObject(r, "spot_fallback", fallback);
	if (burst_gpu)
		cJSON_AddStringToObject(r, "burst_on", burst_gpu);
	free(bgerr);
	cJSON_AddNumberToObject(r, "monthly_cost", rp_cost_cents(cost[best]));
	cJSON_AddNumberToObject(r, "monthly_cost_runpod_only", rp_cost_cents(cost[0]));
	cJSON_AddNumberToObject(r, "monthly_cost_1_baseline", rp_cost_cents(cost[1]));
	cJSON_AddNumberToObject(r, "monthly_cost_2_baselines", rp_cost_cents(cost[2]));
	cJSON_AddNumberToObject(r, "monthly_cost_3_baselines", rp_cost_cents(cost[3]));
	rp_out_rec(r);
	cJSON_Delete(r);
	free(cost);
	return RP_EXIT_OK;
}

int rp_advise_plan(const struct rp_advise *a, const char *path, char **err)
{
	struct rp_baseline b;
	struct rp_trace t = { 0 };
	double p;
	/* priced in the market rp-launch rents, as recommend */
	int fallback, spot = rp_policy_spot(a->cfg, a->spot, &fallback);
	if (base_price(a, spot, &b, &p, err) < 0 || rp_trace_load(path, &t, err) < 0)
		return RP_EXIT_USAGE;
	double peak = 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i] > peak)
			peak = t.v[i];
	int kmax = a->max_servers >= 0 ? a->max_servers : (int)ceil(peak / b.gpus);
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
	if (a->gnuplot)
		printf("# baseline_servers monthly_cost burst_gpu_hours best\n");
	for (int k = 0; k <= kmax; k++) {
		if (a->gnuplot) {
			printf("%d %.2f %.2f %d\n", k, cost[k], burst[k], k == best);
			continue;
		}
		cJSON *r = rp_rec_new("plan");
		cJSON_AddNumberToObject(r, "baseline_servers", k);
		cJSON_AddNumberToObject(r, "monthly_cost", rp_cost_cents(cost[k]));
		cJSON_AddNumberToObject(r, "burst_gpu_hours", rp_cost_r4(burst[k]));
		cJSON_AddBoolToObject(r, "best", k == best);
		if (k == best && isfinite(next))
			cJSON_AddNumberToObject(r, "saving_vs_next", rp_cost_cents(next - cost[k]));
		cJSON_AddNumberToObject(r, "trace_hours", (double)t.n);
		cJSON_AddStringToObject(r, "market", spot ? "spot" : "on_demand");
		rp_out_rec(r);
		cJSON_Delete(r);
	}
	free(cost);
	free(burst);
	free(t.v);
	return RP_EXIT_OK;
}

static void add_stat(cJSON *r, const char *k, const struct rp_policy_stat *st, int seeds)
{
	cJSON_AddNumberToObject(r, k, rp_cost_r4(st->mean));
	if (seeds > 1) {
		char *ks = rp_xasprintf("%s_spread", k);
		cJSON_AddNumberToObject(r, ks, rp_cost_r4(st->spread));
		free(ks);
	}
}

/* --steps: each poll of the first seed as a record, what rp_decide saw
 * and said (the input rp-lagwatch would have) and what the poll did. */
static void print_step(const struct rp_decide_in *seen, const struct rp_decide_out *said, int launched, int live,
		       void *arg)
{
	cJSON *r = rp_rec_new("step");
	cJSON_AddStringToObject(r, "policy", arg);
	cJSON_AddNumberToObject(r, "t", seen->now);
	cJSON_AddNumberToObject(r, "lag", (double)seen->lag);
	cJSON_AddNumberToObject(r, "burst_nodes", seen->burst_nodes);
	cJSON_AddNumberToObject(r, "lost_nodes", seen->lost_nodes);
	cJSON_AddNumberToObject(r, "idle_nodes", seen->idle_nodes);
	cJSON_AddNumberToObject(r, "prewarm", seen->prewarm);
	cJSON_AddStringToObject(r, "action", rp_decide_action(said->action));
	cJSON_AddNumberToObject(r, "count", said->count);
	cJSON_AddStringToObject(r, "reason", said->reason);
	cJSON_AddNumberToObject(r, "launched", launched);
	cJSON_AddNumberToObject(r, "live", live);
	rp_out_rec(r);
	cJSON_Delete(r);
}

/* One policy over the trace: its record. */
static int simulate_one(const struct rp_advise *a, const char *policy, struct rp_sim_in *in, char **err)
{
	struct rp_policy_opts po = { .baseline_servers = a->baseline_servers, .boot = a->boot,
				     .preempt_rate = a->preempt_rate, .gpu = a->gpu, .spot = a->spot };
	const char *gpu;
	struct rp_policy_result res;
	if (rp_policy_setup(a->cfg, policy, &po, in, &gpu, err) < 0)
		return -1;
	int seeds = a->seeds > 0 ? a->seeds : 1;
	if (a->steps) { /* one seed (rp-cost refuses --steps with --seeds) */
		in->on_step = print_step;
		in->arg = (void *)policy;
	}
	rp_policy_run(in, a->seed, seeds, &res);
	in->on_step = NULL;
	in->arg = NULL;
	const struct rp_sim_out *out = &res.first;
	cJSON *r = rp_rec_new("simulation");
	cJSON_AddStringToObject(r, "policy", policy);
	cJSON_AddStringToObject(r, "gpu", gpu);
	cJSON_AddStringToObject(r, "market", in->spot ? (in->spot_fallback ? "spot+fallback" : "spot") : "on_demand");
	cJSON_AddNumberToObject(r, "jobs_per_node", in->gpus_per_node);
	cJSON_AddNumberToObject(r, "seed", (double)a->seed);
	cJSON_AddNumberToObject(r, "seeds", seeds);
	cJSON_AddNumberToObject(r, "minutes", (double)in->minutes);
	cJSON_AddNumberToObject(r, "jobs", out->jobs);
	cJSON_AddNumberToObject(r, "baseline_servers", a->baseline_servers >= 0 ? a->baseline_servers : 1);
	cJSON_AddNumberToObject(r, "lag_threshold", (double)in->rule.lag_threshold);
	cJSON_AddNumberToObject(r, "idle_s", in->idle);
	cJSON_AddNumberToObject(r, "cooldown_s", in->rule.cooldown);
	cJSON_AddNumberToObject(r, "boot_s", in->boot);
	cJSON_AddNumberToObject(r, "preempt_per_hour", in->spot ? in->preempt_per_hour : 0);
	cJSON_AddNumberToObject(r, "polls", (double)out->polls);
	cJSON_AddNumberToObject(r, "ups", (double)out->ups);
	cJSON_AddNumberToObject(r, "downs", (double)out->downs);
	cJSON_AddNumberToObject(r, "launches", (double)out->launches);
	cJSON_AddNumberToObject(r, "spot_launches", (double)out->spot_launches);
	cJSON_AddNumberToObject(r, "fallbacks", (double)out->fallbacks);
	add_stat(r, "preemptions", &res.preemptions, seeds);
	add_stat(r, "node_hours", &res.node_hours, seeds);
	cJSON_AddNumberToObject(r, "burst_cost", rp_cost_cents(out->burst_cost));
	cJSON_AddNumberToObject(r, "baseline_cost", rp_cost_cents(out->baseline_cost));
	add_stat(r, "cost_per_1000_jobs", &res.cost_per_1000, seeds);
	cJSON_AddNumberToObject(r, "wait_p50_s", rp_cost_r4(out->wait_p50));
	add_stat(r, "wait_p95_s", &res.wait_p95, seeds);
	cJSON_AddNumberToObject(r, "wait_max_s", rp_cost_r4(out->wait_max));
	int any = 0;
	for (int h = 0; h < RP_HOURS; h++)
		any |= in->rule.warm_pool[h] > 0;
	if (any) { /* the value of scale.warm_pool that keeps this floor */
		char *wp = rp_warm_pool_format(in->rule.warm_pool);
		cJSON_AddItemToObject(r, "warm_pool", cJSON_Parse(wp));
		free(wp);
	}
	if (in->prewarm) { /* prewarm.json's floors and lead, from the trace's start */
		cJSON *fl = cJSON_AddArrayToObject(r, "prewarm_floors");
		for (size_t h = 0; h < in->prewarm_hours; h++)
			cJSON_AddItemToArray(fl, cJSON_CreateNumber(in->prewarm[h]));
		cJSON_AddNumberToObject(r, "prewarm_lead_s", in->lead);
	}
	rp_out_rec(r);
	cJSON_Delete(r);
	rp_policy_free(in);
	return 0;
}

int rp_advise_simulate(const struct rp_advise *a, const char *path, char **err)
{
	struct rp_sim_in in = { 0 };
	if (rp_sim_load(path, &in, err) < 0)
		return RP_EXIT_USAGE;
	int rc = RP_EXIT_OK;
	if (a->compare) {
		for (int i = 0; rp_policies[i] && rc == RP_EXIT_OK; i++)
			if (simulate_one(a, rp_policies[i], &in, err) < 0)
				rc = RP_EXIT_USAGE;
	} else if (simulate_one(a, a->policy ? a->policy : "default", &in, err) < 0) {
		rc = RP_EXIT_USAGE;
	}
	free(in.jobs);
	free(in.work);
	return rc;
}

int rp_advise_prewarm(const struct rp_advise *a, char **err)
{
	struct rp_baseline b;
	if (rp_cost_baseline(a->cfg, &b, err) < 0)
		return RP_EXIT_USAGE;
	/* the last 7 whole days up to the current hour's start: trace hour
	 * 7 x 24 + i is the i-th hour from now */
	int k = a->baseline_servers >= 0 ? a->baseline_servers : 1;
	double from = floor(a->now / 3600) * 3600;
	struct rp_trace_src src = { .ledger = a->ledger, .decision = a->decision, .job_s = a->job_s,
				    .since = from - 7 * 86400.0, .until = from, .baseline_slots = k * b.gpus };
	struct rp_mtrace t;
	if (rp_trace_estimate(a->cfg, &src, &t, err) < 0)
		return RP_EXIT_USAGE;
	struct rp_sim_in in = { .jobs = t.jobs, .work = t.work, .minutes = t.minutes };
	struct rp_policy_opts po = { .baseline_servers = a->baseline_servers, .boot = a->boot, .preempt_rate = -1,
				     .gpu = a->gpu, .spot = a->spot };
	const char *gpu;
	if (rp_policy_setup(a->cfg, "prewarm", &po, &in, &gpu, err) < 0) {
		rp_trace_free(&t);
		return RP_EXIT_USAGE;
	}
	/* 25 hours: the next 24 and the one a boot ahead of their end */
	int fl[RP_HOURS + 1];
	cJSON *r = rp_rec_new("prewarm"), *arr = cJSON_CreateArray();
	for (int i = 0; i <= RP_HOURS; i++) {
		fl[i] = rp_policy_prewarm_at(&in, (size_t)7 * 24 + (size_t)i); /* at most max_nodes */
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(fl[i]));
	}
	char ts[40], *path = rp_state_path(RP_STATE_PREWARM, NULL);
	int rc = RP_EXIT_OK;
	if (rp_prewarm_save(from, in.boot, fl, RP_HOURS + 1) < 0) {
		*err = rp_xasprintf("unable to write %s: %s", path, strerror(errno));
		rc = RP_EXIT_FAIL;
		cJSON_Delete(r);
		cJSON_Delete(arr);
	} else {
		cJSON_AddStringToObject(r, "from", rp_rfc3339(from, ts, sizeof ts));
		cJSON_AddNumberToObject(r, "lead_s", in.boot);
		cJSON_AddStringToObject(r, "gpu", gpu);
		cJSON_AddNumberToObject(r, "jobs_per_node", in.gpus_per_node);
		cJSON_AddItemToObject(r, "floors", arr);
		cJSON_AddStringToObject(r, "file", path);
		rp_out_rec(r);
		cJSON_Delete(r);
	}
	free(path);
	rp_policy_free(&in);
	rp_trace_free(&t);
	return rc;
}

int rp_advise_prices(const struct rp_advise *a, const cJSON *cat, char **err)
{
	if (rp_cost_prices_check(a->cfg, err) < 0)
		return RP_EXIT_USAGE;
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(a->cfg, "cost.prices"))
	{
		double od, sp;
		rp_cost_price(a->cfg, e->string, 0, &od, err);
		rp_cost_price(a->cfg, e->string, 1, &sp, err);
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
				const char *cloud = rp_cfg_str(a->cfg, "runpod.cloud");
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
	return RP_EXIT_OK;
}
