/* watch.h — rp-lagwatch's engine: one poll of Kafka, Prometheus and the
 * burst nodes, turned into records and a decision; and the KEDA answer.
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
 *    opted-out or lost one), and the lost nodes rp-drain may take whatever
 *    the action.
 *  - The HTTP answer (rp_watch_http) runs a fresh lag poll per GET
 *    /metrics; unknown lag is a 503, never a 0; desired_nodes is
 *    rp_decide_need(lag, kafka.lag_threshold).
 *  - Connections (Kafka, Kubernetes) are opened on first use and kept
 *    until rp_watch_close().
 */
#ifndef RP_WATCH_H
#define RP_WATCH_H
#include "config.h"
#include "rp.h"

struct rp_watch;
struct rp_watch_opts {
	int verbose, lag_only;
	long nodes; /* -1: ask Kubernetes; else this many burst nodes, none idle */
};

/* NULL + *err (a usage error) if the configuration cannot be watched. */
struct rp_watch *rp_watch_open(const struct rp_config *cfg, const struct rp_watch_opts *opt, char **err);
/* One poll and its records.  RP_EXIT_OK, RP_EXIT_TEMP (input unknown: a
 * hold was printed), or RP_EXIT_USAGE + *err (e.g. an unknown topic). */
int rp_watch_tick(struct rp_watch *w, char **err);
/* An rp_httpd_fn (arg: the rp_watch): GET /metrics, GET /healthz. */
int rp_watch_http(void *arg, const char *path, struct rp_buf *body, const char **ctype);
void rp_watch_close(struct rp_watch *w);

#endif
