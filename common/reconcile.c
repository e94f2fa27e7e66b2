/* reconcile.c — the ledger against RunPod's billing (see reconcile.h). */
#include "reconcile.h"
#include "cost.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct side {
	cJSON *pods; /* id -> {"name", "ledger", "billed"} */
	double since, until, first;
};

static cJSON *pod_of(struct side *s, const char *id)
{
	cJSON *p = cJSON_GetObjectItemCaseSensitive(s->pods, id);
	if (!p) {
		p = cJSON_AddObjectToObject(s->pods, id);
		cJSON_AddNumberToObject(p, "ledger", 0);
		cJSON_AddNumberToObject(p, "billed", 0);
		cJSON_AddBoolToObject(p, "in_ledger", 0);
		cJSON_AddBoolToObject(p, "in_billing", 0);
	}
	return p;
}

static void add_to(cJSON *p, const char *key, double v)
{
	cJSON *n = cJSON_GetObjectItemCaseSensitive(p, key);
	cJSON_SetNumberValue(n, n->valuedouble + v);
}

static void flag(cJSON *p, const char *key)
{
	cJSON_ReplaceItemInObjectCaseSensitive(p, key, cJSON_CreateTrue());
}

static void ledger_cb(const struct rp_cost_pod *lp, void *arg)
{
	struct side *s = arg;
	if (!lp->id[0] || lp->start > s->until || lp->end < s->since)
		return;
	cJSON *p = pod_of(s, lp->id);
	flag(p, "in_ledger");
	if (lp->name[0] && !cJSON_GetObjectItemCaseSensitive(p, "name"))
		cJSON_AddStringToObject(p, "name", lp->name);
	add_to(p, "ledger", rp_cost_hours(lp, s->since, s->until) * lp->cost_per_hr);
	if (!s->first || lp->start < s->first)
		s->first = lp->start;
}

/* One cent, and more than 1 % of the larger amount. */
static int differs(double a, double b)
{
	double d = fabs(a - b), big = a > b ? a : b;
	return rp_cost_cents(d) >= 0.01 && d > 0.01 * big;
}

int rp_reconcile(const struct rp_config *c, const struct rp_spend_q *q, char **err)
{
	*err = NULL;
	struct side s = { .pods = cJSON_CreateObject(), .since = q->since_set ? q->since : 0, .until = q->until };
	long torn = 0;
	if (rp_cost_scan(q->ledger, q->now, ledger_cb, &s, &torn, err) < 0) {
		cJSON_Delete(s.pods);
		return RP_EXIT_USAGE;
	}
	if (!q->since_set)
		s.since = s.first ? s.first : q->until - 86400;
	struct rp_runpod *rp = rp_runpod_open(c, err);
	if (!rp) {
		cJSON_Delete(s.pods);
		return RP_EXIT_USAGE;
	}
	cJSON *recs = NULL;
	int rc = rp_runpod_billing(rp, s.since, s.until, &recs, err);
	rp_runpod_free(rp);
	if (rc) {
		cJSON_Delete(s.pods);
		return rc;
	}
	const cJSON *r;
	cJSON_ArrayForEach(r, recs) {
		const char *id = rp_rec_str(r, "podId");
		const cJSON *amt = cJSON_GetObjectItemCaseSensitive(r, "totalAmount");
		if (!id || !cJSON_IsNumber(amt))
			continue;
		cJSON *p = pod_of(&s, id);
		flag(p, "in_billing");
		add_to(p, "billed", amt->valuedouble);
	}
	cJSON_Delete(recs);
	double tl = 0, tb = 0;
	long pods = 0, diffs = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, s.pods) {
		double l = rp_rec_num(p, "ledger", 0), b = rp_rec_num(p, "billed", 0);
		int in_l = rp_rec_bool(p, "in_ledger", 0), in_b = rp_rec_bool(p, "in_billing", 0);
		pods++;
		tl += l;
		tb += b;
		const char *status = !in_l ? "not_in_ledger" : !in_b && differs(l, 0) ? "not_billed"
			: differs(l, b) ? (b > l ? "billed_more" : "billed_less") : NULL;
		if (!status)
			continue;
		diffs++;
		cJSON *o = rp_rec_new("reconcile");
		cJSON_AddStringToObject(o, "id", p->string);
		const char *name = rp_rec_str(p, "name");
		if (name)
			cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "ledger", rp_cost_cents(l));
		cJSON_AddNumberToObject(o, "billed", rp_cost_cents(b));
		cJSON_AddNumberToObject(o, "diff", rp_cost_cents(b - l));
		cJSON_AddStringToObject(o, "status", status);
		rp_out_rec(o);
		cJSON_Delete(o);
	}
	cJSON *t = rp_rec_new("reconcile");
	cJSON_AddStringToObject(t, "by", "total");
	char a[40], b2[40];
	cJSON_AddStringToObject(t, "since", rp_rfc3339(s.since, a, sizeof a));
	cJSON_AddStringToObject(t, "until", rp_rfc3339(s.until, b2, sizeof b2));
	cJSON_AddNumberToObject(t, "pods", (double)pods);
	cJSON_AddNumberToObject(t, "differences", (double)diffs);
	cJSON_AddNumberToObject(t, "ledger", rp_cost_cents(tl));
	cJSON_AddNumberToObject(t, "billed", rp_cost_cents(tb));
	cJSON_AddNumberToObject(t, "diff", rp_cost_cents(tb - tl));
	if (torn)
		cJSON_AddNumberToObject(t, "torn_line", (double)torn);
	rp_out_rec(t);
	cJSON_Delete(t);
	char nb[24];
	snprintf(nb, sizeof nb, "%ld", diffs);
	rp_info("reconciled the ledger with RunPod's billing", "differences", nb);
	cJSON_Delete(s.pods);
	return 0;
}
