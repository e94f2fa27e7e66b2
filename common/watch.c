/* watch.c — rp-lagwatch's engine: poll, observe, decide, answer (see watch.h). */
#include "watch.h"
#include "decide.h"
#include "fleetlog.h"
#include "idle.h"
#include "kafka.h"
#include "kube.h"
#include "ledger.h"
#include "log.h"
#include "prewarm.h"
#include "prom.h"
#include "record.h"
#include "records.h"
#include "rp.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rp_watch {
	const struct rp_config *cfg;
	int verbose, lag_only, if_idle;
	long nodes_flag; /* -1: ask Kubernetes */
	struct rp_kafka_watch *w;
	size_t nw;
	int policy;
	struct rp_kafka *kafka;
	struct rp_kube *kube;
	struct obs *early; /* the early trigger's last poll */
	double early_now;
	int early_hot;     /* it was hot, every input known */
};

/* One poll's findings. */
struct obs {
	int lag_rc; /* 0 known */
	char *lag_err;
	struct rp_kafka_lag *lags;
	size_t nlags;
	double *lag_s; /* time lag per group, -1 unknown; NULL: not estimated */
	long long lag;
	int p95_rc;
	double p95;
	char *p95_note;
	int nodes_rc;
	char *nodes_err;
	int burst;
	int nlost;   /* burst nodes NotReady > scale.notready_grace */
	cJSON *idle; /* names idle >= scale.idle (none of them lost) */
	cJSON *lost; /* names of the lost ones rp-drain may take (not opted out) */
};

static void obs_free(struct obs *o)
{
	free(o->lag_err);
	rp_kafka_lags_free(o->lags, o->nlags);
	free(o->lag_s);
	free(o->p95_note);
	free(o->nodes_err);
	cJSON_Delete(o->idle);
	cJSON_Delete(o->lost);
	memset(o, 0, sizeof *o);
}

/* Is entry "G:T" (colon at c) bound to group g? */
static int bound_to(const char *g, const char *entry, const char *c)
{
	size_t n = (size_t)(c - entry);
	return strlen(g) == n && !strncmp(g, entry, n);
}

/* Pairs (group, topic) from kafka.group x kafka.topic: a plain topic is
 * consumed by every group, "G:T" only by group G (topic names cannot
 * contain a colon, group ids can: the last colon splits). */
static int build_watch(struct rp_watch *lw, char **err)
{
	const cJSON *gs = rp_cfg_json(lw->cfg, "kafka.group"), *ts = rp_cfg_json(lw->cfg, "kafka.topic");
	const cJSON *g, *t;
	size_t cap = (size_t)(cJSON_GetArraySize(gs) * cJSON_GetArraySize(ts)) + 1;
	lw->w = rp_xcalloc(cap, sizeof *lw->w);
	if (!cJSON_GetArraySize(gs)) {
		*err = rp_xasprintf("no kafka.group configured (%s)", rp_cfg_where(lw->cfg, "kafka.group"));
		return -1;
	}
	cJSON_ArrayForEach(t, ts)
	{
		const char *c = strrchr(t->valuestring, ':');
		if (c && (c == t->valuestring || !c[1])) {
			*err = rp_xasprintf("kafka.topic '%s': want TOPIC or GROUP:TOPIC", t->valuestring);
			return -1;
		}
		if (!c)
			continue;
		int known = 0;
		cJSON_ArrayForEach(g, gs)
		{
			known |= bound_to(g->valuestring, t->valuestring, c);
		}
		if (!known) {
			*err = rp_xasprintf("kafka.topic '%s': group '%.*s' is not in kafka.group", t->valuestring,
					    (int)(c - t->valuestring), t->valuestring);
			return -1;
		}
	}
	cJSON_ArrayForEach(g, gs)
	{
		size_t before = lw->nw;
		cJSON_ArrayForEach(t, ts)
		{
			const char *c = strrchr(t->valuestring, ':');
			if (!c) {
				lw->w[lw->nw].group = g->valuestring;
				lw->w[lw->nw++].topic = t->valuestring;
			} else if (bound_to(g->valuestring, t->valuestring, c)) {
				lw->w[lw->nw].group = g->valuestring;
				lw->w[lw->nw++].topic = c + 1;
			}
		}
		if (lw->nw == before) {
			*err = rp_xasprintf("kafka group '%s' has no topic (kafka.topic)", g->valuestring);
			return -1;
		}
	}
	return 0;
}

/* The Kafka handle, opened on first use: 0, or RP_EXIT_USAGE in o. */
static int open_lag(struct rp_watch *lw, struct obs *o)
{
	if (!lw->kafka) {
		lw->kafka = rp_kafka_open(rp_cfg_str(lw->cfg, "kafka.bootstrap_servers"),
					  rp_cfg_dur(lw->cfg, "kafka.timeout"), &o->lag_err);
		if (!lw->kafka)
			return o->lag_rc = RP_EXIT_USAGE;
	}
	return 0;
}

/* The poll itself (the handle open): touches only lw's Kafka and o's lag
 * fields, so it may run on a thread of its own. */
static void *lag_of(struct rp_watch *lw, struct obs *o)
{
	o->lag_rc = rp_kafka_poll(lw->kafka, lw->w, lw->nw, lw->policy, &o->lags, &o->nlags, &o->lag_err);
	for (size_t i = 0; !o->lag_rc && i < o->nlags; i++)
		o->lag += o->lags[i].lag;
	return NULL;
}

static void poll_lag(struct rp_watch *lw, struct obs *o)
{
	if (!open_lag(lw, o))
		lag_of(lw, o);
}

struct lag_job {
	struct rp_watch *lw;
	struct obs *o;
};

static void *lag_job_run(void *arg)
{
	struct lag_job *j = arg;
	return lag_of(j->lw, j->o);
}

static void poll_p95(struct rp_watch *lw, struct obs *o, int warn)
{
	o->p95_rc = rp_prom_query(rp_cfg_str(lw->cfg, "prometheus.url"), rp_cfg_str(lw->cfg, "prometheus.query"),
				  rp_cfg_dur(lw->cfg, "prometheus.timeout"), &o->p95, &o->p95_note);
	if (o->p95_rc == RP_PROM_ERROR) {
		if (warn)
			rp_logw("no latency signal", "error", o->p95_note);
		char *n = rp_xasprintf("%s; decided from lag alone", o->p95_note);
		free(o->p95_note);
		o->p95_note = n;
	}
}

static void poll_nodes(struct rp_watch *lw, struct obs *o, double now)
{
	cJSON *nodes, *n;
	o->idle = cJSON_CreateArray();
	o->lost = cJSON_CreateArray();
	if (lw->nodes_flag >= 0) {
		o->burst = (int)lw->nodes_flag;
		return;
	}
	if (!lw->kube) {
		lw->kube = rp_kube_open(rp_cfg_str(lw->cfg, "kube.kubeconfig"), &o->nodes_err);
		if (!lw->kube) {
			o->nodes_rc = RP_EXIT_TEMP;
			return;
		}
	}
	o->nodes_rc = rp_idle_refresh(lw->kube, lw->cfg, now, &nodes, &o->nodes_err);
	if (o->nodes_rc)
		return;
	double min_idle = rp_cfg_dur(lw->cfg, "scale.idle");
	cJSON_ArrayForEach(n, nodes)
	{
		o->burst++;
		const cJSON *since = cJSON_GetObjectItemCaseSensitive(n, "idle_since");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "node");
		const cJSON *nr = cJSON_GetObjectItemCaseSensitive(n, "not_ready_s");
		int optout = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "opt_out"));
		double s;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "lost"))) { /* rp_fleet_lost() */
			/* serves nothing: not capacity, drained whatever the lag */
			char secs[32];
			snprintf(secs, sizeof secs, "%.0f", cJSON_IsNumber(nr) ? nr->valuedouble : 0);
			o->nlost++;
			if (optout)
				rp_logw("lost node opted out of scale-down: kept, still billing", "node", name->valuestring,
					"not_ready_s", secs);
			else
				cJSON_AddItemToArray(o->lost, cJSON_Duplicate(name, 0));
			if (lw->verbose)
				rp_info("lost node", "node", name->valuestring, "not_ready_s", secs);
			continue;
		}
		if (optout)
			continue; /* counted, never named for a down */
		if (cJSON_IsString(since) && rp_parse_rfc3339(since->valuestring, &s) == 0 && now - s >= min_idle)
			cJSON_AddItemToArray(o->idle, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(n, "node"), 0));
	}
	cJSON_Delete(nodes);
}

static void emit_lags(struct rp_watch *lw, const struct obs *o)
{
	int detail = lw->verbose || rp_out_mode() == RP_OUT_TABLE;
	for (size_t i = 0; i < o->nlags; i++) {
		const struct rp_kafka_lag *l = &o->lags[i];
		cJSON *r = rp_rec_new("lag"), *topics = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "group", l->group);
		for (size_t p = 0; p < l->nparts; p++) {
			cJSON *t = cJSON_GetObjectItemCaseSensitive(topics, l->parts[p].topic);
			if (!t)
				t = cJSON_AddNumberToObject(topics, l->parts[p].topic, 0);
			cJSON_SetNumberValue(t, t->valuedouble + (double)l->parts[p].lag);
		}
		cJSON_AddItemToObject(r, "topics", topics);
		cJSON_AddNumberToObject(r, "lag", (double)l->lag);
		cJSON_AddNumberToObject(r, "partitions", (double)l->nparts);
		cJSON_AddNumberToObject(r, "committed", (double)l->ncommitted);
		if (o->lag_s && o->lag_s[i] >= 0)
			cJSON_AddNumberToObject(r, "lag_s", round(o->lag_s[i] * 10) / 10);
		else if (o->lag_s)
			cJSON_AddNullToObject(r, "lag_s");
		rp_out_rec(r);
		cJSON_Delete(r);
		for (size_t p = 0; detail && p < l->nparts; p++) {
			const struct rp_kafka_part *x = &l->parts[p];
			r = rp_rec_new("lag_partition");
			cJSON_AddStringToObject(r, "group", l->group);
			cJSON_AddStringToObject(r, "topic", x->topic);
			cJSON_AddNumberToObject(r, "partition", x->partition);
			if (x->committed >= 0)
				cJSON_AddNumberToObject(r, "committed", (double)x->committed);
			else
				cJSON_AddNullToObject(r, "committed");
			cJSON_AddNumberToObject(r, "lo", (double)x->lo);
			cJSON_AddNumberToObject(r, "hi", (double)x->hi);
			cJSON_AddNumberToObject(r, "lag", (double)x->lag);
			rp_out_rec(r);
			cJSON_Delete(r);
		}
	}
}

/* Seconds behind, per group, from the samples kept in the state dir. */
static void time_lag(struct obs *o, double now)
{
	cJSON *samples = rp_timelag_load();
	o->lag_s = rp_xcalloc(o->nlags ? o->nlags : 1, sizeof *o->lag_s);
	for (size_t i = 0; i < o->nlags; i++) {
		long long hi = 0;
		for (size_t p = 0; p < o->lags[i].nparts; p++)
			hi += o->lags[i].parts[p].hi;
		o->lag_s[i] = rp_timelag(samples, o->lags[i].group, now, hi, o->lags[i].lag);
	}
	if (rp_timelag_save(samples) < 0)
		rp_logw("cannot save lag samples", "dir", rp_state_dir(), "error", strerror(errno));
	cJSON_Delete(samples);
}

/* The rule's input from one poll's findings, and the saved state. */
static void decide_input(const struct rp_watch *lw, const struct obs *o, double now, struct rp_decide_in *in,
			 struct rp_decide_state *st)
{
	rp_decide_rule(lw->cfg, in);
	in->now = now;
	char *why = NULL;
	if (rp_cfg_bool(lw->cfg, "scale.prewarm") && (in->prewarm = rp_prewarm_floor(now, &why)) < 0) {
		rp_logw("scale.prewarm: no pre-warm floor this tick", "error", why);
		in->prewarm = 0;
	}
	free(why);
	in->lag_known = o->lag_rc == 0 && o->nodes_rc == 0;
	in->lag = o->lag;
	in->p95_known = o->p95_rc == RP_PROM_OK;
	in->p95 = o->p95;
	in->p95_note = o->p95_rc == RP_PROM_OK ? NULL : o->p95_note;
	in->burst_nodes = o->burst;
	in->lost_nodes = o->nlost;
	in->idle_nodes = cJSON_GetArraySize(o->idle);
	rp_decide_load(st);
	/* The cooldown is the fleet's: another replica's last wave counts. */
	double up_t;
	int up_n;
	if (rp_fleetlog_last_wave(&up_t, &up_n) && up_t > st->last_up) {
		st->last_up = up_t;
		st->last_up_count = up_n;
		st->last_up_burst = 0;
		st->last_up_lost = 0;
	}
}

/* The idle path's first look (watch.h): nothing of ours is or may be
 * alive by the ledger, and no other replica's ledger to consult. */
static int fleet_empty(void)
{
	char *err = NULL;
	if (rp_fleetlog_enabled())
		return 0;
	int r = rp_ledger_any_alive(NULL, &err);
	if (r < 0) {
		rp_logw("ledger unreadable: not the idle path", "error", err);
		free(err);
	}
	return r == 0;
}

int rp_watch_tick(struct rp_watch *lw, char **err)
{
	struct obs o = { 0 };
	double now = rp_now();
	int rc = RP_EXIT_OK;

	if (lw->if_idle && !fleet_empty())
		return RP_WATCH_NOT_IDLE;
	/* Kafka answers while Prometheus and Kubernetes are asked: the lag
	 * poll runs on a thread of its own (it mostly waits on the brokers). */
	struct lag_job job = { lw, &o };
	pthread_t lag_th;
	int threaded = 0, unopened = lw->lag_only ? 0 : open_lag(lw, &o);
	if (lw->lag_only)
		poll_lag(lw, &o);
	else if (!unopened) {
		threaded = pthread_create(&lag_th, NULL, lag_job_run, &job) == 0;
		if (!threaded)
			lag_of(lw, &o);
	}
	if (!lw->lag_only && !unopened) {
		poll_p95(lw, &o, 1);
		poll_nodes(lw, &o, now);
	}
	if (threaded)
		pthread_join(lag_th, NULL);
	if (o.lag_rc == RP_EXIT_USAGE) {
		*err = o.lag_err;
		o.lag_err = NULL;
		obs_free(&o);
		return RP_EXIT_USAGE;
	}
	if (!o.lag_rc && !lw->lag_only && !lw->if_idle)
		time_lag(&o, now);
	if (!lw->if_idle)
		emit_lags(lw, &o);
	if (lw->lag_only) {
		if (o.lag_rc)
			rp_loge("lag unknown", "error", o.lag_err);
		rc = o.lag_rc ? RP_EXIT_TEMP : RP_EXIT_OK;
		obs_free(&o);
		return rc;
	}

	struct rp_decide_in in;
	struct rp_decide_state st;
	struct rp_decide_out d;
	decide_input(lw, &o, now, &in, &st);
	rp_decide(&in, &st, &d);
	if (lw->if_idle) {
		/* Only a hold over nothing of ours is the idle path's to print. */
		if (o.lag_rc || o.nodes_rc || o.burst || o.nlost || d.action != RP_HOLD) {
			obs_free(&o);
			return RP_WATCH_NOT_IDLE;
		}
		time_lag(&o, now);
		emit_lags(lw, &o);
	}
	if (o.lag_rc || o.nodes_rc) {
		/* Unknown: hold, and say why; the state is left as it was. */
		snprintf(d.reason, sizeof d.reason, "%s", o.lag_rc ? o.lag_err : o.nodes_err);
		rc = RP_EXIT_TEMP;
		rp_loge("holding: input unknown", "error", d.reason);
	} else if (rp_decide_save(&st) < 0) {
		rp_logw("cannot save the decision state", "dir", rp_state_dir(), "error", strerror(errno));
	}

	/* a down names as many idle nodes as it takes (the warm pool may keep some) */
	cJSON *down = NULL;
	if (d.action == RP_DOWN) {
		down = cJSON_CreateArray();
		for (int i = 0; i < d.count && i < cJSON_GetArraySize(o.idle); i++)
			cJSON_AddItemToArray(down, cJSON_Duplicate(cJSON_GetArrayItem(o.idle, i), 0));
	}
	struct rp_decision dr = {
		.action = rp_decide_action(d.action),
		.count = d.count,
		.lag_known = !o.lag_rc,
		.lag = o.lag,
		.p95_known = o.p95_rc == RP_PROM_OK,
		.p95_s = o.p95,
		.nodes_known = !o.nodes_rc,
		.burst_nodes = o.burst,
		.lost_nodes = o.nlost,
		.nodes = down,
		.idle = o.idle,
		.lost = o.lost,
		.reason = d.reason,
	};
	cJSON *r = rp_decision_build(&dr);
	rp_out_rec(r);
	cJSON_Delete(r);
	cJSON_Delete(down);
	rp_info("decision", "action", rp_decide_action(d.action), "reason", d.reason);
	obs_free(&o);
	return rc;
}

int rp_watch_early_poll(struct rp_watch *lw, char *why, size_t n)
{
	struct obs *o = lw->early ? lw->early : (lw->early = rp_xcalloc(1, sizeof *o));
	struct rp_decide_in in;
	obs_free(o);
	*why = 0;
	lw->early_hot = 0;
	lw->early_now = rp_now();
	poll_lag(lw, o);
	if (o->lag_rc) {
		snprintf(why, n, "lag unknown: %s", o->lag_err ? o->lag_err : "?");
		return 0;
	}
	poll_p95(lw, o, 0); /* every interval: the tick's poll warns */
	rp_decide_rule(lw->cfg, &in);
	in.lag_known = 1;
	in.lag = o->lag;
	in.p95_known = o->p95_rc == RP_PROM_OK;
	in.p95 = o->p95;
	if (!rp_decide_hot(&in))
		return 0; /* the common case: one Kafka poll, no Kubernetes call */
	poll_nodes(lw, o, lw->early_now);
	if (o->nodes_rc) {
		snprintf(why, n, "nodes unknown: %s", o->nodes_err ? o->nodes_err : "?");
		return 0;
	}
	return lw->early_hot = 1;
}

int rp_watch_early_decide(struct rp_watch *lw, char *why, size_t n)
{
	struct rp_decide_in in;
	struct rp_decide_state st;
	struct rp_decide_out d;
	if (!lw->early_hot) {
		snprintf(why, n, "no hot poll");
		return RP_EARLY_NONE;
	}
	decide_input(lw, lw->early, lw->early_now, &in, &st);
	rp_decide(&in, &st, &d);
	snprintf(why, n, "%s", d.reason);
	if (d.action == RP_UP)
		return RP_EARLY_UP; /* not saved: the tick polls and decides again */
	if (!d.first_hot)
		return RP_EARLY_NONE;
	if (rp_decide_save(&st) < 0) {
		rp_logw("cannot save the decision state", "dir", rp_state_dir(), "error", strerror(errno));
		return RP_EARLY_NONE;
	}
	return RP_EARLY_COUNTED;
}

void rp_watch_sample(struct rp_watch *lw, struct rp_watch_sample *out)
{
	struct obs o = { 0 };
	memset(out, 0, sizeof *out);
	out->p95 = NAN;
	poll_lag(lw, &o);
	if (o.lag_rc) {
		out->err = rp_xstrdup(o.lag_err ? o.lag_err : "lag unknown");
	} else {
		out->lag_known = 1;
		out->lag = o.lag;
		out->groups = cJSON_CreateObject();
		for (size_t i = 0; i < o.nlags; i++)
			cJSON_AddNumberToObject(out->groups, o.lags[i].group, (double)o.lags[i].lag);
		if (!lw->lag_only) {
			poll_p95(lw, &o, 1);
			if (o.p95_rc == RP_PROM_OK && isfinite(o.p95))
				out->p95 = o.p95;
		}
	}
	obs_free(&o);
}

void rp_watch_sample_free(struct rp_watch_sample *s)
{
	free(s->err);
	cJSON_Delete(s->groups);
	memset(s, 0, sizeof *s);
}

struct rp_watch *rp_watch_open(const struct rp_config *cfg, const struct rp_watch_opts *opt, char **err)
{
	struct rp_watch *lw = rp_xcalloc(1, sizeof *lw);
	lw->cfg = cfg;
	lw->verbose = opt->verbose;
	lw->lag_only = opt->lag_only;
	lw->if_idle = opt->if_idle;
	lw->nodes_flag = opt->nodes;
	lw->policy = rp_kafka_policy(rp_cfg_str(cfg, "kafka.offset_policy"));
	*err = NULL;
	if (lw->policy < 0)
		*err = rp_xasprintf("%s: key 'kafka.offset_policy': want latest or earliest, got '%s'",
				    rp_cfg_where(cfg, "kafka.offset_policy"), rp_cfg_str(cfg, "kafka.offset_policy"));
	else if (rp_cfg_int(cfg, "kafka.lag_threshold") < 1)
		*err = rp_xasprintf("%s: key 'kafka.lag_threshold': must be at least 1",
				    rp_cfg_where(cfg, "kafka.lag_threshold"));
	else
		build_watch(lw, err);
	if (*err) {
		rp_watch_close(lw);
		return NULL;
	}
	return lw;
}

void rp_watch_close(struct rp_watch *lw)
{
	if (!lw)
		return;
	rp_kafka_close(lw->kafka);
	rp_kube_free(lw->kube);
	if (lw->early)
		obs_free(lw->early);
	free(lw->early);
	free(lw->w);
	free(lw);
}
