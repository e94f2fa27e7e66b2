/* advise.h — what to buy: rp-cost breakeven, recommend, plan, simulate
 * and prices, each printing its records (cost.h does the arithmetic of
 * prices, baseline and traces; sim.h runs the shipped rule).
 *
 * Promises:
 *  - breakeven: for every GPU in cost.prices and both markets, the burst
 *    GPU-hours a month at which one baseline server is cheaper (B / price),
 *    and the arithmetic written out; -1 when the price is 0.
 *  - breakeven: "never" when that exceeds what one server gives in a
 *    month (server-hours > cost.hours_per_month, or a price of 0).
 *  - recommend: the burst GPUs busy at each hour of day (flat from h
 *    given GPU-hours a month, or the ledger's profile over the last
 *    `days`); k servers give k x gpus x (1 - headroom) GPUs each hour;
 *    cost(k) = k B + the GPU-hours above that x p, for k = 0 .. past the
 *    peak; the cheapest names the answer and the GPU to burst on
 *    (rp_policy_burst_gpu).  p is the GPU's price in the market rp-launch
 *    rents, rp_policy_spot(): spot when --spot or runpod.spot (the
 *    shipped default, with spot_fallback), else on-demand; the burst GPU
 *    is ranked in that same market.
 *  - plan: cost(k) of an hourly trace for k = 0..max_servers (default: the
 *    peak's), exactly one best, saving_vs_next on it; p in the market
 *    recommend uses (rp_policy_spot()), named as market on each record.
 *  - simulate: the trace replayed by rp_simulate() under a policy of
 *    policy.h ("default" unless named: the rule read from the
 *    configuration by rp_decide_rule(), the same settings rp-lagwatch
 *    reads, on the GPU type and market rp-launch would rent), over `seeds`
 *    seeds (mean, and _spread fields when more than one); with compare,
 *    one record per policy, seed and default included.  A record whose
 *    rule keeps a warm pool carries it as warm_pool: the scale.warm_pool
 *    value (warmpool.h) that makes rp-lagwatch keep the same floor; one
 *    whose rule keeps a pre-warm floor carries it as prewarm_floors (by
 *    hour from the trace's start) and prewarm_lead_s: prewarm.json's
 *    floors and lead (prewarm.h) that make rp-lagwatch keep the same.
 *    With steps, one step record per poll of the first seed, the floor
 *    rp_decide was handed (prewarm) included.
 *  - prewarm: the history of the last 7 whole days up to the current
 *    hour's start, as rp_trace_estimate() reads it (the ledger and the
 *    decision records), through the prewarm policy's own rule
 *    (rp_policy_prewarm_at(), the GPU and market of policy.h's prewarm)
 *    for the next 25 hours (the 24 to come and the one a boot past
 *    them), at most max_nodes, written to prewarm.h's file with the
 *    policy's lead (one median boot, cost.boot or --boot); one record
 *    with the floors.  A file that cannot be written: RP_EXIT_FAIL.
 *  - prices: the configured prices, and the live catalog beside them
 *    when one is given.
 *  - Each returns 0, or RP_EXIT_USAGE + *err (bad price, baseline, trace
 *    or ledger).
 */
#ifndef RP_ADVISE_H
#define RP_ADVISE_H
#include <cjson/cJSON.h>
#include "config.h"

struct rp_advise {
	const struct rp_config *cfg;
	const char *ledger; /* NULL: the state directory's */
	double now;
	const char *gpu; /* NULL: cost.baseline_gpu */
	int spot;
	double days, gpu_hours; /* recommend: gpu_hours < 0 reads the ledger */
	int max_servers;        /* plan: < 0 for the peak's */
	int gnuplot;            /* plan: columns instead of records */
	unsigned long long seed; /* simulate */
	double boot, preempt_rate; /* simulate: < 0 for cost.boot, cost.preempt_per_hour */
	int baseline_servers;      /* simulate: < 0 for 1 */
	int seeds, compare;        /* simulate */
	const char *policy;        /* simulate: NULL for "default" */
	int steps;                 /* simulate: a "step" record per poll (one seed) */
	double headroom;           /* recommend: < 0 for 0.2 */
	const char *decision;      /* prewarm: decision records (the lag history), or NULL */
	double job_s;              /* prewarm: the trace's job size, GPU-seconds */
};

int rp_advise_breakeven(const struct rp_advise *a, char **err);
int rp_advise_recommend(const struct rp_advise *a, char **err);
int rp_advise_plan(const struct rp_advise *a, const char *trace, char **err);
int rp_advise_simulate(const struct rp_advise *a, const char *trace, char **err);
/* catalog: RunPod's GPU catalog (rp_runpod_catalog), or NULL. */
int rp_advise_prewarm(const struct rp_advise *a, char **err);
int rp_advise_prices(const struct rp_advise *a, const cJSON *catalog, char **err);

#endif
