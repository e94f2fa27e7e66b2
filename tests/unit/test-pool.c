/* test-pool.c — the one worker pool (pool.h): every item runs once, the
 * results come back per item, the failure rules (ALL, STOP), the thread
 * bound, the tick. */
#include "pool.h"
#include "t.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct ctx {
	atomic_int runs[64];
	atomic_int running, most;
	int fail_at;                  /* this item returns 7; -1: none */
	int slow;                     /* sleep 20 ms in each item but fail_at */
};

static int item(void *arg, size_t i)
{
	struct ctx *x = arg;
	int now = atomic_fetch_add(&x->running, 1) + 1;
	int m = atomic_load(&x->most);
	while (now > m && !atomic_compare_exchange_weak(&x->most, &m, now))
		;
	atomic_fetch_add(&x->runs[i], 1);
	if (x->slow && (int)i != x->fail_at) {
		struct timespec ts = { 0, 20000000L };
		nanosleep(&ts, NULL);
	}
	atomic_fetch_sub(&x->running, 1);
	return (int)i == x->fail_at ? 7 : 0;
}

static void reset(struct ctx *x, int fail_at, int slow)
{
	for (int i = 0; i < 64; i++)
		atomic_init(&x->runs[i], 0);
	atomic_init(&x->running, 0);
	atomic_init(&x->most, 0);
	x->fail_at = fail_at;
	x->slow = slow;
}

static size_t ticks, last_done;
static void tick(void *arg, size_t done, size_t n)
{
	(void)arg;
	ticks++;
	last_done = done;
	(void)n;
}

int main(void)
{
	struct ctx x;
	int res[64];

	/* RP_POOL_ALL: every item runs exactly once, results per item. */
	reset(&x, 5, 1);
	size_t bad = rp_pool_run(12, 4, item, &x, res, NULL);
	int once = 1, okres = 1;
	for (int i = 0; i < 12; i++) {
		once &= atomic_load(&x.runs[i]) == 1;
		okres &= res[i] == (i == 5 ? 7 : 0);
	}
	T_OK(once, "ALL: each of 12 items ran exactly once");
	T_OK(okres, "ALL: res[i] is item i's return value (item 5 returned 7)");
	T_INT(bad, 1, "ALL: one failure counted, the rest still ran");
	T_OK(atomic_load(&x.most) <= 4, "never more than 4 items at once (saw %d)", atomic_load(&x.most));
	T_OK(atomic_load(&x.most) >= 2, "items do run in parallel (saw %d at once)", atomic_load(&x.most));

	/* RP_POOL_STOP with one thread: items after the failure never start. */
	reset(&x, 3, 0);
	struct rp_pool_opt stop = { .rule = RP_POOL_STOP };
	bad = rp_pool_run(10, 1, item, &x, res, &stop);
	T_INT(res[3], 7, "STOP: the failing item's result");
	T_INT(res[2], 0, "STOP: items before it succeeded");
	T_INT(res[4], RP_POOL_NOT_RUN, "STOP: the next item never ran");
	T_INT(atomic_load(&x.runs[9]), 0, "STOP: the last item never ran");
	T_INT(bad, 7, "STOP: the failure and the 6 items not run are counted");

	/* RP_POOL_STOP with several threads: no item starts after a failure
	 * is seen, every item ran at most once, and not-run items say so. */
	reset(&x, 0, 1);
	bad = rp_pool_run(60, 3, item, &x, res, &stop);
	size_t ran = 0, notrun = 0, consistent = 1;
	for (int i = 0; i < 60; i++) {
		int r = atomic_load(&x.runs[i]);
		ran += r;
		notrun += res[i] == RP_POOL_NOT_RUN;
		consistent &= (r == 0) == (res[i] == RP_POOL_NOT_RUN) && r <= 1;
	}
	T_OK(consistent, "STOP: res says NOT_RUN exactly for the items that did not run");
	T_OK(ran < 60, "STOP: the run stopped early (%zu of 60 ran)", ran);
	T_INT(bad, 60 - ran + 1, "STOP: failures + not run");

	/* More threads than items; no results array; the tick. */
	reset(&x, -1, 1);
	struct rp_pool_opt t = { .rule = RP_POOL_ALL, .stack = 1u << 20, .tick = tick };
	bad = rp_pool_run(3, 16, item, &x, NULL, &t);
	T_INT(bad, 0, "3 items on 16 threads, no results array: all good");
	T_OK(atomic_load(&x.most) <= 3, "never more threads than items");
	T_OK(ticks >= 1, "the tick ran (%zu times)", ticks);
	T_INT(last_done, 3, "the last tick saw every item done");

	/* Nothing to do. */
	T_INT(rp_pool_run(0, 4, item, &x, res, NULL), 0, "no items: nothing runs, no failure");
	/* threads < 1 is one thread. */
	reset(&x, -1, 0);
	T_INT(rp_pool_run(5, 0, item, &x, res, NULL), 0, "threads 0 still runs every item");
	T_INT(atomic_load(&x.runs[4]), 1, "…including the last");
	return T_DONE();
}
