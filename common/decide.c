/* decide.c — the scale decision (see decide.h). */
#include "decide.h"
#include "state.h"
#include "rp.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rp_decide_action(int action)
{
	return action == RP_UP ? "up" : action == RP_DOWN ? "down" : "hold";
}

static void say(struct rp_decide_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct rp_decide_out *o, const char *fmt, ...)
{
	size_t n = strlen(o->reason);
	va_list ap;
	if (n >= sizeof o->reason - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(o->reason + n, sizeof o->reason - n, fmt, ap);
	va_end(ap);
}

void rp_decide_rule(const struct rp_config *c, struct rp_decide_in *in)
{
	memset(in, 0, sizeof *in);
	in->lag_threshold = rp_cfg_int(c, "kafka.lag_threshold");
	in->p95_threshold = rp_cfg_num(c, "prometheus.threshold");
	in->max_nodes = rp_cfg_int(c, "runpod.max_nodes");
	in->cooldown = rp_cfg_dur(c, "scale.cooldown");
	char *why = NULL;
	if (rp_warm_pool_parse(rp_cfg_json(c, "scale.warm_pool"), in->max_nodes, in->warm_pool, &why) < 0)
		memset(in->warm_pool, 0, sizeof in->warm_pool);
	free(why);
}

long long rp_decide_need(long long lag, long lag_threshold)
{
	long thr = lag_threshold > 0 ? lag_threshold : 1;
	return lag > 0 ? (lag + thr - 1) / thr : 0;
}

int rp_decide_hot(const struct rp_decide_in *in)
{
	long thr = in->lag_threshold > 0 ? in->lag_threshold : 1;
	return in->lag_known && (in->lag > thr || (in->p95_known && in->p95 > in->p95_threshold));
}

void rp_decide(const struct rp_decide_in *in, struct rp_decide_state *st, struct rp_decide_out *out)
{
	long thr = in->lag_threshold > 0 ? in->lag_threshold : 1;
	double now = in->now;
	int in_cool = st->last_up > 0 && now - st->last_up < in->cooldown;
	int lost = in->lost_nodes > 0 ? (in->lost_nodes < in->burst_nodes ? in->lost_nodes : in->burst_nodes) : 0;
	long long serving = in->burst_nodes - lost;
	int hour = rp_warm_pool_hour(now), floor_n = in->warm_pool[hour];
	const char *fname = "warm pool";
	if (in->prewarm > floor_n) /* the pre-warm floor joins the warm pool's: the larger */
		floor_n = in->prewarm, fname = "pre-warm";
	/* present: serving, or within the cooldown what the last up asked
	 * for (booting), less the nodes lost since */
	long long present = serving;
	int lost_since = lost > st->last_up_lost ? lost - st->last_up_lost : 0;
	long long asked = (long long)st->last_up_burst + st->last_up_count - lost_since;
	if (in_cool && asked > present)
		present = asked;

	memset(out, 0, sizeof *out);
	out->action = RP_HOLD;
	if (!in->lag_known) {
		say(out, "lag unknown");
		return;
	}

	int lag_hot = in->lag > thr;
	int p95_hot = in->p95_known && in->p95 > in->p95_threshold;
	int surge = in->lag >= 2LL * thr ||
		    (in->p95_known && in->p95_threshold > 0 && in->p95 >= 2 * in->p95_threshold);
	int hot = rp_decide_hot(in);

	if (hot) {
		int chained = st->last_poll > 0 && st->hot_streak > 0 && now - st->last_poll <= in->cooldown &&
			      now >= st->last_poll;
		st->hot_streak = chained ? st->hot_streak + 1 : 1;
	} else {
		st->hot_streak = 0;
	}
	st->last_poll = now;

	if (hot) {
		if (lag_hot)
			say(out, "lag %lld > %ld", in->lag, thr);
		if (p95_hot)
			say(out, "%sp95 %.3gs > %.3gs", lag_hot ? ", " : "", in->p95, in->p95_threshold);
		if (!surge && st->hot_streak < 2) {
			say(out, " on 1 poll: waiting for a second (hysteresis)");
			out->first_hot = 1;
			goto keep_floor;
		}
		say(out, surge ? " (surge: >= 2x threshold)" : " on %d polls", st->hot_streak);

		long long need = rp_decide_need(in->lag, thr);
		long long want = need - present;
		if (in_cool && want <= 0) {
			say(out, "; %d node(s) asked %.0fs ago still count (cooldown %.0fs)", st->last_up_count,
			    now - st->last_up, in->cooldown);
			goto keep_floor;
		}
		if (want < 1)
			want = 1;
		/* a lost node bills until it is drained: it counts here */
		long long cap = in->max_nodes - (present + lost);
		if (cap <= 0) {
			say(out, "; at max_nodes %ld (%lld burst nodes)", in->max_nodes, present + lost);
			goto keep_floor;
		}
		out->action = RP_UP;
		out->count = (int)(want < cap ? want : cap);
		if (want > cap)
			say(out, "; capped by max_nodes %ld", in->max_nodes);
		st->last_up = now;
		st->last_up_count = out->count;
		st->last_up_burst = (int)serving;
		st->last_up_lost = lost;
		goto keep_floor;
	}

	if (in->lag > 0) {
		say(out, "lag %lld <= %ld", in->lag, thr);
		goto keep_floor;
	}
	if (in->p95_known && in->p95 >= in->p95_threshold) {
		say(out, "lag 0 but p95 %.3gs not under %.3gs", in->p95, in->p95_threshold);
		goto keep_floor;
	}
	if (in->idle_nodes <= 0) {
		say(out, "lag 0, no burst node idle long enough (%d burst nodes)", in->burst_nodes);
		goto keep_floor;
	}
	if (in_cool) {
		say(out, "lag 0, %d idle node(s), but last up %.0fs ago is within cooldown %.0fs", in->idle_nodes,
		    now - st->last_up, in->cooldown);
		goto keep_floor;
	}
	if (serving - floor_n < in->idle_nodes) { /* the warm pool keeps some */
		if (serving - floor_n <= 0) {
			say(out, "lag 0, %d idle node(s), all kept: %s floor %d at %02d UTC", in->idle_nodes,
			    fname, floor_n, hour);
			goto keep_floor;
		}
		out->action = RP_DOWN;
		out->count = (int)(serving - floor_n);
		say(out, "lag 0, %d burst node(s) idle, %d down: %s floor %d at %02d UTC", in->idle_nodes,
		    out->count, fname, floor_n, hour);
		st->last_down = now;
		goto note;
	}
	out->action = RP_DOWN;
	out->count = in->idle_nodes;
	say(out, "lag 0, %d burst node(s) idle", in->idle_nodes);
	st->last_down = now;
	goto note;
keep_floor:; /* the warm pool: a fleet below the floor goes up to it */
	long long cap = in->max_nodes - (present + lost), add = floor_n - present;
	if (add > cap)
		add = cap;
	if (add > (out->action == RP_UP ? out->count : 0)) {
		say(out, "%sfleet %lld below the %s floor %d at %02d UTC", *out->reason ? "; " : "", present,
		    fname, floor_n, hour);
		out->action = RP_UP;
		out->count = (int)add;
		st->last_up = now;
		st->last_up_count = (int)(present - serving + add); /* booting ones included */
		st->last_up_burst = (int)serving;
		st->last_up_lost = lost;
	}
note:
	if (lost)
		say(out, "; %d lost node(s) (NotReady too long) not counted as capacity, to be drained", lost);
	if (!in->p95_known && in->p95_note)
		say(out, "; no latency signal (%s)", in->p95_note);
}

static char *state_path(void)
{
	return rp_state_path(RP_STATE_LAGWATCH, NULL);
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void rp_decide_load(struct rp_decide_state *st)
{
	char *p = state_path();
	size_t n;
	char *s = rp_read_file(p, 1 << 20, &n);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	memset(st, 0, sizeof *st);
	if (s && !cJSON_IsObject(j))
		rp_logw("decision state unreadable, starting afresh", "file", p);
	if (cJSON_IsObject(j)) {
		st->last_poll = num(j, "last_poll");
		st->hot_streak = (int)num(j, "hot_streak");
		st->last_up = num(j, "last_up");
		st->last_up_count = (int)num(j, "last_up_count");
		st->last_up_burst = (int)num(j, "last_up_burst");
		st->last_up_lost = (int)num(j, "last_up_lost");
		st->last_down = num(j, "last_down");
	}
	cJSON_Delete(j);
	free(s);
	free(p);
}

int rp_decide_save(const struct rp_decide_state *st)
{
	char *p = state_path();
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "last_poll", st->last_poll);
	cJSON_AddNumberToObject(j, "hot_streak", st->hot_streak);
	cJSON_AddNumberToObject(j, "last_up", st->last_up);
	cJSON_AddNumberToObject(j, "last_up_count", st->last_up_count);
	cJSON_AddNumberToObject(j, "last_up_burst", st->last_up_burst);
	cJSON_AddNumberToObject(j, "last_up_lost", st->last_up_lost);
	cJSON_AddNumberToObject(j, "last_down", st->last_down);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	int r = rp_state_mkdir(rp_state_dir());
	if (r == 0)
		r = rp_write_atomic(p, s, strlen(s), rp_state_mode(RP_STATE_LAGWATCH));
	int e = errno;
	free(s);
	free(p);
	errno = e;
	return r;
}

enum { TL_MAX = 120 };
#define TL_AGE 3600.0

static double pt(const cJSON *a, int i, int k)
{
	const cJSON *x = cJSON_GetArrayItem(cJSON_GetArrayItem(a, i), k);
	return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

static cJSON *point(double t, double h)
{
	cJSON *p = cJSON_CreateArray();
	cJSON_AddItemToArray(p, cJSON_CreateNumber((double)(long long)(t * 1000) / 1000));
	cJSON_AddItemToArray(p, cJSON_CreateNumber(h));
	return p;
}

double rp_timelag(cJSON *samples, const char *group, double now, long long hi, long long lag)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(samples, group);
	if (!cJSON_IsArray(a)) {
		cJSON_DeleteItemFromObjectCaseSensitive(samples, group);
		a = cJSON_AddArrayToObject(samples, group);
	}
	/* Forget what is too old, or from the future (clock stepped back). */
	while (cJSON_GetArraySize(a) > 0 &&
	       (now - pt(a, 0, 0) > TL_AGE || cJSON_GetArraySize(a) >= TL_MAX))
		cJSON_DeleteItemFromArray(a, 0);
	for (int i = cJSON_GetArraySize(a) - 1; i >= 0; i--)
		if (pt(a, i, 0) > now || pt(a, i, 1) > (double)hi)
			cJSON_DeleteItemFromArray(a, i);
	int n = cJSON_GetArraySize(a);
	if (n >= 2 && pt(a, n - 1, 1) == (double)hi && pt(a, n - 2, 1) == (double)hi)
		cJSON_ReplaceItemInArray(a, n - 1, point(now, (double)hi));
	else
		cJSON_AddItemToArray(a, point(now, (double)hi));
	n = cJSON_GetArraySize(a);

	if (lag <= 0)
		return 0;
	double pos = (double)(hi - lag);
	for (int i = n - 2; i >= 0; i--) {
		double h0 = pt(a, i, 1), h1 = pt(a, i + 1, 1);
		if (h0 <= pos && pos < h1) {
			double t0 = pt(a, i, 0), t1 = pt(a, i + 1, 0);
			double t = t0 + (pos - h0) * (t1 - t0) / (h1 - h0);
			return now - t > 0 ? now - t : 0;
		}
	}
	double t0 = pt(a, 0, 0), h0 = pt(a, 0, 1), tn = pt(a, n - 1, 0), hn = pt(a, n - 1, 1);
	if (n < 2 || hn <= h0 || tn <= t0 || pos >= h0)
		return -1;
	double t = t0 - (h0 - pos) * (tn - t0) / (hn - h0);
	return now - t;
}

static char *samples_path(void)
{
	return rp_state_path(RP_STATE_LAGWATCH_SAMPLES, NULL);
}

cJSON *rp_timelag_load(void)
{
	char *p = samples_path();
	size_t n;
	char *s = rp_read_file(p, 8 << 20, &n);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = cJSON_CreateObject();
	}
	free(s);
	free(p);
	return j;
}

int rp_timelag_save(const cJSON *samples)
{
	char *p = samples_path();
	char *s = cJSON_PrintUnformatted(samples);
	int r = rp_state_mkdir(rp_state_dir());
	if (r == 0)
		r = rp_write_atomic(p, s, strlen(s), rp_state_mode(RP_STATE_LAGWATCH_SAMPLES));
	free(s);
	free(p);
	return r;
}
