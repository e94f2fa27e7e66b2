/* cost.c — ledger spend, baseline arithmetic, traces and plans. */
#include "cost.h"
#include "ledger.h"
#include "rp.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- prices and baseline ---- */

static int num(const cJSON *o, const char *k, double *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(x))
		return -1;
	*v = x->valuedouble;
	return 0;
}

int rp_cost_baseline(const struct rp_config *c, struct rp_baseline *b, char **err)
{
	const cJSON *o = rp_cfg_json(c, "cost.baseline");
	double gpus = 0;
	static const char *keys[] = { "monthly_capex", "power_kw", "kwh_price", "gpus" };
	double *dst[] = { &b->capex, &b->power_kw, &b->kwh_price, &gpus };
	for (int i = 0; i < 4; i++) {
		if (num(o, keys[i], dst[i]) < 0 || *dst[i] < 0) {
			*err = rp_xasprintf("cost.baseline.%s (%s): missing or not a non-negative number",
					    keys[i], rp_cfg_where(c, "cost.baseline"));
			return -1;
		}
	}
	if (gpus < 1 || gpus != floor(gpus)) {
		*err = rp_xasprintf("cost.baseline.gpus (%s): must be a whole number >= 1",
				    rp_cfg_where(c, "cost.baseline"));
		return -1;
	}
	b->gpus = (int)gpus;
	b->hours = rp_cfg_num(c, "cost.hours_per_month");
	if (b->hours <= 0) {
		*err = rp_xasprintf("cost.hours_per_month must be positive");
		return -1;
	}
	b->monthly = b->capex + b->power_kw * b->hours * b->kwh_price;
	return 0;
}

int rp_cost_price(const struct rp_config *c, const char *gpu, int spot, double *price, char **err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(rp_cfg_json(c, "cost.prices"), gpu);
	const char *f = spot ? "spot" : "on_demand";
	if (!e) {
		*err = rp_xasprintf("cost.prices has no entry for '%s'", gpu);
		return -1;
	}
	if (num(e, f, price) < 0 || *price < 0) {
		*err = rp_xasprintf("cost.prices['%s'].%s (%s): missing or negative", gpu, f,
				    rp_cfg_where(c, "cost.prices"));
		return -1;
	}
	return 0;
}

int rp_cost_prices_check(const struct rp_config *c, char **err)
{
	const cJSON *e;
	double p;
	if (cJSON_GetArraySize(rp_cfg_json(c, "cost.prices")) == 0) {
		*err = rp_xasprintf("cost.prices is empty");
		return -1;
	}
	cJSON_ArrayForEach(e, rp_cfg_json(c, "cost.prices"))
	{
		if (rp_cost_price(c, e->string, 0, &p, err) < 0 || rp_cost_price(c, e->string, 1, &p, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- ledger scan ---- */

struct open_tab {
	struct rp_cost_pod *v; /* open addressing, id[0]==0: empty */
	size_t cap, n;
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct rp_cost_pod *slot(struct open_tab *t, const char *id)
{
	size_t i = hash(id) & (t->cap - 1);
	while (t->v[i].id[0] && strcmp(t->v[i].id, id))
		i = (i + 1) & (t->cap - 1);
	return &t->v[i];
}

static void grow(struct open_tab *t)
{
	struct open_tab n = { rp_xcalloc(t->cap * 2, sizeof *t->v), t->cap * 2, 0 };
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].id[0]) {
			*slot(&n, t->v[i].id) = t->v[i];
			n.n++;
		}
	free(t->v);
	*t = n;
}

/* Remove with backward-shift deletion (keeps probe chains whole). */
static void del(struct open_tab *t, struct rp_cost_pod *p)
{
	size_t i = (size_t)(p - t->v), j = i;
	t->v[i].id[0] = 0;
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->v[j].id[0])
			break;
		size_t k = hash(t->v[j].id) & (t->cap - 1);
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			t->v[i] = t->v[j];
			t->v[j].id[0] = 0;
			i = j;
		}
	}
	t->n--;
}

static void cpy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The ledger's lifecycle lines are flat objects; a full parse of a
 * million of them is most of report's time.  This scanner walks the top
 * level of one object and hands back the raw text of the scalar fields
 * asked for, skipping nested values; anything it does not understand
 * sends the line to cJSON instead (return -1). */
struct field {
	const char *key;
	const char *val; /* start of the value text */
	size_t len;      /* for strings: without the quotes */
	int is_str, has_escape;
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *skip_string(const char *p, int *esc) /* p at opening quote */
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\') {
			*esc = 1;
			if (!*++p)
				return NULL;
		}
	return *p ? p + 1 : NULL;
}

static const char *skip_value(const char *p)
{
	int depth = 0, esc = 0;
	do {
		if (*p == '"') {
			p = skip_string(p, &esc);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		else if (!*p)
			return NULL;
		else if (depth == 0 && (*p == ',' ))
			return p;
		if (depth < 0)
			return p;
		p++;
	} while (depth > 0 || (*p != ',' && *p != '}'));
	return p;
}

static int flat_scan(const char *p, struct field *f, int nf)
{
	p = skip_ws(p);
	if (*p++ != '{')
		return -1;
	for (;;) {
		p = skip_ws(p);
		if (*p == '}')
			return *skip_ws(p + 1) ? -1 : 0;
		if (*p != '"')
			return -1;
		int esc = 0;
		const char *k = p + 1, *ke = skip_string(p, &esc);
		if (!ke || esc)
			return -1;
		size_t kl = (size_t)(ke - 1 - k);
		p = skip_ws(ke);
		if (*p++ != ':')
			return -1;
		p = skip_ws(p);
		struct field *hit = NULL;
		for (int i = 0; i < nf; i++)
			if (strlen(f[i].key) == kl && !memcmp(f[i].key, k, kl))
				hit = &f[i];
		const char *v = p;
		if (*p == '"') {
			int e2 = 0;
			p = skip_string(p, &e2);
			if (!p)
				return -1;
			if (hit) {
				hit->val = v + 1;
				hit->len = (size_t)(p - v - 2);
				hit->is_str = 1;
				hit->has_escape = e2;
			}
		} else {
			p = skip_value(p);
			if (!p)
				return -1;
			if (hit) {
				hit->val = v;
				hit->len = (size_t)(p - v);
				while (hit->len && (v[hit->len - 1] == ' '))
					hit->len--;
				hit->is_str = 0;
			}
		}
		p = skip_ws(p);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return -1;
	}
}

static int fstr(const struct field *f, char *dst, size_t n)
{
	if (!f->val || !f->is_str || f->has_escape || f->len >= n)
		return -1;
	memcpy(dst, f->val, f->len);
	dst[f->len] = 0;
	return 0;
}

/* Fill a lifecycle event from a line: 1 ok, 0 not a lifecycle line,
 * -1 malformed. */
struct lev {
	char event[16], id[64], ts[40], name[96], gpu[64];
	int gpu_count, spot;
	double cost;
};

static int lev_cjson(const char *buf, size_t n, struct lev *e)
{
	cJSON *o = cJSON_ParseWithLength(buf, n);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	const char *ev = jstr(o, "event"), *id = jstr(o, "id"), *ts = jstr(o, "ts");
	int rc = 0;
	if (ev && id && ts && strlen(ev) < sizeof e->event && strlen(id) < sizeof e->id && strlen(ts) < sizeof e->ts) {
		cpy(e->event, sizeof e->event, ev);
		cpy(e->id, sizeof e->id, id);
		cpy(e->ts, sizeof e->ts, ts);
		cpy(e->name, sizeof e->name, jstr(o, "name"));
		cpy(e->gpu, sizeof e->gpu, jstr(o, "gpu"));
		const cJSON *gc = cJSON_GetObjectItemCaseSensitive(o, "gpu_count");
		e->gpu_count = cJSON_IsNumber(gc) ? gc->valueint : 1;
		e->spot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "spot"));
		const cJSON *cp = cJSON_GetObjectItemCaseSensitive(o, "cost_per_hr");
		e->cost = cJSON_IsNumber(cp) ? cp->valuedouble : 0;
		rc = 1;
	}
	cJSON_Delete(o);
	return rc;
}

static int lev_read(const char *buf, size_t n, struct lev *e)
{
	struct field f[] = { { .key = "event" }, { .key = "id" }, { .key = "ts" }, { .key = "name" }, { .key = "gpu" },
			     { .key = "gpu_count" }, { .key = "spot" }, { .key = "cost_per_hr" } };
	memset(e, 0, sizeof *e);
	if (flat_scan(buf, f, 8) < 0 || fstr(&f[0], e->event, sizeof e->event) < 0 ||
	    fstr(&f[1], e->id, sizeof e->id) < 0 || fstr(&f[2], e->ts, sizeof e->ts) < 0)
		return lev_cjson(buf, n, e);
	if ((f[3].val && fstr(&f[3], e->name, sizeof e->name) < 0) ||
	    (f[4].val && fstr(&f[4], e->gpu, sizeof e->gpu) < 0))
		return lev_cjson(buf, n, e);
	e->gpu_count = 1;
	if (f[5].val) {
		char *end;
		long v = strtol(f[5].val, &end, 10);
		if (end != f[5].val + f[5].len || f[5].is_str)
			return lev_cjson(buf, n, e);
		e->gpu_count = (int)v;
	}
	e->spot = f[6].val && !f[6].is_str && f[6].len == 4 && !memcmp(f[6].val, "true", 4);
	if (f[7].val) {
		char *end;
		e->cost = strtod(f[7].val, &end);
		if (end != f[7].val + f[7].len || f[7].is_str)
			return lev_cjson(buf, n, e);
	}
	return 1;
}

int rp_cost_scan(const char *path, double now, rp_cost_cb cb, void *arg, long *torn, char **err)
{
	*err = NULL;
	*torn = 0;
	if (!path)
		path = rp_ledger_path();
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		*err = rp_xasprintf("unable to read ledger %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = rp_cost_fscan(f, path, now, cb, arg, torn, err);
	fclose(f);
	return rc;
}

int rp_cost_fscan(FILE *f, const char *path, double now, rp_cost_cb cb, void *arg, long *torn, char **err)
{
	*err = NULL;
	*torn = 0;
	struct open_tab t = { rp_xcalloc(16, sizeof *t.v), 16, 0 };
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	long line = 0, bad = 0;
	int rc = 0;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		line++;
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		if (!n)
			continue;
		if (bad) {
			*err = rp_xasprintf("%s:%ld: malformed ledger line", path, bad);
			rc = -1;
			break;
		}
		/* Only pod lifecycle lines matter; skip others unparsed. */
		int start = strstr(buf, "\"launched\"") != NULL;
		int end = !start && (strstr(buf, "\"terminated\"") || strstr(buf, "\"reaped\"") ||
				     strstr(buf, "\"preempted\""));
		if (!start && !end) {
			/* Not a lifecycle line: parse nothing, but a line that is
			 * not even JSON-shaped still counts as malformed. */
			if (buf[0] != '{' || buf[n - 1] != '}')
				bad = line;
			continue;
		}
		struct lev e;
		int r = lev_read(buf, (size_t)n, &e);
		if (r < 0) {
			bad = line;
			continue;
		}
		double t0;
		if (r == 0 || rp_parse_rfc3339(e.ts, &t0) < 0)
			continue;
		if (!strcmp(e.event, "launched")) {
			if (t.n * 2 >= t.cap)
				grow(&t);
			struct rp_cost_pod *p = slot(&t, e.id);
			if (!p->id[0]) {
				t.n++;
				cpy(p->id, sizeof p->id, e.id);
			}
			cpy(p->name, sizeof p->name, e.name);
			cpy(p->gpu, sizeof p->gpu, e.gpu);
			p->gpu_count = e.gpu_count;
			p->spot = e.spot;
			p->cost_per_hr = e.cost;
			p->start = t0;
			p->running = 1;
		} else if (!strcmp(e.event, "terminated") || !strcmp(e.event, "reaped") ||
			   !strcmp(e.event, "preempted")) {
			struct rp_cost_pod *p = slot(&t, e.id);
			if (p->id[0]) {
				if (t0 < p->start)
					fprintf(stderr, "%s: warning: %s:%ld: pod %s ends before it starts "
						"(the clock jumped back?): counted as 0 h\n", rp_prog, path, line, p->id);
				p->end = t0 < p->start ? p->start : t0;
				p->running = 0;
				cb(p, arg);
				del(&t, p);
			}
		}
	}
	if (!rc && bad)
		*torn = bad;
	if (!rc) {
		/* Still running: counted to now, in launch order is not kept; sort by start. */
		size_t k = 0;
		struct rp_cost_pod *run = rp_xcalloc(t.n + 1, sizeof *run);
		for (size_t i = 0; i < t.cap; i++)
			if (t.v[i].id[0])
				run[k++] = t.v[i];
		for (size_t i = 1; i < k; i++) /* insertion sort: few running pods */
			for (size_t j = i; j > 0 && run[j - 1].start > run[j].start; j--) {
				struct rp_cost_pod x = run[j];
				run[j] = run[j - 1];
				run[j - 1] = x;
			}
		for (size_t i = 0; i < k; i++) {
			run[i].end = now > run[i].start ? now : run[i].start;
			cb(&run[i], arg);
		}
		free(run);
	}
	free(t.v);
	free(buf);
	return rc;
}

double rp_cost_cents(double x)
{
	return round(x * 100.0) / 100.0;
}

double rp_cost_r4(double x)
{
	return round(x * 10000.0) / 10000.0;
}

double rp_cost_hours(const struct rp_cost_pod *p, double since, double until)
{
	double a = p->start > since ? p->start : since;
	double b = p->end < until ? p->end : until;
	return b > a ? (b - a) / 3600.0 : 0;
}

/* ---- traces ---- */

static int csv_fields(char *s, double *out, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -1;
		char *end;
		while (*tok == ' ')
			tok++;
		double v = strtod(tok, &end);
		while (*end == ' ' || *end == '\r')
			end++;
		if (end == tok || *end || !isfinite(v) || v < 0)
			return -1;
		out[n++] = v;
	}
	return n;
}

/* Reads rows of 2 or 3 numbers; row callback gets them. */
static int read_rows(const char *path, int (*row)(double *f, int n, void *arg), void *arg, char **err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		*err = rp_xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t cap = 0;
	long line = 0;
	int rc = 0, rows = 0;
	while (getline(&buf, &cap, f) >= 0) {
		line++;
		buf[strcspn(buf, "\r\n")] = 0;
		if (!buf[0] || buf[0] == '#')
			continue;
		double v[3];
		char *copy = rp_xstrdup(buf);
		int n = csv_fields(copy, v, 3);
		free(copy);
		if (n < 0 && rows == 0 && line == 1 && strchr(buf, ',') && !strpbrk(buf, "0123456789"))
			continue; /* header */
		if (n < 2) {
			*err = rp_xasprintf("%s:%ld: malformed trace line: want 2 or 3 non-negative numbers", path, line);
			rc = -1;
			break;
		}
		if (row(v, n, arg) < 0) {
			*err = rp_xasprintf("%s:%ld: malformed trace line: index out of order or too large", path, line);
			rc = -1;
			break;
		}
		rows++;
	}
	if (!rc && !rows) {
		*err = rp_xasprintf("%s: empty trace", path);
		rc = -1;
	}
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int put_at(double **v, size_t *n, size_t *cap, double idx, double val)
{
	if (idx != floor(idx) || idx > 10000000)
		return -1;
	size_t i = (size_t)idx;
	if (i >= *cap) {
		size_t c = *cap ? *cap : 1024;
		while (c <= i)
			c *= 2;
		*v = rp_xrealloc(*v, c * sizeof **v);
		memset(*v + *cap, 0, (c - *cap) * sizeof **v);
		*cap = c;
	}
	(*v)[i] += val;
	if (i + 1 > *n)
		*n = i + 1;
	return 0;
}

struct trace_ctx {
	struct rp_trace *t;
	size_t cap;
};

static int trace_row(double *f, int n, void *arg)
{
	struct trace_ctx *c = arg;
	double gh = n == 3 ? f[1] * f[2] / 3600.0 : f[1];
	return put_at(&c->t->v, &c->t->n, &c->cap, f[0], gh);
}

int rp_trace_load(const char *path, struct rp_trace *t, char **err)
{
	struct trace_ctx c = { t, 0 };
	t->v = NULL;
	t->n = 0;
	if (read_rows(path, trace_row, &c, err) == 0)
		return 0;
	free(t->v);
	t->v = NULL;
	t->n = 0;
	return -1;
}

double rp_plan_cost(const struct rp_trace *t, int k, const struct rp_baseline *b, double price,
		    double *burst_gpu_hours)
{
	double burst = 0, cap = (double)k * b->gpus;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i] > cap)
			burst += t->v[i] - cap;
	*burst_gpu_hours = burst;
	return k * b->monthly * ((double)t->n / b->hours) + burst * price;
}

/* ---- the simulator's trace (the simulator itself: sim.c) ---- */

struct sim_ctx {
	struct rp_sim_in *in;
	size_t capj, capw, nw;
};

static int sim_row(double *f, int n, void *arg)
{
	struct sim_ctx *c = arg;
	size_t nj = c->in->minutes;
	if (put_at(&c->in->jobs, &nj, &c->capj, f[0], f[1]) < 0)
		return -1;
	size_t nw = c->nw;
	if (put_at(&c->in->work, &nw, &c->capw, f[0], n == 3 ? f[2] : 0) < 0)
		return -1;
	c->nw = nw;
	c->in->minutes = nj;
	return 0;
}

int rp_sim_load(const char *path, struct rp_sim_in *in, char **err)
{
	struct sim_ctx c = { in, 0, 0, 0 };
	in->jobs = in->work = NULL;
	in->minutes = 0;
	int r = read_rows(path, sim_row, &c, err);
	if (r) {
		free(in->jobs);
		free(in->work);
		in->jobs = in->work = NULL;
		in->minutes = 0;
	} else if (c.nw < in->minutes) {
		in->work = rp_xrealloc(in->work, in->minutes * sizeof *in->work);
		memset(in->work + c.nw, 0, (in->minutes - c.nw) * sizeof *in->work);
	}
	return r;
}
