/* test-trace.c — synthetic minute traces (trace.h): smooth is the rate
 * exactly; Poisson counts have the rate's mean and variance (within 3
 * sigma); bursty ones have more jobs and a larger variance; the same seed
 * gives the same trace; the kinds are named. */
#include "trace.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>

static void moments(const struct rp_mtrace *t, int hour_lo, int hour_hi, double *mean, double *var, double *n)
{
	double s = 0, s2 = 0, k = 0;
	for (size_t m = 0; m < t->minutes; m++) {
		int h = (int)(m / 60 % 24);
		if (h < hour_lo || h >= hour_hi)
			continue;
		s += t->jobs[m], s2 += t->jobs[m] * t->jobs[m], k++;
	}
	*mean = s / k;
	*var = s2 / k - *mean * *mean;
	*n = k;
}

int main(void)
{
	struct rp_mtrace sm, po, po2, bu;
	rp_trace_synth(RP_TRACE_SMOOTH, 2, 1, 120, 1, &sm);
	T_INT(sm.minutes, 2880, "2 days by the minute");
	T_OK(sm.jobs[3 * 60] == 1 && sm.jobs[10 * 60] == 6 && sm.jobs[19 * 60 + 30] == 14 && sm.jobs[22 * 60] == 1,
	     "smooth: 1 at night, 6 by day, 14 at 19h");
	T_OK(sm.work[5] == 120, "mean size as asked");

	rp_trace_synth(RP_TRACE_POISSON, 30, 1, 120, 7, &po);
	double mean, var, n;
	moments(&po, 9, 19, &mean, &var, &n); /* rate 6 */
	/* the mean of n Poisson(6) counts: sd sqrt(6 / n) */
	T_OK(fabs(mean - 6) <= 3 * sqrt(6 / n), "Poisson mean %.3f ~ 6 over %.0f minutes", mean, n);
	T_OK(fabs(var - 6) <= 3 * 6 * sqrt(2 / n) + 0.3, "Poisson variance %.3f ~ 6", var);
	rp_trace_synth(RP_TRACE_POISSON, 30, 1, 120, 7, &po2);
	int same = 1;
	for (size_t m = 0; m < po.minutes; m++)
		same &= po.jobs[m] == po2.jobs[m];
	T_OK(same, "same seed, same trace");

	rp_trace_synth(RP_TRACE_BURSTY, 30, 1, 120, 7, &bu);
	double bmean, bvar;
	moments(&bu, 9, 19, &bmean, &bvar, &n);
	/* bursts x4 for 15 of every ~195 minutes: mean ~ 6 x (1 + 3 x 15/195) */
	T_OK(bmean > mean * 1.1, "bursty: more jobs (%.2f vs %.2f a minute)", bmean, mean);
	T_OK(bvar > 3 * var, "bursty: far larger variance (%.1f vs %.1f)", bvar, var);

	T_INT(rp_trace_kind("bursty"), RP_TRACE_BURSTY, "kind by name");
	T_INT(rp_trace_kind("ledger"), -1, "ledger is not a synthetic kind");
	rp_trace_free(&sm);
	rp_trace_free(&po);
	rp_trace_free(&po2);
	rp_trace_free(&bu);
	return T_DONE();
}
