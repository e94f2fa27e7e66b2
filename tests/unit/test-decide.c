/* test-decide.c — the scale decision, the per-partition lag rule and the
 * Prometheus answer parser: pure functions, every rule of rp-lagwatch(1). */
#include "decide.h"
#include "kafka.h"
#include "prom.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>

static struct rp_decide_in base(double now, long long lag)
{
	struct rp_decide_in in = {
		.now = now, .lag_known = 1, .lag = lag, .lag_threshold = 5,
		.p95_known = 0, .p95_threshold = 30, .burst_nodes = 0, .idle_nodes = 0,
		.max_nodes = 50, .cooldown = 300,
	};
	return in;
}

static int run(struct rp_decide_in in, struct rp_decide_state *st, struct rp_decide_out *o)
{
	rp_decide(&in, st, o);
	return o->action;
}

static void test_thresholds(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	T_INT(run(base(1000, 5), &st, &o), RP_HOLD, "lag 5 = threshold: hold");
	T_INT(run(base(1010, 5), &st, &o), RP_HOLD, "lag 5 again: still hold");
	T_INT(st.hot_streak, 0, "no hot streak at the threshold");
	T_INT(run(base(1020, 6), &st, &o), RP_HOLD, "lag 6 once: hold (hysteresis)");
	T_OK(strstr(o.reason, "hysteresis") != NULL, "reason says hysteresis: %s", o.reason);
	T_INT(o.first_hot, 1, "first_hot: the poll an early trigger counts");
	T_INT(run(base(1030, 6), &st, &o), RP_UP, "lag 6 on two polls: up");
	T_INT(o.count, 2, "count = ceil(6/5)");
	T_INT(o.first_hot, 0, "the second hot poll is not a first");
	T_OK(strstr(o.reason, "lag 6 > 5") != NULL, "reason names lag and threshold: %s", o.reason);

	memset(&st, 0, sizeof st);
	T_INT(run(base(1000, 10), &st, &o), RP_UP, "lag 10 = 2x threshold: up at once");
	T_INT(o.first_hot, 0, "a surge is no first hot poll: it goes up");
	T_INT(o.count, 2, "count 2");
	T_OK(strstr(o.reason, "surge") != NULL, "reason says surge: %s", o.reason);

	memset(&st, 0, sizeof st);
	T_INT(run(base(1000, 9), &st, &o), RP_HOLD, "lag 9 < 2x: first poll holds");
	struct rp_decide_in late = base(1000 + 301, 9);
	T_INT(run(late, &st, &o), RP_HOLD, "second hot poll after more than the cooldown: streak restarts");
	T_INT(st.hot_streak, 1, "streak is 1 again");
	T_INT(run(base(1000 + 302, 4), &st, &o), RP_HOLD, "a calm poll");
	T_INT(run(base(1000 + 303, 9), &st, &o), RP_HOLD, "calm poll broke the streak");
	T_INT(o.first_hot, 1, "and that is a first hot poll again");
	T_INT(run(base(1000 + 304, 4), &st, &o), RP_HOLD, "calm");
	T_INT(o.first_hot, 0, "a calm poll is no first hot poll");

	/* rp_decide_hot: the one "hot" both rp_decide and the early trigger use */
	struct rp_decide_in h = base(0, 5);
	T_INT(rp_decide_hot(&h), 0, "hot: lag 5 = threshold is not");
	h.lag = 6;
	T_INT(rp_decide_hot(&h), 1, "hot: lag 6 > 5 is");
	h.lag_known = 0;
	T_INT(rp_decide_hot(&h), 0, "hot: never with the lag unknown");
	h = base(0, 0);
	h.p95_known = 1;
	h.p95 = 31;
	T_INT(rp_decide_hot(&h), 1, "hot: p95 31 s > 30 s");
	h.p95_known = 0;
	T_INT(rp_decide_hot(&h), 0, "hot: not on an unknown p95");
}

static void test_count_and_caps(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	struct rp_decide_in in = base(1000, 100);
	in.burst_nodes = 2;
	in.max_nodes = 3;
	T_INT(run(in, &st, &o), RP_UP, "surge up");
	T_INT(o.count, 1, "capped by max_nodes - burst nodes");
	T_OK(strstr(o.reason, "capped") != NULL, "reason says capped: %s", o.reason);

	memset(&st, 0, sizeof st);
	in.burst_nodes = 3;
	T_INT(run(in, &st, &o), RP_HOLD, "at max_nodes: hold");
	T_OK(strstr(o.reason, "max_nodes") != NULL, "reason names max_nodes: %s", o.reason);

	memset(&st, 0, sizeof st);
	in = base(1000, 12);
	in.burst_nodes = 5;
	T_INT(run(in, &st, &o), RP_UP, "lag 12 with 5 burst nodes: still up");
	T_INT(o.count, 1, "at least 1 when up");
}

static void test_cooldown_pending(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	T_INT(run(base(1000, 10), &st, &o), RP_UP, "up 2");
	T_INT(o.count, 2, "count 2");
	T_INT(run(base(1010, 10), &st, &o), RP_HOLD, "10 s later, same lag: the 2 asked still count");
	T_OK(strstr(o.reason, "still count") != NULL, "reason: %s", o.reason);
	T_INT(run(base(1020, 17), &st, &o), RP_UP, "lag 17 needs 4: up the difference");
	T_INT(o.count, 2, "4 - 2 pending");
	struct rp_decide_in in = base(1020 + 301, 17);
	in.burst_nodes = 4;
	T_INT(run(in, &st, &o), RP_UP, "after the cooldown, still hot with 4 nodes: up 1 more");
	T_INT(o.count, 1, "count 1");
}

static void test_down(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	struct rp_decide_in in = base(1000, 0);
	in.burst_nodes = 3;
	T_INT(run(in, &st, &o), RP_HOLD, "lag 0, nothing idle: hold");
	in.idle_nodes = 2;
	T_INT(run(in, &st, &o), RP_DOWN, "lag 0, 2 idle, no latency signal: down");
	T_INT(o.count, 2, "count = idle nodes");
	in.lag = 1;
	T_INT(run(in, &st, &o), RP_HOLD, "lag 1: never down");
	in.lag = 0;
	in.p95_known = 1;
	in.p95 = 30;
	T_INT(run(in, &st, &o), RP_HOLD, "p95 at threshold: not under, hold");
	in.p95 = 29.9;
	T_INT(run(in, &st, &o), RP_DOWN, "p95 under threshold: down");

	memset(&st, 0, sizeof st);
	T_INT(run(base(2000, 10), &st, &o), RP_UP, "an up");
	in.now = 2000 + 299;
	T_INT(run(in, &st, &o), RP_HOLD, "down within the cooldown of the up: hold");
	T_OK(strstr(o.reason, "cooldown") != NULL, "reason names the cooldown: %s", o.reason);
	in.now = 2000 + 300;
	T_INT(run(in, &st, &o), RP_DOWN, "down once the cooldown has passed");
}

static void test_lost(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	struct rp_decide_in in = base(1000, 10);
	in.burst_nodes = 2;
	in.lost_nodes = 1;
	T_INT(run(in, &st, &o), RP_UP, "lag 10, 2 burst nodes, 1 lost: up (surge)");
	T_INT(o.count, 1, "the lost one is replaced: ceil(10/5) - 1 serving");
	T_OK(strstr(o.reason, "1 lost node") != NULL, "reason counts the lost node: %s", o.reason);
	T_INT(st.last_up_burst, 1, "the up remembers the serving nodes, not the lost");
	in.now = 1010;
	T_INT(run(in, &st, &o), RP_HOLD, "10 s later: the replacement asked still counts");
	in.burst_nodes = 1;
	in.lost_nodes = 0;
	in.now = 1020;
	T_INT(run(in, &st, &o), RP_HOLD, "the lost one drained, its replacement booting: hold");
	in.burst_nodes = 2;
	in.now = 1030;
	T_INT(run(in, &st, &o), RP_HOLD, "the replacement joined: hold");

	memset(&st, 0, sizeof st);
	in = base(1000, 10);
	in.burst_nodes = 2;
	T_INT(run(in, &st, &o), RP_UP, "lag 10, 2 serving, no lost: up (at least 1)");
	in.now = 1010;
	T_INT(run(in, &st, &o), RP_HOLD, "in the cooldown, 2 present + 1 asked: hold");
	in.lost_nodes = 1;
	T_INT(run(in, &st, &o), RP_HOLD, "one lost since: 2 + 1 - 1 still covers the need of 2");
	in.lost_nodes = 2;
	T_INT(run(in, &st, &o), RP_UP, "two lost since: 2 + 1 - 2 = 1 < 2, up within the cooldown");
	T_INT(o.count, 1, "the difference");

	memset(&st, 0, sizeof st);
	in = base(1000, 100);
	in.burst_nodes = 3;
	in.lost_nodes = 1;
	in.max_nodes = 3;
	T_INT(run(in, &st, &o), RP_HOLD, "a lost node still bills: at max_nodes, hold");
	T_OK(strstr(o.reason, "max_nodes 3 (3 burst") != NULL, "reason names max_nodes: %s", o.reason);
	in.max_nodes = 4;
	T_INT(run(in, &st, &o), RP_UP, "one slot under max_nodes: up");
	T_INT(o.count, 1, "capped by max_nodes - every burst node");

	memset(&st, 0, sizeof st);
	in = base(1000, 0);
	in.burst_nodes = 2;
	in.lost_nodes = 1;
	T_INT(run(in, &st, &o), RP_HOLD, "lag 0, a lost busy node, none idle: hold (the lost one is named apart)");
	T_OK(strstr(o.reason, "lost") != NULL, "reason says lost: %s", o.reason);
	in.lost_nodes = 5;
	T_INT(run(in, &st, &o), RP_HOLD, "more lost than present is clamped");
	in = base(1000, 0);
	in.burst_nodes = 1;
	in.lost_nodes = 0;
	memset(&st, 0, sizeof st);
	T_INT(run(in, &st, &o), RP_HOLD, "no lost node: hold");
	T_OK(strstr(o.reason, "lost") == NULL, "reason does not say lost: %s", o.reason);
}

static void test_latency(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	struct rp_decide_in in = base(1000, 0);
	in.p95_known = 1;
	in.p95 = 31;
	T_INT(run(in, &st, &o), RP_HOLD, "p95 31 > 30 once: hold");
	in.now += 10;
	T_INT(run(in, &st, &o), RP_UP, "p95 31 twice: up");
	T_INT(o.count, 1, "count 1 from latency alone");
	memset(&st, 0, sizeof st);
	in.p95 = 60;
	T_INT(run(in, &st, &o), RP_UP, "p95 60 = 2x: up at once");
	memset(&st, 0, sizeof st);
	in = base(1000, 3);
	in.p95_note = "prometheus unreachable: refused; decided from lag alone";
	T_INT(run(in, &st, &o), RP_HOLD, "no signal, lag 3: hold");
	T_OK(strstr(o.reason, "decided from lag alone") != NULL, "reason carries the note: %s", o.reason);

	in.lag_known = 0;
	memset(&st, 0, sizeof st);
	st.hot_streak = 1;
	st.last_poll = 990;
	T_INT(run(in, &st, &o), RP_HOLD, "lag unknown: hold");
	T_INT(st.hot_streak, 1, "state untouched");
	T_OK(st.last_poll == 990, "last poll untouched");
}

static void test_part_lag(void)
{
	T_INT(rp_kafka_part_lag(7, 0, 10, RP_KAFKA_LATEST), 3, "committed 7 of 10");
	T_INT(rp_kafka_part_lag(10, 0, 10, RP_KAFKA_LATEST), 0, "caught up");
	T_INT(rp_kafka_part_lag(12, 0, 10, RP_KAFKA_LATEST), 0, "committed past hi: 0, not negative");
	T_INT(rp_kafka_part_lag(2, 5, 10, RP_KAFKA_LATEST), 5, "committed below log start: from lo");
	T_INT(rp_kafka_part_lag(RP_KAFKA_NO_OFFSET, 0, 4, RP_KAFKA_LATEST), 1, "no commit, latest: 1");
	T_INT(rp_kafka_part_lag(RP_KAFKA_NO_OFFSET, 0, 0, RP_KAFKA_LATEST), 0, "no commit, empty: 0");
	T_INT(rp_kafka_part_lag(RP_KAFKA_NO_OFFSET, 3, 10, RP_KAFKA_EARLIEST), 7, "no commit, earliest: hi - lo");
	T_INT(rp_kafka_policy("latest"), RP_KAFKA_LATEST, "policy latest");
	T_INT(rp_kafka_policy("earliest"), RP_KAFKA_EARLIEST, "policy earliest");
	T_INT(rp_kafka_policy("newest"), -1, "policy unknown");
}

static void test_prom(void)
{
	double v = -1;
	char *note;
	const char *q = "histogram_quantile(0.95, x)";
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			    "[{\"metric\":{},\"value\":[1.5,\"42.5\"]}]}}", q, &v, &note),
	      RP_PROM_OK, "one series");
	T_OK(v == 42.5, "value 42.5 (%g)", v);
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", q,
			    &v, &note),
	      RP_PROM_NONE, "no data");
	T_STR(note, "prometheus returned no data", "no data note");
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			    "[{\"metric\":{},\"value\":[1.5,\"NaN\"]}]}}", q, &v, &note),
	      RP_PROM_NONE, "NaN is no signal");
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			    "[{\"metric\":{\"a\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]}]}}",
			    q, &v, &note),
	      RP_PROM_ERROR, "two series");
	T_OK(note && strstr(note, q) && strstr(note, "2 series"), "error names the query: %s", note);
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"7\"]}}",
			    q, &v, &note),
	      RP_PROM_OK, "scalar");
	T_OK(v == 7, "scalar 7");
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			    "[{\"metric\":{},\"value\":[1.5,\"+Inf\"]}]}}", q, &v, &note),
	      RP_PROM_OK, "+Inf is a value");
	T_OK(isinf(v) && v > 0, "+Inf");
	free(note);
	T_INT(rp_prom_parse("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}", q, &v,
			    &note),
	      RP_PROM_ERROR, "API error");
	T_OK(note && strstr(note, "parse error"), "API error text: %s", note);
	free(note);
	T_INT(rp_prom_parse("<html>", q, &v, &note), RP_PROM_ERROR, "not JSON");
	free(note);
}

static void test_timelag(void)
{
	cJSON *s = cJSON_CreateObject();
	T_OK(rp_timelag(s, "g", 1000, 0, 0) == 0, "lag 0: 0 s behind");
	double v = rp_timelag(s, "g", 1010, 100, 50);
	T_OK(fabs(v - 5) < 1e-6, "position 50 between (1000, 0) and (1010, 100): 5 s (%g)", v);
	v = rp_timelag(s, "g", 1020, 200, 150);
	T_OK(fabs(v - 15) < 1e-6, "position 50 was reached at t=1005: 15 s behind (%g)", v);
	v = rp_timelag(s, "g", 1030, 300, 300);
	T_OK(fabs(v - 30) < 1e-6, "position 0 = the first sample's: 30 s (%g)", v);
	v = rp_timelag(s, "g", 1040, 400, 450);
	T_OK(fabs(v - 45) < 1e-6, "position -50, older than every sample: extrapolated at 10/s to t=995 (%g)", v);
	cJSON_Delete(s);
	s = cJSON_CreateObject();
	T_OK(rp_timelag(s, "g", 1000, 100, 10) == -1, "one sample: cannot tell (-1)");
	cJSON_Delete(s);
	s = cJSON_CreateObject();
	rp_timelag(s, "g", 100, 500, 0);
	rp_timelag(s, "g", 110, 500, 0);
	rp_timelag(s, "g", 120, 500, 0);
	rp_timelag(s, "g", 130, 500, 0);
	T_INT(cJSON_GetArraySize(cJSON_GetObjectItem(s, "g")), 2, "a flat run keeps its first and last point");
	v = rp_timelag(s, "g", 140, 600, 50);
	T_OK(fabs(v - 5) < 1e-6, "position 550 between t=130 (500) and t=140 (600): 5 s (%g)", v);
	for (int i = 0; i < 300; i++)
		rp_timelag(s, "g", 200 + i, 1000 + i, 0);
	T_OK(cJSON_GetArraySize(cJSON_GetObjectItem(s, "g")) <= 120, "at most 120 points");
	rp_timelag(s, "g", 200 + 300 + 3601, 5000, 0);
	T_INT(cJSON_GetArraySize(cJSON_GetObjectItem(s, "g")), 1, "points older than an hour go");
	v = rp_timelag(s, "g", 4200, 10, 5);
	T_OK(v == -1, "offsets went back (topic recreated): start afresh (%g)", v);
	cJSON_Delete(s);
}

/* The warm pool (scale.warm_pool): the floor of the hour of in->now, UTC.
 * 08-18 keeps 2 nodes; the day starts at a UTC midnight. */
#define DAY (20000.0 * 86400)
static double at(int h, int m, int sec)
{
	return DAY + h * 3600 + m * 60 + sec;
}

static struct rp_decide_in pool(double now, long long lag, int burst, int idle)
{
	struct rp_decide_in in = base(now, lag);
	for (int h = 8; h < 18; h++)
		in.warm_pool[h] = 2;
	in.burst_nodes = burst;
	in.idle_nodes = idle;
	return in;
}

static void test_warm_pool(void)
{
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	T_INT(run(pool(at(7, 59, 59), 0, 0, 0), &st, &o), RP_HOLD, "07:59:59, no floor that hour: hold");
	T_INT(run(pool(at(8, 0, 0), 0, 0, 0), &st, &o), RP_UP, "08:00:00, the floor's first second: up");
	T_INT(o.count, 2, "up to the floor: 2");
	T_OK(strstr(o.reason, "warm pool floor 2 at 08 UTC") != NULL, "the reason names the warm pool: %s", o.reason);
	T_INT(run(pool(at(8, 0, 15), 0, 0, 0), &st, &o), RP_HOLD,
	      "15 s later, both still booting (within the cooldown they count): hold");
	T_INT(run(pool(at(8, 2, 0), 0, 1, 0), &st, &o), RP_HOLD, "one joined, one booting: hold");
	T_INT(run(pool(at(9, 0, 0), 0, 2, 2), &st, &o), RP_HOLD, "2 idle nodes at the floor of 2: no down");
	T_OK(strstr(o.reason, "all kept: warm pool floor 2 at 09 UTC") != NULL, "the reason says why: %s", o.reason);
	T_INT(run(pool(at(9, 0, 15), 0, 3, 3), &st, &o), RP_DOWN, "3 idle nodes, floor 2: down");
	T_INT(o.count, 1, "only the idle node above the floor goes");
	T_OK(strstr(o.reason, "1 down: warm pool floor 2") != NULL, "the reason names the floor: %s", o.reason);
	T_INT(run(pool(at(9, 1, 0), 0, 4, 1), &st, &o), RP_DOWN, "4 nodes, 1 idle, floor 2: down");
	T_INT(o.count, 1, "an idle node beyond the floor goes down whole");
	T_INT(run(pool(at(17, 59, 59), 0, 2, 2), &st, &o), RP_HOLD, "17:59:59, still the floor: hold");
	T_INT(run(pool(at(18, 0, 0), 0, 2, 2), &st, &o), RP_DOWN, "18:00:00, the end is not in the range: down");
	T_INT(o.count, 2, "every idle node");
	T_STR(o.reason, "lag 0, 2 burst node(s) idle", "no floor, the plain reason");

	/* a lag up is raised to the floor; a hot first poll does not wait */
	memset(&st, 0, sizeof st);
	struct rp_decide_in in = pool(at(10, 0, 0), 10, 0, 0);
	in.warm_pool[10] = 3;
	T_INT(run(in, &st, &o), RP_UP, "surge under a floor of 3: up");
	T_INT(o.count, 3, "the lag's 2 raised to the floor's 3");
	T_OK(strstr(o.reason, "surge") && strstr(o.reason, "fleet 0 below the warm pool floor 3"),
	     "both reasons: %s", o.reason);
	memset(&st, 0, sizeof st);
	T_INT(run(pool(at(10, 0, 0), 6, 1, 0), &st, &o), RP_UP, "lag 6 on one poll, 1 node, floor 2: up at once");
	T_INT(o.count, 1, "by 1, to the floor");
	T_OK(strstr(o.reason, "hysteresis") && strstr(o.reason, "warm pool"), "both reasons: %s", o.reason);
	memset(&st, 0, sizeof st);
	T_INT(run(pool(at(10, 0, 0), 20, 0, 0), &st, &o), RP_UP, "lag 20 needs 4, floor 2: up");
	T_INT(o.count, 4, "the lag's count stands when above the floor");
	T_OK(!strstr(o.reason, "warm pool"), "and the warm pool is not named: %s", o.reason);

	/* lost nodes serve nothing: the floor replaces them; max_nodes caps */
	memset(&st, 0, sizeof st);
	in = pool(at(11, 0, 0), 0, 2, 0);
	in.lost_nodes = 1;
	T_INT(run(in, &st, &o), RP_UP, "2 nodes, 1 lost, floor 2: up");
	T_INT(o.count, 1, "one to replace the lost one");
	memset(&st, 0, sizeof st);
	in = pool(at(11, 0, 0), 0, 0, 0);
	in.max_nodes = 1;
	T_INT(run(in, &st, &o), RP_UP, "floor 2, max_nodes 1: up");
	T_INT(o.count, 1, "capped by max_nodes");
	T_INT(run(in, &st, &o), RP_HOLD, "again within the cooldown: hold");

	/* the floor rises while the last up's nodes still boot: they count,
	 * and the next poll does not ask for them again */
	memset(&st, 0, sizeof st);
	in = pool(at(7, 58, 0), 0, 0, 0);
	in.warm_pool[7] = 1;
	T_INT(run(in, &st, &o), RP_UP, "07:58, floor 1: up");
	T_INT(o.count, 1, "by 1");
	in = pool(at(8, 0, 0), 0, 0, 0);
	in.warm_pool[8] = 3;
	T_INT(run(in, &st, &o), RP_UP, "08:00, floor 3, the one still booting: up");
	T_INT(o.count, 2, "by the 2 beyond the booting one");
	in.now = at(8, 0, 15);
	T_INT(run(in, &st, &o), RP_HOLD, "08:00:15, all 3 booting: hold, no second launch");

	/* the hour is UTC of the epoch time, whatever the day */
	T_INT(rp_warm_pool_hour(at(23, 59, 59)), 23, "23:59:59 is hour 23");
	T_INT(rp_warm_pool_hour(at(24, 0, 0)), 0, "midnight is hour 0 of the next day");
	T_INT(rp_warm_pool_hour(-1), 23, "a second before the epoch is hour 23");
}

int main(void)
{
	test_thresholds();
	test_count_and_caps();
	test_cooldown_pending();
	test_down();
	test_lost();
	test_latency();
	test_part_lag();
	test_prom();
	test_timelag();
	test_warm_pool();
	return T_DONE();
}
