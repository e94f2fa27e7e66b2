/* launch.c — candidate order, names, input rules, the orphan verdict,
 * and the launcher lock (see launch.h). */
#include "launch.h"
#include "state.h"
#include "fleet.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "records.h"
#include "runpod.h"
#include "ssh.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POD_ID_KEY RP_FLEET_POD_ID /* matched as annotation or label: the reaper errs on "known" */

char *rp_launch_prefix(const struct rp_config *cfg)
{
	return rp_fleet_prefix(cfg);
}

void rp_launch_pod_name(const char *prefix, char *out, size_t n)
{
	char id[16];
	rp_rand_id(id, 8);
	snprintf(out, n, "%s%s", prefix, id);
}

int rp_launch_live(const char *st)
{
	return !st || (strcmp(st, "EXITED") && strcmp(st, "ERROR") && strcmp(st, "TERMINATED"));
}

int rp_launch_decision(const cJSON *rec, long *count, char *why, size_t n)
{
	struct rp_decision d;
	int r = rp_decision_read(rec, &d, why, n);
	if (r <= 0)
		return r;
	if (strcmp(d.action, "up"))
		return 0;
	*count = d.count;
	return 1;
}

/* The one place the launcher lock is taken (to become state.h's). */
int rp_launch_lock(int flags, double wait)
{
	if (rp_state_mkdir_for(RP_STATE_LAUNCH_LOCK) < 0)
		rp_fatal(RP_EXIT_FAIL, "unable to create state dir %s: %s", rp_state_dir(), strerror(errno));
	char *p = rp_state_path(RP_STATE_LAUNCH_LOCK, NULL);
	int fd = rp_lock(p, flags, wait);
	if (fd < 0 && errno != EWOULDBLOCK)
		rp_fatal(RP_EXIT_FAIL, "unable to lock %s: %s", p, strerror(errno));
	free(p);
	return fd;
}

struct rp_runpod *rp_launch_api(struct rp_config *cfg)
{
	char *err;
	struct rp_runpod *rp = rp_runpod_open(cfg, &err);
	if (!rp) {
		rp_out_flush();
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	}
	return rp;
}

/* One line "TYPE BASE64 [comment]", TYPE ssh-*, ecdsa-* or sk-* (the
 * pattern of the OpenAPI document's UpdateSshKeysRequest). */
static int key_line_ok(const char *k)
{
	if (strncmp(k, "ssh-", 4) && strncmp(k, "ecdsa-", 6) && strncmp(k, "sk-", 3))
		return 0;
	const char *sp = strchr(k, ' ');
	if (!sp || sp[-1] == '-' || !sp[1])
		return 0;
	for (const char *q = k; q < sp; q++)
		if (*q == '\t')
			return 0;
	const char *b = sp + 1;
	size_t n = strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
	if (n < 16 || (b[n] && b[n] != ' ' && b[n] != '\t'))
		return 0;
	return !strpbrk(k, "\r\n");
}

char *rp_launch_public_key(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	const char *f = rp_cfg_str(cfg, "ssh.public_key_file");
	const char *id = rp_cfg_str(cfg, "ssh.identity_file");
	char *path = f && *f ? rp_xstrdup(f) : id && *id ? rp_xasprintf("%s.pub", id) : NULL;
	const char *key = f && *f ? "ssh.public_key_file" : "ssh.identity_file";
	if (!path) {
		*err = rp_xasprintf("no ssh public key for the pods: set ssh.public_key_file or ssh.identity_file");
		return NULL;
	}
	size_t len;
	char *k = rp_read_file(path, 16384, &len);
	if (!k) {
		*err = rp_xasprintf("ssh public key %s (from %s, %s): %s", path, key, rp_cfg_where(cfg, key),
				    strerror(errno));
		free(path);
		return NULL;
	}
	while (len && (k[len - 1] == '\n' || k[len - 1] == '\r' || k[len - 1] == ' '))
		k[--len] = '\0';
	if (strlen(k) != len || !key_line_ok(k)) {
		*err = rp_xasprintf("ssh public key %s (from %s, %s) is not a one-line OpenSSH public key", path,
				    key, rp_cfg_where(cfg, key));
		free(k);
		free(path);
		return NULL;
	}
	free(path);
	return k;
}

int rp_launch_ledger(cJSON *rec)
{
	char *err;
	int rc = rp_ledger_append(rec, &err);
	if (rc < 0) {
		rp_loge("ledger append failed", "error", err);
		free(err);
	}
	cJSON_Delete(rec);
	return rc;
}

void rp_launch_ledger_gone(const char *event, const char *id, const char *name, const char *why)
{
	cJSON *e = rp_ledger_event(event);
	cJSON_AddStringToObject(e, "id", id);
	if (name)
		cJSON_AddStringToObject(e, "name", name);
	if (why)
		cJSON_AddStringToObject(e, "reason", why);
	rp_launch_ledger(e);
}

void rp_launch_pod_gone(const struct rp_config *cfg, const char *id)
{
	const char *kh = rp_cfg_str(cfg, "ssh.known_hosts");
	int n = rp_ssh_forget_pod(kh, id);
	if (n < 0)
		rp_logw("known_hosts not cleaned of a terminated pod", "id", id, "known_hosts", kh && *kh ? kh : "(default)",
			"error", strerror(errno));
	else if (n) {
		char lines[16];
		snprintf(lines, sizeof lines, "%d", n);
		rp_info("host key forgotten: pod terminated", "id", id, "lines", lines);
	}
}

void rp_cand_kill(struct rp_cand *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->why = rp_xstrdup(why ? why : "unavailable");
}

void rp_launch_cands_free(struct rp_cand *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].why);
	free(c);
}

static const cJSON *cat_find(const cJSON *catalog, const char *id)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, catalog) {
		const char *gid = rp_rec_str(g, "id");
		if (gid && !strcmp(gid, id))
			return g;
	}
	return NULL;
}

static char *cat_ids(const cJSON *catalog, int dcs)
{
	struct rp_buf b = { 0 };
	const cJSON *g, *d;
	cJSON_ArrayForEach(g, catalog) {
		if (!dcs) {
			const char *id = rp_rec_str(g, "id");
			if (id)
				rp_buf_addf(&b, "%s'%s'", b.len ? ", " : "", id);
			continue;
		}
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(g, "dataCenters")) {
			const char *id = rp_rec_str(d, "id");
			if (!id)
				continue;
			char *q = rp_xasprintf("'%s'", id);
			if (!b.data || !strstr(b.data, q))
				rp_buf_addf(&b, "%s%s", b.len ? ", " : "", q);
			free(q);
		}
	}
	return b.data ? b.data : rp_xstrdup("(none)");
}

static int by_price(const void *a, const void *b)
{
	const struct rp_cand *x = a, *y = b;
	if (x->spot != y->spot)
		return y->spot - x->spot; /* spot block first */
	double px = x->price < 0 ? 1e9 : x->price, py = y->price < 0 ? 1e9 : y->price;
	if (px != py)
		return px < py ? -1 : 1;
	return x->rank - y->rank; /* ties keep preference order */
}

void rp_launch_cands_sort(struct rp_cand *c, size_t n)
{
	qsort(c, n, sizeof *c, by_price);
}

const char *rp_launch_min_cuda(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	const char *v = rp_cfg_str(cfg, "runpod.min_cuda_version");
	if (!v || !*v)
		return NULL;
	size_t a = strspn(v, "0123456789");
	size_t b = a && v[a] == '.' ? strspn(v + a + 1, "0123456789") : 0;
	if (!a || !b || v[a + 1 + b] || a > 4 || b > 4) {
		*err = rp_xasprintf("runpod.min_cuda_version (%s): expected a CUDA version like 12.4, got '%s'",
				    rp_cfg_where(cfg, "runpod.min_cuda_version"), v);
		return NULL;
	}
	return v;
}

int rp_launch_bid_policy(const struct rp_config *cfg, int *mode, double *fixed, char **err)
{
	*err = NULL;
	*fixed = 0;
	const char *v = rp_cfg_str(cfg, "runpod.spot_bid");
	double max_bid = rp_cfg_num(cfg, "runpod.max_bid_per_gpu");
	if (!v || !*v || !strcmp(v, "spot_price")) {
		*mode = RP_BID_SPOT_PRICE;
		return 0;
	}
	if (!strcmp(v, "floor")) {
		*mode = RP_BID_FLOOR;
		return 0;
	}
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x > 0) || x > 1e6) {
		*err = rp_xasprintf("runpod.spot_bid (%s): expected floor, spot_price or a bid in USD per GPU-hour, "
				    "got '%s'", rp_cfg_where(cfg, "runpod.spot_bid"), v);
		return -1;
	}
	if (x > max_bid + 1e-9) {
		*err = rp_xasprintf("runpod.spot_bid (%s) %.4f is above runpod.max_bid_per_gpu (%s) %.4f",
				    rp_cfg_where(cfg, "runpod.spot_bid"), x,
				    rp_cfg_where(cfg, "runpod.max_bid_per_gpu"), max_bid);
		return -1;
	}
	*mode = RP_BID_FIXED;
	*fixed = x;
	return 0;
}

int rp_launch_bid(int mode, double fixed, double floor, double spot_price, double max_bid, double *bid,
		  char **why)
{
	*why = NULL;
	if (floor > max_bid + 1e-9) {
		*why = rp_xasprintf("spot floor $%.4f/h per GPU is over runpod.max_bid_per_gpu $%.4f", floor, max_bid);
		return -1;
	}
	double b = mode == RP_BID_FIXED ? fixed : mode == RP_BID_FLOOR ? floor
		: spot_price > floor ? spot_price : floor;
	if (b < floor - 1e-9) {
		*why = rp_xasprintf("runpod.spot_bid $%.4f/h per GPU is under the live floor $%.4f", b, floor);
		return -1;
	}
	if (b > max_bid + 1e-9) {
		*bid = max_bid;
		return 1;
	}
	*bid = b;
	return 0;
}

/* runpod.order value: price per unit of throughput (cost.throughput), the
 * spot block first as by_price (a type with throughput 0 is already dead:
 * rp_launch_candidates kills it under every order). */
struct valued {
	struct rp_cand c;
	double v;
};
static int by_value(const void *a, const void *b)
{
	const struct valued *x = a, *y = b;
	if (x->c.spot != y->c.spot)
		return y->c.spot - x->c.spot;
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->c.rank - y->c.rank;
}
static void order_by_value(const struct rp_config *cfg, struct rp_cand *c, size_t k)
{
	struct valued *v = rp_xcalloc(k + 1, sizeof *v);
	for (size_t i = 0; i < k; i++) {
		double tp = rp_gpu_throughput(cfg, c[i].gpu);
		v[i].c = c[i];
		v[i].v = tp > 0 && c[i].price >= 0 ? c[i].price / tp : 1e9;
	}
	qsort(v, k, sizeof *v, by_value);
	for (size_t i = 0; i < k; i++)
		c[i] = v[i].c;
	free(v);
}

int rp_launch_candidates(const struct rp_config *cfg, const cJSON *catalog, struct rp_cand **out,
			 size_t *n, char **err)
{
	*err = NULL;
	*out = NULL;
	*n = 0;
	const cJSON *gpus = rp_cfg_json(cfg, "runpod.gpu_types");
	const cJSON *dcs = rp_cfg_json(cfg, "runpod.data_centers");
	const char *cloud = rp_cfg_str(cfg, "runpod.cloud");
	const char *order = rp_cfg_str(cfg, "runpod.order");
	int spot = rp_cfg_bool(cfg, "runpod.spot"), fallback = rp_cfg_bool(cfg, "runpod.spot_fallback");
	if (order && strcmp(order, "preference") && strcmp(order, "price") && strcmp(order, "value")) {
		*err = rp_xasprintf("runpod.order (%s): expected preference, price or value, got '%s'",
				    rp_cfg_where(cfg, "runpod.order"), order);
		return -1;
	}
	if (!cJSON_GetArraySize(gpus)) {
		*err = rp_xasprintf("runpod.gpu_types (%s) is empty", rp_cfg_where(cfg, "runpod.gpu_types"));
		return -1;
	}
	const cJSON *g, *d;
	int encoders = 0;
	cJSON_ArrayForEach(g, gpus) {
		encoders += cJSON_IsString(g) && rp_gpu_throughput(cfg, g->valuestring) != 0;
		if (!cJSON_IsString(g) || !cat_find(catalog, g->valuestring)) {
			char *ids = cat_ids(catalog, 0);
			*err = rp_xasprintf("runpod.gpu_types (%s): unknown GPU type '%s'; the catalog has %s",
					    rp_cfg_where(cfg, "runpod.gpu_types"),
					    cJSON_IsString(g) ? g->valuestring : "?", ids);
			free(ids);
			return -1;
		}
	}
	if (!encoders) {
		*err = rp_xasprintf("runpod.gpu_types (%s): every type has cost.throughput 0 (%s): none of them "
				    "encodes, nothing to rent", rp_cfg_where(cfg, "runpod.gpu_types"),
				    rp_cfg_where(cfg, "cost.throughput"));
		return -1;
	}
	/* A data centre the catalog does not list is not offered (for this
	 * count and cloud), not unknown: its candidates die with NONE below. */
	cJSON_ArrayForEach(d, dcs) {
		if (!cJSON_IsString(d) || !*d->valuestring) {
			*err = rp_xasprintf("runpod.data_centers (%s): every entry must be a data centre id",
					    rp_cfg_where(cfg, "runpod.data_centers"));
			return -1;
		}
	}
	size_t ng = (size_t)cJSON_GetArraySize(gpus), nd = (size_t)cJSON_GetArraySize(dcs);
	size_t per = ng * (nd ? nd : 1);
	int blocks = spot && fallback ? 2 : 1;
	struct rp_cand *c = rp_xcalloc(per * (size_t)blocks, sizeof *c);
	size_t k = 0;
	for (int bl = 0; bl < blocks; bl++) {
		int is_spot = spot && bl == 0;
		cJSON_ArrayForEach(g, gpus) {
			const cJSON *entry = cat_find(catalog, g->valuestring);
			for (size_t j = 0; j < (nd ? nd : 1); j++) {
				struct rp_cand *x = &c[k];
				x->rank = (int)k++;
				x->gpu = g->valuestring;
				x->dc = nd ? cJSON_GetArrayItem(dcs, (int)j)->valuestring : NULL;
				x->spot = is_spot;
				x->price = rp_runpod_catalog_price(entry, cloud, is_spot);
				const char *av = rp_runpod_catalog_avail(entry, x->dc);
				if (rp_gpu_throughput(cfg, x->gpu) == 0) /* every order: it encodes nothing */
					rp_cand_kill(x, "cost.throughput is 0: it encodes nothing");
				else if (av && !strcasecmp(av, "NONE")) {
					char *why = rp_xasprintf("catalog availability NONE");
					rp_cand_kill(x, why);
					free(why);
				}
			}
		}
	}
	if (order && !strcmp(order, "price"))
		rp_launch_cands_sort(c, k);
	else if (order && !strcmp(order, "value"))
		order_by_value(cfg, c, k);
	*out = c;
	*n = k;
	return 0;
}

/* ---- the ledger index ------------------------------------------------------ */

struct rp_ledger_index {
	cJSON *by_id;   /* id -> last record */
	cJSON *by_name; /* name -> last record */
};

static int index_cb(const cJSON *rec, long line, void *arg)
{
	(void)line;
	struct rp_ledger_index *ix = arg;
	const char *id = rp_rec_str(rec, "id");
	const char *name = rp_rec_str(rec, "name");
	if (!rp_rec_str(rec, "event"))
		return 0;
	if (id && *id) {
		cJSON_DeleteItemFromObjectCaseSensitive(ix->by_id, id);
		cJSON_AddItemToObject(ix->by_id, id, cJSON_Duplicate(rec, 1));
	}
	if (name && *name) {
		cJSON_DeleteItemFromObjectCaseSensitive(ix->by_name, name);
		cJSON_AddItemToObject(ix->by_name, name, cJSON_Duplicate(rec, 1));
	}
	return 0;
}

struct rp_ledger_index *rp_ledger_index_load(const char *path, char **err)
{
	struct rp_ledger_index *ix = rp_xcalloc(1, sizeof *ix);
	ix->by_id = cJSON_CreateObject();
	ix->by_name = cJSON_CreateObject();
	long torn;
	if (rp_ledger_read(path, index_cb, ix, &torn, err) < 0) {
		rp_ledger_index_free(ix);
		return NULL;
	}
	return ix;
}

void rp_ledger_index_free(struct rp_ledger_index *ix)
{
	if (!ix)
		return;
	cJSON_Delete(ix->by_id);
	cJSON_Delete(ix->by_name);
	free(ix);
}

const cJSON *rp_ledger_index_last(const struct rp_ledger_index *ix, const char *id, const char *name)
{
	const cJSON *r = id ? cJSON_GetObjectItemCaseSensitive(ix->by_id, id) : NULL;
	if (!r && name) {
		r = cJSON_GetObjectItemCaseSensitive(ix->by_name, name);
		/* A name line about another pod id does not speak for this one. */
		const char *rid = rp_rec_str(r, "id");
		if (r && rid && id && strcmp(rid, id))
			r = NULL;
	}
	return r;
}

/* ---- the verdict ------------------------------------------------------------- */

static int node_knows(const cJSON *nodes, const char *id, const char *name)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(n, "metadata");
		const char *nn = rp_rec_str(md, "name");
		if (name && nn && !strcmp(nn, name))
			return 1;
		const char *a = rp_rec_str(cJSON_GetObjectItemCaseSensitive(md, "annotations"), POD_ID_KEY);
		const char *l = rp_rec_str(cJSON_GetObjectItemCaseSensitive(md, "labels"), POD_ID_KEY);
		if (id && ((a && !strcmp(a, id)) || (l && !strcmp(l, id))))
			return 1;
	}
	return 0;
}

int rp_reap_verdict(const cJSON *pod, const cJSON *nodes, const struct rp_ledger_index *ix, double now,
		    int joiner, double handoff, double join_grace, const char **why)
{
	static char buf[128];
	const char *id = rp_rec_str(pod, "id");
	const char *name = rp_rec_str(pod, "name");
	if (node_knows(nodes, id, name)) {
		*why = "known to Kubernetes";
		return 0;
	}
	const cJSON *last = rp_ledger_index_last(ix, id, name);
	const char *ev = rp_rec_str(last, "event");
	if (!ev) {
		*why = "not in the ledger";
		return 1;
	}
	int joining = !strcmp(ev, "ready") || !strcmp(ev, "join_failed") || !strcmp(ev, "joined");
	if (joining && joiner > 0) {
		*why = "an rp-join holds its join lock: a join is under way";
		return 0;
	}
	if (!strcmp(ev, "ready")) {
		double t;
		const char *ts = rp_rec_str(last, "ts");
		if (!ts || rp_parse_rfc3339(ts, &t)) {
			*why = "ready at a time the ledger does not say, and no rp-join holds it";
			return 1;
		}
		double age = now - t < 0 ? 0 : now - t;
		if (joiner < 0) { /* cannot look: keep it as long as a join may take */
			snprintf(buf, sizeof buf, "ready %.0f s ago; its join lock cannot be read, so kept for %.0f s",
				 age, join_grace);
			*why = buf;
			return age >= join_grace;
		}
		if (age < handoff) {
			snprintf(buf, sizeof buf, "ready %.0f s ago, being handed to rp-join (hand-off grace %.0f s)",
				 age, handoff);
			*why = buf;
			return 0;
		}
		snprintf(buf, sizeof buf, "ready %.0f s ago and no rp-join holds it (its joiner is gone)", age);
		*why = buf;
		return 1;
	}
	if (!strcmp(ev, "joined")) {
		const char *bs = rp_rec_str(last, "bootstrap");
		if (bs && !strcmp(bs, "virtual")) {
			*why = "ran a virtual node's pod, and that Kubernetes pod is gone";
			return 1;
		}
		if (!bs || strcmp(bs, "kubeadm")) {
			*why = "joined as a worker";
			return 0;
		}
		*why = "joined, but its Kubernetes node is gone";
		return 1;
	}
	if (!strcmp(ev, "launched")) {
		*why = "launched but never ready (its launcher is gone)";
		return 1;
	}
	snprintf(buf, sizeof buf, "ledger says %s", ev);
	*why = buf;
	return 1;
}
