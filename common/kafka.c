/* kafka.c — consumer-group lag with librdkafka (see kafka.h). */
#include "kafka.h"
#include "rp.h"
#include "log.h"

#include "rdk.h" /* librdkafka, loaded on first use */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rp_kafka {
	rd_kafka_t *rk;
	rd_kafka_conf_t *conf; /* a copy of rk's, for a fresh handle */
	int timeout_ms;
};

/* ListConsumerGroupOffsets' own timeout: far past any poll's deadline.
 * librdkafka (2.0.2, and the code is unchanged through 2.14) frees an
 * admin request's enq-once state twice when the request times out inside
 * librdkafka while its coordinator lookup is still waiting, then uses it
 * when the coordinator comes back: "rd_kafka_enq_once_del_source_return:
 * Assertion `eonce->refcnt > 0' failed" and an abort (librdkafka #3663,
 * #4605).  So our requests never time out in there: we stop waiting at
 * the poll's deadline and, if any is still out, drop the whole handle
 * (a destroyed handle fails its coordinator requests without the double
 * free) and poll the next time with a fresh one. */
enum { ADMIN_TIMEOUT_PAST_MS = 600000 }; /* past the poll's own timeout */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	if (rp_log_level <= RP_LOG_DEBUG)
		rp_debug("librdkafka", "fac", fac, "text", buf);
}

struct rp_kafka *rp_kafka_open(const char *bootstrap, double timeout, char **err)
{
	static const char *const kv[][2] = {
		{ "client.id", "rp-lagwatch" },
		/* A consumer with a group, never subscribed: the only safe
		 * home for ListConsumerGroupOffsets in 2.0.2. */
		{ "group.id", "rp-lagwatch" },
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "allow.auto.create.topics", "false" },
		{ "isolation.level", "read_uncommitted" },
		{ "topic.metadata.refresh.interval.ms", "-1" },
		{ "reconnect.backoff.ms", "50" },
		{ "reconnect.backoff.max.ms", "1000" },
		{ "log.connection.close", "false" },
	};
	char e[512];
	*err = NULL;
	rp_rdk_load();
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, e, sizeof e) != RD_KAFKA_CONF_OK)
		goto bad;
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], e, sizeof e) != RD_KAFKA_CONF_OK)
			goto bad;
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, rd_kafka_conf_dup(conf), e, sizeof e);
	if (!rk) {
		*err = rp_xasprintf("kafka: %s", e);
		goto bad_new;
	}
	struct rp_kafka *k = rp_xcalloc(1, sizeof *k);
	k->rk = rk;
	k->conf = conf;
	k->timeout_ms = timeout > 0 ? (int)(timeout * 1000) : 5000;
	return k;
bad:
	*err = rp_xasprintf("kafka: %s", e);
bad_new:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Drop the handle and its requests still out; NULL until the next poll
 * makes a fresh one (see ADMIN_TIMEOUT_PAST_MS). */
static void drop_handle(struct rp_kafka *k)
{
	if (!k->rk)
		return;
	rd_kafka_destroy_flags(k->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	k->rk = NULL;
}

void rp_kafka_close(struct rp_kafka *k)
{
	if (!k)
		return;
	drop_handle(k);
	rd_kafka_conf_destroy(k->conf);
	free(k);
}

int rp_kafka_policy(const char *s)
{
	if (s && !strcmp(s, "latest"))
		return RP_KAFKA_LATEST;
	if (s && !strcmp(s, "earliest"))
		return RP_KAFKA_EARLIEST;
	return -1;
}

int64_t rp_kafka_part_lag(int64_t committed, int64_t lo, int64_t hi, int policy)
{
	if (hi < 0)
		return 0;
	if (lo < 0 || lo > hi)
		lo = 0;
	if (committed < 0) {
		if (policy == RP_KAFKA_EARLIEST)
			return hi - lo;
		return hi > lo ? 1 : 0;
	}
	int64_t from = committed > lo ? committed : lo;
	return hi > from ? hi - from : 0;
}

void rp_kafka_lags_free(struct rp_kafka_lag *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		free(l[i].parts);
	free(l);
}

static double deadline_left(double end)
{
	double l = end - rp_mono();
	return l > 0 ? l : 0;
}

static int retriable(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__WAIT_COORD:
		return 1;
	default:
		return 0;
	}
}

/* Metadata for the distinct topics; fills parts (topic, partition) for all. */
static int fetch_metadata(struct rp_kafka *k, const char **topics, size_t nt, double end,
			  rd_kafka_topic_partition_list_t *all, char **err)
{
	const struct rd_kafka_metadata *md = NULL;
	int rc = 0;
	double backoff = 0.1;
	for (;;) {
		rd_kafka_resp_err_t e;
		int tmo = (int)(deadline_left(end) * 1000);
		/* All topics: 2.0.2 can only name topics by creating local topic
		 * objects, and then it builds consumer state for each of their
		 * partitions (tens of ms for 1000).  Nor can it auto-create. */
		e = rd_kafka_metadata(k->rk, 1, NULL, &md, tmo > 0 ? tmo : 1);
		if (e) {
			if (retriable(e) && deadline_left(end) > backoff) {
				rp_sleep(backoff);
				backoff = backoff * 2 > 1 ? 1 : backoff * 2;
				continue;
			}
			*err = rp_xasprintf("kafka metadata: %s", rd_kafka_err2str(e));
			rc = RP_EXIT_TEMP;
			goto out;
		}
		int again = 0;
		for (size_t i = 0; i < nt && !rc; i++) {
			const struct rd_kafka_metadata_topic *t = NULL;
			for (int j = 0; j < md->topic_cnt; j++)
				if (!strcmp(md->topics[j].topic, topics[i]))
					t = &md->topics[j];
			if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
				*err = rp_xasprintf("kafka topic '%s' does not exist", topics[i]);
				rc = RP_EXIT_USAGE;
			} else if (t->err || t->partition_cnt == 0) {
				if (retriable(t->err) || t->partition_cnt == 0) {
					again = 1;
				} else {
					*err = rp_xasprintf("kafka topic '%s': %s", topics[i],
							    rd_kafka_err2str(t->err));
					rc = RP_EXIT_TEMP;
				}
			}
		}
		if (!rc && again) {
			if (deadline_left(end) > backoff) {
				rd_kafka_metadata_destroy(md);
				md = NULL;
				rp_sleep(backoff);
				backoff = backoff * 2 > 1 ? 1 : backoff * 2;
				continue;
			}
			*err = rp_xstrdup("kafka metadata: topics without a leader");
			rc = RP_EXIT_TEMP;
		}
		break;
	}
	if (!rc)
		for (size_t i = 0; i < nt; i++)
			for (int j = 0; j < md->topic_cnt; j++)
				if (!strcmp(md->topics[j].topic, topics[i]))
					for (int p = 0; p < md->topics[j].partition_cnt; p++)
						rd_kafka_topic_partition_list_add(
							all, topics[i], md->topics[j].partitions[p].id);
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	return rc;
}

/* One batched ListOffsets round (END or BEGINNING) over every partition,
 * retried within the deadline. */
struct wround {
	struct rp_kafka *k;
	rd_kafka_topic_partition_list_t *l;
	int64_t which;
	double end;
	rd_kafka_resp_err_t e;
	const char *what;
};

static void *wround_run(void *arg)
{
	struct wround *w = arg;
	double backoff = 0.1;
	for (;;) {
		for (int i = 0; i < w->l->cnt; i++) {
			w->l->elems[i].offset = w->which;
			w->l->elems[i].err = 0;
		}
		int tmo = (int)(deadline_left(w->end) * 1000);
		w->e = rd_kafka_offsets_for_times(w->k->rk, w->l, tmo > 0 ? tmo : 1);
		w->what = NULL;
		for (int i = 0; !w->e && i < w->l->cnt; i++)
			if (w->l->elems[i].err) {
				w->e = w->l->elems[i].err;
				w->what = w->l->elems[i].topic;
			}
		if (!w->e || !retriable(w->e) || deadline_left(w->end) <= backoff)
			return NULL;
		rp_sleep(backoff);
		backoff = backoff * 2 > 1 ? 1 : backoff * 2;
	}
}

/* Watermarks of every partition in all.  librdkafka 2.0.2 matches each
 * answer to its request by a linear search, so one call over 1000
 * partitions costs a million string compares: the list is cut into chunks
 * of WCHUNK (250), and the END and BEGINNING rounds of every chunk run on a few
 * threads at once. */
enum { WCHUNK = 250, WTHREADS = 4 };

struct wpool {
	struct wround *jobs;
	int njobs, next;
	pthread_mutex_t mu;
};

static void *wpool_run(void *arg)
{
	struct wpool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int j = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (j >= p->njobs)
			return NULL;
		wround_run(&p->jobs[j]);
	}
}

static int fetch_watermarks(struct rp_kafka *k, const rd_kafka_topic_partition_list_t *all,
			    double end, rd_kafka_topic_partition_list_t **his,
			    rd_kafka_topic_partition_list_t **los, char **err)
{
	int nchunk = (all->cnt + WCHUNK - 1) / WCHUNK, rc = 0;
	struct wpool p = { .njobs = 2 * nchunk };
	pthread_t th[WTHREADS];
	int nth = 0;
	rd_kafka_topic_partition_list_t *out[2] = { rd_kafka_topic_partition_list_copy(all),
						    rd_kafka_topic_partition_list_copy(all) };

	p.jobs = rp_xcalloc((size_t)p.njobs + 1, sizeof *p.jobs);
	pthread_mutex_init(&p.mu, NULL);
	for (int j = 0; j < p.njobs; j++) {
		int c = j / 2, lo = c * WCHUNK, hi = lo + WCHUNK < all->cnt ? lo + WCHUNK : all->cnt;
		struct wround *w = &p.jobs[j];
		w->k = k;
		w->end = end;
		w->which = j % 2 ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
		w->l = rd_kafka_topic_partition_list_new(hi - lo);
		for (int i = lo; i < hi; i++)
			rd_kafka_topic_partition_list_add(w->l, all->elems[i].topic, all->elems[i].partition);
	}
	/* This thread works too; the others only when there is enough. */
	while (nth < WTHREADS - 1 && nth + 1 < p.njobs && pthread_create(&th[nth], NULL, wpool_run, &p) == 0)
		nth++;
	wpool_run(&p);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.mu);

	for (int j = 0; j < p.njobs; j++) {
		struct wround *w = &p.jobs[j];
		if (w->e && !rc) {
			*err = rp_xasprintf("kafka watermarks%s%s: %s", w->what ? " of " : "",
					    w->what ? w->what : "", rd_kafka_err2str(w->e));
			rc = RP_EXIT_TEMP;
		}
		for (int i = 0; !rc && i < w->l->cnt; i++)
			out[j % 2]->elems[(j / 2) * WCHUNK + i].offset = w->l->elems[i].offset;
		rd_kafka_topic_partition_list_destroy(w->l);
	}
	free(p.jobs);
	if (rc) {
		rd_kafka_topic_partition_list_destroy(out[0]);
		rd_kafka_topic_partition_list_destroy(out[1]);
		return rc;
	}
	*his = out[0];
	*los = out[1];
	return 0;
}

static int tpcmp(const rd_kafka_topic_partition_t *a, const rd_kafka_topic_partition_t *b)
{
	int c = strcmp(a->topic, b->topic);
	return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

struct gq {
	const char *group;
	rd_kafka_topic_partition_list_t *parts; /* request; then the answer */
	int done;
	double retry_at, backoff;
	char *err;
};

static void send_offsets(struct rp_kafka *k, rd_kafka_queue_t *q, struct gq *g, int idx)
{
	char e[256];
	rd_kafka_ListConsumerGroupOffsets_t *req =
		rd_kafka_ListConsumerGroupOffsets_new(g->group, g->parts);
	rd_kafka_AdminOptions_t *o =
		rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_AdminOptions_set_request_timeout(o, k->timeout_ms + ADMIN_TIMEOUT_PAST_MS, e, sizeof e);
	rd_kafka_AdminOptions_set_opaque(o, (void *)(intptr_t)idx);
	rd_kafka_ListConsumerGroupOffsets(k->rk, &req, 1, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
}

/* Handle one result event; returns 1 if that group needs a retry. */
static int take_offsets(rd_kafka_event_t *ev, struct gq *gs, int *idx)
{
	*idx = (int)(intptr_t)rd_kafka_event_opaque(ev);
	struct gq *g = &gs[*idx];
	rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
	free(g->err);
	g->err = NULL;
	if (!e) {
		const rd_kafka_ListConsumerGroupOffsets_result_t *res =
			rd_kafka_event_ListConsumerGroupOffsets_result(ev);
		size_t n = 0;
		const rd_kafka_group_result_t **grs =
			res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
		if (n != 1) {
			g->err = rp_xasprintf("kafka group '%s': no answer", g->group);
			return 0;
		}
		const rd_kafka_error_t *ge = rd_kafka_group_result_error(grs[0]);
		if (ge) {
			e = rd_kafka_error_code(ge);
			g->err = rp_xasprintf("kafka group '%s': %s", g->group, rd_kafka_error_string(ge));
		} else {
			const rd_kafka_topic_partition_list_t *p = rd_kafka_group_result_partitions(grs[0]);
			for (int i = 0; p && i < p->cnt && !e; i++)
				if (p->elems[i].err) {
					e = p->elems[i].err;
					g->err = rp_xasprintf("kafka group '%s' %s[%d]: %s", g->group,
							      p->elems[i].topic, (int)p->elems[i].partition,
							      rd_kafka_err2str(e));
				}
			if (!e) {
				/* Both sorted: one merge pass, not a search per
				 * partition (1000 partitions make that visible). */
				rd_kafka_topic_partition_list_t *ans = rd_kafka_topic_partition_list_copy(p);
				rd_kafka_topic_partition_list_sort(ans, NULL, NULL);
				int j = 0;
				for (int i = 0; i < g->parts->cnt; i++) {
					rd_kafka_topic_partition_t *r = &g->parts->elems[i];
					int c = 1;
					while (j < ans->cnt && (c = tpcmp(&ans->elems[j], r)) < 0)
						j++;
					r->offset = j < ans->cnt && c == 0 ? ans->elems[j].offset : RD_KAFKA_OFFSET_INVALID;
				}
				rd_kafka_topic_partition_list_destroy(ans);
				g->done = 1;
				return 0;
			}
		}
	} else {
		g->err = rp_xasprintf("kafka group '%s': %s", g->group, rd_kafka_event_error_string(ev));
	}
	return retriable(e);
}

static void send_committed(struct rp_kafka *k, rd_kafka_queue_t *q, struct gq *gs, size_t ng)
{
	for (size_t i = 0; i < ng; i++) {
		gs[i].backoff = 0.1;
		send_offsets(k, q, &gs[i], (int)i);
	}
}

/* Collect the answers of send_committed(), resending on coordinator
 * errors, until end.  *out: how many requests are still out when it
 * returns. */
static int fetch_committed(struct rp_kafka *k, rd_kafka_queue_t *q, struct gq *gs, size_t ng, double end,
			   size_t *out, char **err)
{
	size_t pending = ng, done = 0;
	int rc = 0;
	while (done < ng) {
		/* Resend the groups whose backoff has passed. */
		double next = end;
		for (size_t i = 0; i < ng; i++) {
			if (gs[i].done || gs[i].retry_at <= 0)
				continue;
			if (rp_mono() >= gs[i].retry_at) {
				gs[i].retry_at = 0;
				send_offsets(k, q, &gs[i], (int)i);
				pending++;
			} else if (gs[i].retry_at < next) {
				next = gs[i].retry_at;
			}
		}
		if (deadline_left(end) <= 0 && !pending) {
			rc = RP_EXIT_TEMP;
			break;
		}
		if (!pending) {
			rp_sleep(next - rp_mono() > 0 ? next - rp_mono() : 0);
			continue;
		}
		double wait = (next < end ? next : end) - rp_mono();
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wait > 0 ? (int)(wait * 1000) + 1 : 1);
		if (!ev) {
			if (deadline_left(end) <= 0) {
				rc = RP_EXIT_TEMP;
				break;
			}
			continue;
		}
		if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
			rd_kafka_event_destroy(ev);
			continue;
		}
		int idx;
		pending--;
		int again = take_offsets(ev, gs, &idx);
		rd_kafka_event_destroy(ev);
		struct gq *g = &gs[idx];
		if (g->done) {
			done++;
		} else if (again && deadline_left(end) > g->backoff) {
			rp_debug("kafka: retrying", "group", g->group, "error", g->err);
			g->retry_at = rp_mono() + g->backoff;
			g->backoff = g->backoff * 2 > 1 ? 1 : g->backoff * 2;
		} else {
			rc = again ? RP_EXIT_TEMP : RP_EXIT_FAIL;
			break;
		}
	}
	if (rc) {
		for (size_t i = 0; i < ng && !*err; i++)
			if (!gs[i].done && gs[i].err)
				*err = rp_xstrdup(gs[i].err);
		for (size_t i = 0; i < ng && !*err; i++)
			if (!gs[i].done)
				*err = rp_xasprintf("kafka group '%s': committed offsets: timed out "
						    "(no answer from its coordinator)",
						    gs[i].group);
	}
	*out = pending;
	return rc;
}

static const char *ms(double t0)
{
	static char b[32];
	snprintf(b, sizeof b, "%.1f", (rp_mono() - t0) * 1000);
	return b;
}

int rp_kafka_poll(struct rp_kafka *k, const struct rp_kafka_watch *w, size_t n, int policy,
		  struct rp_kafka_lag **out, size_t *nout, char **err)
{
	const char **topics = rp_xcalloc(n ? n : 1, sizeof *topics);
	struct gq *gs = rp_xcalloc(n ? n : 1, sizeof *gs);
	size_t nt = 0, ng = 0;
	rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new((int)n * 8 + 1);
	rd_kafka_topic_partition_list_t *his = NULL, *los = NULL;
	rd_kafka_queue_t *q = NULL;
	double t0 = rp_mono(), end = t0 + k->timeout_ms / 1000.0;
	size_t still_out = 0; /* ListConsumerGroupOffsets not answered */
	int rc;
	char e[512];

	*err = NULL;
	*out = NULL;
	*nout = 0;
	if (!k->rk) { /* the last poll dropped it (drop_handle) */
		if (!(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rd_kafka_conf_dup(k->conf), e, sizeof e))) {
			free(topics);
			free(gs);
			*err = rp_xasprintf("kafka: %s", e);
			return RP_EXIT_TEMP;
		}
		rp_debug("kafka: a fresh handle (the last poll left requests out)");
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < nt && strcmp(topics[j], w[i].topic); j++)
			;
		if (j == nt)
			topics[nt++] = w[i].topic;
		for (j = 0; j < ng && strcmp(gs[j].group, w[i].group); j++)
			;
		if (j == ng) {
			gs[ng].group = w[i].group;
			gs[ng++].parts = rd_kafka_topic_partition_list_new(16);
		}
	}
	rc = fetch_metadata(k, topics, nt, end, all, err);
	if (rc)
		goto out;
	/* Each group's partitions carry their index in all (and so in the
	 * watermark lists, which are copies of it), and are sorted. */
	rd_kafka_topic_partition_list_sort(all, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		struct gq *g = gs;
		size_t j;
		for (j = 0; j < i && (strcmp(w[j].group, w[i].group) || strcmp(w[j].topic, w[i].topic)); j++)
			;
		if (j < i)
			continue; /* the same pair twice */
		while (strcmp(g->group, w[i].group))
			g++;
		for (int p = 0; p < all->cnt; p++)
			if (!strcmp(all->elems[p].topic, w[i].topic))
				rd_kafka_topic_partition_list_add(g->parts, w[i].topic, all->elems[p].partition)
					->opaque = (void *)(intptr_t)p;
	}
	for (size_t i = 0; i < ng; i++)
		rd_kafka_topic_partition_list_sort(gs[i].parts, NULL, NULL);
	rp_debug("kafka: metadata", "ms", ms(t0));
	/* Committed offsets are asked first and collected after the
	 * watermarks: the requests overlap.  Late answers are dropped with
	 * the queue. */
	q = rd_kafka_queue_new(k->rk);
	send_committed(k, q, gs, ng);
	still_out = ng;
	rc = fetch_watermarks(k, all, end, &his, &los, err);
	if (rc)
		goto out;
	rp_debug("kafka: watermarks", "ms", ms(t0));
	rc = fetch_committed(k, q, gs, ng, end, &still_out, err);
	rp_debug("kafka: committed", "ms", ms(t0));
	if (rc)
		goto out;

	struct rp_kafka_lag *res = rp_xcalloc(ng, sizeof *res);
	for (size_t i = 0; i < ng; i++) {
		struct rp_kafka_lag *l = &res[i];
		/* Borrow the caller's strings, not librdkafka's copies. */
		for (size_t j = 0; j < n; j++)
			if (!strcmp(w[j].group, gs[i].group)) {
				l->group = w[j].group;
				break;
			}
		l->nparts = (size_t)gs[i].parts->cnt;
		l->parts = rp_xcalloc(l->nparts ? l->nparts : 1, sizeof *l->parts);
		for (size_t p = 0; p < l->nparts; p++) {
			const rd_kafka_topic_partition_t *e = &gs[i].parts->elems[p];
			struct rp_kafka_part *o = &l->parts[p];
			for (size_t t = 0; t < nt; t++)
				if (!strcmp(topics[t], e->topic))
					o->topic = topics[t];
			o->partition = e->partition;
			o->committed = e->offset >= 0 ? e->offset : RP_KAFKA_NO_OFFSET;
			intptr_t x = (intptr_t)e->opaque;
			o->hi = his->elems[x].offset;
			o->lo = los->elems[x].offset;
			o->lag = rp_kafka_part_lag(o->committed, o->lo, o->hi, policy);
			l->lag += o->lag;
			if (o->committed >= 0)
				l->ncommitted++;
		}
		if (l->nparts && !l->ncommitted && !*err) {
			*err = rp_xasprintf("kafka group '%s' has no committed offset on its topics "
					    "(unknown group?)",
					    l->group);
			rc = RP_EXIT_USAGE;
		}
	}
	if (rc) {
		rp_kafka_lags_free(res, ng);
		goto out;
	}
	*out = res;
	*nout = ng;
out:
	for (size_t i = 0; i < ng; i++) {
		rd_kafka_topic_partition_list_destroy(gs[i].parts);
		free(gs[i].err);
	}
	free(gs);
	free(topics);
	rd_kafka_topic_partition_list_destroy(all);
	if (his)
		rd_kafka_topic_partition_list_destroy(his);
	if (los)
		rd_kafka_topic_partition_list_destroy(los);
	if (q)
		rd_kafka_queue_destroy(q);
	if (still_out) {
		rp_debug("kafka: requests still out: the handle is dropped");
		drop_handle(k);
	}
	return rc;
}
