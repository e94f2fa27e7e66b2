/* trace.h — minute traces for the simulator ("minute,jobs,gpu_seconds"):
 * synthetic ones, and one estimated from the ledger and the lag history.
 *
 * Promises:
 *  - rp_trace_synth(): `days` days by the minute over a diurnal rate
 *    (jobs a minute, times `scale`: 1 from 21:00 to 09:00, 6 from 09:00
 *    to 21:00, 14 from 19:00 to 20:00).  smooth: that rate exactly;
 *    poisson: Poisson counts of it; bursty: Poisson counts of it times 4
 *    while a burst lasts (a burst starts with probability 1/180 each
 *    minute and lasts 15 minutes on average, geometrically).  Every
 *    minute's jobs have mean size job_s GPU-seconds (the simulator draws
 *    sizes around it: cost.job_sigma).  The same seed gives the same
 *    trace.
 *  - rp_trace_estimate(): the work the burst did, minute by minute, from
 *    the ledger: each pod's slots (gpu_count x cost.throughput of its GPU)
 *    from launch to end, plus the baseline's slots while any burst pod
 *    runs (it bursts because the baseline is full), as jobs of job_s
 *    GPU-seconds; plus, from the lag history (decision records with lag
 *    and ts), each rise of the lag as that many more jobs.  An estimate:
 *    the ledger knows when capacity was rented, not when jobs arrived.
 *  - Both return the arrays in *t (rp_trace_free()), 0, or -1 + *err.
 */
#ifndef RP_TRACE_H
#define RP_TRACE_H
#include "config.h"

struct rp_mtrace {
	double *jobs, *work; /* per minute */
	size_t minutes;
};

enum { RP_TRACE_SMOOTH, RP_TRACE_POISSON, RP_TRACE_BURSTY };
/* "smooth", "poisson", "bursty" -> the enum, -1 for anything else. */
int rp_trace_kind(const char *name);
void rp_trace_synth(int kind, double days, double scale, double job_s, unsigned long long seed, struct rp_mtrace *t);

struct rp_trace_src {
	const char *ledger;   /* NULL: the state directory's */
	const char *decision; /* decision records (the lag history), or NULL */
	double since, until;  /* the window, Unix seconds */
	int baseline_slots;
	double job_s;
};
int rp_trace_estimate(const struct rp_config *c, const struct rp_trace_src *src, struct rp_mtrace *t, char **err);

/* "minute,jobs,gpu_seconds" with a header; jobs to 4 decimals. */
void rp_trace_write(FILE *f, const struct rp_mtrace *t);
void rp_trace_free(struct rp_mtrace *t);

#endif
