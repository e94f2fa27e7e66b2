/* cost.h — what the burst costs, from the ledger and the prices.
 *
 * Promises:
 *  - Spend is exact from the ledger: each pod's launched -> terminated
 *    (or reaped/preempted; still running: now) interval, clipped to the
 *    window, times the cost_per_hr the ledger recorded at launch.  Spot and
 *    on-demand are summed apart.  A torn last ledger line is reported and
 *    tolerated; a malformed line elsewhere is an error.
 *  - Prices are validated: a missing or negative price is an error naming
 *    the GPU and the field.
 *  - The baseline's monthly cost is capex + power_kw x hours_per_month x
 *    kwh_price (730 h by default).
 *  - plan is a pure function of its inputs.
 */
#ifndef RP_COST_H
#define RP_COST_H
#include <stdio.h>
#include <cjson/cJSON.h>
#include "config.h"
#include "sim.h"

struct rp_baseline {
	double capex, power_kw, kwh_price, hours;
	int gpus;
	double monthly; /* derived */
};
/* From cost.baseline and cost.hours_per_month; -1 + *err if invalid. */
int rp_cost_baseline(const struct rp_config *c, struct rp_baseline *b, char **err);
/* Price per GPU-hour of gpu in market (spot or on-demand) from
 * cost.prices; -1 + *err if absent or negative. */
int rp_cost_price(const struct rp_config *c, const char *gpu, int spot, double *price, char **err);
/* Validate every entry of cost.prices. */
int rp_cost_prices_check(const struct rp_config *c, char **err);

/* One pod's life, from the ledger. */
struct rp_cost_pod {
	char id[64], name[96], gpu[64];
	int gpu_count, spot, running;
	double cost_per_hr, start, end; /* end = now when running */
};
/* Stream the ledger (path NULL: default): cb is called once per pod, when
 * its end is known (terminated/reaped/preempted), and at the end for pods
 * still running (end = now).  Memory holds only the pods still open.
 * *torn: line number of a torn last line, else 0.  0 ok, -1 + *err. */
typedef void (*rp_cost_cb)(const struct rp_cost_pod *p, void *arg);
int rp_cost_scan(const char *path, double now, rp_cost_cb cb, void *arg, long *torn, char **err);
/* The same over an open stream (not closed); path names it in messages. */
int rp_cost_fscan(FILE *f, const char *path, double now, rp_cost_cb cb, void *arg, long *torn, char **err);
/* Money to the cent, and other figures to 4 decimals, as records print them. */
double rp_cost_cents(double x);
double rp_cost_r4(double x);
/* Hours of pod p inside [since, until]. */
double rp_cost_hours(const struct rp_cost_pod *p, double since, double until);

/* plan: hourly demand in GPU-hours.  trace[i] = GPU-hours in hour i. */
struct rp_trace {
	double *v;
	size_t n;
};
/* CSV: "hour,gpu_hours" or "hour,jobs,gpu_seconds" (header optional;
 * '#' comments).  -1 + *err naming the line, nothing kept. */
int rp_trace_load(const char *path, struct rp_trace *t, char **err);
/* Cost of the trace with k baseline servers: baseline prorated over the
 * trace's hours, burst = demand above k*gpus each hour at price. */
double rp_plan_cost(const struct rp_trace *t, int k, const struct rp_baseline *b, double price,
		    double *burst_gpu_hours);

/* simulate's trace, "minute,jobs[,gpu_seconds]", into in->jobs, in->work
 * and in->minutes (the simulator: sim.h).  -1 + *err naming the line,
 * nothing kept. */
int rp_sim_load(const char *path, struct rp_sim_in *in, char **err);

#endif
