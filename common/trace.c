/* trace.c — synthetic and estimated minute traces (see trace.h). */
#include "trace.h"
#include "cost.h"
#include "record.h"
#include "rp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rp_trace_kind(const char *name)
{
	static const char *const k[] = { "smooth", "poisson", "bursty" };
	for (int i = 0; i < 3; i++)
		if (name && !strcmp(name, k[i]))
			return i;
	return -1;
}

/* xorshift64*, as the simulator's: deterministic for a seed. */
static double rnd(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Poisson count of mean m: Knuth's product below ~30, a rounded normal
 * approximation above. */
static double poisson(double m, unsigned long long *s)
{
	if (m <= 0)
		return 0;
	if (m > 30) {
		double u = rnd(s), v = rnd(s);
		double z = sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
		double x = floor(m + sqrt(m) * z + 0.5);
		return x > 0 ? x : 0;
	}
	double l = exp(-m), p = 1;
	int k = 0;
	do {
		k++;
		p *= rnd(s);
	} while (p > l);
	return k - 1;
}

static double diurnal(size_t minute)
{
	int h = (int)(minute / 60 % 24);
	return h == 19 ? 14 : (h >= 9 && h < 21) ? 6 : 1;
}

void rp_trace_synth(int kind, double days, double scale, double job_s, unsigned long long seed, struct rp_mtrace *t)
{
	unsigned long long s = seed ? seed : 1;
	t->minutes = (size_t)(days * 1440);
	t->jobs = rp_xcalloc(t->minutes + 1, sizeof *t->jobs);
	t->work = rp_xcalloc(t->minutes + 1, sizeof *t->work);
	int burst = 0;
	for (size_t m = 0; m < t->minutes; m++) {
		double rate = diurnal(m) * scale;
		if (kind == RP_TRACE_BURSTY) {
			if (!burst && rnd(&s) < 1.0 / 180)
				burst = 1;
			else if (burst && rnd(&s) < 1.0 / 15)
				burst = 0;
			rate *= burst ? 4 : 1;
		}
		t->jobs[m] = kind == RP_TRACE_SMOOTH ? round(rate) : poisson(rate, &s);
		t->work[m] = job_s;
	}
}

struct est {
	const struct rp_config *cfg;
	double since;
	double *slots; /* difference array over minutes */
	size_t n;
};

static void add_span(struct est *e, double a, double b, double v)
{
	if (b <= a)
		return;
	double ma = (a - e->since) / 60, mb = (b - e->since) / 60;
	if (mb <= 0 || ma >= (double)e->n)
		return;
	if (ma < 0)
		ma = 0;
	if (mb > (double)e->n)
		mb = (double)e->n;
	/* whole minutes at the fraction covered */
	for (size_t m = (size_t)ma; m < (size_t)ceil(mb) && m < e->n; m++) {
		double lo = (double)m > ma ? (double)m : ma, hi = (double)(m + 1) < mb ? (double)(m + 1) : mb;
		e->slots[m] += v * (hi - lo);
	}
}

static void est_cb(const struct rp_cost_pod *p, void *arg)
{
	struct est *e = arg;
	double tp = rp_gpu_throughput(e->cfg, p->gpu);
	double v = (p->gpu_count > 0 ? p->gpu_count : 1) * (tp > 0 ? tp : 0);
	add_span(e, p->start, p->end, v);
}

int rp_trace_estimate(const struct rp_config *c, const struct rp_trace_src *src, struct rp_mtrace *t, char **err)
{
	memset(t, 0, sizeof *t);
	if (src->until <= src->since) {
		*err = rp_xasprintf("the window is empty");
		return -1;
	}
	struct est e = { c, src->since, NULL, (size_t)ceil((src->until - src->since) / 60) };
	e.slots = rp_xcalloc(e.n + 1, sizeof *e.slots);
	long torn;
	if (rp_cost_scan(src->ledger, src->until, est_cb, &e, &torn, err) < 0) {
		free(e.slots);
		return -1;
	}
	double *lag = rp_xcalloc(e.n + 1, sizeof *lag);
	if (src->decision) {
		FILE *f = fopen(src->decision, "r");
		if (!f) {
			*err = rp_xasprintf("--decision %s: cannot read", src->decision);
			free(e.slots);
			free(lag);
			return -1;
		}
		struct rp_rec_reader *rd = rp_rec_reader_new(f, src->decision, 0);
		cJSON *rec;
		const char *raw;
		double prev = 0;
		size_t at = 0;
		while (rp_rec_read(rd, &rec, &raw) == 1) {
			double l = rp_rec_num(rec, "lag", NAN), ts;
			const char *tss = rp_rec_str(rec, "ts");
			if (!strcmp(rp_rec_type(rec), "decision") && !isnan(l) && tss && rp_parse_rfc3339(tss, &ts) == 0 &&
			    ts >= src->since && ts < src->until) {
				size_t m = (size_t)((ts - src->since) / 60);
				for (; at < m; at++)
					lag[at] = prev; /* the last lag seen holds until the next */
				lag[m] = prev = l;
				at = m + 1;
			}
			cJSON_Delete(rec);
		}
		for (; at < e.n; at++)
			lag[at] = prev;
		rp_rec_reader_free(rd);
		fclose(f);
	}
	double job = src->job_s > 0 ? src->job_s : 120;
	t->minutes = e.n;
	t->jobs = rp_xcalloc(e.n + 1, sizeof *t->jobs);
	t->work = rp_xcalloc(e.n + 1, sizeof *t->work);
	for (size_t m = 0; m < e.n; m++) {
		double busy = e.slots[m] > 0 ? e.slots[m] + src->baseline_slots : 0;
		double rise = m && lag[m] > lag[m - 1] ? lag[m] - lag[m - 1] : 0;
		t->jobs[m] = busy * 60 / job + rise;
		t->work[m] = job;
	}
	free(e.slots);
	free(lag);
	return 0;
}

void rp_trace_write(FILE *f, const struct rp_mtrace *t)
{
	fputs("minute,jobs,gpu_seconds\n", f);
	for (size_t m = 0; m < t->minutes; m++)
		fprintf(f, "%zu,%.10g,%.10g\n", m, t->jobs[m], t->work[m]);
}

void rp_trace_free(struct rp_mtrace *t)
{
	free(t->jobs);
	free(t->work);
	t->jobs = t->work = NULL;
	t->minutes = 0;
}
