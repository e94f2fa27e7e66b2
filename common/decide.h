/* decide.h — the scale decision: lag and p95 in, up/down/hold out.
 *
 * rp_decide() is the only code that turns observations into a decision:
 * rp-lagwatch (watch.c) and the simulator (sim.c, rp-cost simulate) both
 * call it, with the settings rp_decide_rule() reads.
 *
 * rp_decide() is a pure function of its inputs and the previous state; the
 * state (what damps flapping) is kept between runs in
 * $RP_STATE_DIR/lagwatch.json by rp_decide_load()/rp_decide_save().
 *
 * The rules (written out in rp-lagwatch(1)):
 *  - lag unknown → hold (the caller exits 75); the state is not touched.
 *  - "hot" = lag > lag_threshold, or p95 known and > p95_threshold.
 *  - up needs hot on 2 polls in a row (the previous one no longer ago than
 *    the cooldown), unless lag >= 2 x lag_threshold or p95 >= 2 x
 *    p95_threshold ("surge"), which goes up at once.
 *    count = ceil(lag / lag_threshold) - serving nodes, at least 1, capped
 *    by max_nodes - burst nodes (0 there → hold "at max_nodes").  Serving
 *    nodes are the burst nodes less the lost ones (NotReady longer than
 *    scale.notready_grace): a lost node serves nothing, so a hot queue
 *    gets its replacement; it still bills until it is drained, so it
 *    still counts against max_nodes.  Within the
 *    cooldown after an up, the nodes that up asked for count as present
 *    even before they join (they are booting), less the nodes lost since
 *    that up: an up is only repeated if the lag needs more than those.
 *  - down when lag == 0, p95 not above its threshold (or no latency
 *    signal), some burst node idle >= idle_s, and the last up is at least
 *    the cooldown ago.  count = the number of idle nodes.
 *  - the warm pool (scale.warm_pool, warm_pool[] below): the floor F is
 *    warm_pool[hour of in->now, UTC].  The fleet is the serving nodes
 *    plus, within the cooldown, the nodes the last up asked for (as
 *    above).  A fleet below F goes up by F - fleet at once (no
 *    hysteresis), capped by max_nodes as any up; an up the lag asked for
 *    is raised to F; the reason names the warm pool.  A down takes only
 *    the idle nodes above F (serving - F, at most the idle ones); none
 *    above F: hold, naming the warm pool.  Default: no floor.
 *  - the pre-warm floor (scale.prewarm: in->prewarm, which rp-lagwatch
 *    reads from rp-cost prewarm's file and the simulator's prewarm
 *    policy from its table, both at now + lead by rp_prewarm_at(),
 *    prewarm.h) joins the warm pool:
 *    F is the larger of the two, kept by the rule above; the reason
 *    names the pre-warm floor when it is the larger.  Default: none.
 *  - hold otherwise, with the reason.
 *  - lost nodes are named to be drained whatever the action (the caller
 *    does that); the reason counts them.
 */
#ifndef RP_DECIDE_H
#define RP_DECIDE_H
#include <cjson/cJSON.h>
#include "config.h"
#include "warmpool.h"

enum { RP_HOLD, RP_UP, RP_DOWN };

struct rp_decide_in {
	double now;
	int lag_known;
	long long lag;
	long lag_threshold;
	int p95_known;        /* 0: no latency signal (NaN, no data, error) */
	double p95, p95_threshold;
	const char *p95_note; /* why there is no signal (for the reason), or NULL */
	int burst_nodes;      /* burst nodes present */
	int lost_nodes;       /* of those, NotReady > scale.notready_grace */
	int idle_nodes;       /* of those, idle >= scale.idle */
	long max_nodes;
	double cooldown;      /* seconds */
	int warm_pool[RP_HOURS]; /* floor of burst nodes by hour of day (UTC); 0: none */
	int prewarm;          /* scale.prewarm's floor at now (prewarm.h); 0: none */
};

struct rp_decide_state {
	double last_poll;     /* 0 = never */
	int hot_streak;       /* consecutive hot polls, this one included */
	double last_up;       /* 0 = never */
	int last_up_count, last_up_burst; /* last_up_burst: serving nodes then */
	int last_up_lost;                 /* lost nodes then */
	double last_down;
};

struct rp_decide_out {
	int action;
	int count;
	int first_hot;  /* hot on one poll only: an up waits for the next (hysteresis) */
	char reason[512];
};

/* "Hot": lag > lag_threshold, or p95 known and > p95_threshold (lag known). */
int rp_decide_hot(const struct rp_decide_in *in);
void rp_decide(const struct rp_decide_in *in, struct rp_decide_state *st, struct rp_decide_out *out);
const char *rp_decide_action(int action);

/* The rule's settings from the configuration, the one place both callers
 * (rp-lagwatch and the simulator) read them: kafka.lag_threshold,
 * prometheus.threshold, runpod.max_nodes, scale.cooldown, scale.warm_pool
 * (as rp_config_check() accepts it; refused: no floor).  Other fields
 * of *in are zeroed. */
void rp_decide_rule(const struct rp_config *c, struct rp_decide_in *in);

/* Nodes a lag needs: ceil(lag / lag_threshold), 0 for no lag.  The size
 * rp_decide starts from, and the KEDA answer's desired_nodes. */
long long rp_decide_need(long long lag, long lag_threshold);

/* $RP_STATE_DIR/lagwatch.json; a missing or unreadable file is a fresh
 * state (with a warning if unreadable).  save: 0 or -1 (errno). */
void rp_decide_load(struct rp_decide_state *st);
int rp_decide_save(const struct rp_decide_state *st);

/* Time lag — how many seconds behind a group is — estimated like
 * kafka-lag-exporter, from samples of the group's total log-end offset
 * over time: the consumer position (total hi - lag) is located among the
 * samples and its time interpolated (extrapolated from the oldest and
 * newest sample when it is older than all of them).
 *
 * samples is {"GROUP": [[t, hi], ...]}, newest last; rp_timelag() adds
 * (now, hi) (a flat run keeps its first and last point), keeps at most
 * 120 points within the last hour, and returns the estimate in seconds,
 * 0 when lag is 0, or -1 when it cannot tell yet (fewer than 2 points,
 * no progress).  Kept in $RP_STATE_DIR/lagwatch-samples.json. */
double rp_timelag(cJSON *samples, const char *group, double now, long long hi, long long lag);
cJSON *rp_timelag_load(void);
int rp_timelag_save(const cJSON *samples);

#endif
