/* test-pool.c — the one worker pool (pool.h): every item runs once, the
 * results come back per item, the failure rules (ALL, STOP), the thread
 * bound, the tick, the done calls (one at a time, in finishing order, as
 * each item finishes: how rp-drain prints its records). */
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

/* done: one call per item that ran, never two at once, fn's result. */
struct seen {
	atomic_int calls[64], inside, most_inside, order_n;
	int r[64], order[64];
	int chain;        /* item i waits for done(i + 1) before it returns */
	atomic_int late;  /* an item that waited in vain */
	int fail_at;      /* >= 0: this item returns 9, the others 0; else i % 3 */
};

static int seen_item(void *arg, size_t i)
{
	struct seen *s = arg;
	if (s->chain && i + 1 < 4) {
		int waited = 0;
		while (!atomic_load(&s->calls[i + 1]) && waited < 5000) {
			struct timespec ts = { 0, 1000000L };
			nanosleep(&ts, NULL);
			waited++;
		}
		if (!atomic_load(&s->calls[i + 1]))
			atomic_fetch_add(&s->late, 1);
	}
	if (s->fail_at >= 0)
		return (int)i == s->fail_at ? 9 : 0;
	return (int)(i % 3);
}

static void seen_done(void *arg, size_t i, int r)
{
	struct seen *s = arg;
	int now = atomic_fetch_add(&s->inside, 1) + 1;
	int m = atomic_load(&s->most_inside);
	while (now > m && !atomic_compare_exchange_weak(&s->most_inside, &m, now))
		;
	if (!s->chain) {
		struct timespec ts = { 0, 3000000L };
		nanosleep(&ts, NULL);
	}
	s->r[i] = r;
	s->order[atomic_fetch_add(&s->order_n, 1)] = (int)i;
	atomic_fetch_sub(&s->inside, 1);
	atomic_fetch_add(&s->calls[i], 1);
}

static void seen_reset(struct seen *s, int chain, int fail_at)
{
	for (int i = 0; i < 64; i++) {
		atomic_init(&s->calls[i], 0);
		s->r[i] = -1;
		s->order[i] = -1;
	}
	atomic_init(&s->inside, 0);
	atomic_init(&s->most_inside, 0);
	atomic_init(&s->order_n, 0);
	atomic_init(&s->late, 0);
	s->chain = chain;
	s->fail_at = fail_at;
}

static void test_done(void)
{
	struct seen s;
	int res[64];
	struct rp_pool_opt all = { .rule = RP_POOL_ALL, .done = seen_done };

	/* 16 quick items on 4 threads, each done call slow: they would
	 * overlap if nothing kept them apart. */
	seen_reset(&s, 0, -1);
	size_t bad = rp_pool_run(16, 4, seen_item, &s, res, &all);
	int once = 1, same = 1;
	for (int i = 0; i < 16; i++) {
		once &= atomic_load(&s.calls[i]) == 1;
		same &= s.r[i] == i % 3 && res[i] == i % 3;
	}
	T_OK(once, "done: called exactly once for each of 16 items, all before rp_pool_run returned");
	T_OK(same, "done: gets fn's result (and res agrees)");
	T_INT(atomic_load(&s.most_inside), 1, "done: never two calls at once");
	T_INT(bad, 10, "done: failures still counted (16 items, 10 of them nonzero)");

	/* Items that finish in reverse: item i returns only after done(i + 1)
	 * was called.  The calls come in finishing order, each as its item
	 * finishes (not after the run). */
	seen_reset(&s, 1, -1);
	rp_pool_run(4, 4, seen_item, &s, res, &all);
	T_INT(atomic_load(&s.late), 0, "done: each item's call comes as it finishes (no item waited in vain)");
	T_OK(s.order[0] == 3 && s.order[1] == 2 && s.order[2] == 1 && s.order[3] == 0,
	     "done: calls in finishing order 3 2 1 0 (got %d %d %d %d)", s.order[0], s.order[1], s.order[2],
	     s.order[3]);

	/* STOP: only the items that ran get a done call. */
	struct rp_pool_opt stop = { .rule = RP_POOL_STOP, .done = seen_done };
	seen_reset(&s, 0, 3);
	rp_pool_run(10, 1, seen_item, &s, res, &stop);
	T_INT(s.r[3], 9, "done (STOP): the failing item's call has its result");
	T_INT(atomic_load(&s.order_n), 4, "done (STOP): items 0..3 ran and were reported, no more");
	T_INT(atomic_load(&s.calls[4]), 0, "done (STOP): no call for an item that never ran");
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

	test_done();
	return T_DONE();
}
