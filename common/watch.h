/* watch.h — rp-lagwatch's engine: one poll of Kafka, Prometheus and the
 * burst nodes, turned into records and a decision; and the sample KEDA's
 * answers are served from (scaler.h).
 *
 * Promises:
 *  - kafka.group x kafka.topic are paired once at open: a plain topic is
 *    every group's, "G:T" only G's (the last colon splits); a malformed
 *    entry, a G not in kafka.group, a group with no topic, a bad
 *    kafka.offset_policy or kafka.lag_threshold < 1 refuse to open.
 *  - A tick prints one lag record per group (and lag_partition records
 *    with -v or -o table), then, unless lag_only, one decision record.
 *    The decision is rp_decide()'s, with the rule's settings from
 *    rp_decide_rule(): nothing here decides.  Lag or nodes unknown: hold
 *    with the reason, the decision state untouched, RP_EXIT_TEMP — never
 *    a down on missing data.  An unreachable Prometheus is "no latency
 *    signal": the decision is taken from the lag alone.
 *  - The decision names the idle burst nodes for a down (never an
 *    opted-out or lost one; the first `count` of them: the warm pool may
 *    keep some), and the lost nodes rp-drain may take whatever the
 *    action.
 *  - rp_watch_sample() is one lag poll (and, unless lag_only, the p95
 *    query) with no record, no decision and no state written; a failed
 *    lag poll is lag_known 0 with the error, never a 0.
 *  - The early trigger (trigger.h) polls in two steps.
 *    rp_watch_early_poll(): one lag poll and the p95 query; only when that
 *    is hot by rp_decide_hot(), the burst nodes too (idle marks refreshed
 *    as by any poll of the nodes); no record, nothing else written; 1 when
 *    hot with every input known.  rp_watch_early_decide(), which the
 *    caller runs holding the tick's lock: rp_decide() on that poll and the
 *    saved state.  An up is not saved (RP_EARLY_UP: the tick polls and
 *    decides again); a first hot poll is saved exactly as rp-lagwatch
 *    --once saves it (RP_EARLY_COUNTED: the hysteresis counts it);
 *    anything else writes nothing (RP_EARLY_NONE).
 *  - Connections (Kafka, Kubernetes) are opened on first use and kept
 *    until rp_watch_close().
 *  - if_idle (rp-autoscale's idle path): the tick goes on only while
 *    nothing of ours exists -- the fleet store is local, the ledger knows
 *    no pod that may still exist (rp_ledger_any_alive), the lag and the
 *    nodes are known, Kubernetes lists no burst node -- and the decision
 *    is hold.  Otherwise it returns RP_WATCH_NOT_IDLE having printed
 *    nothing and written no decision state and no lag sample (the idle
 *    marks are refreshed, as by any poll of the nodes).
 */
#ifndef RP_WATCH_H
#define RP_WATCH_H
#include "config.h"
#include "rp.h"

struct rp_watch;
struct rp_watch_opts {
	int verbose, lag_only;
	long nodes; /* -1: ask Kubernetes; else this many burst nodes, none idle */
	int if_idle;
};
#define RP_WATCH_NOT_IDLE (-1)

/* NULL + *err (a usage error) if the configuration cannot be watched. */
struct rp_watch *rp_watch_open(const struct rp_config *cfg, const struct rp_watch_opts *opt, char **err);
/* One poll and its records.  RP_EXIT_OK, RP_EXIT_TEMP (input unknown: a
 * hold was printed), RP_EXIT_USAGE + *err (e.g. an unknown topic), or
 * (if_idle) RP_WATCH_NOT_IDLE. */
int rp_watch_tick(struct rp_watch *w, char **err);
struct rp_watch_sample {
	int lag_known;
	long long lag;   /* total */
	cJSON *groups;   /* {"GROUP": lag} when known */
	double p95;      /* NAN: no latency signal (or lag_only) */
	char *err;       /* why the lag is unknown */
};
void rp_watch_sample(struct rp_watch *w, struct rp_watch_sample *s);
void rp_watch_sample_free(struct rp_watch_sample *s);
enum { RP_EARLY_NONE, RP_EARLY_COUNTED, RP_EARLY_UP };
/* The early trigger's two steps (above); why: the reason ("": not hot). */
int rp_watch_early_poll(struct rp_watch *w, char *why, size_t n);
int rp_watch_early_decide(struct rp_watch *w, char *why, size_t n);
void rp_watch_close(struct rp_watch *w);

#endif
