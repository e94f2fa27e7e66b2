/* test-cost-policy.c — issue 20 through the configuration, as the tools
 * read it: the `default` policy of rp-cost simulate is exactly the
 * shipped defaults (and the defaults are the winners: spot with fallback,
 * a GPU that encodes, lag 4), `seed` is the seed's; on the same
 * sequence of observations the simulator's decisions equal rp-lagwatch's
 * tick by tick (rp_decide_rule from the same configuration, the state
 * through $RP_STATE_DIR/lagwatch.json between ticks, as each rp-lagwatch
 * run loads and saves it); preemptions at the configured
 * cost.preempt_per_hour within 3 sigma over seeds. */
#include "config.h"
#include "decide.h"
#include "policy.h"
#include "rp.h"
#include "sim.h"
#include "warmpool.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MINUTES = 360, MAXSTEP = MINUTES * 8 };
static double jobs[MINUTES], work[MINUTES];

struct steps {
	struct rp_decide_in seen[MAXSTEP];
	struct rp_decide_out said[MAXSTEP];
	int n;
};
static struct steps S;

static void record(const struct rp_decide_in *seen, const struct rp_decide_out *said, int launched, int live,
		   void *arg)
{
	(void)launched, (void)live;
	struct steps *s = arg;
	if (s->n >= MAXSTEP)
		return;
	s->seen[s->n] = *seen;
	s->said[s->n++] = *said;
}

/* 6 hours: quiet, two rushes, quiet (jobs of 120 GPU-seconds). */
static void trace(struct rp_sim_in *in)
{
	for (size_t m = 0; m < MINUTES; m++) {
		jobs[m] = (m >= 30 && m < 90) || (m >= 200 && m < 230) ? 30 : 1;
		work[m] = 120;
	}
	memset(in, 0, sizeof *in);
	in->jobs = jobs;
	in->work = work;
	in->minutes = MINUTES;
}

static struct rp_config *cfg_of(const char *yaml)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!c) {
		printf("# config: %s\n", err ? err : "?");
		free(err);
	}
	return c;
}

static void test_default_is_shipped(void)
{
	struct rp_config *c = cfg_of("cluster: t\n");
	struct rp_policy_opts o = { .baseline_servers = -1, .boot = -1, .preempt_rate = -1 };
	struct rp_sim_in in;
	const char *gpu = NULL;
	char *err = NULL;
	trace(&in);
	T_INT(rp_policy_setup(c, "default", &o, &in, &gpu, &err), 0, "default policy: set up");
	T_OK(in.spot && in.spot_fallback, "default: spot with on-demand fallback (the shipped runpod.spot, spot_fallback)");
	T_STR(gpu, "NVIDIA RTX 6000 Ada Generation", "default: the GPU rp-launch ranks first by value");
	T_INT(in.rule.lag_threshold, 4, "default: the shipped kafka.lag_threshold");
	T_OK(in.rule.max_nodes == rp_cfg_int(c, "runpod.max_nodes") && in.rule.cooldown == rp_cfg_dur(c, "scale.cooldown")
		     && in.idle == rp_cfg_dur(c, "scale.idle") && !in.prewarm,
	     "default: the shipped max_nodes, cooldown, idle; no floor");
	T_OK(rp_gpu_throughput(c, gpu) > 0 && in.gpus_per_node == (int)rp_gpu_throughput(c, gpu),
	     "default: a node runs the GPU's throughput (%d)", in.gpus_per_node);
	rp_policy_free(&in);
	trace(&in);
	T_INT(rp_policy_setup(c, "seed", &o, &in, &gpu, &err), 0, "seed policy: set up");
	T_OK(!in.spot && in.rule.lag_threshold == 5, "seed: on-demand, lag 5, whatever ships");
	rp_policy_free(&in);
	rp_config_free(c);

	/* on-demand stays on-demand when the user asks for it */
	c = cfg_of("runpod:\n  spot: false\n");
	trace(&in);
	T_INT(rp_policy_setup(c, "default", &o, &in, &gpu, &err), 0, "default, runpod.spot false: set up");
	T_OK(!in.spot, "default with runpod.spot false: on-demand");
	rp_policy_free(&in);
	rp_config_free(c);
}

/* rp-lagwatch's tick, minus the polls: the rule from the configuration,
 * the state loaded from and saved to the state directory. */
static void lagwatch_tick(const struct rp_config *c, const struct rp_decide_in *seen, struct rp_decide_out *d)
{
	struct rp_decide_in in;
	struct rp_decide_state st;
	rp_decide_rule(c, &in);
	in.now = seen->now;
	in.lag_known = 1;
	in.lag = seen->lag;
	in.p95_known = 0; /* Prometheus has no signal: the lag alone decides */
	in.p95_note = NULL;
	in.burst_nodes = seen->burst_nodes;
	in.lost_nodes = seen->lost_nodes;
	in.idle_nodes = seen->idle_nodes;
	rp_decide_load(&st);
	rp_decide(&in, &st, d);
	if (rp_decide_save(&st) < 0)
		T_OK(0, "decision state saved");
}

/* The simulator's decisions under policy on configuration yaml, replayed
 * tick by tick through rp-lagwatch's rule read from yaml2 (yaml, or yaml
 * with scale.warm_pool set to what the policy's floor prints as): the
 * same decisions, every branch of the rule exercised. */
static void same_as_lagwatch(const char *policy, const char *yaml, int warm)
{
	struct rp_config *c = cfg_of(yaml), *c2 = NULL;
	struct rp_policy_opts o = { .baseline_servers = -1, .boot = -1, .preempt_rate = -1 };
	struct rp_sim_in in;
	struct rp_sim_out out;
	const char *gpu;
	char *err = NULL;
	trace(&in);
	T_OK(rp_policy_setup(c, policy, &o, &in, &gpu, &err) == 0, "%s: set up", policy);
	if (warm) { /* rp-cost's warm_pool, pasted into the config */
		char *wp = rp_warm_pool_format(in.rule.warm_pool);
		char *y2 = rp_xasprintf("%s  warm_pool: %s\n", yaml, wp);
		T_OK(strcmp(wp, "{}") != 0, "%s: the floor it prints: %s", policy, wp);
		c2 = cfg_of(y2);
		T_OK(c2 && rp_config_check(c2, &err) == 0, "%s: that value is a valid scale.warm_pool", policy);
		free(wp);
		free(y2);
	}
	char *f = rp_xasprintf("%s/lagwatch.json", getenv("RP_STATE_DIR"));
	unlink(f); /* a fresh rp-lagwatch */
	free(f);
	in.seed = 5;
	in.on_step = record;
	in.arg = &S;
	S.n = 0;
	rp_simulate(&in, &out);
	T_OK(S.n == out.polls && S.n > 1000, "%s: every poll reported (%d)", policy, S.n);
	int same = 1, ups = 0, downs = 0, hyst = 0, lost = 0, cool = 0, pool_up = 0, pool_kept = 0;
	for (int i = 0; i < S.n; i++) {
		struct rp_decide_out d;
		lagwatch_tick(c2 ? c2 : c, &S.seen[i], &d);
		if (same && (d.action != S.said[i].action || d.count != S.said[i].count ||
			     strcmp(d.reason, S.said[i].reason))) {
			T_OK(0, "%s: tick %d at %.0fs: rp-lagwatch says %s %d (%s), the simulator %s %d (%s)", policy, i,
			     S.seen[i].now, rp_decide_action(d.action), d.count, d.reason,
			     rp_decide_action(S.said[i].action), S.said[i].count, S.said[i].reason);
			same = 0;
		}
		ups += d.action == RP_UP;
		downs += d.action == RP_DOWN;
		hyst += strstr(d.reason, "hysteresis") != NULL;
		cool += strstr(d.reason, "still count") != NULL;
		lost += S.seen[i].lost_nodes > 0;
		pool_up += d.action == RP_UP && strstr(d.reason, "below the warm pool floor") != NULL;
		pool_kept += strstr(d.reason, "kept: warm pool") != NULL || strstr(d.reason, "down: warm pool") != NULL;
	}
	T_OK(same, "%s: the simulator's %d decisions equal rp-lagwatch's, tick by tick", policy, S.n);
	T_OK(ups && downs && hyst && cool && lost,
	     "%s: the sequence exercises up (%d), down (%d), hysteresis (%d), cooldown (%d), lost nodes (%d)", policy,
	     ups, downs, hyst, cool, lost);
	if (warm)
		T_OK(pool_up && pool_kept, "%s: and the warm pool: up to the floor (%d), downs it limits (%d)", policy,
		     pool_up, pool_kept);
	rp_policy_free(&in);
	rp_config_free(c);
	rp_config_free(c2);
}

/* short cooldown and idle, a preemption now and then: every branch */
static const char *const branchy = "runpod:\n  spot: true\n  spot_fallback: true\n"
				   "cost:\n  preempt_per_hour: 2\n"
				   "scale:\n  cooldown: 2m\n  idle: 60s\n  notready_grace: 30s\n";

static void test_same_as_lagwatch(void)
{
	same_as_lagwatch("default", branchy, 0);
	same_as_lagwatch("warmpool", branchy, 1);
}

/* One rule: the warmpool policy is the default one with the floor it
 * prints set as scale.warm_pool, figure for figure. */
static void test_warmpool_is_the_key(void)
{
	struct rp_config *c = cfg_of("cluster: t\n"), *c2;
	struct rp_policy_opts o = { .baseline_servers = -1, .boot = -1, .preempt_rate = -1 };
	struct rp_sim_in in, in2;
	struct rp_policy_result r, r2;
	const char *gpu;
	char *err = NULL;
	trace(&in);
	T_INT(rp_policy_setup(c, "warmpool", &o, &in, &gpu, &err), 0, "warmpool: set up");
	T_OK(!in.prewarm, "warmpool: no pre-warm floor (rp_decide keeps its warm pool)");
	char *wp = rp_warm_pool_format(in.rule.warm_pool), *y = rp_xasprintf("scale:\n  warm_pool: %s\n", wp);
	c2 = cfg_of(y);
	trace(&in2);
	T_OK(rp_policy_setup(c2, "default", &o, &in2, &gpu, &err) == 0, "default with scale.warm_pool %s: set up", wp);
	T_OK(!memcmp(in.rule.warm_pool, in2.rule.warm_pool, sizeof in.rule.warm_pool), "the same 24 floors");
	rp_policy_run(&in, 1, 3, &r);
	rp_policy_run(&in2, 1, 3, &r2);
	T_OK(r.cost_per_1000.mean == r2.cost_per_1000.mean && r.wait_p95.mean == r2.wait_p95.mean &&
		     r.first.launches == r2.first.launches && r.first.downs == r2.first.downs,
	     "the same figures: $%.4f / 1000 jobs, p95 %.1f s, %ld launches", r2.cost_per_1000.mean, r2.wait_p95.mean,
	     r2.first.launches);
	rp_policy_free(&in);
	rp_policy_free(&in2);
	trace(&in);
	T_INT(rp_policy_setup(c, "default", &o, &in, &gpu, &err), 0, "default without the key: set up");
	rp_policy_run(&in, 1, 3, &r);
	T_OK(r.first.launches != r2.first.launches, "and the floor changes something (%ld launches, %ld with it)",
	     r.first.launches, r2.first.launches);
	rp_policy_free(&in);
	free(wp);
	free(y);
	rp_config_free(c);
	rp_config_free(c2);
}

static void test_preempt_rate(void)
{
	/* always in spot stock, so every burst node-hour is a spot one */
	struct rp_config *c = cfg_of("cost:\n  preempt_per_hour: 0.5\n  spot_stock: 1\n");
	struct rp_policy_opts o = { .baseline_servers = -1, .boot = -1, .preempt_rate = -1 };
	struct rp_sim_in in;
	struct rp_policy_result r;
	const char *gpu;
	char *err = NULL;
	trace(&in);
	T_INT(rp_policy_setup(c, "spot", &o, &in, &gpu, &err), 0, "spot policy: set up");
	T_OK(in.preempt_per_hour == 0.5, "the configured cost.preempt_per_hour");
	int seeds = 20;
	rp_policy_run(&in, 1, seeds, &r);
	double count = r.preemptions.mean * seeds, mean = r.node_hours.mean * seeds * 0.5;
	T_OK(count > 0 && fabs(count - mean) <= 3 * sqrt(mean),
	     "%.0f preemptions over %d seeds for %.1f spot node-hours at 0.5/h: %.1f +- %.1f", count, seeds,
	     r.node_hours.mean * seeds, mean, 3 * sqrt(mean));
	rp_policy_free(&in);
	rp_config_free(c);
}

int main(void)
{
	rp_init("test-cost-policy");
	/* the state is saved (and fsync'd) every tick: on tmpfs when there is one */
	char shm[] = "/dev/shm/rp-tcp.XXXXXX", tmp[] = "/tmp/rp-tcp.XXXXXX";
	char *dir = mkdtemp(shm) ? shm : mkdtemp(tmp);
	if (!dir)
		return 1;
	setenv("RP_STATE_DIR", dir, 1);
	test_default_is_shipped();
	test_same_as_lagwatch();
	test_warmpool_is_the_key();
	test_preempt_rate();
	char *f = rp_xasprintf("%s/lagwatch.json", dir);
	unlink(f);
	free(f);
	rmdir(dir);
	return T_DONE();
}
