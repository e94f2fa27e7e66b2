/* policy.c — the scaling policies rp-cost simulates (see policy.h). */
#include "policy.h"
#include "cost.h"
#include "decide.h"
#include "rp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const rp_policies[] = { "seed", "default", "prewarm", "warmpool", "spot", "spot-warmpool", NULL };

enum { SEED, DEFAULT, PREWARM, WARMPOOL, SPOT, SPOTPOOL };

/* The GPU type rp-launch would try first: launch.c's order over
 * runpod.gpu_types, with cost.prices standing in for the catalog. */
static const char *first_gpu(const struct rp_config *c, int spot, char **err)
{
	const char *order = rp_cfg_str(c, "runpod.order"), *best = NULL;
	double best_v = INFINITY;
	const cJSON *g;
	cJSON_ArrayForEach(g, rp_cfg_json(c, "runpod.gpu_types"))
	{
		if (!cJSON_IsString(g))
			continue;
		double tp = rp_gpu_throughput(c, g->valuestring), p;
		if (tp <= 0)
			continue; /* encodes nothing: launch.c never rents it, under any order */
		if (!order || !strcmp(order, "preference"))
			return g->valuestring;
		if (rp_cost_price(c, g->valuestring, spot, &p, err) < 0)
			return NULL;
		double v = !strcmp(order, "value") ? p / tp : p;
		if (v < best_v)
			best_v = v, best = g->valuestring;
	}
	if (!best)
		*err = rp_xasprintf("runpod.gpu_types (%s) has no GPU type whose cost.throughput is above 0",
				    rp_cfg_where(c, "runpod.gpu_types"));
	return best;
}

/* Burst nodes Little's law asks for in hour h of day d: L = lambda W
 * busy slots, less the baseline's, over a node's slots. */
static int little(const struct rp_sim_in *in, size_t hour, double slots)
{
	double work = 0;
	for (size_t m = hour * 60; m < hour * 60 + 60 && m < in->minutes; m++)
		work += in->jobs[m] * (in->work[m] > 0 ? in->work[m] : 60);
	double busy = work / 3600.0; /* lambda (jobs/s) x W (s) = GPU-seconds per second */
	double n = floor((busy - in->baseline_gpus) / slots);
	return n > 0 ? (int)n : 0;
}

int rp_policy_prewarm_at(const struct rp_sim_in *in, size_t h)
{
	size_t hours = (in->minutes + 59) / 60;
	double slots = in->gpus_per_node > 0 ? in->gpus_per_node : 1, sum = 0;
	int k = 0;
	for (size_t back = 1; back <= 7 && back * 24 <= h; back++) {
		if (h - back * 24 >= hours)
			continue; /* past the trace's end: no history for that day */
		sum += little(in, h - back * 24, slots);
		k++;
	}
	int n = k ? (int)floor(sum / k) : 0;
	return in->rule.max_nodes > 0 && n > in->rule.max_nodes ? (int)in->rule.max_nodes : n;
}

/* prewarm: rp_policy_prewarm_at() for every hour of the trace, handed
 * to rp_decide as scale.prewarm's floor, a boot ahead (sim.h). */
static void make_prewarm(struct rp_sim_in *in)
{
	size_t hours = (in->minutes + 59) / 60;
	int *v = rp_xcalloc(hours + 1, sizeof *v);
	for (size_t h = 0; h < hours; h++)
		v[h] = rp_policy_prewarm_at(in, h);
	in->prewarm = v;
	in->prewarm_hours = hours;
	in->lead = in->boot;
}

/* warm pool: the least over every day at each hour of day, as
 * scale.warm_pool in the rule itself (rp_decide keeps it, as for
 * rp-lagwatch); at most max_nodes, as the key allows. */
static void make_warm_pool(struct rp_sim_in *in)
{
	size_t hours = (in->minutes + 59) / 60, days = (hours + 23) / 24;
	double slots = in->gpus_per_node > 0 ? in->gpus_per_node : 1;
	for (int h = 0; h < RP_HOURS; h++) {
		int least = -1;
		for (size_t d = 0; d < days; d++) {
			size_t x = d * 24 + (size_t)h;
			if (x >= hours)
				continue;
			int n = little(in, x, slots);
			if (least < 0 || n < least)
				least = n;
		}
		in->rule.warm_pool[h] = least < 0 ? 0 : least > in->rule.max_nodes ? (int)in->rule.max_nodes : least;
	}
}

const char *rp_policy_burst_gpu(const struct rp_config *c, int spot, char **err)
{
	return first_gpu(c, spot, err);
}

int rp_policy_spot(const struct rp_config *c, int force, int *fallback)
{
	*fallback = force || rp_cfg_bool(c, "runpod.spot_fallback");
	return force || rp_cfg_bool(c, "runpod.spot");
}

int rp_policy_setup(const struct rp_config *c, const char *name, const struct rp_policy_opts *o,
		    struct rp_sim_in *in, const char **gpu_out, char **err)
{
	int kind = -1;
	for (int i = 0; rp_policies[i]; i++)
		if (!strcmp(rp_policies[i], name))
			kind = i;
	if (kind < 0) {
		*err = rp_xasprintf("unknown policy '%s' (seed, default, prewarm, warmpool, spot or spot-warmpool)",
				    name);
		return -1;
	}
	struct rp_baseline b;
	if (rp_cost_baseline(c, &b, err) < 0)
		return -1;
	/* the seed is the fixed point of comparison: no override moves it */
	int fallback, spot = rp_policy_spot(c, kind == SPOT || kind == SPOTPOOL || o->spot, &fallback) && kind != SEED;
	const char *gpu = kind == SEED ? NULL : o->gpu;
	if (!gpu && kind == SEED) {
		const cJSON *g0 = cJSON_GetArrayItem(rp_cfg_json(c, "runpod.gpu_types"), 0);
		gpu = cJSON_IsString(g0) ? g0->valuestring : NULL;
		if (!gpu) {
			*err = rp_xasprintf("runpod.gpu_types is empty");
			return -1;
		}
	} else if (!gpu && !(gpu = first_gpu(c, spot, err))) {
		return -1;
	}
	double od, sp, tp = rp_gpu_throughput(c, gpu);
	if (rp_cost_price(c, gpu, 0, &od, err) < 0 || rp_cost_price(c, gpu, 1, &sp, err) < 0)
		return -1;
	if (tp <= 0) {
		*err = rp_xasprintf("cost.throughput of '%s' is 0: it encodes nothing", gpu);
		return -1;
	}
	int k = o->baseline_servers >= 0 ? o->baseline_servers : 1;
	long gpn = rp_cfg_int(c, "runpod.gpu_count");
	if (gpn < 1)
		gpn = 1;
	in->baseline_gpus = k * b.gpus;
	if (kind == SEED) {
		in->rule = (struct rp_decide_in){ .lag_threshold = 5, .p95_threshold = 30, .max_nodes = 50,
						  .cooldown = 300 };
		in->idle = 60;
	} else {
		rp_decide_rule(c, &in->rule);
		in->idle = rp_cfg_dur(c, "scale.idle");
	}
	in->notready_grace = rp_cfg_dur(c, "scale.notready_grace");
	in->boot = o->boot >= 0 ? o->boot : rp_cfg_dur(c, "cost.boot");
	in->boot_sigma = rp_cfg_num(c, "cost.boot_sigma");
	in->boot_min = 60;
	in->boot_max = 600;
	in->job_sigma = rp_cfg_num(c, "cost.job_sigma");
	in->tick = 15;
	in->gpus_per_node = (int)(gpn * tp);
	if (in->gpus_per_node < 1)
		in->gpus_per_node = 1;
	in->spot = spot;
	in->spot_fallback = fallback;
	in->spot_stock = rp_cfg_num(c, "cost.spot_stock");
	in->preempt_per_hour = o->preempt_rate >= 0 ? o->preempt_rate : rp_cfg_num(c, "cost.preempt_per_hour");
	in->price_per_node_hour = od * (double)gpn;
	in->spot_price_per_node_hour = sp * (double)gpn;
	in->baseline_monthly = k * b.monthly;
	in->hours_per_month = b.hours;
	in->prewarm = NULL;
	in->prewarm_hours = 0;
	in->lead = 0;
	if (kind == PREWARM)
		make_prewarm(in);
	if (kind == WARMPOOL || kind == SPOTPOOL)
		make_warm_pool(in);
	*gpu_out = gpu;
	return 0;
}

void rp_policy_free(struct rp_sim_in *in)
{
	free((void *)in->prewarm); /* only make_prewarm() sets it */
	in->prewarm = NULL;
	in->prewarm_hours = 0;
}

static void stat_add(struct rp_policy_stat *s, double x, double *sq)
{
	s->mean += x;
	*sq += x * x;
}

static void stat_end(struct rp_policy_stat *s, double sq, int n)
{
	double sum = s->mean;
	s->mean = sum / n;
	double var = n > 1 ? (sq - sum * sum / n) / (n - 1) : 0;
	s->spread = var > 0 ? sqrt(var) : 0;
}

void rp_policy_run(struct rp_sim_in *in, unsigned long long seed, int seeds, struct rp_policy_result *r)
{
	memset(r, 0, sizeof *r);
	if (seeds < 1)
		seeds = 1;
	double sq[4] = { 0 };
	for (int i = 0; i < seeds; i++) {
		struct rp_sim_out out;
		in->seed = seed + (unsigned long long)i;
		rp_simulate(in, &out);
		if (!i)
			r->first = out;
		stat_add(&r->cost_per_1000, out.cost_per_1000, &sq[0]);
		stat_add(&r->wait_p95, out.wait_p95, &sq[1]);
		stat_add(&r->preemptions, (double)out.preemptions, &sq[2]);
		stat_add(&r->node_hours, out.node_hours, &sq[3]);
	}
	stat_end(&r->cost_per_1000, sq[0], seeds);
	stat_end(&r->wait_p95, sq[1], seeds);
	stat_end(&r->preemptions, sq[2], seeds);
	stat_end(&r->node_hours, sq[3], seeds);
	r->seeds = seeds;
	in->seed = seed;
}
