/* spend.h — what the burst cost, as records and as Prometheus metrics
 * (rp-cost report and rp-cost metrics).
 *
 * Promises:
 *  - report prints the ledger's exact spend (cost.h) in [since, until]:
 *    one record per bucket (pod as it ends, gpu, or UTC day in order; a
 *    pod crossing midnight is split), then one by:total record with the
 *    window, the pods still running, the egress priced at
 *    cost.egress_per_gb -- egress_gb when >= 0 (given), else the bytes
 *    the pods' counters measured in the window (egress.h; GB = 10^9
 *    bytes) when the ledger has any egress line -- and the torn last
 *    line if any.  A pod whose interval touches the window counts, even a
 *    zero-length one.  Without since_set the window starts at the first
 *    pod counted.
 *  - metrics builds a textfile for the node exporter: cost per hour and
 *    uptime of each running pod, total spend, running pods and, from the
 *    last decision record of a file, the queue lag and p95.  Label values
 *    are escaped.  Nothing is written here: the caller writes the buffer.
 *  - 0, or RP_EXIT_USAGE + *err (unreadable ledger or decision file,
 *    malformed line).
 */
#ifndef RP_SPEND_H
#define RP_SPEND_H
#include "config.h"
#include "rp.h"

enum { RP_BY_TOTAL, RP_BY_POD, RP_BY_GPU, RP_BY_DAY };

struct rp_spend_q {
	const char *ledger; /* NULL: the state directory's */
	double now, since, until;
	int since_set; /* since was given */
	int by;        /* RP_BY_* */
	double egress_gb; /* < 0: not priced */
};

/* "pod", "gpu", "day" -> RP_BY_*, -1 for anything else. */
int rp_spend_by(const char *s);
int rp_spend_report(const struct rp_config *c, const struct rp_spend_q *q, char **err);
int rp_spend_metrics(const char *ledger, double now, const char *decision, struct rp_buf *out, char **err);

#endif
