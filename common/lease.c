/* lease.c — client-go's leader election over a Lease; the renewer and the
 * fence (see lease.h). */
#include "lease.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void rp_lease_defaults(struct rp_lease_opts *o)
{
	if (o->duration <= 0)
		o->duration = 60;
	if (o->renew_deadline <= 0)
		o->renew_deadline = o->duration * 2 / 3;
	if (o->retry_period <= 0)
		o->retry_period = o->duration * 2 / 15;
}

/* The kernel's boot id: a monotonic time means nothing across boots. */
static const char *boot_id(void)
{
	static char id[64];
	if (!*id) {
		char *s = rp_read_file("/proc/sys/kernel/random/boot_id", sizeof id, NULL);
		snprintf(id, sizeof id, "%s", s ? s : "unknown");
		id[strcspn(id, "\r\n")] = 0;
		free(s);
	}
	return id;
}

/* A Lease's MicroTime: RFC 3339 with microseconds. */
static void micro(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* One request, bounded well inside the renew deadline (no retries: the
 * caller's loop is the retry). */
static int call(struct rp_kube *k, const struct rp_lease *l, const char *method, const char *path,
		const cJSON *body, long *status, cJSON **out, char **err)
{
	struct rp_http_req req = { .method = method };
	struct rp_http_resp resp;
	const char *hdrs[] = { "Accept: application/json", NULL };
	char *url, *b = NULL;
	double t = l->o.renew_deadline / 2;
	req.timeout = t < 1 ? 1 : t > 10 ? 10 : t;
	req.connect_timeout = req.timeout < 5 ? req.timeout : 5;
	rp_kube_prep(k, &req, path, &url);
	req.headers = hdrs;
	if (body) {
		b = cJSON_PrintUnformatted(body);
		req.body = b;
		req.body_len = strlen(b);
		req.content_type = "application/json";
	}
	*out = NULL;
	int r = rp_http_do(&req, &resp);
	free(url);
	free(b);
	if (r < 0) {
		*err = rp_xasprintf("kubernetes API %s: %s", rp_kube_server(k), rp_http_errstr(&resp));
		rp_http_resp_free(&resp);
		return -1;
	}
	*status = resp.status;
	if (resp.body && resp.len)
		*out = cJSON_Parse(resp.body);
	rp_http_resp_free(&resp);
	return 0;
}

static void observe(struct rp_lease *l, const cJSON *spec, double now)
{
	char *key = cJSON_PrintUnformatted(spec);
	if (l->observed && !strcmp(l->observed, key)) {
		free(key);
		return; /* the same record: the observation keeps its time */
	}
	free(l->observed);
	free(l->holder);
	l->observed = key;
	const char *h = rp_rec_str(spec, "holderIdentity");
	l->holder = rp_xstrdup(h ? h : "");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
	l->observed_dur = cJSON_IsNumber(d) ? d->valuedouble : 0;
	l->observed_mono = now;
}

int rp_lease_taken(const struct rp_lease *l, double now)
{
	return l->holder && *l->holder && strcmp(l->holder, l->o.identity) &&
	       l->observed_mono + l->observed_dur > now;
}

static cJSON *record(const struct rp_lease *l, const cJSON *old)
{
	char t[96];
	micro(t, sizeof t);
	const char *oh = old ? rp_rec_str(old, "holderIdentity") : NULL;
	int ours = oh && !strcmp(oh, l->o.identity);
	const cJSON *tr = old ? cJSON_GetObjectItemCaseSensitive(old, "leaseTransitions") : NULL;
	double trans = cJSON_IsNumber(tr) ? tr->valuedouble : 0;
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "holderIdentity", l->o.identity);
	cJSON_AddNumberToObject(s, "leaseDurationSeconds", ceil(l->o.duration));
	if (ours && rp_rec_str(old, "acquireTime"))
		cJSON_AddStringToObject(s, "acquireTime", rp_rec_str(old, "acquireTime"));
	else
		cJSON_AddStringToObject(s, "acquireTime", t);
	cJSON_AddStringToObject(s, "renewTime", t);
	cJSON_AddNumberToObject(s, "leaseTransitions", ours || !old ? trans : trans + 1);
	return s;
}

int rp_lease_try(struct rp_kube *k, struct rp_lease *l, double now, char **err)
{
	*err = NULL;
	char *coll = rp_xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->o.ns);
	char *path = rp_xasprintf("%s/%s", coll, l->o.name);
	long st = 0;
	cJSON *cur = NULL, *out = NULL, *obj = NULL;
	int rc = -1;
	if (call(k, l, "GET", path, NULL, &st, &cur, err) < 0)
		goto out;
	if (st == 404) { /* none yet: create it, holding it */
		obj = cJSON_CreateObject();
		cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1");
		cJSON_AddStringToObject(obj, "kind", "Lease");
		cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
		cJSON_AddStringToObject(md, "name", l->o.name);
		cJSON_AddStringToObject(md, "namespace", l->o.ns);
		cJSON_AddItemToObject(obj, "spec", record(l, NULL));
		if (call(k, l, "POST", coll, obj, &st, &out, err) < 0)
			goto out;
	} else if (st == 200) {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(cur, "spec");
		const char *rv = rp_rec_str(cJSON_GetObjectItemCaseSensitive(cur, "metadata"), "resourceVersion");
		if (!cJSON_IsObject(spec) || !rv) {
			*err = rp_xasprintf("lease %s/%s: no spec or resourceVersion", l->o.ns, l->o.name);
			goto out;
		}
		observe(l, spec, now);
		if (rp_lease_taken(l, now)) {
			rc = 0;
			goto out;
		}
		obj = cJSON_Duplicate(cur, 1);
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", record(l, spec));
		if (call(k, l, "PUT", path, obj, &st, &out, err) < 0)
			goto out;
	} else {
		*err = rp_xasprintf("lease %s/%s: GET: %s", l->o.ns, l->o.name, rp_kube_errmsg(st, cur));
		goto out;
	}
	if (st != 200 && st != 201) { /* 409: another writer was first */
		*err = rp_xasprintf("lease %s/%s: write: %s", l->o.ns, l->o.name, rp_kube_errmsg(st, out));
		goto out;
	}
	observe(l, cJSON_GetObjectItemCaseSensitive(out ? out : obj, "spec"), now);
	l->renewed_mono = now;
	rc = 1;
out:
	l->held = rc == 1 || (l->held && rc < 0); /* an unanswered renewal is not yet a loss */
	cJSON_Delete(cur);
	cJSON_Delete(out);
	cJSON_Delete(obj);
	free(path);
	free(coll);
	return rc;
}

static char *lease_id(const struct rp_lease_opts *o)
{
	return rp_xasprintf("%s/%s", o->ns, o->name);
}

int rp_lease_load(struct rp_lease *l)
{
	char *p = rp_state_path(RP_STATE_LEASE, NULL);
	char *s = rp_read_file(p, 1 << 16, NULL);
	free(p);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	free(s);
	char *id = lease_id(&l->o);
	const char *b = rp_rec_str(j, "boot_id"), *ls = rp_rec_str(j, "lease");
	const char *obs = rp_rec_str(j, "observed");
	const cJSON *om = cJSON_GetObjectItemCaseSensitive(j, "observed_mono");
	int rc = -1;
	if (b && !strcmp(b, boot_id()) && ls && !strcmp(ls, id) && obs && cJSON_IsNumber(om)) {
		cJSON *spec = cJSON_Parse(obs);
		if (cJSON_IsObject(spec)) {
			observe(l, spec, om->valuedouble);
			rc = 0;
		}
		cJSON_Delete(spec);
	}
	free(id);
	cJSON_Delete(j);
	return rc;
}

int rp_lease_save(const struct rp_lease *l)
{
	if (rp_state_mkdir_for(RP_STATE_LEASE) < 0)
		return -1;
	cJSON *j = cJSON_CreateObject();
	char *id = lease_id(&l->o);
	cJSON_AddStringToObject(j, "lease", id);
	free(id);
	cJSON_AddStringToObject(j, "identity", l->o.identity);
	cJSON_AddStringToObject(j, "boot_id", boot_id());
	cJSON_AddBoolToObject(j, "held", l->held);
	cJSON_AddNumberToObject(j, "renewed_mono", l->renewed_mono);
	cJSON_AddNumberToObject(j, "renew_deadline", l->o.renew_deadline);
	cJSON_AddNumberToObject(j, "pid", (double)getpid());
	if (l->observed) {
		cJSON_AddStringToObject(j, "observed", l->observed);
		cJSON_AddNumberToObject(j, "observed_mono", l->observed_mono);
		cJSON_AddStringToObject(j, "holder", l->holder);
	}
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	char *p = rp_state_path(RP_STATE_LEASE, NULL);
	int r = rp_write_atomic(p, s, strlen(s), rp_state_mode(RP_STATE_LEASE));
	int e = errno;
	free(p);
	free(s);
	errno = e;
	return r;
}

void rp_lease_free(struct rp_lease *l)
{
	free(l->observed);
	free(l->holder);
	l->observed = l->holder = NULL;
}

static void say(const struct rp_lease *l)
{
	cJSON *o = rp_rec_new("lease");
	char *id = lease_id(&l->o);
	cJSON_AddStringToObject(o, "lease", id);
	free(id);
	cJSON_AddBoolToObject(o, "held", l->held);
	cJSON_AddStringToObject(o, "identity", l->o.identity);
	cJSON_AddStringToObject(o, "holder", l->holder ? l->holder : "");
	rp_out_rec(o);
	cJSON_Delete(o);
	rp_out_flush();
}

static void save(const struct rp_lease *l)
{
	if (rp_lease_save(l) < 0)
		rp_loge("cannot write the lease fence file", "error", strerror(errno));
}

int rp_lease_hold(struct rp_kube *k, const struct rp_lease_opts *o, long watch_pid, volatile sig_atomic_t *stop)
{
	struct rp_lease L = { .o = *o }, *l = &L;
	rp_lease_defaults(&l->o);
	char *err = NULL;
	rp_lease_load(l);
	int r = rp_lease_try(k, l, rp_mono(), &err);
	save(l);
	say(l);
	if (r != 1) {
		if (r < 0)
			rp_logw("lease not acquired", "lease", o->name, "error", err);
		else
			rp_info("lease held by another replica", "lease", o->name, "holder", l->holder);
		free(err);
		rp_lease_free(l);
		return r < 0 ? RP_EXIT_TEMP : RP_EXIT_OK;
	}
	rp_info("lease acquired", "lease", o->name, "identity", l->o.identity);
	int lost = 0;
	double next = l->renewed_mono + l->o.retry_period;
	while (!*stop && !lost) {
		if (watch_pid > 0 && kill((pid_t)watch_pid, 0) < 0 && errno == ESRCH) {
			rp_logw("the tick is gone: no more renewals");
			break;
		}
		double now = rp_mono();
		if (now < next) {
			rp_sleep(next - now < 0.1 ? next - now : 0.1);
			continue;
		}
		next = now + l->o.retry_period;
		free(err);
		err = NULL;
		r = rp_lease_try(k, l, now, &err);
		if (r == 1) {
			save(l);
			continue;
		}
		if (r == 0 || rp_mono() - l->renewed_mono >= l->o.renew_deadline) {
			l->held = 0;
			lost = 1;
			save(l);
			rp_loge("lease lost: acting no further this tick", "lease", o->name, "holder", l->holder,
				"error", err);
			break;
		}
		save(l);
		rp_logw("lease renewal failed; retrying", "lease", o->name, "error", err);
	}
	if (!lost && *stop) { /* the tick ended: the lease lasts a full duration from now */
		free(err);
		err = NULL;
		if (rp_lease_try(k, l, rp_mono(), &err) < 0)
			rp_logw("last renewal failed", "lease", o->name, "error", err);
	}
	l->held = 0; /* released to nobody: no tick acts on it any more */
	save(l);
	free(err);
	rp_lease_free(l);
	return lost ? RP_EXIT_TEMP : RP_EXIT_OK;
}

int rp_lease_fence(const char *what)
{
	const char *m = getenv("RP_LOCK");
	if (!m || strcmp(m, "lease"))
		return 0; /* one host: flock is the whole story */
	char *p = rp_state_path(RP_STATE_LEASE, NULL);
	char *s = rp_read_file(p, 1 << 16, NULL);
	free(p);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	free(s);
	const char *why = NULL;
	const cJSON *rm = cJSON_GetObjectItemCaseSensitive(j, "renewed_mono");
	const cJSON *rd = cJSON_GetObjectItemCaseSensitive(j, "renew_deadline");
	const char *b = rp_rec_str(j, "boot_id");
	if (!j)
		why = "no lease fence file";
	else if (!b || strcmp(b, boot_id()))
		why = "the fence file is from another boot";
	else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "held")))
		why = "the lease is not held";
	else if (!cJSON_IsNumber(rm) || !cJSON_IsNumber(rd) || rp_mono() - rm->valuedouble >= rd->valuedouble)
		why = "the lease was not renewed within the renew deadline";
	cJSON_Delete(j);
	if (!why)
		return 0;
	rp_loge("lease fence: not acting", "action", what, "why", why);
	return -1;
}
