/* sim.h — the simulator: the shipped scale rule replayed over a trace.
 *
 * Promises:
 *  - One rule, two callers: every poll (in->tick seconds, 15 s like
 *    rp-autoscale's timer) the simulator builds the observations
 *    rp-lagwatch would see and asks rp_decide() — through rp_sim_step(),
 *    nothing else decides.  So the hysteresis (two hot polls), the size
 *    (ceil(lag / lag_threshold) - serving nodes), the cooldown that counts
 *    asked-for nodes while they boot, the idle drain and the lost nodes
 *    are the shipped ones, not a copy.
 *  - What rp_decide sees is what Kubernetes shows: lag = jobs waiting;
 *    burst nodes = pods that have joined (a booting pod is invisible until
 *    it joins; within the cooldown rp_decide counts it from its own
 *    state); lost = preempted nodes NotReady longer than notready_grace;
 *    idle = joined, serving, no job for at least `idle` seconds.  p95 is
 *    not simulated (no latency signal: lag alone decides).
 *  - The decision is carried out as the pipeline would: an up launches
 *    count pods, capped by max_nodes less the live pods (rp-launch's cap;
 *    a preempted pod is not live); a down drains `count` idle nodes (all
 *    of them unless rp_decide's warm pool keeps some); lost nodes are
 *    drained whatever the action.
 *  - A pod is spot when in->spot: each spot launch finds capacity at our
 *    bid with probability spot_stock (1 when 0 or unset); one that does
 *    not falls back to an on-demand pod when spot_fallback, else that
 *    pod is not launched (rp-launch's 75; the next up asks again).
 *  - A spot node (only a spot node) is preempted at preempt_per_hour per
 *    node-hour from its launch; its running jobs go back to the head of
 *    the queue with the work left (checkpointed), and its pod is billed
 *    at the spot price from launch (boot included) to the preemption.
 *    Every other pod is billed at its own market's price from launch to
 *    drain.
 *  - A node runs gpus_per_node jobs at once (GPUs x jobs one GPU runs:
 *    cost.throughput); a baseline GPU runs one.
 *  - Boot: a fixed `boot` seconds, or with boot_sigma > 0 lognormal with
 *    median `boot` clipped to [boot_min, boot_max].  Job size: the
 *    minute's GPU-seconds, or with job_sigma > 0 lognormal with that mean.
 *  - The warm pool (rule.warm_pool) is rp_decide's, like the rest of the
 *    rule: the simulator keeps no copy of it.
 *  - The pre-warm floor (optional, the prewarm policy's) is rp_decide's
 *    too, as rp-lagwatch's scale.prewarm: at every poll the floor at
 *    t + lead, read from in->prewarm (hour i of the trace from minute 0)
 *    by prewarm.h's rp_prewarm_at() as rp-lagwatch reads prewarm.json
 *    (0 past the table, as for a stale file), is handed to rp_decide as
 *    in->prewarm.  The simulator keeps no floor of its own: what it
 *    launches and drains is what rp_decide said.
 *  - Arrivals: random times within their minute, or with even_arrivals
 *    the k jobs of a minute at (i + 0.5) / k of it (exact, for tests).
 *  - Pure: the same inputs and seed give the same outputs.
 */
#ifndef RP_SIM_H
#define RP_SIM_H
#include <stddef.h>
#include "decide.h"

/* minute-resolution jobs trace ("minute,jobs[,gpu_seconds]"). */
struct rp_sim_in {
	double *jobs;       /* jobs arriving in each minute */
	double *work;       /* GPU-seconds per job in each minute */
	size_t minutes;
	int baseline_gpus;  /* always-on workers */
	struct rp_decide_in rule; /* lag_threshold, p95_threshold, max_nodes, cooldown */
	double idle, notready_grace, boot, tick; /* seconds */
	int gpus_per_node;
	double preempt_per_hour; /* spot preemption rate per node-hour */
	double price_per_node_hour, baseline_monthly, hours_per_month; /* price: on-demand */
	unsigned long long seed;
	int spot, spot_fallback;      /* rent spot pods; on-demand when spot has none */
	double spot_stock;            /* P(a spot launch finds capacity); 0: 1 */
	double spot_price_per_node_hour;
	double boot_sigma, boot_min, boot_max; /* lognormal boot; sigma 0: fixed */
	double job_sigma;             /* lognormal job size; 0: the minute's */
	int even_arrivals;
	const int *prewarm;           /* pre-warm floors by hour of the trace, or NULL */
	size_t prewarm_hours;         /* how many */
	double lead;                  /* their look-ahead (prewarm.json's lead), seconds */
	/* optional: called after every poll with what rp_decide saw and said,
	 * how many pods that poll launched, and the live pods after it */
	void (*on_step)(const struct rp_decide_in *seen, const struct rp_decide_out *said, int launched, int live,
			void *arg);
	void *arg;
};
struct rp_sim_out {
	double jobs, node_hours, burst_cost, baseline_cost, cost_per_1000;
	double wait_p50, wait_p95, wait_max;
	long launches, preemptions, polls, ups, downs;
	long spot_launches, fallbacks, refused; /* refused: no spot, no fallback */
};

/* What the fleet looks like to rp-lagwatch at one poll. */
struct rp_sim_obs {
	double now;
	long long lag;
	int burst, lost, idle;
	int prewarm; /* the pre-warm floor read at now (prewarm.h); 0: none */
};

/* One poll of the shipped rule: rule's thresholds and caps with ob's
 * observations, through rp_decide().  *seen (may be NULL) receives the
 * input rp_decide was given. */
void rp_sim_step(const struct rp_decide_in *rule, const struct rp_sim_obs *ob, struct rp_decide_state *st,
		 struct rp_decide_out *out, struct rp_decide_in *seen);

void rp_simulate(const struct rp_sim_in *in, struct rp_sim_out *out);

#endif
