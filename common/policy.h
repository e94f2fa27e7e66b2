/* policy.h — the scaling policies rp-cost simulates and compares: each is
 * the shipped rule (rp_decide, through sim.h's simulator) plus what it
 * rents and, for some, a floor of nodes kept ahead of demand.
 *
 * Promises:
 *  - seed: the seed's thresholds (lag 5, p95 30 s, cooldown 5 m, idle
 *    60 s, max_nodes 50), on-demand pods of the first GPU type in
 *    runpod.gpu_types, whatever the options' gpu and spot say.
 *  - default: what ships: the configured rule (rp_decide_rule, scale.idle,
 *    scale.warm_pool included),
 *    the GPU type rp-launch tries first (runpod.order over
 *    runpod.gpu_types, priced from cost.prices and cost.throughput as
 *    launch.c ranks them; a type with throughput 0 is never rented) and
 *    its market (runpod.spot, runpod.spot_fallback), read as rp-lagwatch
 *    and rp-launch read them: with no configuration file, exactly the
 *    shipped defaults (spot with fallback, order value, lag 4).  That
 *    market is rp_policy_spot(), the one reading of it (rp-cost recommend
 *    prices and names its burst GPU by it too).
 *  - prewarm: default plus a floor: for each hour, the burst nodes Little's
 *    law asks for (L = lambda W: arrivals per second at the same hour of
 *    the previous days, at most 7, times the mean job's GPU-seconds, less
 *    the baseline's slots, over the jobs a node runs at once, rounded
 *    down; rp_policy_prewarm_at()), in in->prewarm with a lead of one
 *    median boot, so that rp_decide keeps it exactly as it keeps
 *    scale.prewarm for rp-lagwatch (in->prewarm at now + lead, sim.h):
 *    rp-lagwatch with a prewarm.json of those floors (from the trace's
 *    start, that lead) decides the same.  The first day has no floor.
 *  - warmpool: default with its scale.warm_pool replaced by a floor by hour
 *    of day: the smallest of those Little's-law node counts over every
 *    day of the trace at that hour (at most max_nodes; the trace starts at
 *    00:00 UTC), in in->rule.warm_pool, so that rp_decide keeps it exactly
 *    as it keeps the key for rp-lagwatch: the default policy with
 *    scale.warm_pool set to rp_warm_pool_format() of it decides the same.
 *  - spot: default's GPU type, spot first with on-demand fallback.
 *  - spot-warmpool: spot's pods with warmpool's floor.
 *  - Every policy uses the same hardware facts: a node runs
 *    runpod.gpu_count x cost.throughput(GPU) jobs at once; boot times,
 *    job sizes, preemption and spot stock come from cost.boot,
 *    cost.boot_sigma, cost.job_sigma, cost.preempt_per_hour and
 *    cost.spot_stock unless the caller overrides them.
 *  - rp_policy_run() replays seeds seed, seed+1, ... and reports the mean
 *    and the sample standard deviation ("spread") of the figures.
 *  - Errors (-1 + *err): an unknown policy, a GPU type with no price or a
 *    throughput of 0 where one must encode, a bad baseline.
 */
#ifndef RP_POLICY_H
#define RP_POLICY_H
#include "config.h"
#include "sim.h"

/* The policies, in the order --compare prints them; NULL-terminated. */
extern const char *const rp_policies[];

struct rp_policy_opts {
	int baseline_servers; /* < 0: 1 */
	double boot;          /* median, s; < 0: cost.boot */
	double preempt_rate;  /* < 0: cost.preempt_per_hour */
	const char *gpu;      /* NULL: the policy's */
	int spot;             /* 1: force spot (with fallback); 0: the policy's */
};

/* Fill everything of *in but the trace (jobs, work, minutes, which must be
 * set) for policy name.  *gpu_out: the GPU type it rents (borrowed from
 * the configuration).  0, or -1 + *err.  rp_policy_free() releases what
 * it allocated. */
int rp_policy_setup(const struct rp_config *c, const char *name, const struct rp_policy_opts *o,
		    struct rp_sim_in *in, const char **gpu_out, char **err);
void rp_policy_free(struct rp_sim_in *in);

/* The GPU type rp-launch would rent first to encode (the default
 * policy's): NULL + *err when no listed type has throughput above 0. */
const char *rp_policy_burst_gpu(const struct rp_config *c, int spot, char **err);

/* The market the default policy rents, read as rp-launch reads it: 1 for
 * spot when force (rp-cost --spot) or runpod.spot, else 0; *fallback: 1
 * when force or runpod.spot_fallback (on-demand when no spot pod). */
int rp_policy_spot(const struct rp_config *c, int force, int *fallback);

/* The prewarm policy's floor for hour h of in's trace (hour 0 starts at
 * minute 0): the mean, rounded down, of the Little's-law burst nodes
 * (in->jobs, in->work, in->baseline_gpus, in->gpus_per_node as
 * rp_policy_setup() fills them) at hours h - 24, h - 48, ... (at most 7,
 * none before the trace's start or past its end); 0 when there is none;
 * at most in->rule.max_nodes (when above 0).
 * h may lie past the trace's end: the next day's floors from the history.
 * The one rule of pre-warm: the simulator's prewarm policy and rp-cost
 * prewarm (rp-lagwatch's scale.prewarm) both call it. */
int rp_policy_prewarm_at(const struct rp_sim_in *in, size_t h);

struct rp_policy_stat {
	double mean, spread;
};
struct rp_policy_result {
	int seeds;
	struct rp_sim_out first; /* the first seed's full figures */
	struct rp_policy_stat cost_per_1000, wait_p95, preemptions, node_hours;
};
void rp_policy_run(struct rp_sim_in *in, unsigned long long seed, int seeds, struct rp_policy_result *r);

#endif
