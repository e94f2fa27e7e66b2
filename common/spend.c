/* spend.c — rp-cost report and metrics (see spend.h). */
#include "spend.h"
#include "cost.h"
#include "egress.h"
#include "log.h"
#include "prom.h"
#include "record.h"
#include "records.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- report ---- */

struct bucket {
	char key[96];
	char gpu[64];
	int spot;
	double hours, gpu_hours, spend_od, spend_spot;
	long pods;
};
struct report {
	double since, until;
	int by;
	struct bucket total;
	struct bucket *b;
	size_t n;
	long running;
	double first; /* earliest start counted */
};

static struct bucket *bucket(struct report *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->b[i].key, key))
			return &r->b[i];
	r->b = rp_xrealloc(r->b, (r->n + 1) * sizeof *r->b);
	struct bucket *b = &r->b[r->n++];
	memset(b, 0, sizeof *b);
	snprintf(b->key, sizeof b->key, "%s", key);
	return b;
}

static void add(struct bucket *b, const struct rp_cost_pod *p, double h)
{
	double s = h * p->cost_per_hr;
	b->hours += h;
	b->gpu_hours += h * (p->gpu_count > 0 ? p->gpu_count : 1);
	if (p->spot)
		b->spend_spot += s;
	else
		b->spend_od += s;
}

static cJSON *bucket_rec(const char *by, const struct bucket *b)
{
	cJSON *r = rp_rec_new("cost");
	cJSON_AddStringToObject(r, "by", by);
	if (strcmp(by, "total"))
		cJSON_AddStringToObject(r, "key", b->key);
	if (!strcmp(by, "pod")) {
		cJSON_AddStringToObject(r, "gpu", b->gpu);
		cJSON_AddBoolToObject(r, "spot", b->spot);
	}
	cJSON_AddNumberToObject(r, "pods", (double)b->pods);
	cJSON_AddNumberToObject(r, "hours", rp_cost_r4(b->hours));
	cJSON_AddNumberToObject(r, "gpu_hours", rp_cost_r4(b->gpu_hours));
	cJSON_AddNumberToObject(r, "spend_on_demand", rp_cost_cents(b->spend_od));
	cJSON_AddNumberToObject(r, "spend_spot", rp_cost_cents(b->spend_spot));
	cJSON_AddNumberToObject(r, "spend", rp_cost_cents(b->spend_od + b->spend_spot));
	return r;
}

static void report_cb(const struct rp_cost_pod *p, void *arg)
{
	struct report *r = arg;
	double h = rp_cost_hours(p, r->since, r->until);
	/* a pod whose interval touches the window counts, even a zero-length
	 * one (a clock that jumped back between its launch and its end) */
	if (p->start > r->until || p->end < r->since)
		return;
	add(&r->total, p, h);
	r->total.pods++;
	if (!r->first || p->start < r->first)
		r->first = p->start > r->since ? p->start : r->since;
	if (p->running)
		r->running++;
	if (r->by == RP_BY_POD) {
		struct bucket b = { 0 };
		snprintf(b.key, sizeof b.key, "%s", p->id);
		snprintf(b.gpu, sizeof b.gpu, "%s", p->gpu);
		b.spot = p->spot;
		b.pods = 1;
		add(&b, p, h);
		cJSON *rec = bucket_rec("pod", &b);
		cJSON_AddStringToObject(rec, "name", p->name);
		cJSON_AddBoolToObject(rec, "running", p->running);
		rp_out_rec(rec);
		cJSON_Delete(rec);
	} else if (r->by == RP_BY_GPU) {
		struct bucket *b = bucket(r, p->gpu[0] ? p->gpu : "unknown");
		add(b, p, h);
		b->pods++;
	} else if (r->by == RP_BY_DAY) {
		double a = p->start > r->since ? p->start : r->since;
		double e = p->end < r->until ? p->end : r->until;
		while (a < e) {
			double day0 = floor(a / 86400.0) * 86400.0, day1 = day0 + 86400.0;
			double seg = (e < day1 ? e : day1) - a;
			char key[16];
			time_t tt = (time_t)day0;
			struct tm tm;
			gmtime_r(&tt, &tm);
			strftime(key, sizeof key, "%Y-%m-%d", &tm);
			struct bucket *b = bucket(r, key);
			add(b, p, seg / 3600.0);
			b->pods++;
			a = day1;
		}
	}
}

int rp_spend_by(const char *s)
{
	return !strcmp(s, "pod") ? RP_BY_POD : !strcmp(s, "gpu") ? RP_BY_GPU : !strcmp(s, "day") ? RP_BY_DAY : -1;
}

int rp_spend_report(const struct rp_config *c, const struct rp_spend_q *q, char **err)
{
	struct report r = { .since = q->since, .until = q->until, .by = q->by };
	long torn, measured = 0;
	/* egress: the number given, else what the pods' counters measured */
	double egress_gb = q->egress_gb, egress_bytes = 0;
	if (egress_gb < 0) {
		if (rp_egress_window(q->ledger, q->since_set ? q->since : 0, q->until, &egress_bytes, &measured, err) < 0)
			return RP_EXIT_USAGE;
		if (measured)
			egress_gb = egress_bytes / 1e9;
	}
	if (rp_cost_scan(q->ledger, q->now, report_cb, &r, &torn, err) < 0) {
		free(r.b);
		return RP_EXIT_USAGE;
	}
	if (torn)
		rp_warn("ledger line %ld is torn (an interrupted write): ignored", torn);
	if (r.by == RP_BY_DAY) /* days in order */
		for (size_t i = 1; i < r.n; i++)
			for (size_t j = i; j > 0 && strcmp(r.b[j - 1].key, r.b[j].key) > 0; j--) {
				struct bucket x = r.b[j];
				r.b[j] = r.b[j - 1];
				r.b[j - 1] = x;
			}
	for (size_t i = 0; i < r.n; i++) {
		cJSON *rec = bucket_rec(r.by == RP_BY_GPU ? "gpu" : "day", &r.b[i]);
		rp_out_rec(rec);
		cJSON_Delete(rec);
	}
	cJSON *t = bucket_rec("total", &r.total);
	char a[40], b[40];
	/* without since, the window starts at the first pod it counted */
	double since = q->since_set ? r.since : (r.first > 0 ? r.first : r.until);
	cJSON_AddStringToObject(t, "since", rp_rfc3339(since, a, sizeof a));
	cJSON_AddStringToObject(t, "until", rp_rfc3339(r.until, b, sizeof b));
	cJSON_AddNumberToObject(t, "running", (double)r.running);
	if (egress_gb >= 0) {
		double per = rp_cfg_num(c, "cost.egress_per_gb");
		if (measured)
			cJSON_AddNumberToObject(t, "egress_bytes", egress_bytes);
		cJSON_AddNumberToObject(t, "egress_gb", egress_gb);
		cJSON_AddNumberToObject(t, "egress_cost", rp_cost_cents(egress_gb * per));
		cJSON_AddNumberToObject(t, "spend_with_egress",
					rp_cost_cents(r.total.spend_od + r.total.spend_spot + egress_gb * per));
	}
	if (torn)
		cJSON_AddNumberToObject(t, "torn_line", (double)torn);
	rp_out_rec(t);
	cJSON_Delete(t);
	free(r.b);
	return RP_EXIT_OK;
}

/* ---- metrics ---- */

struct metrics {
	struct rp_buf inst, up;
	double spend, now;
	long nodes;
};

static void metrics_cb(const struct rp_cost_pod *p, void *arg)
{
	struct metrics *m = arg;
	m->spend += rp_cost_hours(p, 0, m->now) * p->cost_per_hr;
	if (!p->running)
		return;
	m->nodes++;
	struct rp_buf *bs[] = { &m->inst, &m->up };
	double vals[] = { p->cost_per_hr, (p->end - p->start) / 3600.0 };
	const char *names[] = { "runpod_instance_cost_per_hour", "runpod_instance_uptime_hours" };
	for (int i = 0; i < 2; i++) {
		rp_buf_addf(bs[i], "%s{pod=\"", names[i]);
		rp_prom_label(bs[i], p->name[0] ? p->name : p->id);
		rp_buf_adds(bs[i], "\",id=\"");
		rp_prom_label(bs[i], p->id);
		rp_buf_adds(bs[i], "\",gpu=\"");
		rp_prom_label(bs[i], p->gpu);
		rp_buf_addf(bs[i], "\",spot=\"%s\"} %.6g\n", p->spot ? "true" : "false", vals[i]);
	}
}

/* The last decision record of a file: queue depth, p95, when. */
static int last_decision(const char *path, double now, struct rp_buf *b, char **err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		*err = rp_xasprintf("--decision %s: cannot read", path);
		return -1;
	}
	struct rp_rec_reader *rd = rp_rec_reader_new(f, path, 0);
	cJSON *rec, *last = NULL;
	const char *raw;
	struct rp_decision d;
	char why[256];
	int r;
	while (rp_rec_read(rd, &rec, &raw) == 1) {
		if ((r = rp_decision_read(rec, &d, why, sizeof why)) < 0) {
			*err = rp_xasprintf("%s:%ld: decision record: %s", path, rp_rec_lineno(rd), why);
			cJSON_Delete(rec);
			cJSON_Delete(last);
			rp_rec_reader_free(rd);
			fclose(f);
			return -1;
		}
		if (r == 1) {
			cJSON_Delete(last);
			last = rec;
		} else {
			cJSON_Delete(rec);
		}
	}
	rp_rec_reader_free(rd);
	fclose(f);
	if (!last)
		return 0;
	rp_decision_read(last, &d, why, sizeof why);
	if (d.lag_known)
		rp_buf_addf(b, "# HELP rp_queue_lag Kafka consumer-group lag (messages).\n"
			       "# TYPE rp_queue_lag gauge\nrp_queue_lag %lld\n", d.lag);
	if (d.p95_known && !isnan(d.p95_s)) {
		char v[32];
		if (isinf(d.p95_s))
			snprintf(v, sizeof v, "%sInf", d.p95_s > 0 ? "+" : "-");
		else
			snprintf(v, sizeof v, "%.3f", d.p95_s);
		rp_buf_addf(b, "# HELP rp_p95_latency_seconds p95 transcoding latency.\n"
			       "# TYPE rp_p95_latency_seconds gauge\nrp_p95_latency_seconds %s\n", v);
	}
	rp_buf_addf(b, "# HELP rp_last_decision_timestamp_seconds Time of the last decision.\n"
		       "# TYPE rp_last_decision_timestamp_seconds gauge\n"
		       "rp_last_decision_timestamp_seconds{action=\"%s\"} %.0f\n", d.action ? d.action : "unknown", now);
	cJSON_Delete(last);
	return 0;
}

int rp_spend_metrics(const char *ledger, double now, const char *decision, struct rp_buf *b, char **err)
{
	struct metrics m = { .now = now };
	long torn;
	int rc = RP_EXIT_OK;
	if (rp_cost_scan(ledger, now, metrics_cb, &m, &torn, err) < 0) {
		rc = RP_EXIT_USAGE;
		goto out;
	}
	rp_buf_adds(b, "# HELP runpod_instance_cost_per_hour Price of each running burst pod, USD per hour.\n"
		       "# TYPE runpod_instance_cost_per_hour gauge\n");
	if (m.inst.data)
		rp_buf_adds(b, m.inst.data);
	rp_buf_adds(b, "# HELP runpod_instance_uptime_hours Hours since each running burst pod was launched.\n"
		       "# TYPE runpod_instance_uptime_hours gauge\n");
	if (m.up.data)
		rp_buf_adds(b, m.up.data);
	rp_buf_addf(b, "# HELP rp_spend_dollars_total Burst spend recorded in the ledger, USD.\n"
		       "# TYPE rp_spend_dollars_total counter\nrp_spend_dollars_total %.4f\n", m.spend);
	rp_buf_addf(b, "# HELP rp_burst_nodes Burst pods running, from the ledger.\n"
		       "# TYPE rp_burst_nodes gauge\nrp_burst_nodes %ld\n", m.nodes);
	if (decision && last_decision(decision, now, b, err) < 0)
		rc = RP_EXIT_USAGE;
out:
	rp_buf_free(&m.inst);
	rp_buf_free(&m.up);
	return rc;
}
