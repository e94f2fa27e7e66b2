/* test-sim.c — the simulator runs the shipped rule: on the same
 * observations its decisions are rp_decide's, step by step; it carries
 * them out as the pipeline would (booting pods invisible, rp-launch's
 * cap, idle drain, lost nodes drained); spot preemption fires at its
 * rate; spot stock and fallback; the pre-warm floor handed to rp_decide; a tiny trace checked
 * against Lindley's recursion written here. */
#include "decide.h"
#include "sim.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAXSTEP = 20000 };
struct steps {
	struct rp_decide_in seen[MAXSTEP];
	struct rp_decide_out said[MAXSTEP];
	int launched[MAXSTEP], live[MAXSTEP];
	int n;
};

static void record(const struct rp_decide_in *seen, const struct rp_decide_out *said, int launched, int live,
		   void *arg)
{
	struct steps *s = arg;
	if (s->n >= MAXSTEP)
		return;
	s->seen[s->n] = *seen;
	s->said[s->n] = *said;
	s->live[s->n] = live;
	s->launched[s->n++] = launched;
}

static struct rp_decide_in rule(void)
{
	struct rp_decide_in r = { .lag_threshold = 5, .p95_threshold = 30, .max_nodes = 8, .cooldown = 300 };
	return r;
}

/* 3 hours: quiet, a 40-minute rush, quiet. */
static void trace(struct rp_sim_in *in, double *jobs, double *work, size_t minutes)
{
	for (size_t m = 0; m < minutes; m++) {
		jobs[m] = (m >= 30 && m < 70) ? 9 : 1;
		work[m] = 90;
	}
	in->jobs = jobs;
	in->work = work;
	in->minutes = minutes;
	in->baseline_gpus = 2;
	in->rule = rule();
	in->idle = 60;
	in->notready_grace = 120;
	in->boot = 120;
	in->tick = 15;
	in->gpus_per_node = 1;
	in->price_per_node_hour = 1;
	in->hours_per_month = 730;
	in->seed = 3;
}

static void test_same_decisions(void)
{
	static double jobs[180], work[180];
	static struct steps s;
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 180);
	in.on_step = record;
	in.arg = &s;
	rp_simulate(&in, &out);
	T_OK(s.n > 100 && s.n < MAXSTEP, "every poll reported (%d)", s.n);
	T_INT(out.polls, s.n, "polls counted");

	/* The same observations through rp_decide, built as rp-lagwatch builds them. */
	struct rp_decide_state st = { 0 };
	int same = 1, ups = 0, downs = 0, hyst = 0, launched = 0, over = 0;
	for (int i = 0; i < s.n; i++) {
		struct rp_decide_in in2 = rule();
		struct rp_decide_out o;
		in2.now = s.seen[i].now;
		in2.lag_known = 1;
		in2.lag = s.seen[i].lag;
		in2.burst_nodes = s.seen[i].burst_nodes;
		in2.lost_nodes = s.seen[i].lost_nodes;
		in2.idle_nodes = s.seen[i].idle_nodes;
		rp_decide(&in2, &st, &o);
		if (o.action != s.said[i].action || o.count != s.said[i].count || strcmp(o.reason, s.said[i].reason)) {
			if (same)
				T_OK(0, "step %d at %.0fs: rp_decide says %s %d (%s), the simulator %s %d (%s)", i, in2.now,
				     rp_decide_action(o.action), o.count, o.reason, rp_decide_action(s.said[i].action),
				     s.said[i].count, s.said[i].reason);
			same = 0;
		}
		ups += o.action == RP_UP;
		downs += o.action == RP_DOWN;
		hyst += strstr(o.reason, "hysteresis") != NULL;
		launched += s.launched[i];
		over += s.launched[i] > (s.said[i].action == RP_UP ? s.said[i].count : 0);
	}
	T_OK(same, "the simulator's %d decisions equal rp_decide's, step by step", s.n);
	T_OK(ups > 0 && downs > 0 && hyst > 0, "the trace exercises up (%d), down (%d) and hysteresis (%d)", ups, downs,
	     hyst);
	T_INT(out.ups, ups, "the simulator counts the ups");
	T_INT(launched, out.launches, "it launched what the ups asked (less rp-launch's cap)");
	T_INT(over, 0, "never more than an up's count, never without an up");
}

/* A booting pod is not a Node: rp_decide does not see it until it joins. */
static void test_booting_invisible(void)
{
	static double jobs[120], work[120];
	static struct steps s;
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 120);
	in.boot = 600; /* longer than the cooldown */
	in.on_step = record;
	in.arg = &s;
	s.n = 0;
	rp_simulate(&in, &out);
	double first_up = -1;
	int seen_early = 0, seen_later = 0, launches_before = 0;
	for (int i = 0; i < s.n; i++) {
		double now = s.seen[i].now;
		if (first_up < 0 && s.launched[i] > 0) {
			first_up = now;
			continue;
		}
		if (first_up >= 0 && now < first_up + in.boot)
			seen_early |= s.seen[i].burst_nodes > 0;
		if (first_up >= 0 && now >= first_up + in.boot)
			seen_later |= s.seen[i].burst_nodes > 0;
		if (first_up >= 0 && now < first_up + in.boot)
			launches_before += s.launched[i];
	}
	int most = 0;
	for (int i = 0; i < s.n; i++)
		most = s.live[i] > most ? s.live[i] : most;
	T_INT(most, in.rule.max_nodes, "live pods reach runpod.max_nodes and never pass it (rp-launch's cap)");
	T_OK(first_up > 0, "an up at %.0fs", first_up);
	T_OK(!seen_early, "no burst node seen while the first pods boot");
	T_OK(seen_later, "seen once they have joined");
	T_OK(launches_before > 0, "with boot > cooldown the rule asks again while pods boot (%d more): the shipped "
				  "rule's, simulated", launches_before);
}

/* A surge goes up on the first hot poll; a rush below 2x waits for a second. */
static void test_step_fn(void)
{
	struct rp_decide_in r = rule(), seen;
	struct rp_decide_state st = { 0 };
	struct rp_decide_out o;
	struct rp_sim_obs ob = { .now = 15, .lag = 7 };
	rp_sim_step(&r, &ob, &st, &o, &seen);
	T_INT(o.action, RP_HOLD, "lag 7 once: hold (hysteresis)");
	T_INT(seen.lag_known, 1, "the simulator's lag is known");
	T_INT(seen.p95_known, 0, "and it has no latency signal");
	ob.now = 30;
	rp_sim_step(&r, &ob, &st, &o, &seen);
	T_INT(o.action, RP_UP, "lag 7 twice: up");
	T_INT(o.count, 2, "ceil(7/5) - 0 serving");
	ob = (struct rp_sim_obs){ .now = 45, .lag = 30, .burst = 0 };
	rp_sim_step(&r, &ob, &st, &o, NULL);
	T_INT(o.count, 4, "within the cooldown the 2 booting count: ceil(30/5) - 2");
	ob = (struct rp_sim_obs){ .now = 400, .lag = 0, .burst = 6, .idle = 6, .lost = 0 };
	rp_sim_step(&r, &ob, &st, &o, NULL);
	T_INT(o.action, RP_DOWN, "lag 0, 6 idle, past the cooldown: down");
	T_INT(o.count, 6, "all idle");
	T_INT(rp_decide_need(11, 5), 3, "need = ceil(11/5)");
	T_INT(rp_decide_need(0, 5), 0, "no lag, no need");
	T_INT(rp_decide_need(4, 0), 4, "threshold 0 taken as 1");
}

/* Spot: preemptions fire at the configured rate; lost nodes are drained. */
static void test_preempt(void)
{
	static double jobs[600], work[600];
	static struct steps s;
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 600);
	for (size_t m = 0; m < 600; m++)
		jobs[m] = 9; /* 10 hours of rush: burst nodes all the time */
	in.preempt_per_hour = 1;
	in.spot = 1; /* only spot pods are preempted */
	in.on_step = record;
	in.arg = &s;
	s.n = 0;
	rp_simulate(&in, &out);
	T_OK(out.preemptions > 0, "preemptions fire (%ld)", out.preemptions);
	/* about 1 per node-hour: within 3 sigma of a Poisson count */
	double mean = out.node_hours * in.preempt_per_hour;
	T_OK(fabs((double)out.preemptions - mean) <= 3 * sqrt(mean) + 1, "%ld preemptions for %.1f node-hours at 1/h",
	     out.preemptions, out.node_hours);
	long lost_seen = 0, lost_sum = 0;
	for (int i = 0; i < s.n; i++) {
		lost_seen += s.seen[i].lost_nodes > 0;
		lost_sum += s.seen[i].lost_nodes;
	}
	T_OK(lost_seen > 0, "rp_decide sees lost nodes (%ld polls)", lost_seen);
	/* drained at the poll that sees it, a lost node is seen once */
	T_OK(lost_sum <= out.preemptions, "each lost node seen by one poll only (%ld sightings, %ld preemptions)",
	     lost_sum, out.preemptions);
	T_INT(out.jobs, 600 * 9, "every job arrived");
}

/* A tiny trace against a computation written here (Lindley's recursion
 * for one server), not the simulator's code: one baseline GPU, no burst
 * (max_nodes 0), 3 jobs a minute at 10, 30, 50 s, 30 GPU-s each. */
static void test_tiny_lindley(void)
{
	static double jobs[10], work[10];
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 10);
	for (size_t m = 0; m < 10; m++)
		jobs[m] = 3, work[m] = 30;
	in.baseline_gpus = 1;
	in.rule.max_nodes = 0;
	in.even_arrivals = 1;
	in.baseline_monthly = 730; /* $1 an hour */
	rp_simulate(&in, &out);
	double w[30], wn = 0, prev_a = 0;
	for (int n = 0; n < 30; n++) {
		double a = (n / 3) * 60 + 10 + (n % 3) * 20;
		if (n)
			wn = wn + 30 - (a - prev_a) > 0 ? wn + 30 - (a - prev_a) : 0;
		w[n] = wn;
		prev_a = a;
	}
	/* waits grow: already sorted; p95 as the simulator defines it */
	T_INT(out.jobs, 30, "30 jobs");
	T_OK(fabs(out.wait_p95 - w[(int)(0.95 * 29)]) < 1e-6, "p95 %.3f = Lindley's %.3f", out.wait_p95, w[(int)(0.95 * 29)]);
	T_OK(fabs(out.wait_max - w[29]) < 1e-6, "max %.3f = Lindley's %.3f", out.wait_max, w[29]);
	T_OK(fabs(out.wait_p50 - w[14]) < 1e-6, "p50 %.3f = Lindley's %.3f", out.wait_p50, w[14]);
	T_OK(out.launches == 0 && out.burst_cost == 0, "no burst at max_nodes 0");
	/* 10 minutes of a $1/h baseline over 30 jobs, per 1000 */
	T_OK(fabs(out.cost_per_1000 - (10.0 / 60) / 30 * 1000) < 1e-9, "cost per 1000 %.6f", out.cost_per_1000);
}

/* Preemptions at the configured rate, over seeds: the count within 3
 * sigma of rate x spot node-hours (Poisson); pods billed at spot price. */
static void test_preempt_rate_seeds(void)
{
	static double jobs[600], work[600];
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 600);
	for (size_t m = 0; m < 600; m++)
		jobs[m] = 9;
	in.spot = 1;
	in.preempt_per_hour = 0.5;
	in.spot_price_per_node_hour = 0.25;
	double hours = 0, count = 0;
	int billed = 1;
	for (unsigned long long seed = 1; seed <= 12; seed++) {
		in.seed = seed;
		rp_simulate(&in, &out);
		hours += out.node_hours;
		count += (double)out.preemptions;
		billed &= fabs(out.burst_cost - out.node_hours * 0.25) < 1e-6 && out.spot_launches == out.launches;
	}
	double mean = hours * in.preempt_per_hour;
	T_OK(fabs(count - mean) <= 3 * sqrt(mean), "%.0f preemptions over 12 seeds for %.1f node-hours at 0.5/h (%.1f)",
	     count, hours, mean);
	T_OK(billed, "every pod spot, billed at the spot price (boot included)");
	/* on-demand pods are never preempted */
	in.spot = 0;
	rp_simulate(&in, &out);
	T_INT(out.preemptions, 0, "on-demand: no preemption");
	T_OK(fabs(out.burst_cost - out.node_hours * in.price_per_node_hour) < 1e-6, "on-demand price");
}

/* Out of spot: fallback to on-demand, or no pod at all. */
static void test_spot_stock(void)
{
	static double jobs[300], work[300];
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 300);
	in.spot = 1;
	in.spot_stock = 0.5;
	in.spot_fallback = 1;
	rp_simulate(&in, &out);
	double n = (double)out.launches;
	T_OK(out.spot_launches + out.fallbacks == out.launches, "each launch spot or fallback (%ld + %ld = %ld)",
	     out.spot_launches, out.fallbacks, out.launches);
	T_OK(fabs((double)out.fallbacks - n / 2) <= 3 * sqrt(n / 4) + 1, "about half fall back (%ld of %ld)",
	     out.fallbacks, out.launches);
	in.spot_fallback = 0;
	rp_simulate(&in, &out);
	T_OK(out.refused > 0 && out.fallbacks == 0 && out.spot_launches == out.launches,
	     "no fallback: %ld refused, all %ld launched are spot", out.refused, out.launches);
}

/* The pre-warm floor is rp_decide's, as rp-lagwatch's scale.prewarm: a
 * table of 0, 0, 2 nodes by hour with a lead of 120 s.  At every poll
 * rp_decide is handed the floor at t + 120 (computed here, not by
 * prewarm.c), so it asks for the 2 nodes at the first poll 120 s before
 * 02:00 (the rush's nodes long drained: idle 60 s), and lets them go at
 * the first poll 120 s before 03:00 (past the table: no floor), a down
 * it carries out.  That up starts the cooldown as any up: no other up
 * within it.  The simulator keeps no floor of its own: every poll's
 * launches (less rp-launch's cap) and drains are what rp_decide said. */
static int expect_floor(const int *tab, int n, double lead, double t)
{
	int h = (int)floor((t + lead) / 3600);
	return h >= 0 && h < n ? tab[h] : 0;
}
static void test_prewarm(void)
{
	static double jobs[180], work[180];
	static struct steps s;
	static const int tab[3] = { 0, 0, 2 };
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 180);
	in.prewarm = tab;
	in.prewarm_hours = 3;
	in.lead = 120;
	in.on_step = record;
	in.arg = &s;
	s.n = 0;
	rp_simulate(&in, &out);
	int wrong = 0, own = 0, first_up = -1, release = -1, below = 0, cool_up = 0;
	double t_up = 2 * 3600 - 120, t_release = 3 * 3600 - 120; /* both multiples of the 15 s tick */
	for (int i = 0; i < s.n; i++) {
		double t = s.seen[i].now;
		wrong += s.seen[i].prewarm != expect_floor(tab, 3, 120, t);
		int before = i ? s.live[i - 1] : 0, drained = before + s.launched[i] - s.live[i];
		int room = (int)in.rule.max_nodes - before; /* rp-launch's cap (no node lost here) */
		int asked = s.said[i].action == RP_UP ? (s.said[i].count < room ? s.said[i].count : room) : 0;
		own += s.launched[i] != asked || drained != (s.said[i].action == RP_DOWN ? s.said[i].count : 0);
		if (first_up < 0 && strstr(s.said[i].reason, "pre-warm"))
			first_up = i;
		if (release < 0 && t >= t_up && s.live[i] < 2)
			release = i;
		below += t >= t_up + 15 && t < t_release && s.live[i] < 2;
		cool_up += t > t_up && t < t_up + in.rule.cooldown && s.said[i].action == RP_UP;
	}
	T_OK(wrong == 0 && s.n > 0, "every poll handed rp_decide the floor at t + lead (%d of %d wrong)", wrong, s.n);
	T_INT(own, 0, "every poll launched (up to max_nodes) and drained what rp_decide said, nothing of its own");
	T_OK(first_up >= 0 && s.seen[first_up].now == t_up && s.said[first_up].action == RP_UP &&
		     s.said[first_up].count == 2 && strstr(s.said[first_up].reason, "fleet 0 below the pre-warm floor 2"),
	     "up 2 at %.0f s, a lead before 02:00: %s at %.0f s", t_up, first_up >= 0 ? s.said[first_up].reason : "none",
	     first_up >= 0 ? s.seen[first_up].now : -1);
	T_INT(cool_up, 0, "that up starts the cooldown: no other up within it");
	T_INT(below, 0, "2 live pods kept from then to a lead before 03:00");
	T_OK(release >= 0 && s.seen[release].now == t_release && s.said[release].action == RP_DOWN &&
		     s.said[release].count == 2,
	     "let go at %.0f s, a lead before 03:00, by a down of 2: %s at %.0f s", t_release,
	     release >= 0 ? s.said[release].reason : "none", release >= 0 ? s.seen[release].now : -1);
}

/* rp_decide's warm pool, carried out: a floor of 2 from 01:00 UTC (the
 * rush's nodes still up: its downs drain down to 2), 3 from 02:00 (an up
 * to it); a down drains its count, no more, so the live pods never go
 * below the floor. */
static void test_warm_pool(void)
{
	static double jobs[180], work[180];
	static struct steps s;
	struct rp_sim_in in = { 0 };
	struct rp_sim_out out;
	trace(&in, jobs, work, 180);
	in.idle = 600; /* the rush's nodes go idle together */
	in.rule.warm_pool[1] = 2;
	for (int h = 2; h < 24; h++)
		in.rule.warm_pool[h] = 3;
	in.on_step = record;
	in.arg = &s;
	s.n = 0;
	rp_simulate(&in, &out);
	int below = 0, downs = 0, exact = 1, pool = 0, kept = 0;
	for (int i = 0; i < s.n; i++) {
		below += s.live[i] < in.rule.warm_pool[rp_warm_pool_hour(s.seen[i].now)];
		kept += s.said[i].action == RP_DOWN && strstr(s.said[i].reason, "warm pool") != NULL;
		pool += s.said[i].action == RP_UP && strstr(s.said[i].reason, "warm pool") != NULL;
		if (i && s.said[i].action == RP_DOWN) {
			downs++;
			exact &= s.live[i - 1] - s.live[i] + s.launched[i] == s.said[i].count;
		}
	}
	T_OK(pool > 0, "rp_decide went up to the floor (%d)", pool);
	T_INT(below, 0, "never fewer live pods than the hour's floor");
	T_OK(downs > 0 && kept > 0 && exact, "each of the %d downs (%d limited by the floor) drained its count, no more",
	     downs, kept);
}

int main(void)
{
	test_tiny_lindley();
	test_preempt_rate_seeds();
	test_spot_stock();
	test_prewarm();
	test_warm_pool();
	test_step_fn();
	test_same_decisions();
	test_booting_invisible();
	test_preempt();
	return T_DONE();
}
