/* test-prewarm.c — pre-warm (issue 20 item 5): the one per-hour rule the
 * simulator's prewarm policy and rp-cost prewarm share
 * (rp_policy_prewarm_at) against arithmetic written here over a tiny
 * hand-made trace; prewarm.h's file read back with its lead, stale and
 * broken files refused; and rp_decide keeping the pre-warm floor as the
 * warm pool's, the larger of the two, naming which. */
#include "decide.h"
#include "policy.h"
#include "prewarm.h"
#include "rp.h"
#include "state.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

/* set hour x of the trace to k jobs a minute of w GPU-seconds each */
static void hour(struct rp_sim_in *in, size_t x, double k, double w)
{
	for (size_t m = x * 60; m < x * 60 + 60; m++)
		in->jobs[m] = k, in->work[m] = w;
}

static void test_rule(void)
{
	/* 3 days; a node runs 2 jobs at once; the baseline 1.  Little's law:
	 * floor((k x w / 60 - 1) / 2) nodes in an hour of k jobs a minute of
	 * w GPU-seconds. */
	struct rp_sim_in in = { .minutes = 3 * 1440, .gpus_per_node = 2, .baseline_gpus = 1 };
	in.jobs = calloc(in.minutes, sizeof *in.jobs);
	in.work = calloc(in.minutes, sizeof *in.work);
	hour(&in, 5, 3, 120);      /* day 0, 05h: busy 6 -> (6 - 1) / 2 = 2.5 -> 2 */
	hour(&in, 24 + 5, 2, 60);  /* day 1, 05h: busy 2 -> 0.5 -> 0 */
	hour(&in, 48 + 5, 5, 60);  /* day 2, 05h: busy 5 -> 2 */
	hour(&in, 24 + 6, 9, 0);   /* day 1, 06h: no size: 60 s, busy 9 -> 4 */
	hour(&in, 48 + 7, 7, 60);  /* day 2, 07h: busy 7 -> 3 */
	T_INT(rp_policy_prewarm_at(&in, 5), 0, "the first day has no history: no floor");
	T_INT(rp_policy_prewarm_at(&in, 24 + 5), 2, "day 1, 05h: day 0's 2");
	T_INT(rp_policy_prewarm_at(&in, 48 + 5), 1, "day 2, 05h: (2 + 0) / 2 = 1");
	T_INT(rp_policy_prewarm_at(&in, 48 + 6), 2, "day 2, 06h: (4 + 0) / 2 = 2 (no job size counts as 60 s)");
	T_INT(rp_policy_prewarm_at(&in, 72 + 5), 1, "the next day, past the trace: (2 + 0 + 2) / 3 = 1.33 -> 1");
	T_INT(rp_policy_prewarm_at(&in, 72 + 6), 1, "the next day, 06h: (0 + 4 + 0) / 3 = 1.33 -> 1");
	T_INT(rp_policy_prewarm_at(&in, 96 + 5), 1, "two days past: the days with history only, (2 + 0 + 2) / 3");
	T_INT(rp_policy_prewarm_at(&in, 96 + 7), 1,
	      "two days past, 07h: (3 + 0 + 0) / 3 = 1 (not / 4: the day past the trace has no history)");
	T_INT(rp_policy_prewarm_at(&in, 72 + 8), 0, "an hour with no burst: 0");
	free(in.jobs);
	free(in.work);

	/* at most the 7 previous days: 9 days, only day 0's 04h busy */
	struct rp_sim_in w = { .minutes = 9 * 1440, .gpus_per_node = 1 };
	w.jobs = calloc(w.minutes, sizeof *w.jobs);
	w.work = calloc(w.minutes, sizeof *w.work);
	hour(&w, 4, 14, 60); /* busy 14, 14 nodes */
	T_INT(rp_policy_prewarm_at(&w, 7 * 24 + 4), 2, "day 7: day 0 is 7 days back, 14 / 7 = 2");
	T_INT(rp_policy_prewarm_at(&w, 8 * 24 + 4), 0, "day 8: day 0 is 8 days back, not counted");
	free(w.jobs);
	free(w.work);
}

static void test_file(void)
{
	double t0 = 1796400000; /* an hour's start */
	int fl[3] = { 1, 2, 3 };
	char *why = NULL;
	T_INT(rp_prewarm_floor(t0, &why), -1, "no file: no floor");
	T_OK(why && strstr(why, "prewarm.json"), "the reason names the file: %s", why ? why : "");
	free(why), why = NULL;
	T_INT(rp_prewarm_save(t0, 150, fl, 3), 0, "saved");
	T_INT(rp_prewarm_floor(t0, &why), 1, "hour 0: 1");
	T_INT(rp_prewarm_floor(t0 + 3600 - 151, &why), 1, "151 s before hour 1: still hour 0's");
	T_INT(rp_prewarm_floor(t0 + 3600 - 150, &why), 2, "one lead (150 s) before hour 1: hour 1's 2");
	T_INT(rp_prewarm_floor(t0 + 3 * 3600 - 151, &why), 3, "the last hour");
	T_INT(rp_prewarm_floor(t0 + 3 * 3600 - 150, &why), -1, "a lead before the file's end: stale");
	T_OK(why && strstr(why, "stale"), "the reason says stale: %s", why ? why : "");
	free(why), why = NULL;
	T_INT(rp_prewarm_floor(t0 - 151, &why), -1, "before the file's start: stale");
	free(why), why = NULL;
	char *path = rp_state_path(RP_STATE_PREWARM, NULL);
	const char *bad[] = { "{", "[]", "{\"from\":1796400000,\"lead\":0}",
			      "{\"from\":1796400000,\"lead\":0,\"floors\":[1.5]}",
			      "{\"from\":1796400000,\"lead\":0,\"floors\":[-1]}",
			      "{\"from\":\"x\",\"lead\":0,\"floors\":[1]}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		rp_write_atomic(path, bad[i], strlen(bad[i]), 0600);
		T_OK(rp_prewarm_floor(t0, &why) == -1, "refused: %s (%s)", bad[i], why ? why : "");
		free(why), why = NULL;
	}
	unlink(path);
	free(path);
}

static void run(struct rp_decide_in *in, struct rp_decide_out *o)
{
	struct rp_decide_state st = { 0 };
	rp_decide(in, &st, o);
}

static void test_decide(void)
{
	struct rp_decide_in in = { .now = 1796342400 + 5 * 3600.0 + 60, /* 05:01 UTC */
				   .lag_known = 1, .lag_threshold = 4, .max_nodes = 50, .cooldown = 300 };
	struct rp_decide_out o;
	int h = rp_warm_pool_hour(in.now);
	run(&in, &o);
	T_STR(rp_decide_action(o.action), "hold", "no floor at all: hold");
	in.prewarm = 2;
	run(&in, &o);
	T_OK(o.action == RP_UP && o.count == 2, "pre-warm 2, no node: up 2 (%s %d)", rp_decide_action(o.action), o.count);
	T_OK(strstr(o.reason, "fleet 0 below the pre-warm floor 2 at 05 UTC") != NULL, "named: %s", o.reason);
	in.warm_pool[h] = 3;
	run(&in, &o);
	T_OK(o.action == RP_UP && o.count == 3, "warm pool 3 over pre-warm 2: up 3 (%d)", o.count);
	T_OK(strstr(o.reason, "below the warm pool floor 3") != NULL, "the warm pool named: %s", o.reason);
	in.warm_pool[h] = 1;
	run(&in, &o);
	T_OK(o.action == RP_UP && o.count == 2 && strstr(o.reason, "pre-warm floor 2"),
	     "pre-warm 2 over warm pool 1: up 2, pre-warm named (%d: %s)", o.count, o.reason);
	in.burst_nodes = in.idle_nodes = 3;
	run(&in, &o);
	T_OK(o.action == RP_DOWN && o.count == 1 && strstr(o.reason, "1 down: pre-warm floor 2"),
	     "3 idle over pre-warm 2: 1 down (%s %d: %s)", rp_decide_action(o.action), o.count, o.reason);
	in.prewarm = 0;
	in.warm_pool[h] = 0;
	run(&in, &o);
	T_OK(o.action == RP_DOWN && o.count == 3, "no floor: all 3 idle down (%d)", o.count);
}

int main(void)
{
	char dir[] = "/tmp/rp-prewarm-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	setenv("RP_STATE_DIR", dir, 1);
	test_rule();
	test_file();
	test_decide();
	rmdir(dir);
	return T_DONE();
}
