/* egress.c — each pod's transmitted bytes: read, accumulated, ledgered,
 * exported, summed (see egress.h). */
#include "egress.h"
#include "ledger.h"
#include "log.h"
#include "pool.h"
#include "prom.h"
#include "record.h"
#include "ssh.h"
#include "state.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pure rules ------------------------------------------------------- */

int rp_egress_parse(const char *text, unsigned long long *tx, char *why, size_t n)
{
	unsigned long long sum = 0;
	int ifaces = 0;
	long line = 0;
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		line++;
		const char *colon = memchr(p, ':', len);
		/* the two header lines ("Inter-|…", " face |…") have no colon */
		if (colon) {
			const char *a = p;
			while (a < colon && (*a == ' ' || *a == '\t'))
				a++;
			size_t nl = (size_t)(colon - a);
			const char *q = colon + 1;
			unsigned long long v[9];
			int k = 0;
			while (k < 9) {
				while (q < p + len && (*q == ' ' || *q == '\t'))
					q++;
				if (q >= p + len || *q < '0' || *q > '9')
					break;
				char *end;
				errno = 0;
				v[k] = strtoull(q, &end, 10);
				if (errno || (end < p + len && *end != ' ' && *end != '\t'))
					break;
				k++;
				q = end;
			}
			if (!nl || k < 9) {
				snprintf(why, n, "line %ld: not an interface line of /proc/net/dev", line);
				return -1;
			}
			ifaces++;
			if (!(nl == 2 && !memcmp(a, "lo", 2))) {
				if (sum + v[8] < sum) {
					snprintf(why, n, "line %ld: transmitted bytes overflow", line);
					return -1;
				}
				sum += v[8];
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	if (!ifaces) {
		snprintf(why, n, "no interface line (not /proc/net/dev text)");
		return -1;
	}
	*tx = sum;
	return 0;
}

unsigned long long rp_egress_delta(unsigned long long last, unsigned long long raw)
{
	return raw < last ? raw : raw - last;
}

/* ---- the ledger's view: pods that are up, and their last readings ---------- */

/* id -> {"name","gpu","ssh_host","ssh_port","event","raw","bytes","t"} */
static int scan_cb(const cJSON *rec, long line, void *arg)
{
	cJSON *m = arg;
	const char *id = rp_rec_str(rec, "id"), *type = rp_rec_str(rec, "type");
	(void)line;
	if (!id || !*id || !type)
		return 0;
	int eg = !strcmp(type, "egress");
	const char *ev = rp_rec_str(rec, "event");
	if (!eg && (strcmp(type, "ledger") || !ev))
		return 0;
	cJSON *o = cJSON_GetObjectItemCaseSensitive(m, id);
	if (!o)
		o = cJSON_AddObjectToObject(m, id);
	const char *keys[] = { "name", "gpu", "ssh_host" };
	for (size_t i = 0; i < 3; i++) {
		const char *v = rp_rec_str(rec, keys[i]);
		if (v && *v) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
			cJSON_AddStringToObject(o, keys[i], v);
		}
	}
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(rec, "ssh_port");
	if (cJSON_IsNumber(port)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "ssh_port");
		cJSON_AddNumberToObject(o, "ssh_port", port->valuedouble);
	}
	if (!eg) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "event");
		cJSON_AddStringToObject(o, "event", ev);
		return 0;
	}
	double t;
	const char *ts = rp_rec_str(rec, "ts");
	if (!ts || rp_parse_rfc3339(ts, &t) < 0 || rp_rec_num(rec, "bytes", -1) < 0 || rp_rec_num(rec, "raw", -1) < 0)
		return 0;
	const char *f[] = { "raw", "bytes", "t" };
	double v[] = { rp_rec_num(rec, "raw", 0), rp_rec_num(rec, "bytes", 0), t };
	for (size_t i = 0; i < 3; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, f[i]);
		cJSON_AddNumberToObject(o, f[i], v[i]);
	}
	return 0;
}

static int up(const cJSON *o)
{
	const char *ev = rp_rec_str(o, "event");
	return ev && rp_rec_str(o, "ssh_host") && rp_rec_num(o, "ssh_port", 0) > 0 &&
	       (!strcmp(ev, "ready") || !strcmp(ev, "joined") || !strcmp(ev, "join_failed"));
}

/* ---- the sampler ---------------------------------------------------------- */

struct pod {
	const cJSON *l; /* the ledger's view (above) */
	const char *id;
	unsigned long long raw;
	double t;
	char *err;
	int ok;
};

struct run {
	const struct rp_config *cfg;
	struct rp_ssh_opts so;
	char *cmd;
	struct pod *p;
};

static int read_pod(void *arg, size_t i)
{
	struct run *r = arg;
	struct pod *p = &r->p[i];
	struct rp_ssh_opts o = r->so;
	o.host = rp_rec_str(p->l, "ssh_host");
	o.port = (int)rp_rec_num(p->l, "ssh_port", 22);
	o.pod_id = p->id;
	int code = 0;
	char *err = NULL;
	struct rp_ssh *s = rp_ssh_connect(&o, &code, &err);
	if (!s) {
		p->err = err;
		return 1;
	}
	struct rp_ssh_res res = { 0 };
	double timeout = o.connect_timeout > 0 ? 3 * o.connect_timeout : 30;
	if (rp_ssh_exec(s, r->cmd, NULL, 0, timeout, &res, &code, &err) < 0) {
		p->err = err;
	} else if (res.status != 0) {
		p->err = rp_xasprintf("%s: %s exited %d: %s", rp_ssh_name(s), r->cmd, res.status,
				      rp_ssh_firstline(res.err));
	} else {
		char why[160];
		if (rp_egress_parse(res.out, &p->raw, why, sizeof why) < 0)
			p->err = rp_xasprintf("%s: %s: %s", rp_ssh_name(s), rp_cfg_str(r->cfg, "ssh.egress_counters"), why);
		else {
			p->t = rp_now();
			p->ok = 1;
		}
	}
	rp_ssh_res_free(&res);
	rp_ssh_close(s);
	return !p->ok;
}

/* The previous reading: the newer of the state file's and the ledger's. */
static void previous(const cJSON *st, const cJSON *l, double *raw, double *bytes)
{
	double ts = -1, tl = rp_rec_num(l, "t", -1);
	const char *s = rp_rec_str(st, "ts");
	if (!s || rp_parse_rfc3339(s, &ts) < 0 || rp_rec_num(st, "bytes", -1) < 0 || rp_rec_num(st, "raw", -1) < 0)
		ts = -1;
	const cJSON *from = ts < 0 && tl < 0 ? NULL : ts >= tl ? st : l;
	*raw = rp_rec_num(from, "raw", 0);
	*bytes = rp_rec_num(from, "bytes", 0);
}

static cJSON *state_load(const char *path)
{
	size_t n;
	char *text = rp_read_file(path, 16u << 20, &n);
	cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
	if (text && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "pods")))
		rp_logw("egress state unreadable: going on from the ledger", "path", path);
	free(text);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "pods"))) {
		cJSON_Delete(j);
		j = cJSON_CreateObject();
		cJSON_AddObjectToObject(j, "pods");
	}
	return j;
}

/* Ledger line, state entry and record of one reading. */
static int account(struct pod *p, cJSON *pods, char **err)
{
	const char *name = rp_rec_str(p->l, "name"), *gpu = rp_rec_str(p->l, "gpu");
	double last, total;
	previous(cJSON_GetObjectItemCaseSensitive(pods, p->id), p->l, &last, &total);
	unsigned long long d = rp_egress_delta((unsigned long long)last, p->raw);
	int reset = (double)p->raw < last;
	total += (double)d;
	char ts[40];
	rp_rfc3339(p->t, ts, sizeof ts);
	cJSON *e = rp_rec_new("egress");
	cJSON_DeleteItemFromObjectCaseSensitive(e, "ts");
	cJSON_AddStringToObject(e, "ts", ts);
	cJSON_AddStringToObject(e, "id", p->id);
	cJSON_AddStringToObject(e, "name", name ? name : "");
	cJSON_AddStringToObject(e, "gpu", gpu ? gpu : "");
	cJSON_AddNumberToObject(e, "bytes", total);
	cJSON_AddNumberToObject(e, "raw", (double)p->raw);
	cJSON *out = cJSON_Duplicate(e, 1);
	char *lerr = NULL;
	if (rp_ledger_append(e, &lerr) < 0) {
		if (errno != EAGAIN) {
			*err = lerr;
			cJSON_Delete(e);
			cJSON_Delete(out);
			return -1;
		}
		rp_logw("egress line not yet in the fleet store (queued)", "id", p->id, "error", lerr);
		free(lerr);
	}
	cJSON_Delete(e);
	if (reset)
		rp_info("pod counters began again (the pod restarted): its reading counts whole", "id", p->id);
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "name", name ? name : "");
	cJSON_AddStringToObject(s, "gpu", gpu ? gpu : "");
	cJSON_AddNumberToObject(s, "raw", (double)p->raw);
	cJSON_AddNumberToObject(s, "bytes", total);
	cJSON_AddStringToObject(s, "ts", ts);
	cJSON_DeleteItemFromObjectCaseSensitive(pods, p->id);
	cJSON_AddItemToObject(pods, p->id, s);
	cJSON_AddNumberToObject(out, "delta", (double)d);
	cJSON_AddBoolToObject(out, "reset", reset);
	rp_out_rec(out);
	cJSON_Delete(out);
	return 0;
}

int rp_egress_sample(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	char *lockp = rp_state_path(RP_STATE_EGRESS_LOCK, NULL), *path = rp_state_path(RP_STATE_EGRESS, NULL);
	int rc = RP_EXIT_FAIL, fd = -1;
	cJSON *view = cJSON_CreateObject(), *st = NULL;
	struct run r = { .cfg = cfg };
	size_t n = 0, bad = 0;
	if (rp_state_mkdir_for(RP_STATE_EGRESS_LOCK) < 0) {
		*err = rp_xasprintf("unable to create state dir %s: %s", rp_state_dir(), strerror(errno));
		goto out;
	}
	fd = rp_lock(lockp, RP_LOCK_EX, 0);
	if (fd < 0 && errno == EWOULDBLOCK) {
		rp_info("another egress sampler runs: this one stops", "lock", lockp);
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (fd < 0) {
		*err = rp_xasprintf("unable to lock %s: %s", lockp, strerror(errno));
		goto out;
	}
	long torn;
	if (rp_ledger_read(NULL, scan_cb, view, &torn, err) < 0)
		goto out;
	const cJSON *o;
	cJSON_ArrayForEach(o, view) n += up(o);
	r.p = rp_xcalloc(n + 1, sizeof *r.p);
	n = 0;
	cJSON_ArrayForEach(o, view) {
		if (up(o)) {
			r.p[n].l = o;
			r.p[n++].id = o->string;
		}
	}
	r.so = rp_ssh_opts_cfg(cfg, NULL, 0, NULL);
	r.so.no_tofu = "egress sampling trusts only host keys recorded at join";
	char *q = rp_ssh_quote(rp_cfg_str(cfg, "ssh.egress_counters"));
	r.cmd = rp_xasprintf("cat -- %s", q);
	free(q);
	bad = n ? rp_pool_run(n, (int)rp_cfg_int(cfg, "ssh.concurrency"), read_pod, &r, NULL, NULL) : 0;
	st = state_load(path);
	cJSON *pods = cJSON_GetObjectItemCaseSensitive(st, "pods");
	for (size_t i = 0; i < n; i++) {
		if (!r.p[i].ok) {
			rp_logw("egress not read: its next reading catches up", "id", r.p[i].id, "error", r.p[i].err);
			continue;
		}
		if (account(&r.p[i], pods, err) < 0)
			goto out;
	}
	/* a pod that is no longer up leaves the state (its lines stay in the ledger) */
	for (cJSON *e = pods->child, *next; e; e = next) {
		next = e->next;
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(view, e->string);
		if (!l || !up(l))
			cJSON_DeleteItemFromObjectCaseSensitive(pods, e->string);
	}
	char *text = cJSON_PrintUnformatted(st);
	size_t len = strlen(text);
	text[len] = '\n'; /* the terminating NUL becomes the line's end */
	if (rp_write_atomic(path, text, len + 1, rp_state_mode(RP_STATE_EGRESS)) < 0)
		*err = rp_xasprintf("unable to write %s: %s", path, strerror(errno));
	free(text);
	if (*err)
		goto out;
	rc = !bad ? RP_EXIT_OK : bad < n ? RP_EXIT_PARTIAL : RP_EXIT_TEMP;
	char a[24], b[24];
	snprintf(a, sizeof a, "%zu", n - bad);
	snprintf(b, sizeof b, "%zu", bad);
	rp_debug("egress sampled", "read", a, "missed", b);
out:
	for (size_t i = 0; i < n; i++)
		free(r.p[i].err);
	free(r.p);
	free(r.cmd);
	cJSON_Delete(st);
	cJSON_Delete(view);
	rp_unlock(fd);
	free(lockp);
	free(path);
	return rc;
}

/* ---- the export ----------------------------------------------------------- */

void rp_egress_prom(struct rp_buf *b)
{
	char *path = rp_state_path(RP_STATE_EGRESS, NULL);
	size_t n;
	char *text = rp_read_file(path, 16u << 20, &n);
	cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
	const cJSON *pods = cJSON_GetObjectItemCaseSensitive(j, "pods"), *p;
	int head = 0;
	cJSON_ArrayForEach(p, pods) {
		double v = rp_rec_num(p, "bytes", -1);
		if (!p->string || v < 0 || !isfinite(v))
			continue;
		if (!head++)
			rp_buf_adds(b, "# HELP runpod_egress_bytes_total Bytes a burst pod sent out (its network "
				       "counters, summed across its restarts).\n"
				       "# TYPE runpod_egress_bytes_total counter\n");
		const char *name = rp_rec_str(p, "name"), *gpu = rp_rec_str(p, "gpu");
		rp_buf_adds(b, "runpod_egress_bytes_total{pod=\"");
		rp_prom_label(b, name && *name ? name : p->string);
		rp_buf_adds(b, "\",id=\"");
		rp_prom_label(b, p->string);
		rp_buf_adds(b, "\",gpu=\"");
		rp_prom_label(b, gpu ? gpu : "");
		rp_buf_addf(b, "\"} %.17g\n", v);
	}
	cJSON_Delete(j);
	free(text);
	free(path);
}

/* ---- the window ----------------------------------------------------------- */

struct window {
	double since, until;
	cJSON *m; /* id -> [total at since, total at until] */
	long lines;
};

static int window_cb(const cJSON *rec, long line, void *arg)
{
	struct window *w = arg;
	const char *type = rp_rec_type(rec), *id = rp_rec_str(rec, "id"), *ts = rp_rec_str(rec, "ts");
	double t, v = rp_rec_num(rec, "bytes", -1);
	(void)line;
	if (!type || strcmp(type, "egress") || !id || !ts || rp_parse_rfc3339(ts, &t) < 0 || v < 0)
		return 0;
	w->lines++;
	cJSON *a = cJSON_GetObjectItemCaseSensitive(w->m, id);
	if (!a) {
		a = cJSON_AddArrayToObject(w->m, id);
		cJSON_AddItemToArray(a, cJSON_CreateNumber(0));
		cJSON_AddItemToArray(a, cJSON_CreateNumber(0));
	}
	/* a pod's total never decreases: the largest at or before a bound is
	 * the one of its last line there, whatever order replicas wrote in */
	for (int i = 0; i < 2; i++)
		if (t <= (i ? w->until : w->since) && v > cJSON_GetArrayItem(a, i)->valuedouble)
			cJSON_ReplaceItemInArray(a, i, cJSON_CreateNumber(v));
	return 0;
}

int rp_egress_window(const char *path, double since, double until, double *bytes, long *lines, char **err)
{
	struct window w = { since, until, cJSON_CreateObject(), 0 };
	long torn;
	*bytes = 0;
	*lines = 0;
	if (rp_ledger_read(path, window_cb, &w, &torn, err) < 0) {
		cJSON_Delete(w.m);
		return -1;
	}
	const cJSON *a;
	cJSON_ArrayForEach(a, w.m) {
		double d = cJSON_GetArrayItem(a, 1)->valuedouble - cJSON_GetArrayItem(a, 0)->valuedouble;
		if (d > 0)
			*bytes += d;
	}
	*lines = w.lines;
	cJSON_Delete(w.m);
	return 0;
}
