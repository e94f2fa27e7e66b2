/* records.c — see records.h. */
#include "records.h"
#include "rp.h"

#include <math.h>
#include <string.h>

static const struct rp_field decision_f[] = {
	{ "action", RP_FK_ACTION },
	{ "count", RP_FK_COUNT },
	{ "lag", RP_FK_NUM },
	{ "p95_s", RP_FK_NUMINF },
	{ "nodes", RP_FK_NAMES },
	{ "burst_nodes", RP_FK_NUM },
	{ "idle", RP_FK_NAMES },
	{ "lost_nodes", RP_FK_NUM },
	{ "lost", RP_FK_NAMES },
	{ "reason", RP_FK_STR },
};
const struct rp_rectype rp_rt_decision = { "decision", decision_f, sizeof decision_f / sizeof *decision_f };

static const struct rp_field pod_f[] = {
	{ "id", RP_FK_STR },
	{ "name", RP_FK_STR },
	{ "gpu", RP_FK_STR },
	{ "gpu_count", RP_FK_NUM },
	{ "spot", RP_FK_BOOL },
	{ "cost_per_hr", RP_FK_NUM },
	{ "ssh_host", RP_FK_STR },
	{ "ssh_port", RP_FK_PORT },
	{ "status", RP_FK_STR },
	{ "dc", RP_FK_STR },
	{ "error", RP_FK_STR },
};
const struct rp_rectype rp_rt_pod = { "pod", pod_f, sizeof pod_f / sizeof *pod_f };

static const struct rp_field node_f[] = {
	{ "id", RP_FK_STR },
	{ "node", RP_FK_STR },
	{ "ready", RP_FK_BOOL },
	{ "bootstrap", RP_FK_STR },
	{ "labels", RP_FK_OBJECT },
	{ "ssh_host", RP_FK_STR },
	{ "ssh_port", RP_FK_PORT },
	{ "fingerprint", RP_FK_STR },
	{ "seconds", RP_FK_NUM },
	{ "error", RP_FK_STR },
};
const struct rp_rectype rp_rt_node = { "node", node_f, sizeof node_f / sizeof *node_f };

static const char *const must[] = {
	[RP_FK_STR] = "a string",
	[RP_FK_NUM] = "a number",
	[RP_FK_BOOL] = "true or false",
	[RP_FK_COUNT] = "a whole number 0..10000",
	[RP_FK_PORT] = "a whole number 0..65535",
	[RP_FK_NAMES] = "an array of strings",
	[RP_FK_ACTION] = "up, down or hold",
	[RP_FK_NUMINF] = "a number",
	[RP_FK_OBJECT] = "an object",
};

const struct rp_field *rp_recs_field(const struct rp_rectype *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->f[i].name, name))
			return &t->f[i];
	return NULL;
}

static int whole(const cJSON *v, double max)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
	       v->valuedouble == (double)(long)v->valuedouble;
}

static int fits(const cJSON *v, int kind)
{
	const cJSON *e;
	switch (kind) {
	case RP_FK_STR: return cJSON_IsString(v);
	case RP_FK_NUM: return cJSON_IsNumber(v);
	case RP_FK_BOOL: return cJSON_IsBool(v);
	case RP_FK_COUNT: return whole(v, 10000);
	case RP_FK_PORT: return whole(v, 65535);
	case RP_FK_NAMES:
		if (!cJSON_IsArray(v))
			return 0;
		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsString(e))
				return 0;
		}
		return 1;
	case RP_FK_ACTION:
		return cJSON_IsString(v) && (!strcmp(v->valuestring, "up") || !strcmp(v->valuestring, "down") ||
					     !strcmp(v->valuestring, "hold"));
	case RP_FK_NUMINF:
		return cJSON_IsNumber(v) || (cJSON_IsString(v) && (!strcmp(v->valuestring, "+Inf") ||
								   !strcmp(v->valuestring, "-Inf")));
	case RP_FK_OBJECT: return cJSON_IsObject(v);
	}
	return 0;
}

int rp_recs_check(const cJSON *rec, const struct rp_rectype *t, char *why, size_t n)
{
	for (size_t i = 0; i < t->n; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, t->f[i].name);
		if (!v || cJSON_IsNull(v) || fits(v, t->f[i].kind))
			continue;
		snprintf(why, n, "%s must be %s", t->f[i].name, must[t->f[i].kind]);
		return -1;
	}
	return 1;
}

void rp_recs_refuse(const struct rp_rec_reader *rd, const char *type, const char *why)
{
	rp_fatal(RP_EXIT_USAGE, "%s:%ld: %s record: %s", rp_rec_name(rd), rp_rec_lineno(rd), type, why);
}

static int is_type(const cJSON *rec, const struct rp_rectype *t)
{
	const char *ty = rp_rec_type(rec);
	return ty && !strcmp(ty, t->type);
}

static cJSON *names(const cJSON *a)
{
	return a ? cJSON_Duplicate(a, 1) : cJSON_CreateArray();
}

cJSON *rp_decision_build(const struct rp_decision *d)
{
	cJSON *r = rp_rec_new(rp_rt_decision.type);
	cJSON_AddStringToObject(r, "action", d->action);
	cJSON_AddNumberToObject(r, "count", d->count);
	if (d->lag_known)
		cJSON_AddNumberToObject(r, "lag", (double)d->lag);
	else
		cJSON_AddNullToObject(r, "lag");
	if (d->p95_known && isfinite(d->p95_s))
		cJSON_AddNumberToObject(r, "p95_s", d->p95_s);
	else if (d->p95_known)
		cJSON_AddStringToObject(r, "p95_s", d->p95_s > 0 ? "+Inf" : "-Inf");
	else
		cJSON_AddNullToObject(r, "p95_s");
	cJSON_AddItemToObject(r, "nodes", names(d->nodes));
	if (d->nodes_known)
		cJSON_AddNumberToObject(r, "burst_nodes", d->burst_nodes);
	else
		cJSON_AddNullToObject(r, "burst_nodes");
	cJSON_AddItemToObject(r, "idle", names(d->idle));
	if (d->nodes_known)
		cJSON_AddNumberToObject(r, "lost_nodes", d->lost_nodes);
	else
		cJSON_AddNullToObject(r, "lost_nodes");
	cJSON_AddItemToObject(r, "lost", names(d->lost));
	cJSON_AddStringToObject(r, "reason", d->reason ? d->reason : "");
	return r;
}

static const cJSON *get(const cJSON *rec, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, k);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A checked number as a whole one; DEF when absent or beyond a long (a
 * cast would be undefined). */
static long whole_of(const cJSON *rec, const char *k, long def)
{
	const cJSON *v = get(rec, k);
	return v && v->valuedouble > -9e18 && v->valuedouble < 9e18 ? (long)v->valuedouble : def;
}

int rp_decision_read(const cJSON *rec, struct rp_decision *d, char *why, size_t n)
{
	memset(d, 0, sizeof *d);
	if (!is_type(rec, &rp_rt_decision))
		return 0;
	if (rp_recs_check(rec, &rp_rt_decision, why, n) < 0)
		return -1;
	d->action = rp_rec_str(rec, "action");
	if (!d->action) {
		snprintf(why, n, "action must be %s", must[RP_FK_ACTION]);
		return -1;
	}
	const cJSON *v;
	d->count = whole_of(rec, "count", -1);
	if (!strcmp(d->action, "up") && d->count < 0) {
		snprintf(why, n, "count must be %s", must[RP_FK_COUNT]);
		return -1;
	}
	if ((v = get(rec, "lag")))
		d->lag_known = 1, d->lag = whole_of(rec, "lag", 0);
	if ((v = get(rec, "p95_s")))
		d->p95_known = 1, d->p95_s = cJSON_IsNumber(v) ? v->valuedouble : *v->valuestring == '+' ? INFINITY : -INFINITY;
	const cJSON *b = get(rec, "burst_nodes"), *l = get(rec, "lost_nodes");
	d->nodes_known = b || l;
	d->burst_nodes = whole_of(rec, "burst_nodes", 0);
	d->lost_nodes = whole_of(rec, "lost_nodes", 0);
	d->nodes = get(rec, "nodes");
	d->idle = get(rec, "idle");
	d->lost = get(rec, "lost");
	d->reason = rp_rec_str(rec, "reason");
	return 1;
}

cJSON *rp_pod_build(const struct rp_pod *p)
{
	cJSON *o = rp_rec_new(rp_rt_pod.type);
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "gpu", p->gpu);
	cJSON_AddNumberToObject(o, "gpu_count", p->gpu_count);
	cJSON_AddBoolToObject(o, "spot", p->spot);
	cJSON_AddNumberToObject(o, "cost_per_hr", p->cost_per_hr);
	cJSON_AddStringToObject(o, "ssh_host", p->ssh_host);
	cJSON_AddNumberToObject(o, "ssh_port", p->ssh_port);
	cJSON_AddStringToObject(o, "status", p->status);
	cJSON_AddStringToObject(o, "dc", p->dc);
	return o;
}

int rp_pod_read(const cJSON *rec, struct rp_pod *p, char *why, size_t n)
{
	memset(p, 0, sizeof *p);
	if (!is_type(rec, &rp_rt_pod))
		return 0;
	if (rp_recs_check(rec, &rp_rt_pod, why, n) < 0)
		return -1;
	p->id = rp_rec_str(rec, "id");
	p->name = rp_rec_str(rec, "name");
	p->gpu = rp_rec_str(rec, "gpu");
	p->gpu_count = whole_of(rec, "gpu_count", 0);
	p->spot = rp_rec_bool(rec, "spot", 0);
	p->cost_per_hr = rp_rec_num(rec, "cost_per_hr", 0);
	p->ssh_host = rp_rec_str(rec, "ssh_host");
	p->ssh_port = whole_of(rec, "ssh_port", 0);
	p->status = rp_rec_str(rec, "status");
	p->dc = rp_rec_str(rec, "dc");
	p->error = rp_rec_str(rec, "error");
	return 1;
}

cJSON *rp_node_build(const struct rp_node *n)
{
	cJSON *o = rp_rec_new(rp_rt_node.type);
	cJSON_AddStringToObject(o, "id", n->id);
	if (n->node)
		cJSON_AddStringToObject(o, "node", n->node);
	cJSON_AddBoolToObject(o, "ready", n->ready);
	cJSON_AddStringToObject(o, "bootstrap", n->bootstrap);
	cJSON_AddItemToObject(o, "labels", n->labels ? cJSON_Duplicate(n->labels, 1) : cJSON_CreateObject());
	if (n->ssh_host)
		cJSON_AddStringToObject(o, "ssh_host", n->ssh_host);
	cJSON_AddNumberToObject(o, "ssh_port", n->ssh_port);
	if (n->fingerprint && *n->fingerprint)
		cJSON_AddStringToObject(o, "fingerprint", n->fingerprint);
	cJSON_AddNumberToObject(o, "seconds", n->seconds);
	if (n->error)
		cJSON_AddStringToObject(o, "error", n->error);
	return o;
}

int rp_node_read(const cJSON *rec, struct rp_node *nd, char *why, size_t n)
{
	memset(nd, 0, sizeof *nd);
	if (!is_type(rec, &rp_rt_node))
		return 0;
	if (rp_recs_check(rec, &rp_rt_node, why, n) < 0)
		return -1;
	nd->id = rp_rec_str(rec, "id");
	nd->node = rp_rec_str(rec, "node");
	nd->ready = rp_rec_bool(rec, "ready", 0);
	nd->bootstrap = rp_rec_str(rec, "bootstrap");
	nd->labels = get(rec, "labels");
	nd->ssh_host = rp_rec_str(rec, "ssh_host");
	nd->ssh_port = whole_of(rec, "ssh_port", 0);
	nd->fingerprint = rp_rec_str(rec, "fingerprint");
	nd->seconds = rp_rec_num(rec, "seconds", 0);
	nd->error = rp_rec_str(rec, "error");
	return 1;
}
