/* pool.c — see pool.h. */
#include "pool.h"
#include "rp.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct pool {
	pthread_mutex_t mu;
	pthread_mutex_t out; /* keeps done calls apart */
	pthread_cond_t cv;
	size_t n, next, done, failed;
	int active, stop;
	int (*fn)(void *arg, size_t i);
	void (*finished)(void *arg, size_t i, int r); /* opt->done */
	void *arg;
	int *res;
};

/* The next item to run, or n when there is none (or the rule says stop).
 * Called with the lock held. */
static size_t take(struct pool *p)
{
	if (p->next >= p->n || (p->stop && p->failed))
		return p->n;
	return p->next++;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (size_t i; (i = take(p)) < p->n;) {
		pthread_mutex_unlock(&p->mu);
		int r = p->fn(p->arg, i);
		if (p->finished) {
			pthread_mutex_lock(&p->out);
			p->finished(p->arg, i, r);
			pthread_mutex_unlock(&p->out);
		}
		pthread_mutex_lock(&p->mu);
		p->res[i] = r;
		p->done++;
		if (r)
			p->failed++;
		pthread_cond_signal(&p->cv);
	}
	p->active--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

size_t rp_pool_run(size_t n, int threads, int (*fn)(void *arg, size_t i), void *arg, int *res,
		   const struct rp_pool_opt *opt)
{
	static const struct rp_pool_opt none = { 0 };
	if (!opt)
		opt = &none;
	if (!n)
		return 0;
	struct pool p = { .n = n, .fn = fn, .finished = opt->done, .arg = arg, .stop = opt->rule == RP_POOL_STOP };
	p.res = res ? res : rp_xcalloc(n, sizeof *p.res);
	for (size_t i = 0; i < n; i++)
		p.res[i] = RP_POOL_NOT_RUN;
	pthread_mutex_init(&p.mu, NULL);
	pthread_mutex_init(&p.out, NULL);
	pthread_cond_init(&p.cv, NULL);
	size_t nt = threads < 1 ? 1 : (size_t)threads < n ? (size_t)threads : n;
	pthread_t *t = rp_xcalloc(nt, sizeof *t);
	pthread_attr_t at;
	pthread_attr_init(&at);
	if (opt->stack)
		pthread_attr_setstacksize(&at, opt->stack);
	size_t started = 0;
	pthread_mutex_lock(&p.mu);
	for (size_t i = 0; i < nt; i++)
		if (pthread_create(&t[started], &at, worker, &p) == 0)
			started++, p.active++;
	pthread_mutex_unlock(&p.mu);
	pthread_attr_destroy(&at);
	if (!started) {
		p.active = 1;
		worker(&p);
	}
	pthread_mutex_lock(&p.mu);
	while (p.active > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&p.cv, &p.mu, &ts);
		if (opt->tick) {
			size_t done = p.done;
			pthread_mutex_unlock(&p.mu);
			opt->tick(opt->tick_arg, done, n);
			pthread_mutex_lock(&p.mu);
		}
	}
	size_t done = p.done;
	pthread_mutex_unlock(&p.mu);
	if (opt->tick)
		opt->tick(opt->tick_arg, done, n);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&p.mu);
	pthread_mutex_destroy(&p.out);
	pthread_cond_destroy(&p.cv);
	size_t bad = p.failed + (n - p.done);
	if (!res)
		free(p.res);
	return bad;
}
