/* kafka.c — consumer-group lag over our own Kafka wire client (see kafka.h). */
#include "kafka.h"
#include "hostport.h"
#include "kwire.h"
#include "rp.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct broker {
	int32_t id;
	char *host;
	int port;
};

struct rp_kafka {
	struct kw_client *c;
	char **boot_host;
	int *boot_port;
	size_t nboot, boot_i;
	struct broker *b; /* from the last metadata */
	size_t nb;
	double timeout;
};

/* "host:port", "host" (port 9092), "[v6]:port" or "[v6]"; a host of
 * at most 255 bytes (what kw_conn takes). */
static int parse_server(const char *s, size_t n, char **host, int *port)
{
	struct rp_hostport hp;
	if (rp_hostport(s, n, RP_HP_PORT_OPTIONAL, 9092, &hp) || hp.hostlen > 255)
		return -1;
	*host = rp_xasprintf("%.*s", (int)hp.hostlen, hp.host);
	*port = hp.port;
	return 0;
}

struct rp_kafka *rp_kafka_open(const char *bootstrap, double timeout, char **err)
{
	struct rp_kafka *k = rp_xcalloc(1, sizeof *k);
	*err = NULL;
	k->timeout = timeout > 0 ? timeout : 5;
	for (const char *s = bootstrap ? bootstrap : ""; *s;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n) {
			char *h;
			int p;
			if (parse_server(s, n, &h, &p) < 0) {
				*err = rp_xasprintf("kafka: bad bootstrap server '%.*s'", (int)n, s);
				rp_kafka_close(k);
				return NULL;
			}
			k->boot_host = rp_xrealloc(k->boot_host, (k->nboot + 1) * sizeof *k->boot_host);
			k->boot_port = rp_xrealloc(k->boot_port, (k->nboot + 1) * sizeof *k->boot_port);
			k->boot_host[k->nboot] = h;
			k->boot_port[k->nboot++] = p;
		}
		s = e ? e + 1 : s + strlen(s);
	}
	if (!k->nboot) {
		*err = rp_xstrdup("kafka: no bootstrap server (kafka.bootstrap_servers)");
		rp_kafka_close(k);
		return NULL;
	}
	k->c = kw_client_new();
	return k;
}

static void brokers_free(struct rp_kafka *k)
{
	for (size_t i = 0; i < k->nb; i++)
		free(k->b[i].host);
	free(k->b);
	k->b = NULL;
	k->nb = 0;
}

void rp_kafka_close(struct rp_kafka *k)
{
	if (!k)
		return;
	kw_client_free(k->c);
	for (size_t i = 0; i < k->nboot; i++)
		free(k->boot_host[i]);
	free(k->boot_host);
	free(k->boot_port);
	brokers_free(k);
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

/* Errors a later try may not see: retried with backoff. */
static int retriable(int e)
{
	switch (e) {
	case 5:  /* LEADER_NOT_AVAILABLE */
	case 6:  /* NOT_LEADER_OR_FOLLOWER */
	case 7:  /* REQUEST_TIMED_OUT */
	case 14: /* COORDINATOR_LOAD_IN_PROGRESS */
	case 15: /* COORDINATOR_NOT_AVAILABLE */
	case 16: /* NOT_COORDINATOR */
	case 88: /* UNSTABLE_OFFSET_COMMIT */
		return 1;
	default:
		return 0;
	}
}

/* ---- one poll ---- */
struct part {
	size_t t; /* index into topics */
	int32_t p, leader;
	int64_t hi, lo;
	int has_hi, has_lo;
};

enum { G_FIND, G_FINDING, G_FETCH, G_FETCHING, G_DONE };

struct poll;
struct grp {
	struct poll *P;
	const char *group;
	size_t *pi, np; /* indices into parts, ascending */
	int64_t *committed;
	int state;
	double retry_at, backoff;
	char *err, *chost;
	int cport;
};

struct loreq { /* one ListOffsets: one leader, one timestamp */
	struct poll *P;
	int64_t ts;
	size_t *pi, np;
};

struct poll {
	struct rp_kafka *k;
	const char **topics;
	size_t nt;
	struct part *parts;
	size_t nparts;
	struct grp *gs;
	size_t ng;
	const struct rp_kafka_watch *w;
	size_t nw;
	double end;
	/* metadata: 0 wanted, 1 out, 2 fresh */
	int meta, have_parts;
	double meta_at, meta_backoff;
	char *meta_err;
	/* watermarks */
	int wm_out, wm_stale;
	double wm_at, wm_backoff;
	char *wm_err, *wm_last;
	struct loreq **lr;
	size_t nlr;
	/* an error that ends the poll */
	int rc;
	char *err;
};

static void fatal(struct poll *P, int rc, char *err)
{
	if (!P->rc) {
		P->rc = rc;
		P->err = err;
	} else {
		free(err);
	}
}

static void seterr(char **slot, char *e)
{
	free(*slot);
	*slot = e;
}

/* Retry at now + *backoff when that is before the deadline (and double
 * the backoff, cap 1 s); else the poll ends with err. */
static int backoff(struct poll *P, double *at, double *b, const char *err)
{
	double now = rp_mono();
	if (*b <= 0)
		*b = 0.1;
	if (now + *b >= P->end) {
		fatal(P, RP_EXIT_TEMP, rp_xstrdup(err));
		return -1;
	}
	*at = now + *b;
	*b = *b * 2 > 1 ? 1 : *b * 2;
	return 0;
}

static struct kw_conn *any_conn(struct rp_kafka *k)
{
	return kw_conn(k->c, k->boot_host[k->boot_i % k->nboot], k->boot_port[k->boot_i % k->nboot]);
}

static const struct broker *broker(const struct rp_kafka *k, int32_t id)
{
	for (size_t i = 0; i < k->nb; i++)
		if (k->b[i].id == id)
			return &k->b[i];
	return NULL;
}

/* "kafka broker H:P: why" → "broker H:P: why" after a prefix of ours. */
static const char *tail(const char *e)
{
	return strncmp(e, "kafka ", 6) ? e : e + 6;
}

static int partcmp(const struct poll *P, size_t t, int32_t p, const struct part *b)
{
	int c = strcmp(P->topics[t], P->topics[b->t]);
	return c ? c : (p > b->p) - (p < b->p);
}

/* The index of (topic t, partition p) in parts, or -1. */
static long find_part(const struct poll *P, size_t t, int32_t p)
{
	size_t lo = 0, hi = P->nparts;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		int c = partcmp(P, t, p, &P->parts[m]);
		if (!c)
			return (long)m;
		if (c < 0)
			hi = m;
		else
			lo = m + 1;
	}
	return -1;
}

static long find_topic(const struct poll *P, const char *s, size_t n)
{
	for (size_t t = 0; t < P->nt; t++)
		if (kw_streq(s, n, P->topics[t]))
			return (long)t;
	return -1;
}

/* ---- Metadata ---- */
static void enc_metadata(void *arg, struct kw_buf *b, int ver)
{
	struct poll *P = arg;
	if (ver < 4) {
		/* Before v4 a broker may create a topic we name (librdkafka's
		 * mock cluster does): ask for all topics (null) instead. */
		kw_i32(b, -1);
		return;
	}
	kw_i32(b, (int32_t)P->nt);
	for (size_t t = 0; t < P->nt; t++)
		kw_str(b, P->topics[t]);
	kw_i8(b, 0); /* allow_auto_topic_creation: false */
}

static _Thread_local const struct poll *sort_P; /* for qsort */
static int part_sort(const void *a, const void *b)
{
	const struct part *x = a, *y = b;
	return partcmp(sort_P, x->t, x->p, y);
}

/* Decode a Metadata answer into the brokers, and into the parts (built on
 * the first, leaders updated after); 0, 1 to try again, -1 ended. */
static int take_metadata(struct poll *P, struct kw_rd *r, int ver, char **why)
{
	struct rp_kafka *k = P->k;
	struct broker *bs = NULL;
	size_t nbs = 0;
	struct part *np = NULL;
	size_t nnp = 0;
	int again = 0;
	char *topic_err = NULL;
	int topic_rc = 0;
	const char *s;
	size_t n;

	if (ver >= 3)
		kw_r32(r); /* throttle_time_ms */
	int32_t nb = kw_rarr(r);
	bs = rp_xcalloc((size_t)(nb > 0 ? nb : 1), sizeof *bs);
	for (int32_t i = 0; i < nb && !r->bad; i++) {
		bs[nbs].id = kw_r32(r);
		kw_rstr(r, &s, &n);
		bs[nbs].host = rp_xasprintf("%.*s", (int)n, s);
		bs[nbs].port = kw_r32(r);
		nbs++;
		if (ver >= 1)
			kw_rstr(r, &s, &n); /* rack */
	}
	if (ver >= 2)
		kw_rstr(r, &s, &n); /* cluster_id */
	if (ver >= 1)
		kw_r32(r); /* controller_id */
	int32_t ntop = kw_rarr(r);
	int *seen = rp_xcalloc(P->nt ? P->nt : 1, sizeof *seen);
	for (int32_t i = 0; i < ntop && !r->bad; i++) {
		int16_t e = kw_r16(r);
		kw_rstr(r, &s, &n);
		long t = find_topic(P, s, n);
		if (ver >= 1)
			kw_r8(r); /* is_internal */
		int32_t npart = kw_rarr(r);
		if (t >= 0) {
			seen[t] = 1;
			if (e == 3 && !topic_err) {
				topic_err = rp_xasprintf("kafka topic '%s' does not exist", P->topics[t]);
				topic_rc = RP_EXIT_USAGE;
			} else if (e && !retriable(e) && !topic_err) {
				topic_err = rp_xasprintf("kafka topic '%s': %s", P->topics[t], kw_errstr(e));
				topic_rc = RP_EXIT_TEMP;
			} else if (e || npart == 0) {
				again = 1;
			}
		}
		for (int32_t j = 0; j < npart && !r->bad; j++) {
			int16_t pe = kw_r16(r);
			int32_t idx = kw_r32(r), leader = kw_r32(r);
			for (int a = 0; a < 2; a++) { /* replicas, isr */
				int32_t m = kw_rarr(r);
				for (int32_t x = 0; x < m && !r->bad; x++)
					kw_r32(r);
			}
			if (t < 0 || e)
				continue;
			if (pe == 5 || pe == 6 || leader < 0)
				again = 1;
			np = rp_xrealloc(np, (nnp + 1) * sizeof *np);
			np[nnp++] = (struct part){ .t = (size_t)t, .p = idx, .leader = leader };
		}
	}
	for (size_t t = 0; t < P->nt && !r->bad && !topic_err; t++)
		if (!seen[t]) {
			topic_err = rp_xasprintf("kafka topic '%s' does not exist", P->topics[t]);
			topic_rc = RP_EXIT_USAGE;
		}
	free(seen);
	int rc = 0;
	if (!kw_rend(r)) {
		*why = rp_xstrdup("kafka metadata: malformed response");
		rc = 1;
	} else if (topic_err) {
		fatal(P, topic_rc, topic_err);
		topic_err = NULL;
		rc = -1;
	} else {
		for (size_t i = 0; i < nnp && !again; i++)
			for (size_t j = 0; j < nbs && np[i].leader >= 0; j++)
				if (bs[j].id == np[i].leader)
					break;
				else if (j + 1 == nbs)
					again = 1;
		if (again) {
			*why = rp_xstrdup("kafka metadata: topics without a leader");
			rc = 1;
		}
	}
	if (rc) {
		for (size_t i = 0; i < nbs; i++)
			free(bs[i].host);
		free(bs);
		free(np);
		free(topic_err);
		return rc;
	}
	brokers_free(k);
	k->b = bs;
	k->nb = nbs;
	sort_P = P;
	qsort(np, nnp, sizeof *np, part_sort);
	if (!P->have_parts) {
		for (size_t i = 0; i < nnp; i++)
			np[i].hi = np[i].lo = -1;
		P->parts = np;
		P->nparts = nnp;
		P->have_parts = 1;
		for (size_t g = 0; g < P->ng; g++) {
			struct grp *G = &P->gs[g];
			char *mine = rp_xcalloc(P->nt ? P->nt : 1, 1);
			for (size_t i = 0; i < P->nw; i++)
				if (!strcmp(P->w[i].group, G->group))
					mine[find_topic(P, P->w[i].topic, strlen(P->w[i].topic))] = 1;
			G->pi = rp_xcalloc(nnp ? nnp : 1, sizeof *G->pi);
			for (size_t i = 0; i < nnp; i++)
				if (mine[np[i].t])
					G->pi[G->np++] = i;
			G->committed = rp_xcalloc(G->np ? G->np : 1, sizeof *G->committed);
			free(mine);
		}
	} else { /* a refresh: new leaders for the partitions we know */
		for (size_t i = 0; i < nnp; i++) {
			long at = find_part(P, np[i].t, np[i].p);
			if (at >= 0)
				P->parts[at].leader = np[i].leader;
		}
		free(np);
	}
	return 0;
}

static void dec_metadata(void *arg, int how, const char *err, struct kw_rd *r, int ver)
{
	struct poll *P = arg;
	char *why = NULL;
	P->meta = 0;
	if (how == KW_EVERSION) {
		fatal(P, RP_EXIT_TEMP, rp_xstrdup(err));
		return;
	}
	if (how == KW_OK) {
		int rc = take_metadata(P, r, ver, &why);
		if (rc < 0)
			return;
		if (rc == 0) {
			P->meta = 2;
			P->wm_stale = 0;
			return;
		}
	} else {
		why = rp_xasprintf("kafka metadata: %s", tail(err));
		P->k->boot_i++; /* the next try asks another server */
	}
	rp_debug("kafka: retrying", "what", "metadata", "error", why);
	seterr(&P->meta_err, why);
	backoff(P, &P->meta_at, &P->meta_backoff, P->meta_err);
}

/* ---- FindCoordinator and OffsetFetch ---- */
static void enc_findcoord(void *arg, struct kw_buf *b, int ver)
{
	struct grp *G = arg;
	kw_str(b, G->group);
	if (ver >= 1)
		kw_i8(b, 0); /* key_type: group */
}

/* A group's try failed: find its coordinator again (refind) or fetch
 * again, after its backoff, or end the poll. */
static void grp_retry(struct grp *G, int refind, char *why)
{
	seterr(&G->err, why);
	rp_debug("kafka: retrying", "group", G->group, "error", G->err);
	G->state = refind ? G_FIND : G_FETCH;
	backoff(G->P, &G->retry_at, &G->backoff, G->err);
}

static void dec_findcoord(void *arg, int how, const char *err, struct kw_rd *r, int ver)
{
	struct grp *G = arg;
	(void)ver;
	if (how == KW_EVERSION) {
		fatal(G->P, RP_EXIT_TEMP, rp_xstrdup(err));
		return;
	}
	if (how != KW_OK) {
		G->P->k->boot_i++;
		grp_retry(G, 1, rp_xasprintf("kafka group '%s': %s", G->group, tail(err)));
		return;
	}
	const char *s, *m;
	size_t n, mn;
	kw_r32(r); /* throttle_time_ms */
	int16_t e = kw_r16(r);
	kw_rstr(r, &m, &mn);
	kw_r32(r); /* node_id */
	kw_rstr(r, &s, &n);
	int32_t port = kw_r32(r);
	if (!kw_rend(r)) {
		grp_retry(G, 1, rp_xasprintf("kafka group '%s': malformed FindCoordinator response", G->group));
		return;
	}
	if (e) {
		char *why = rp_xasprintf("kafka group '%s': %s%s%.*s", G->group, kw_errstr(e), mn ? ": " : "",
					 (int)mn, m);
		if (retriable(e))
			grp_retry(G, 1, why);
		else
			fatal(G->P, RP_EXIT_FAIL, why);
		return;
	}
	free(G->chost);
	G->chost = rp_xasprintf("%.*s", (int)n, s);
	G->cport = port;
	G->state = G_FETCH;
	G->backoff = G->backoff > 0 ? G->backoff : 0.1;
}

static void enc_offsetfetch(void *arg, struct kw_buf *b, int ver)
{
	struct grp *G = arg;
	const struct poll *P = G->P;
	(void)ver;
	kw_str(b, G->group);
	size_t nt = 0;
	for (size_t i = 0; i < G->np; i++)
		if (!i || P->parts[G->pi[i]].t != P->parts[G->pi[i - 1]].t)
			nt++;
	kw_i32(b, (int32_t)nt);
	for (size_t i = 0; i < G->np;) {
		size_t j = i, t = P->parts[G->pi[i]].t;
		while (j < G->np && P->parts[G->pi[j]].t == t)
			j++;
		kw_str(b, P->topics[t]);
		kw_i32(b, (int32_t)(j - i));
		for (; i < j; i++)
			kw_i32(b, P->parts[G->pi[i]].p);
	}
}

static void dec_offsetfetch(void *arg, int how, const char *err, struct kw_rd *r, int ver)
{
	struct grp *G = arg;
	const struct poll *P = G->P;
	if (how == KW_EVERSION) {
		fatal(G->P, RP_EXIT_TEMP, rp_xstrdup(err));
		return;
	}
	if (how != KW_OK) {
		grp_retry(G, 1, rp_xasprintf("kafka group '%s': %s", G->group, tail(err)));
		return;
	}
	for (size_t i = 0; i < G->np; i++)
		G->committed[i] = RP_KAFKA_NO_OFFSET;
	int first = 0;
	char *why = NULL;
	if (ver >= 3)
		kw_r32(r); /* throttle_time_ms */
	int32_t nt = kw_rarr(r);
	for (int32_t i = 0; i < nt && !r->bad; i++) {
		const char *s;
		size_t n;
		kw_rstr(r, &s, &n);
		long t = find_topic(P, s, n);
		int32_t np = kw_rarr(r);
		for (int32_t j = 0; j < np && !r->bad; j++) {
			int32_t idx = kw_r32(r);
			int64_t off = kw_r64(r);
			if (ver >= 5)
				kw_r32(r); /* committed_leader_epoch */
			const char *md;
			size_t mdn;
			kw_rstr(r, &md, &mdn);
			int16_t e = kw_r16(r);
			if (r->bad || t < 0)
				continue;
			if (e && !first) {
				first = e;
				why = rp_xasprintf("kafka group '%s' %s[%d]: %s", G->group, P->topics[t], (int)idx,
						   kw_errstr(e));
			}
			long at = find_part(P, (size_t)t, idx);
			/* its place among the group's (both ascending) */
			size_t lo = 0, hi = G->np;
			while (at >= 0 && lo < hi) {
				size_t m = (lo + hi) / 2;
				if (G->pi[m] == (size_t)at) {
					G->committed[m] = off >= 0 ? off : RP_KAFKA_NO_OFFSET;
					break;
				}
				if (G->pi[m] < (size_t)at)
					lo = m + 1;
				else
					hi = m;
			}
		}
	}
	if (ver >= 2) {
		int16_t e = kw_r16(r);
		if (e && !r->bad) {
			first = e;
			seterr(&why, rp_xasprintf("kafka group '%s': %s", G->group, kw_errstr(e)));
		}
	}
	if (!kw_rend(r)) {
		free(why);
		grp_retry(G, 1, rp_xasprintf("kafka group '%s': malformed OffsetFetch response", G->group));
		return;
	}
	if (first) {
		if (retriable(first))
			grp_retry(G, first == 15 || first == 16, why);
		else
			fatal(G->P, RP_EXIT_FAIL, why);
		return;
	}
	G->state = G_DONE;
}

/* ---- ListOffsets ---- */
static void enc_listoffsets(void *arg, struct kw_buf *b, int ver)
{
	struct loreq *L = arg;
	const struct poll *P = L->P;
	kw_i32(b, -1); /* replica_id: a consumer */
	if (ver >= 2)
		kw_i8(b, 0); /* isolation_level: read_uncommitted (the high watermark) */
	size_t nt = 0;
	for (size_t i = 0; i < L->np; i++)
		if (!i || P->parts[L->pi[i]].t != P->parts[L->pi[i - 1]].t)
			nt++;
	kw_i32(b, (int32_t)nt);
	for (size_t i = 0; i < L->np;) {
		size_t j = i, t = P->parts[L->pi[i]].t;
		while (j < L->np && P->parts[L->pi[j]].t == t)
			j++;
		kw_str(b, P->topics[t]);
		kw_i32(b, (int32_t)(j - i));
		for (; i < j; i++) {
			kw_i32(b, P->parts[L->pi[i]].p);
			if (ver >= 4)
				kw_i32(b, -1); /* current_leader_epoch: unknown */
			kw_i64(b, L->ts);
		}
	}
}

static void wm_fail(struct poll *P, char *why, int stale)
{
	if (!P->wm_err)
		P->wm_err = why;
	else
		free(why);
	P->wm_stale |= stale;
}

static void dec_listoffsets(void *arg, int how, const char *err, struct kw_rd *r, int ver)
{
	struct loreq *L = arg;
	struct poll *P = L->P;
	P->wm_out--;
	if (how == KW_EVERSION) {
		fatal(P, RP_EXIT_TEMP, rp_xstrdup(err));
		return;
	}
	if (how != KW_OK) {
		wm_fail(P, rp_xasprintf("kafka watermarks: %s", tail(err)), 1);
		return;
	}
	/* Offsets are taken only from an answer read whole. */
	long *at = rp_xmalloc((L->np ? L->np : 1) * sizeof *at);
	int64_t *val = rp_xmalloc((L->np ? L->np : 1) * sizeof *val);
	size_t nv = 0;
	if (ver >= 2)
		kw_r32(r); /* throttle_time_ms */
	int32_t nt = kw_rarr(r);
	for (int32_t i = 0; i < nt && !r->bad; i++) {
		const char *s;
		size_t n;
		kw_rstr(r, &s, &n);
		long t = find_topic(P, s, n);
		int32_t np = kw_rarr(r);
		for (int32_t j = 0; j < np && !r->bad; j++) {
			int32_t idx = kw_r32(r);
			int16_t e = kw_r16(r);
			kw_r64(r); /* timestamp */
			int64_t off = kw_r64(r);
			if (ver >= 4)
				kw_r32(r); /* leader_epoch */
			long a = t >= 0 && !r->bad ? find_part(P, (size_t)t, idx) : -1;
			if (a < 0)
				continue;
			if (e) {
				char *why = rp_xasprintf("kafka watermarks of %s: %s", P->topics[t], kw_errstr(e));
				int stale = e == 3 || e == 5 || e == 6 || e == 74 || e == 75;
				if (retriable(e) || stale)
					wm_fail(P, why, stale);
				else
					fatal(P, RP_EXIT_TEMP, why);
				continue;
			}
			if (nv < L->np) {
				at[nv] = a;
				val[nv++] = off;
			}
		}
	}
	if (!kw_rend(r)) {
		wm_fail(P, rp_xstrdup("kafka watermarks: malformed ListOffsets response"), 0);
		nv = 0;
	}
	for (size_t i = 0; i < nv; i++) {
		struct part *p = &P->parts[at[i]];
		if (L->ts == -1)
			p->hi = val[i], p->has_hi = 1;
		else
			p->lo = val[i], p->has_lo = 1;
	}
	free(at);
	free(val);
}

/* Send the ListOffsets still needed: per leader, one for the latest offsets
 * (-1) and one for the earliest (-2), each with all its partitions. */
static void wm_send(struct poll *P)
{
	size_t *idx = rp_xcalloc(P->nparts ? P->nparts : 1, sizeof *idx);
	char *done = rp_xcalloc(P->nparts ? P->nparts : 1, 1);
	for (int which = 0; which < 2; which++) {
		int64_t ts = which ? -2 : -1;
		memset(done, 0, P->nparts);
		for (size_t i = 0; i < P->nparts; i++) {
			if (done[i] || (which ? P->parts[i].has_lo : P->parts[i].has_hi))
				continue;
			int32_t leader = P->parts[i].leader;
			size_t n = 0;
			for (size_t j = i; j < P->nparts; j++)
				if (!done[j] && P->parts[j].leader == leader &&
				    !(which ? P->parts[j].has_lo : P->parts[j].has_hi)) {
					done[j] = 1;
					idx[n++] = j;
				}
			const struct broker *b = broker(P->k, leader);
			struct kw_conn *c = b ? kw_conn(P->k->c, b->host, b->port) : NULL;
			if (!c) {
				wm_fail(P, rp_xasprintf("kafka watermarks of %s: leader %d unknown",
							P->topics[P->parts[i].t], (int)leader),
					1);
				continue;
			}
			struct loreq *L = rp_xcalloc(1, sizeof *L);
			L->P = P;
			L->ts = ts;
			L->np = n;
			L->pi = rp_xmalloc(n * sizeof *L->pi);
			memcpy(L->pi, idx, n * sizeof *idx);
			P->lr = rp_xrealloc(P->lr, (P->nlr + 1) * sizeof *P->lr);
			P->lr[P->nlr++] = L;
			kw_send(c, KW_LISTOFFSETS, enc_listoffsets, dec_listoffsets, L);
			P->wm_out++;
		}
	}
	free(done);
	free(idx);
}

static int wm_missing(const struct poll *P)
{
	for (size_t i = 0; i < P->nparts; i++)
		if (!P->parts[i].has_hi || !P->parts[i].has_lo)
			return 1;
	return 0;
}

/* ---- the poll ---- */
static void poll_step(struct poll *P, double *next)
{
	struct rp_kafka *k = P->k;
	double now = rp_mono();
	if (!P->meta && now >= P->meta_at) {
		P->meta = 1;
		kw_send(any_conn(k), KW_METADATA, enc_metadata, dec_metadata, P);
	} else if (!P->meta && P->meta_at < *next) {
		*next = P->meta_at;
	}
	for (size_t g = 0; g < P->ng; g++) {
		struct grp *G = &P->gs[g];
		if ((G->state == G_FIND || G->state == G_FETCH) && now < G->retry_at) {
			if (G->retry_at < *next)
				*next = G->retry_at;
			continue;
		}
		if (G->state == G_FIND) {
			G->state = G_FINDING;
			kw_send(any_conn(k), KW_FINDCOORDINATOR, enc_findcoord, dec_findcoord, G);
		} else if (G->state == G_FETCH && P->have_parts) {
			struct kw_conn *c = kw_conn(k->c, G->chost, G->cport);
			if (!c) {
				grp_retry(G, 1, rp_xasprintf("kafka group '%s': coordinator port %d", G->group,
							     G->cport));
				continue;
			}
			G->state = G_FETCHING;
			kw_send(c, KW_OFFSETFETCH, enc_offsetfetch, dec_offsetfetch, G);
		}
	}
	/* Watermarks: once leaders are known; after a round with errors, its
	 * backoff (and fresh leaders when they moved). */
	if (P->have_parts && !P->wm_out && wm_missing(P)) {
		if (P->wm_err) { /* the last round failed */
			seterr(&P->wm_last, P->wm_err);
			P->wm_err = NULL;
			rp_debug("kafka: retrying", "what", "watermarks", "error", P->wm_last);
			if (backoff(P, &P->wm_at, &P->wm_backoff, P->wm_last) < 0)
				return;
			if (P->wm_stale && P->meta == 2) {
				P->meta = 0;
				P->meta_at = P->wm_at;
			}
		}
		if (P->meta == 2 && now >= P->wm_at)
			wm_send(P);
		else if (P->wm_at < *next && P->wm_at > now)
			*next = P->wm_at;
	}
}

static int poll_done(const struct poll *P)
{
	if (!P->have_parts || P->wm_out || wm_missing(P))
		return 0;
	for (size_t g = 0; g < P->ng; g++)
		if (P->gs[g].state != G_DONE)
			return 0;
	return 1;
}

static char *timeout_err(const struct poll *P)
{
	if (!P->have_parts)
		return P->meta_err ? rp_xstrdup(P->meta_err) : rp_xstrdup("kafka metadata: timed out");
	if (P->wm_out || wm_missing(P))
		return P->wm_err ? rp_xstrdup(P->wm_err)
				 : P->wm_last ? rp_xstrdup(P->wm_last) : rp_xstrdup("kafka watermarks: timed out");
	for (size_t g = 0; g < P->ng; g++)
		if (P->gs[g].state != G_DONE)
			return P->gs[g].err ? rp_xstrdup(P->gs[g].err)
					    : rp_xasprintf("kafka group '%s': committed offsets: timed out "
							   "(no answer from its coordinator)",
							   P->gs[g].group);
	return rp_xstrdup("kafka: timed out");
}

static const char *ms(double t0)
{
	static _Thread_local char b[32];
	snprintf(b, sizeof b, "%.1f", (rp_mono() - t0) * 1000);
	return b;
}

int rp_kafka_poll(struct rp_kafka *k, const struct rp_kafka_watch *w, size_t n, int policy,
		  struct rp_kafka_lag **out, size_t *nout, char **err)
{
	double t0 = rp_mono();
	struct poll P = { .k = k, .w = w, .nw = n, .end = t0 + k->timeout };
	P.topics = rp_xcalloc(n ? n : 1, sizeof *P.topics);
	P.gs = rp_xcalloc(n ? n : 1, sizeof *P.gs);
	*err = NULL;
	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < P.nt && strcmp(P.topics[j], w[i].topic); j++)
			;
		if (j == P.nt)
			P.topics[P.nt++] = w[i].topic;
		for (j = 0; j < P.ng && strcmp(P.gs[j].group, w[i].group); j++)
			;
		if (j == P.ng) {
			P.gs[P.ng].P = &P;
			P.gs[P.ng++].group = w[i].group;
		}
	}
	/* Metadata and every FindCoordinator go out at once; OffsetFetch
	 * and ListOffsets as soon as what they need is in. */
	for (;;) {
		double next = P.end;
		if (!P.rc)
			poll_step(&P, &next);
		if (P.rc || poll_done(&P))
			break;
		if (rp_mono() >= P.end) {
			P.rc = RP_EXIT_TEMP;
			P.err = timeout_err(&P);
			break;
		}
		kw_poll(k->c, next);
	}
	rp_debug("kafka: polled", "ms", ms(t0));
	if (kw_pending(k->c)) {
		rp_debug("kafka: requests still out: dropped");
		kw_abandon(k->c);
	}
	int rc = P.rc;
	if (!rc) {
		struct rp_kafka_lag *res = rp_xcalloc(P.ng ? P.ng : 1, sizeof *res);
		for (size_t i = 0; i < P.ng; i++) {
			struct rp_kafka_lag *l = &res[i];
			const struct grp *G = &P.gs[i];
			l->group = G->group;
			l->nparts = G->np;
			l->parts = rp_xcalloc(l->nparts ? l->nparts : 1, sizeof *l->parts);
			for (size_t j = 0; j < G->np; j++) {
				const struct part *p = &P.parts[G->pi[j]];
				struct rp_kafka_part *o = &l->parts[j];
				o->topic = P.topics[p->t];
				o->partition = p->p;
				o->committed = G->committed[j];
				o->hi = p->hi;
				o->lo = p->lo;
				o->lag = rp_kafka_part_lag(o->committed, o->lo, o->hi, policy);
				l->lag += o->lag;
				if (o->committed >= 0)
					l->ncommitted++;
			}
			if (l->nparts && !l->ncommitted && !rc) {
				P.err = rp_xasprintf("kafka group '%s' has no committed offset on its topics "
						     "(unknown group?)",
						     l->group);
				rc = RP_EXIT_USAGE;
			}
		}
		if (rc) {
			rp_kafka_lags_free(res, P.ng);
		} else {
			*out = res;
			*nout = P.ng;
		}
	}
	*err = rc ? P.err : NULL;
	if (!rc)
		free(P.err);
	for (size_t g = 0; g < P.ng; g++) {
		free(P.gs[g].pi);
		free(P.gs[g].committed);
		free(P.gs[g].err);
		free(P.gs[g].chost);
	}
	for (size_t i = 0; i < P.nlr; i++) {
		free(P.lr[i]->pi);
		free(P.lr[i]);
	}
	free(P.lr);
	free(P.gs);
	free(P.topics);
	free(P.parts);
	free(P.meta_err);
	free(P.wm_err);
	free(P.wm_last);
	return rc;
}
