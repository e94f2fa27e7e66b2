/* sim.c — the shipped scale rule replayed over a jobs trace (see sim.h). */
#include "sim.h"
#include "fleet.h"
#include "prewarm.h"
#include "rp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rp_sim_step(const struct rp_decide_in *rule, const struct rp_sim_obs *ob, struct rp_decide_state *st,
		 struct rp_decide_out *out, struct rp_decide_in *seen)
{
	struct rp_decide_in in = *rule;
	in.now = ob->now;
	in.lag_known = 1;
	in.lag = ob->lag;
	in.p95_known = 0; /* no latency signal: decided from the lag alone */
	in.p95_note = NULL;
	in.burst_nodes = ob->burst;
	in.lost_nodes = ob->lost;
	in.idle_nodes = ob->idle;
	in.prewarm = ob->prewarm;
	rp_decide(&in, st, out);
	if (seen)
		*seen = in;
}

/* xorshift64*: deterministic for a seed. */
static double rnd(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* A standard normal draw (Box-Muller, one of the pair). */
static double gauss(unsigned long long *s)
{
	double u = rnd(s), v = rnd(s);
	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* Event heap: job completions (keyed to a worker's job) and preemptions
 * (keyed to a node's life, so a job starting on it does not cancel them). */
enum { EV_DONE, EV_PREEMPT };
struct ev {
	double t;
	int who; /* worker (done) or node (preempt) */
	int kind;
	unsigned gen;
};
struct heap {
	struct ev *v;
	size_t n, cap;
};
static void hpush(struct heap *h, struct ev e)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->v = rp_xrealloc(h->v, h->cap * sizeof *h->v);
	}
	size_t i = h->n++;
	while (i && h->v[(i - 1) / 2].t > e.t) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = e;
}
static struct ev hpop(struct heap *h)
{
	struct ev top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1].t < h->v[c].t)
			c++;
		if (h->v[c].t >= last.t)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

struct job {
	double arrive, work; /* remaining GPU-seconds; arrive < 0: resumed */
};
struct node {
	double launched, up_at, idle_since;
	double preempted_at; /* > 0: the pod is gone, its Node NotReady until drained */
	int busy;            /* jobs running (<= gpus) */
	int alive;           /* a pod (or, preempted, a Node) exists */
	int spot;
	double price;        /* per node-hour, its market's */
	unsigned life;       /* bumped when the slot is freed: cancels its preemption */
};
struct worker {
	int node, busy;
	struct job job;
	double started;
	unsigned gen;
};

struct queue {
	struct job *v;
	size_t cap, head, n;
};
static void q_grow(struct queue *q)
{
	if (q->n < q->cap)
		return;
	size_t cap = q->cap ? q->cap * 2 : 1024;
	struct job *v = rp_xmalloc(cap * sizeof *v);
	for (size_t i = 0; i < q->n; i++)
		v[i] = q->v[(q->head + i) % q->cap];
	free(q->v);
	q->v = v;
	q->head = 0;
	q->cap = cap;
}
static void q_push_back(struct queue *q, struct job j)
{
	q_grow(q);
	q->v[(q->head + q->n++) % q->cap] = j;
}
static void q_push_front(struct queue *q, struct job j)
{
	q_grow(q);
	q->head = (q->head + q->cap - 1) % q->cap;
	q->v[q->head] = j;
	q->n++;
}
static struct job q_pop(struct queue *q)
{
	struct job j = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return j;
}

struct sim {
	const struct rp_sim_in *in;
	struct rp_sim_out *out;
	int nb, gpn;
	struct node *nodes;
	int nnodes, ncap;
	struct worker *w; /* node i >= nb owns workers nb + (i - nb) * gpn ... */
	struct queue q;
	struct heap h;
	double node_secs, cost;
	unsigned long long seed;
};

static void bill(struct sim *s, const struct node *n, double t)
{
	s->node_secs += t - n->launched;
	s->cost += (t - n->launched) / 3600.0 * n->price;
}

static int serving(const struct node *n, double t)
{
	return n->alive && !n->preempted_at && n->up_at <= t;
}

/* The pod is gone for good: bill it (unless its preemption did) and free
 * the slot. */
static void release(struct sim *s, int i, double t)
{
	struct node *n = &s->nodes[i];
	if (!n->preempted_at)
		bill(s, n, t);
	n->alive = 0;
	n->life++;
	for (int g = 0; g < s->gpn; g++)
		s->w[s->nb + (i - s->nb) * s->gpn + g].gen++; /* cancels its job events */
}

/* A launch, as rp-launch would: spot if asked and there is capacity at
 * our bid, else on-demand with the fallback, else nothing (0). */
static int launch(struct sim *s, double t)
{
	const struct rp_sim_in *in = s->in;
	int spot = 0;
	if (in->spot) {
		if (in->spot_stock <= 0 || in->spot_stock >= 1 || rnd(&s->seed) < in->spot_stock) {
			spot = 1;
		} else if (in->spot_fallback) {
			s->out->fallbacks++;
		} else {
			s->out->refused++;
			return 0;
		}
	}
	int slot = -1;
	for (int i = s->nb; i < s->nnodes && slot < 0; i++)
		if (!s->nodes[i].alive)
			slot = i;
	if (slot < 0) {
		if (s->nnodes == s->ncap) {
			s->ncap *= 2;
			s->nodes = rp_xrealloc(s->nodes, (size_t)s->ncap * sizeof *s->nodes);
			s->w = rp_xrealloc(s->w, (size_t)(s->nb + (s->ncap - s->nb) * s->gpn) * sizeof *s->w);
		}
		slot = s->nnodes++;
		for (int g = 0; g < s->gpn; g++)
			s->w[s->nb + (slot - s->nb) * s->gpn + g] = (struct worker){ .node = slot };
		s->nodes[slot].life = 0;
	}
	struct node *n = &s->nodes[slot];
	unsigned life = n->life;
	double boot = in->boot;
	if (in->boot_sigma > 0) {
		boot *= exp(in->boot_sigma * gauss(&s->seed));
		if (boot < in->boot_min)
			boot = in->boot_min;
		if (in->boot_max > 0 && boot > in->boot_max)
			boot = in->boot_max;
	}
	*n = (struct node){ .launched = t, .up_at = t + boot, .idle_since = t + boot, .alive = 1, .life = life,
			    .spot = spot, .price = spot ? in->spot_price_per_node_hour : in->price_per_node_hour };
	s->out->launches++;
	s->out->spot_launches += spot;
	if (spot && in->preempt_per_hour > 0) {
		double lifetime = -log(1 - rnd(&s->seed)) * 3600.0 / in->preempt_per_hour;
		hpush(&s->h, (struct ev){ t + lifetime, slot, EV_PREEMPT, n->life });
	}
	return 1;
}

/* A spot pod goes: its jobs resume from their checkpoint at the queue's
 * head; a Node that had joined stays NotReady until it is drained as lost. */
static void preempt(struct sim *s, int i, double t)
{
	struct node *n = &s->nodes[i];
	s->out->preemptions++;
	for (int g = 0; g < s->gpn; g++) {
		struct worker *x = &s->w[s->nb + (i - s->nb) * s->gpn + g];
		if (!x->busy)
			continue;
		struct job j = x->job;
		j.work -= t - x->started;
		if (j.work < 1)
			j.work = 1;
		q_push_front(&s->q, j);
		x->busy = 0;
		x->gen++;
	}
	n->busy = 0;
	bill(s, n, t); /* boot included */
	n->preempted_at = t;
	if (n->up_at > t) { /* never joined: no Node to drain */
		n->alive = 0;
		n->life++;
	}
}

/* One poll: what rp-lagwatch would see, what rp_decide says, done. */
static void poll(struct sim *s, struct rp_decide_state *st, double t)
{
	const struct rp_sim_in *in = s->in;
	struct rp_sim_obs ob = { .now = t, .lag = (long long)s->q.n };
	int live = 0;
	for (int i = s->nb; i < s->nnodes; i++) {
		struct node *n = &s->nodes[i];
		if (!n->alive)
			continue;
		live += !n->preempted_at;
		if (n->up_at > t)
			continue; /* booting: not a Node yet */
		ob.burst++;
		if (n->preempted_at && rp_fleet_lost_after(t - n->preempted_at, in->notready_grace))
			ob.lost++;
		else if (serving(n, t) && !n->busy && t - n->idle_since >= in->idle)
			ob.idle++;
	}
	if (in->prewarm) { /* scale.prewarm, as rp-lagwatch reads it */
		ob.prewarm = rp_prewarm_at(in->prewarm, in->prewarm_hours, 0, in->lead, t);
		if (ob.prewarm < 0)
			ob.prewarm = 0;
	}
	struct rp_decide_in seen;
	struct rp_decide_out d;
	rp_sim_step(&in->rule, &ob, st, &d, &seen);
	s->out->polls++;
	int launched = 0, left = live, drained = 0;
	for (int i = s->nb; i < s->nnodes; i++) {
		struct node *n = &s->nodes[i];
		if (n->alive && n->preempted_at && rp_fleet_lost_after(t - n->preempted_at, in->notready_grace)) {
			release(s, i, t); /* lost: drained whatever the action */
		} else if (d.action == RP_DOWN && serving(n, t) && !n->busy && t - n->idle_since >= in->idle &&
			   drained < d.count) {
			release(s, i, t);
			left--;
			drained++;
		}
	}
	live = left;
	long cap = in->rule.max_nodes - live; /* rp-launch counts live pods */
	if (d.action == RP_UP) {
		s->out->ups++;
		for (int tried = 0; tried < d.count && launched < cap; tried++)
			launched += launch(s, t);
	} else if (d.action == RP_DOWN) {
		s->out->downs++;
	}
	if (in->on_step)
		in->on_step(&seen, &d, launched, live + launched, in->arg);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void rp_simulate(const struct rp_sim_in *in, struct rp_sim_out *out)
{
	memset(out, 0, sizeof *out);
	struct sim s = { .in = in, .out = out, .seed = in->seed ? in->seed : 1 };
	s.gpn = in->gpus_per_node > 0 ? in->gpus_per_node : 1;
	/* nodes 0..nb-1: the baseline GPUs, a node of one GPU each, always up */
	s.nb = in->baseline_gpus > 0 ? in->baseline_gpus : 0;
	s.ncap = s.nb + 16;
	s.nodes = rp_xcalloc((size_t)s.ncap, sizeof *s.nodes);
	s.w = rp_xcalloc((size_t)(s.nb + (s.ncap - s.nb) * s.gpn), sizeof *s.w);
	for (int i = 0; i < s.nb; i++) {
		s.nodes[i].alive = 1;
		s.w[i].node = i;
	}
	s.nnodes = s.nb;
	struct rp_decide_state st = { 0 };
	size_t wcap = 1024, nwaits = 0;
	double *waits = rp_xmalloc(wcap * sizeof *waits);
	double end = (double)in->minutes * 60.0;
	double tick = in->tick > 0 ? in->tick : 15;
	/* polls at tick, 2 tick, ...: rp_decide's "never polled" is time 0 */
	double next_tick = tick;
	size_t minute = 0;
	/* arrivals of the current minute, spread at random times */
	double *arr = NULL;
	size_t narr = 0, iarr = 0, arrcap = 0;
	double t = 0;
	for (;;) {
		while (iarr >= narr && minute < in->minutes) {
			size_t k = (size_t)llround(in->jobs[minute]);
			if (k > arrcap) {
				arrcap = k;
				arr = rp_xrealloc(arr, arrcap * sizeof *arr);
			}
			for (size_t i = 0; i < k; i++)
				arr[i] = (double)minute * 60.0 +
					 (in->even_arrivals ? ((double)i + 0.5) / (double)k : rnd(&s.seed)) * 60.0;
			if (k) /* a quiet first minute: arr is still NULL, qsort's is nonnull */
				qsort(arr, k, sizeof *arr, cmpd);
			narr = k;
			iarr = 0;
			minute++;
		}
		double ta = iarr < narr ? arr[iarr] : 1e300;
		double te = s.h.n ? s.h.v[0].t : 1e300;
		double tt = next_tick;
		if (tt > end + 86400 * 2)
			break; /* safety: nothing more can happen */
		int which = (ta <= te && ta <= tt) ? 0 : (te <= tt ? 1 : 2);
		t = which == 0 ? ta : which == 1 ? te : tt;
		if (which == 0) {
			iarr++;
			double wk = in->work[minute - 1] > 0 ? in->work[minute - 1] : 60;
			if (in->job_sigma > 0) /* lognormal with mean wk */
				wk *= exp(in->job_sigma * gauss(&s.seed) - in->job_sigma * in->job_sigma / 2);
			q_push_back(&s.q, (struct job){ t, wk });
			out->jobs++;
		} else if (which == 1) {
			struct ev e = hpop(&s.h);
			if (e.kind == EV_PREEMPT) {
				struct node *n = &s.nodes[e.who];
				if (e.gen == n->life && n->alive && !n->preempted_at)
					preempt(&s, e.who, t);
				continue;
			}
			struct worker *x = &s.w[e.who];
			if (e.gen != x->gen || !x->busy)
				continue; /* stale */
			struct node *n = &s.nodes[x->node];
			x->busy = 0;
			x->gen++;
			if (!--n->busy)
				n->idle_since = t;
		} else {
			next_tick = t + tick;
			poll(&s, &st, t);
			if (t >= end && s.q.n == 0 && iarr >= narr) {
				int busy = 0;
				for (int i = 0; i < s.nb + (s.nnodes - s.nb) * s.gpn; i++)
					busy |= s.w[i].busy;
				if (!busy) {
					/* the trace is over and the work done: close the books */
					for (int i = s.nb; i < s.nnodes; i++)
						if (s.nodes[i].alive)
							release(&s, i, t);
					break;
				}
			}
		}
		/* dispatch waiting jobs to free workers on serving nodes */
		int nw = s.nb + (s.nnodes - s.nb) * s.gpn;
		for (int i = 0; i < nw && s.q.n; i++) {
			struct node *n = &s.nodes[s.w[i].node];
			if (s.w[i].busy || !serving(n, t))
				continue;
			struct job j = q_pop(&s.q);
			if (nwaits == wcap) {
				wcap *= 2;
				waits = rp_xrealloc(waits, wcap * sizeof *waits);
			}
			if (j.arrive >= 0)
				waits[nwaits++] = t - j.arrive;
			s.w[i].busy = 1;
			s.w[i].job = j;
			s.w[i].job.arrive = -1; /* a resumed job is not waited for twice */
			s.w[i].started = t;
			s.w[i].gen++;
			n->busy++;
			hpush(&s.h, (struct ev){ t + j.work, i, EV_DONE, s.w[i].gen });
		}
	}
	out->node_hours = s.node_secs / 3600.0;
	out->burst_cost = s.cost;
	out->baseline_cost = in->baseline_monthly * (end / 3600.0) / (in->hours_per_month > 0 ? in->hours_per_month : 730);
	out->cost_per_1000 = out->jobs > 0 ? (out->burst_cost + out->baseline_cost) / out->jobs * 1000 : 0;
	if (nwaits) {
		qsort(waits, nwaits, sizeof *waits, cmpd);
		out->wait_p50 = waits[(size_t)(0.50 * (double)(nwaits - 1))];
		out->wait_p95 = waits[(size_t)(0.95 * (double)(nwaits - 1))];
		out->wait_max = waits[nwaits - 1];
	}
	free(arr);
	free(s.h.v);
	free(waits);
	free(s.q.v);
	free(s.w);
	free(s.nodes);
}
