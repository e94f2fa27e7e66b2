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

int rp_egress_ledger_due(double last_t, double last_bytes, double t, double total, int reset)
{
	return last_t < 0 || reset || total - last_bytes >= RP_EGRESS_LEDGER_BYTES ||
	       t - last_t >= RP_EGRESS_LEDGER_EVERY;
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
	const char *host; /* where its sshd listens */
	int port;
	unsigned long long raw;
	double t;
	double total; /* after the reading */
	char *err;
	int ok;
};

struct run {
	const struct rp_config *cfg;
	struct rp_ssh_opts so;
	char *cmd;
	double timeout; /* of the cat */
	struct pod *p;
};

/* The SSH options and command of a reading: host keys recorded at join only. */
static void run_init(struct run *r, const struct rp_config *cfg, double timeout)
{
	r->cfg = cfg;
	r->so = rp_ssh_opts_cfg(cfg, NULL, 0, NULL);
	r->so.no_tofu = "egress sampling trusts only host keys recorded at join";
	char *q = rp_ssh_quote(rp_cfg_str(cfg, "ssh.egress_counters"));
	r->cmd = rp_xasprintf("cat -- %s", q);
	free(q);
	double ct = r->so.connect_timeout > 0 ? r->so.connect_timeout : 10;
	r->timeout = timeout > 0 ? timeout : 3 * ct;
}

static int read_pod(void *arg, size_t i)
{
	struct run *r = arg;
	struct pod *p = &r->p[i];
	struct rp_ssh_opts o = r->so;
	o.host = p->host;
	o.port = p->port;
	o.pod_id = p->id;
	int code = 0;
	char *err = NULL;
	struct rp_ssh *s = rp_ssh_connect(&o, &code, &err);
	if (!s) {
		p->err = err;
		return 1;
	}
	struct rp_ssh_res res = { 0 };
	if (rp_ssh_exec(s, r->cmd, NULL, 0, r->timeout, &res, &code, &err) < 0) {
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

/* One egress ledger line; 0, or -1 + *err (a line only queued for the
 * fleet store is ledgered: it goes out later). */
static int ledger_line(const char *id, const char *name, const char *gpu, const char *ts, double total, double raw,
		       char **err)
{
	cJSON *e = rp_rec_new("egress");
	cJSON_DeleteItemFromObjectCaseSensitive(e, "ts");
	cJSON_AddStringToObject(e, "ts", ts);
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddStringToObject(e, "name", name ? name : "");
	cJSON_AddStringToObject(e, "gpu", gpu ? gpu : "");
	cJSON_AddNumberToObject(e, "bytes", total);
	cJSON_AddNumberToObject(e, "raw", raw);
	char *lerr = NULL;
	int rc = 0;
	if (rp_ledger_append(e, &lerr) < 0) {
		if (errno != EAGAIN) {
			*err = lerr;
			rc = -1;
		} else {
			rp_logw("egress line not yet in the fleet store (queued)", "id", id, "error", lerr);
			free(lerr);
		}
	}
	cJSON_Delete(e);
	return rc;
}

/* The time of a state entry's reading, or -1. */
static double state_t(const cJSON *st)
{
	double t;
	const char *s = rp_rec_str(st, "ts");
	return s && rp_parse_rfc3339(s, &t) == 0 ? t : -1;
}

/* The counter, the ledger line when it is due (always with final), the
 * state entry and (print) the record of one reading. */
static int account(struct pod *p, cJSON *pods, int final, int print, char **err)
{
	const char *name = rp_rec_str(p->l, "name"), *gpu = rp_rec_str(p->l, "gpu");
	double last, total;
	previous(cJSON_GetObjectItemCaseSensitive(pods, p->id), p->l, &last, &total);
	unsigned long long d = rp_egress_delta((unsigned long long)last, p->raw);
	int reset = (double)p->raw < last;
	total += (double)d;
	char ts[40];
	rp_rfc3339(p->t, ts, sizeof ts);
	int due = final || rp_egress_ledger_due(rp_rec_num(p->l, "t", -1), rp_rec_num(p->l, "bytes", 0), p->t,
						 total, reset);
	if (due && ledger_line(p->id, name, gpu, ts, total, (double)p->raw, err) < 0)
		return -1;
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
	p->total = total;
	if (print) {
		cJSON *out = rp_rec_new("egress");
		cJSON_DeleteItemFromObjectCaseSensitive(out, "ts");
		cJSON_AddStringToObject(out, "ts", ts);
		cJSON_AddStringToObject(out, "id", p->id);
		cJSON_AddStringToObject(out, "name", name ? name : "");
		cJSON_AddStringToObject(out, "gpu", gpu ? gpu : "");
		cJSON_AddNumberToObject(out, "bytes", total);
		cJSON_AddNumberToObject(out, "raw", (double)p->raw);
		cJSON_AddNumberToObject(out, "delta", (double)d);
		cJSON_AddBoolToObject(out, "reset", reset);
		cJSON_AddBoolToObject(out, "ledgered", due);
		rp_out_rec(out);
		cJSON_Delete(out);
	}
	return 0;
}

/* egress.lock, waiting up to wait seconds (0: one try); -1 with *err, or
 * -2 (busy: another sampler runs). */
static int lock_egress(double wait, char **lockp, char **err)
{
	*lockp = rp_state_path(RP_STATE_EGRESS_LOCK, NULL);
	if (rp_state_mkdir_for(RP_STATE_EGRESS_LOCK) < 0) {
		*err = rp_xasprintf("unable to create state dir %s: %s", rp_state_dir(), strerror(errno));
		return -1;
	}
	int fd = rp_lock(*lockp, RP_LOCK_EX, wait);
	if (fd < 0 && errno == EWOULDBLOCK)
		return -2;
	if (fd < 0)
		*err = rp_xasprintf("unable to lock %s: %s", *lockp, strerror(errno));
	return fd;
}

/* The lock (waiting up to wait seconds), then every pod's last readings
 * from the ledger into view: 0; -2 when another sampler holds the lock;
 * -1 and *err.  *fd is the lock's, for rp_unlock(), whatever the result. */
static int lock_and_scan(double wait, char **lockp, int *fd, cJSON *view, char **err)
{
	long torn;
	*fd = lock_egress(wait, lockp, err);
	if (*fd < 0)
		return *fd;
	return rp_ledger_read(NULL, scan_cb, view, &torn, err) < 0 ? -1 : 0;
}

static int state_save(const char *path, const cJSON *st, char **err)
{
	char *text = cJSON_PrintUnformatted(st);
	size_t len = strlen(text);
	text[len] = '\n'; /* the terminating NUL becomes the line's end */
	int rc = rp_write_atomic(path, text, len + 1, rp_state_mode(RP_STATE_EGRESS));
	if (rc < 0)
		*err = rp_xasprintf("unable to write %s: %s", path, strerror(errno));
	free(text);
	return rc;
}

int rp_egress_sample(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	char *lockp = NULL, *path = rp_state_path(RP_STATE_EGRESS, NULL);
	int rc = RP_EXIT_FAIL, fd;
	cJSON *view = cJSON_CreateObject(), *st = NULL;
	struct run r = { 0 };
	size_t n = 0, bad = 0;
	int got = lock_and_scan(0, &lockp, &fd, view, err);
	if (got == -2) {
		rp_info("another egress sampler runs: this one stops", "lock", lockp);
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (got < 0)
		goto out;
	const cJSON *o;
	cJSON_ArrayForEach(o, view) n += up(o);
	r.p = rp_xcalloc(n + 1, sizeof *r.p);
	n = 0;
	cJSON_ArrayForEach(o, view) {
		if (up(o)) {
			r.p[n].l = o;
			r.p[n].host = rp_rec_str(o, "ssh_host");
			r.p[n].port = (int)rp_rec_num(o, "ssh_port", 22);
			r.p[n++].id = o->string;
		}
	}
	run_init(&r, cfg, 0);
	bad = n ? rp_pool_run(n, (int)rp_cfg_int(cfg, "ssh.concurrency"), read_pod, &r, NULL, NULL) : 0;
	st = state_load(path);
	cJSON *pods = cJSON_GetObjectItemCaseSensitive(st, "pods");
	for (size_t i = 0; i < n; i++) {
		if (!r.p[i].ok) {
			rp_logw("egress not read: its next reading catches up", "id", r.p[i].id, "error", r.p[i].err);
			continue;
		}
		if (account(&r.p[i], pods, 0, 1, err) < 0)
			goto out;
	}
	/* a pod that is no longer up leaves the state (its lines stay in the
	 * ledger); its last reading is ledgered first if no line has it yet */
	for (cJSON *e = pods->child, *next; e; e = next) {
		next = e->next;
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(view, e->string);
		if (l && up(l))
			continue;
		double t = state_t(e);
		if (t > rp_rec_num(l, "t", -1) && rp_rec_num(e, "bytes", -1) >= 0 && rp_rec_num(e, "raw", -1) >= 0 &&
		    ledger_line(e->string, rp_rec_str(e, "name"), rp_rec_str(e, "gpu"), rp_rec_str(e, "ts"),
				rp_rec_num(e, "bytes", 0), rp_rec_num(e, "raw", 0), err) < 0)
			goto out;
		cJSON_DeleteItemFromObjectCaseSensitive(pods, e->string);
	}
	if (state_save(path, st, err) < 0)
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

int rp_egress_sample_pod(const struct rp_config *cfg, const char *id, const char *host, int port, double *total,
			 char **err)
{
	*err = NULL;
	*total = -1;
	char *lockp = NULL, *path = rp_state_path(RP_STATE_EGRESS, NULL);
	int rc = RP_EXIT_FAIL;
	cJSON *view = cJSON_CreateObject(), *st = NULL;
	struct run r = { 0 };
	struct pod p = { .id = id };
	run_init(&r, cfg, 0);
	double ct = r.so.connect_timeout > 0 ? r.so.connect_timeout : 10;
	r.timeout = ct; /* a cat: the drain waits no longer than this */
	r.p = &p;
	int fd, got = lock_and_scan(ct, &lockp, &fd, view, err);
	if (got == -2) {
		*err = rp_xasprintf("another egress sampler held %s for %gs: the bytes since its last reading are not counted",
				    lockp, ct);
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (got < 0)
		goto out;
	st = state_load(path);
	cJSON *pods = cJSON_GetObjectItemCaseSensitive(st, "pods");
	p.l = cJSON_GetObjectItemCaseSensitive(view, id);
	if (!p.l || (rp_rec_num(p.l, "t", -1) < 0 && !cJSON_GetObjectItemCaseSensitive(pods, id))) {
		rc = RP_EXIT_OK; /* never measured: egress is not metered here */
		goto out;
	}
	p.host = host && *host ? host : rp_rec_str(p.l, "ssh_host");
	p.port = host && *host ? (port > 0 ? port : (int)rp_cfg_int(cfg, "ssh.port"))
			       : (int)rp_rec_num(p.l, "ssh_port", 22);
	if (!p.host || p.port <= 0) {
		*err = rp_xasprintf("pod %s: no SSH address in the ledger", id);
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (read_pod(&r, 0)) {
		*err = p.err;
		p.err = NULL;
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (account(&p, pods, 1, 0, err) < 0 || state_save(path, st, err) < 0)
		goto out;
	*total = p.total;
	rc = RP_EXIT_OK;
out:
	free(p.err);
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

/* A reading of pod id at t: its total v. */
static void window_add(struct window *w, const char *id, double t, double v)
{
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
}

static int window_cb(const cJSON *rec, long line, void *arg)
{
	struct window *w = arg;
	const char *type = rp_rec_type(rec), *id = rp_rec_str(rec, "id"), *ts = rp_rec_str(rec, "ts");
	double t, v = rp_rec_num(rec, "bytes", -1);
	(void)line;
	if (!type || strcmp(type, "egress") || !id || !ts || rp_parse_rfc3339(ts, &t) < 0 || v < 0)
		return 0;
	w->lines++;
	window_add(w, id, t, v);
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
	if (!path) { /* the newest readings, ledgered or not yet (egress.json) */
		char *sp = rp_state_path(RP_STATE_EGRESS, NULL);
		size_t n;
		char *text = rp_read_file(sp, 16u << 20, &n);
		cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "pods")) {
			double t = state_t(e), v = rp_rec_num(e, "bytes", -1);
			if (e->string && t >= 0 && v >= 0 && isfinite(v))
				window_add(&w, e->string, t, v);
		}
		cJSON_Delete(j);
		free(text);
		free(sp);
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
