/* scaler.c — KEDA's answers from the last poll (see scaler.h). */
#include "scaler.h"
#include "decide.h"
#include "egress.h"
#include "log.h"
#include "prom.h"
#include "rp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

struct rp_scaler {
	struct rp_watch *w;
	double interval;
	long lag_threshold;
	double p95_threshold;
	int has_token;
	unsigned char token_sha[32];
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	/* under mu: the last known value, and the last poll's outcome */
	int known_ever;
	long long lag;
	cJSON *groups;
	double p95;
	double mono, ts;   /* when the value was polled */
	char err[300];     /* the last poll's error, "" if it succeeded */
	int polled;        /* polls done */
};

static void sha256(const char *s, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

static void *poller(void *arg)
{
	struct rp_scaler *s = arg;
	int was_ok = 1;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->mu);
		double t0 = rp_mono();
		struct rp_watch_sample smp;
		rp_watch_sample(s->w, &smp);
		if (!smp.lag_known && was_ok)
			rp_logw("lag unknown", "error", smp.err);
		else if (smp.lag_known && !was_ok)
			rp_info("lag known again");
		was_ok = smp.lag_known;
		pthread_mutex_lock(&s->mu);
		s->polled++;
		if (smp.lag_known) {
			s->known_ever = 1;
			s->lag = smp.lag;
			cJSON_Delete(s->groups);
			s->groups = smp.groups;
			smp.groups = NULL;
			s->p95 = smp.p95;
			s->mono = rp_mono();
			s->ts = rp_now();
			s->err[0] = 0;
		} else {
			snprintf(s->err, sizeof s->err, "%s", smp.err ? smp.err : "lag unknown");
		}
		rp_watch_sample_free(&smp);
		double until = t0 + s->interval;
		while (!s->stopping && rp_mono() < until) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			double left = until - rp_mono();
			if (left > 0.5)
				left = 0.5;
			long long ns = ts.tv_nsec + (long long)(left * 1e9);
			ts.tv_sec += (time_t)(ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct rp_scaler *rp_scaler_start(struct rp_watch *w, const struct rp_config *cfg, double interval, char **err)
{
	struct rp_scaler *s = rp_xcalloc(1, sizeof *s);
	*err = NULL;
	s->w = w;
	s->interval = interval;
	s->lag_threshold = rp_cfg_int(cfg, "kafka.lag_threshold");
	s->p95_threshold = rp_cfg_num(cfg, "prometheus.threshold");
	s->p95 = NAN;
	const char *tf = rp_cfg_str(cfg, "lagwatch.token_file");
	if (tf && *tf) {
		char *tok = rp_cfg_secret(cfg, "lagwatch.token_file", NULL, err);
		if (!tok) {
			free(s);
			return NULL;
		}
		sha256(tok, strlen(tok), s->token_sha);
		s->has_token = 1;
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->th, NULL, poller, s)) {
		*err = rp_xasprintf("cannot start the poller thread");
		free(s);
		return NULL;
	}
	return s;
}

void rp_scaler_stop(struct rp_scaler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	cJSON_Delete(s->groups);
	free(s);
}

/* Under s->mu. */
static void view_locked(struct rp_scaler *s, struct rp_scaler_view *v)
{
	memset(v, 0, sizeof *v);
	v->p95 = NAN;
	v->lag_threshold = s->lag_threshold;
	v->p95_threshold = s->p95_threshold;
	v->ts = s->known_ever ? s->ts : 0;
	v->age_s = s->known_ever ? rp_mono() - s->mono : 0;
	if (!s->known_ever) {
		snprintf(v->err, sizeof v->err, "%s", s->err[0] ? s->err : "no poll has finished yet");
		return;
	}
	if (v->age_s > 3 * s->interval) {
		snprintf(v->err, sizeof v->err, "the last value is %.1fs old (older than 3 polls)%s%s", v->age_s,
			 s->err[0] ? ": " : "", s->err);
		return;
	}
	v->known = 1;
	v->lag = s->lag;
	v->p95 = s->p95;
	v->active = v->lag > 0 || (isfinite(v->p95) && v->p95 > v->p95_threshold);
	snprintf(v->err, sizeof v->err, "%s", s->err);
}

void rp_scaler_view(struct rp_scaler *s, struct rp_scaler_view *v)
{
	pthread_mutex_lock(&s->mu);
	view_locked(s, v);
	pthread_mutex_unlock(&s->mu);
}

cJSON *rp_scaler_groups(struct rp_scaler *s)
{
	struct rp_scaler_view v;
	pthread_mutex_lock(&s->mu);
	view_locked(s, &v);
	cJSON *g = v.known && s->groups ? cJSON_Duplicate(s->groups, 1) : NULL;
	pthread_mutex_unlock(&s->mu);
	return g;
}

/* "Bearer TOKEN" against the configured token, in constant time. */
static int authorized(const struct rp_scaler *s, const char *auth)
{
	if (!s->has_token)
		return 1;
	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return 0;
	const char *t = auth + 7;
	t += strspn(t, " ");
	unsigned char h[32];
	sha256(t, strlen(t), h);
	return CRYPTO_memcmp(h, s->token_sha, sizeof h) == 0;
}

static void gauge(struct rp_buf *b, const char *name, const char *help, double v)
{
	char *s = rp_xasprintf("# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
	rp_buf_adds(b, s);
	free(s);
}

static int prom(struct rp_scaler *s, struct rp_buf *body, const char **ctype)
{
	struct rp_scaler_view v;
	cJSON *groups = NULL, *g;
	*ctype = "text/plain; version=0.0.4; charset=utf-8";
	pthread_mutex_lock(&s->mu);
	view_locked(s, &v);
	if (v.known && s->groups)
		groups = cJSON_Duplicate(s->groups, 1);
	pthread_mutex_unlock(&s->mu);
	if (!v.known) {
		rp_buf_adds(body, "# lag unknown: ");
		for (const char *p = v.err; *p; p++)
			rp_buf_add(body, *p == '\n' ? " " : p, 1);
		rp_buf_adds(body, "\n");
		return 503;
	}
	gauge(body, "rp_lagwatch_lag", "Kafka consumer lag, messages, total over the watched groups (last poll).",
	      (double)v.lag);
	rp_buf_adds(body, "# HELP rp_lagwatch_group_lag Kafka consumer lag of one group, messages (last poll).\n"
			  "# TYPE rp_lagwatch_group_lag gauge\n");
	cJSON_ArrayForEach(g, groups)
	{
		rp_buf_adds(body, "rp_lagwatch_group_lag{group=\"");
		rp_prom_label(body, g->string);
		char *l = rp_xasprintf("\"} %.17g\n", g->valuedouble);
		rp_buf_adds(body, l);
		free(l);
	}
	cJSON_Delete(groups);
	gauge(body, "rp_lagwatch_lag_threshold", "kafka.lag_threshold: the lag one node is sized for.",
	      (double)v.lag_threshold);
	gauge(body, "rp_lagwatch_desired_nodes", "ceil(lag / kafka.lag_threshold).",
	      (double)rp_decide_need(v.lag, v.lag_threshold));
	if (isfinite(v.p95))
		gauge(body, "rp_lagwatch_p95_seconds", "p95 transcoding latency from Prometheus (last poll).", v.p95);
	gauge(body, "rp_lagwatch_active", "1 when lag > 0 or p95 above prometheus.threshold.", v.active);
	gauge(body, "rp_lagwatch_sample_age_seconds", "Age of the value served.", v.age_s);
	rp_egress_prom(body); /* the pods' egress, as the last sample left it (egress.h) */
	return 200;
}

static int keda(struct rp_scaler *s, struct rp_buf *body)
{
	struct rp_scaler_view v;
	cJSON *j = cJSON_CreateObject();
	char ts[40];
	int st = 200;
	pthread_mutex_lock(&s->mu);
	view_locked(s, &v);
	if (v.known)
		cJSON_AddItemToObject(j, "groups", s->groups ? cJSON_Duplicate(s->groups, 1) : cJSON_CreateObject());
	pthread_mutex_unlock(&s->mu);
	if (!v.known) {
		/* Never 0 for unknown: KEDA counts this as an error (fallback). */
		cJSON_AddStringToObject(j, "error", v.err);
		st = 503;
	} else {
		cJSON_AddNumberToObject(j, "lag", (double)v.lag);
		cJSON_AddNumberToObject(j, "lag_threshold", (double)v.lag_threshold);
		cJSON_AddNumberToObject(j, "desired_nodes", (double)rp_decide_need(v.lag, v.lag_threshold));
		if (isfinite(v.p95))
			cJSON_AddNumberToObject(j, "p95_s", v.p95);
		else
			cJSON_AddNullToObject(j, "p95_s");
		cJSON_AddBoolToObject(j, "active", v.active);
		if (v.err[0])
			cJSON_AddStringToObject(j, "poll_error", v.err);
	}
	if (v.ts > 0) {
		cJSON_AddStringToObject(j, "ts", rp_rfc3339(v.ts, ts, sizeof ts));
		cJSON_AddNumberToObject(j, "age_s", round(v.age_s * 1000) / 1000);
	}
	char *out = cJSON_PrintUnformatted(j);
	rp_buf_adds(body, out);
	rp_buf_adds(body, "\n");
	free(out);
	cJSON_Delete(j);
	return st;
}

int rp_scaler_http(void *arg, const struct rp_httpd_req *req, struct rp_buf *body, const char **ctype)
{
	struct rp_scaler *s = arg;
	size_t pl = strcspn(req->path, "?");
	int st;
	if (pl == 8 && !strncmp(req->path, "/healthz", 8)) {
		*ctype = "text/plain";
		rp_buf_adds(body, "ok\n");
		return 200;
	}
	int is_scaler = pl == 7 && !strncmp(req->path, "/scaler", 7);
	int is_metrics = pl == 8 && !strncmp(req->path, "/metrics", 8);
	if (!is_scaler && !is_metrics) {
		rp_buf_adds(body, "{\"error\":\"not found: try /scaler (KEDA metrics-api) or /metrics (Prometheus)\"}\n");
		return 404;
	}
	if (!authorized(s, req->authorization)) {
		rp_buf_adds(body, "{\"error\":\"a bearer token is required (Authorization: Bearer TOKEN)\"}\n");
		rp_debug("refused", "path", req->path, "status", "401");
		return 401;
	}
	st = is_scaler ? keda(s, body) : prom(s, body, ctype);
	rp_debug("served", "path", req->path, "status", st == 200 ? "200" : "503");
	return st;
}
