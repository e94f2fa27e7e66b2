/* fleetlog.c — the ledger's Kafka replica: idempotent produce with
 * acks=all, an outbox for what the store did not take, and a catch-up
 * read into the local file (see fleetlog.h). */
#include "fleetlog.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rdk.h" /* librdkafka, loaded on first use */

static struct {
	int on;
	char *bootstrap, *topic;
	int timeout_ms;
	rd_kafka_t *producer;
	pid_t owner;       /* the process that made the producer (not a forked child) */
	int delivered;     /* the last message's delivery report: 1 ok, -1 failed, 0 none yet */
	char derr[256];
} F;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void rp_fleetlog_init(const struct rp_config *cfg)
{
	const char *s = rp_cfg_str(cfg, "fleet.store");
	F.on = s && !strcmp(s, "kafka");
	if (!F.on)
		return;
	free(F.bootstrap);
	free(F.topic);
	F.bootstrap = rp_xstrdup(rp_cfg_str(cfg, "kafka.bootstrap_servers"));
	F.topic = rp_xstrdup(rp_cfg_str(cfg, "fleet.topic"));
	double t = rp_cfg_dur(cfg, "fleet.timeout");
	F.timeout_ms = t > 0 ? (int)(t * 1000) : 10000;
}

int rp_fleetlog_enabled(void)
{
	return F.on;
}

const char *rp_fleetlog_identity(void)
{
	static char host[256];
	const char *id = getenv("RP_IDENTITY");
	if (id && *id)
		return id;
	if (!*host && gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "host");
	return host;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)fac;
	if (level <= 3)
		rp_debug("kafka", "fleet", buf);
}

static rd_kafka_conf_t *conf_new(const char *const kv[][2], size_t n, char **err)
{
	char e[512];
	rp_rdk_load();
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char to[24];
	snprintf(to, sizeof to, "%d", F.timeout_ms);
	if (rd_kafka_conf_set(c, "bootstrap.servers", F.bootstrap, e, sizeof e) != RD_KAFKA_CONF_OK)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1] ? kv[i][1] : to, e, sizeof e) != RD_KAFKA_CONF_OK)
			goto bad;
	rd_kafka_conf_set_log_cb(c, quiet_log);
	return c;
bad:
	rd_kafka_conf_destroy(c);
	*err = rp_xasprintf("fleet store: %s", e);
	return NULL;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		F.delivered = -1;
		snprintf(F.derr, sizeof F.derr, "%s", rd_kafka_err2str(m->err));
	} else {
		F.delivered = 1;
	}
}

static void close_producer(void)
{
	if (!F.producer || F.owner != getpid())
		return; /* a forked child does not own librdkafka's threads */
	rd_kafka_purge(F.producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(F.producer, 100);
	rd_kafka_destroy(F.producer);
	F.producer = NULL;
}

static rd_kafka_t *producer(char **err)
{
	if (F.producer && F.owner == getpid())
		return F.producer;
	static const char *const kv[][2] = {
		{ "client.id", "rp-fleetlog" },
		/* exactly once per send, on every in-sync replica */
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		{ "linger.ms", "0" },
		{ "message.timeout.ms", NULL },
		{ "socket.timeout.ms", NULL },
		{ "reconnect.backoff.ms", "50" },
		{ "reconnect.backoff.max.ms", "1000" },
		{ "log.connection.close", "false" },
	};
	rd_kafka_conf_t *c = conf_new(kv, sizeof kv / sizeof kv[0], err);
	if (!c)
		return NULL;
	rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	char e[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
	if (!rk) {
		*err = rp_xasprintf("fleet store: %s", e);
		return NULL;
	}
	F.producer = rk;
	F.owner = getpid();
	static int registered;
	if (!registered++)
		atexit(close_producer);
	return rk;
}

/* Produce one line and wait for its acknowledgement.  0, or -1 + *err. */
static int send_line(const char *line, size_t n, char **err)
{
	rd_kafka_t *rk = producer(err);
	if (!rk)
		return -1;
	F.delivered = 0;
	rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(F.topic), RD_KAFKA_V_PARTITION(0),
						  RD_KAFKA_V_VALUE((void *)line, n),
						  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (e) {
		*err = rp_xasprintf("fleet store %s topic %s: %s", F.bootstrap, F.topic, rd_kafka_err2str(e));
		return -1;
	}
	double end = rp_mono() + F.timeout_ms / 1000.0;
	while (!F.delivered && rp_mono() < end)
		rd_kafka_poll(rk, 50);
	if (F.delivered == 1)
		return 0;
	*err = rp_xasprintf("fleet store %s topic %s: not acknowledged: %s", F.bootstrap, F.topic,
			    F.delivered ? F.derr : "timed out");
	/* Not acknowledged: drop our copy (the outbox has it) and start afresh
	 * next time, so a late delivery cannot reorder the log behind us. */
	close_producer();
	return -1;
}

static int outbox_add(const char *line, size_t n)
{
	if (rp_state_mkdir_for(RP_STATE_FLEET_OUTBOX) < 0)
		return -1;
	char *p = rp_state_path(RP_STATE_FLEET_OUTBOX, NULL);
	int fd = rp_lock(p, RP_LOCK_EX | RP_LOCK_APPEND, -1);
	free(p);
	if (fd < 0)
		return -1;
	int rc = (write(fd, line, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0) ? 0 : -1;
	rp_unlock(fd);
	return rc;
}

int rp_fleetlog_publish(cJSON *rec, char **err)
{
	*err = NULL;
	if (!F.on || cJSON_GetObjectItemCaseSensitive(rec, "lid"))
		return 0;
	char lid[40], rnd[17];
	rp_rand_id(rnd, 16);
	snprintf(lid, sizeof lid, "%.0f-%s", rp_now() * 1000, rnd);
	cJSON_AddStringToObject(rec, "lid", lid);
	cJSON_AddStringToObject(rec, "replica", rp_fleetlog_identity());
	if (!cJSON_GetObjectItemCaseSensitive(rec, "ts")) {
		char ts[40];
		cJSON_AddStringToObject(rec, "ts", rp_rfc3339(rp_now(), ts, sizeof ts));
	}
	char *line = cJSON_PrintUnformatted(rec);
	size_t n = strlen(line);
	pthread_mutex_lock(&mu);
	int rc = send_line(line, n, err);
	pthread_mutex_unlock(&mu);
	if (rc < 0) {
		if (outbox_add(line, n) < 0)
			rp_loge("cannot queue a ledger line for the fleet store", "error", strerror(errno));
		errno = EAGAIN;
	}
	free(line);
	return rc;
}

/* ---- sync ------------------------------------------------------------------ */

static int send_outbox(char **err)
{
	char *p = rp_state_path(RP_STATE_FLEET_OUTBOX, NULL);
	int fd = rp_lock(p, RP_LOCK_EX, -1);
	int rc = 0;
	if (fd < 0) {
		free(p);
		return errno == ENOENT ? 0 : -1;
	}
	FILE *f = fdopen(dup(fd), "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	while (f && rc == 0 && (n = getline(&buf, &cap, f)) > 0) {
		if (buf[n - 1] == '\n')
			buf[--n] = 0;
		if (n)
			rc = send_line(buf, (size_t)n, err);
	}
	if (f)
		fclose(f);
	free(buf);
	if (rc == 0 && ftruncate(fd, 0) < 0)
		rc = -1;
	rp_unlock(fd);
	free(p);
	return rc;
}

struct lids {
	char **v;
	size_t n, cap;
};

static int lid_cb(const cJSON *rec, long line, void *arg)
{
	(void)line;
	struct lids *l = arg;
	const char *id = rp_rec_str(rec, "lid");
	if (!id)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = rp_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = rp_xstrdup(id);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int seen(const struct lids *l, const char *lid)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], lid))
			return 1;
	return 0;
}

static int64_t load_offset(void)
{
	char *p = rp_state_path(RP_STATE_FLEET, NULL);
	char *s = rp_read_file(p, 1 << 16, NULL);
	free(p);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	free(s);
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "offset");
	const char *t = rp_rec_str(j, "topic");
	int64_t off = cJSON_IsNumber(o) && t && !strcmp(t, F.topic) ? (int64_t)o->valuedouble : 0;
	cJSON_Delete(j);
	return off;
}

static int save_offset(int64_t off)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "topic", F.topic);
	cJSON_AddNumberToObject(j, "offset", (double)off);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	char *p = rp_state_path(RP_STATE_FLEET, NULL);
	int r = rp_write_atomic(p, s, strlen(s), rp_state_mode(RP_STATE_FLEET));
	free(p);
	free(s);
	return r;
}

/* Read partition 0 from off to its end; append the lines we lack. */
static int pull(int64_t off, int64_t *next, char **err)
{
	static const char *const kv[][2] = {
		{ "client.id", "rp-fleetlog" },
		{ "group.id", "rp-fleetlog" }, /* never joined: assign() only */
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "enable.partition.eof", "true" },
		{ "allow.auto.create.topics", "false" },
		{ "socket.timeout.ms", NULL },
		{ "reconnect.backoff.ms", "50" },
		{ "reconnect.backoff.max.ms", "1000" },
		{ "log.connection.close", "false" },
	};
	rd_kafka_conf_t *c = conf_new(kv, sizeof kv / sizeof kv[0], err);
	if (!c)
		return -1;
	char e[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
	if (!rk) {
		*err = rp_xasprintf("fleet store: %s", e);
		return -1;
	}
	int rc = -1;
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t ke = rd_kafka_query_watermark_offsets(rk, F.topic, 0, &lo, &hi, F.timeout_ms);
	if (ke) {
		*err = rp_xasprintf("fleet store %s topic %s: %s", F.bootstrap, F.topic, rd_kafka_err2str(ke));
		goto out;
	}
	if (off < lo)
		off = lo; /* retention took the head: the ledger topic must keep all (rp-config(5)) */
	*next = off;
	if (off >= hi) {
		rc = 0;
		goto out;
	}
	struct lids L = { 0 }, A = { 0 }; /* the local file's lids; those appended now */
	long torn;
	char *rerr = NULL;
	if (rp_ledger_read(NULL, lid_cb, &L, &torn, &rerr) < 0) {
		*err = rerr;
		goto lids_out;
	}
	if (L.n)
		qsort(L.v, L.n, sizeof *L.v, cmp);
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, F.topic, 0)->offset = off;
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	double end = rp_mono() + F.timeout_ms / 1000.0;
	while (*next < hi && rp_mono() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				rp_debug("fleet store read", "error", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		cJSON *rec = cJSON_ParseWithLength(m->payload, m->len);
		const char *lid = rp_rec_str(rec, "lid");
		if (lid && !(L.n && bsearch(&lid, L.v, L.n, sizeof *L.v, cmp)) && !seen(&A, lid)) {
			/* (a line sent twice, after an ambiguous timeout, is taken once) */
			lid_cb(rec, 0, &A);
			char *aerr = NULL;
			if (rp_ledger_append(rec, &aerr) < 0) {
				*err = aerr;
				cJSON_Delete(rec);
				rd_kafka_message_destroy(m);
				goto lids_out;
			}
		}
		cJSON_Delete(rec);
		*next = m->offset + 1;
		rd_kafka_message_destroy(m);
	}
	if (*next < hi)
		*err = rp_xasprintf("fleet store %s topic %s: read to offset %lld of %lld in time", F.bootstrap,
				    F.topic, (long long)*next, (long long)hi);
	else
		rc = 0;
lids_out:
	for (size_t i = 0; i < L.n; i++)
		free(L.v[i]);
	free(L.v);
	for (size_t i = 0; i < A.n; i++)
		free(A.v[i]);
	free(A.v);
out:
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

int rp_fleetlog_sync(char **err)
{
	*err = NULL;
	const char *done = getenv("RP_FLEET_SYNCED");
	if (!F.on || (done && *done))
		return 0; /* one sync a tick: rp-autoscale did it at the start */
	if (rp_state_mkdir_for(RP_STATE_FLEET_LOCK) < 0) {
		*err = rp_xasprintf("unable to create state dir %s: %s", rp_state_dir(), strerror(errno));
		return RP_EXIT_FAIL;
	}
	char *lp = rp_state_path(RP_STATE_FLEET_LOCK, NULL);
	int lk = rp_lock(lp, RP_LOCK_EX, -1);
	free(lp);
	if (lk < 0) {
		*err = rp_xasprintf("unable to lock the fleet view: %s", strerror(errno));
		return RP_EXIT_FAIL;
	}
	int rc = RP_EXIT_TEMP;
	pthread_mutex_lock(&mu);
	int sent = send_outbox(err);
	pthread_mutex_unlock(&mu);
	if (sent == 0) {
		int64_t next = 0;
		if (pull(load_offset(), &next, err) == 0) {
			save_offset(next);
			rc = 0;
		}
	}
	rp_unlock(lk);
	return rc;
}

/* ---- another replica's last wave ----------------------------------------- */

struct wave {
	const char *me;
	double t[64]; /* the newest foreign launching times, a ring */
	char rep[64][64];
	size_t n;
};

static int wave_cb(const cJSON *rec, long line, void *arg)
{
	(void)line;
	struct wave *w = arg;
	const char *ev = rp_rec_str(rec, "event"), *rep = rp_rec_str(rec, "replica"), *ts = rp_rec_str(rec, "ts");
	double t;
	if (!ev || strcmp(ev, "launching") || !rep || !strcmp(rep, w->me) || !ts || rp_parse_rfc3339(ts, &t))
		return 0;
	size_t i = w->n++ % 64;
	w->t[i] = t;
	snprintf(w->rep[i], sizeof w->rep[i], "%s", rep);
	return 0;
}

int rp_fleetlog_last_wave(double *t, int *n)
{
	if (!F.on)
		return 0;
	struct wave *w = rp_xcalloc(1, sizeof *w);
	w->me = rp_fleetlog_identity();
	long torn;
	char *err = NULL;
	int found = 0;
	if (rp_ledger_read(NULL, wave_cb, w, &torn, &err) < 0) {
		rp_logw("fleet view unreadable: cooldown from this host only", "error", err);
		free(err);
	} else if (w->n) {
		size_t last = (w->n - 1) % 64, k = w->n < 64 ? w->n : 64;
		*t = w->t[last];
		*n = 0;
		for (size_t j = 0; j < k; j++)
			if (!strcmp(w->rep[j], w->rep[last]) && w->t[j] <= *t && *t - w->t[j] <= 60)
				(*n)++;
		found = 1;
	}
	free(w);
	return found;
}
