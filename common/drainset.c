/* drainset.c — the targets of one rp-drain run (see drainset.h). */
#include "drainset.h"
#include "fleet.h"
#include "fleetlog.h"
#include "idle.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "records.h"
#include "rp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rp_drain_set_init(struct rp_drain_set *s, const struct rp_config *cfg, struct rp_kube *k,
		       struct rp_runpod *rp)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->k = k;
	s->rp = rp;
	s->grace = cfg ? rp_cfg_dur(cfg, "scale.notready_grace") : 0;
	s->idle = rp_drain_select_idle;
}

void rp_drain_set_free(struct rp_drain_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->t[i].node);
		free(s->t[i].pod_id);
		free(s->t[i].pod_name);
		free(s->t[i].host);
	}
	free(s->t);
	cJSON_Delete(s->rp_pods);
	cJSON_Delete(s->launches);
	s->t = NULL;
	s->n = 0;
	s->rp_pods = NULL;
	s->launches = NULL;
}

struct rp_drain_target *rp_drain_set_add(struct rp_drain_set *s, const char *node, const char *id, int worker,
					 int named)
{
	for (size_t i = 0; i < s->n; i++) {
		if (node && s->t[i].node && !strcmp(s->t[i].node, node)) {
			s->t[i].named |= named;
			return NULL;
		}
		if (!node && worker && s->t[i].worker && id && s->t[i].pod_id && !strcmp(s->t[i].pod_id, id))
			return NULL;
	}
	s->t = rp_xrealloc(s->t, (s->n + 1) * sizeof *s->t);
	struct rp_drain_target *t = &s->t[s->n++];
	memset(t, 0, sizeof *t);
	t->node = node ? rp_xstrdup(node) : NULL;
	t->pod_id = id ? rp_xstrdup(id) : NULL;
	t->worker = worker;
	t->named = named;
	return t;
}

/* A node named only because it is lost: vet drops it if it no longer is
 * (a node also named otherwise is drained whatever its state). */
void rp_drain_set_add_lost(struct rp_drain_set *s, const char *node)
{
	struct rp_drain_target *t = rp_drain_set_add(s, node, NULL, 0, 0);
	if (t)
		t->as_lost = 1;
}

int rp_drain_set_record(struct rp_drain_set *s, const cJSON *rec, char *why, size_t n)
{
	struct rp_decision d;
	int r = rp_decision_read(rec, &d, why, n);
	if (r < 0)
		return -1;
	if (r > 0) {
		const cJSON *nodes = d.nodes, *nm;
		int down = !strcmp(d.action, "down");
		if (down && !nodes && s->idle)
			s->idle(s, d.count > 0 ? d.count : 0);
		if (!down)
			nodes = NULL;
		cJSON_ArrayForEach(nm, nodes)
		{
			rp_drain_set_add(s, nm->valuestring, NULL, 0, 0);
		}
		/* lost nodes go whatever the action: they serve nothing */
		cJSON_ArrayForEach(nm, d.lost)
		{
			rp_drain_set_add_lost(s, nm->valuestring);
		}
		return down;
	}
	struct rp_node nd;
	if ((r = rp_node_read(rec, &nd, why, n)) < 0)
		return -1;
	if (r > 0) {
		const char *b = nd.bootstrap, *id = nd.id;
		if (b && !strcmp(b, "worker")) {
			if (!id) {
				rp_warn("a worker node record without an id: skipped");
				return 1;
			}
			rp_drain_set_add(s, NULL, id, 1, 0);
			struct rp_drain_target *t = &s->t[s->n - 1];
			if (!t->host && nd.ssh_host) {
				t->host = rp_xstrdup(nd.ssh_host);
				t->port = (int)nd.ssh_port;
			}
			return 1;
		}
		const char *node = nd.node;
		if (!node) {
			rp_warn("a node record without a node name: skipped");
			return 1;
		}
		rp_drain_set_add(s, node, NULL, 0, 0);
		return 1;
	}
	return 0;
}

void rp_drain_select_idle(struct rp_drain_set *s, long count)
{
	cJSON *names = NULL, *nm;
	char *err = NULL;
	int rc = rp_idle_select(s->k, s->cfg, rp_now(), rp_cfg_dur(s->cfg, "scale.idle"), &names, &err);
	if (rc)
		rp_fatal(rc, "idle nodes: %s", err);
	long taken = 0;
	cJSON_ArrayForEach(nm, names)
	{
		if (count > 0 && taken >= count)
			break;
		if (cJSON_IsString(nm)) {
			rp_drain_set_add(s, nm->valuestring, NULL, 0, 0);
			taken++;
		}
	}
	cJSON_Delete(names);
}

/* Our nodes, listed (exits on failure). */
static cJSON *our_nodes(struct rp_drain_set *s, const cJSON **items)
{
	cJSON *list = NULL;
	char *err = NULL, *path = rp_fleet_nodes_path(s->cfg, &err);
	if (!path)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	int rc = rp_kube_list(s->k, path, &list, items, &err);
	free(path);
	if (rc)
		rp_fatal(rc, "%s", err);
	return list;
}

/* Burst nodes NotReady longer than scale.notready_grace (vet looks again). */
void rp_drain_select_lost(struct rp_drain_set *s)
{
	const cJSON *items, *n;
	double now = rp_now();
	cJSON *list = our_nodes(s, &items);
	cJSON_ArrayForEach(n, items)
	{
		const char *nn = rp_fleet_node_name(n);
		if (nn && rp_fleet_lost(n, now, s->grace))
			rp_drain_set_add_lost(s, nn);
	}
	cJSON_Delete(list);
}

int rp_drain_is_preempted(const cJSON *p)
{
	const char *st = rp_rec_str(p, "status"), *why = rp_rec_str(p, "lastStatusChange");
	if (!st || strcmp(st, "EXITED"))
		return 0;
	return rp_rec_bool(p, "interruptible", 0) || (why && strstr(why, "Outbid"));
}

/* The ledger's last word on a spot pod says it should still be running
 * (we neither terminated, reaped, drained nor saw it preempted). */
static int ledger_alive(const cJSON *e)
{
	const char *ev = rp_rec_str(e, "event");
	return ev && (!strcmp(ev, "launched") || !strcmp(ev, "ready") || !strcmp(ev, "joined") ||
		      !strcmp(ev, "join_failed"));
}

static int listed(const cJSON *pods, const char *id)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		const char *pid = rp_rec_str(p, "id");
		if (pid && !strcmp(pid, id))
			return 1;
	}
	return 0;
}

/* Spot pods of ours that RunPod stopped, each with the burst node that
 * carries it, if any.  v2 pods carry no spot flag: a spot pod is known
 * from our ledger's launched line (GraphQL's podType is an extra signal
 * while it lives), and it is preempted when EXITED, or gone from the list
 * while the ledger says it should run (no terminate of ours). */
void rp_drain_select_preempted(struct rp_drain_set *s)
{
	char *prefix = rp_fleet_prefix(s->cfg), *err = NULL;
	cJSON *pods = NULL, *list = NULL;
	const cJSON *nodes = NULL, *p;
	int rc = rp_runpod_list(s->rp, prefix, &pods, &err);
	free(prefix);
	if (rc)
		rp_fatal(rc, "RunPod: %s", err);
	cJSON *spot = rp_ledger_spot_pods(NULL, &err);
	if (!spot) {
		rp_warn("ledger: %s: spot pods known from GraphQL only", err);
		free(err);
	}
	cJSON_ArrayForEach(p, pods)
	{
		const char *id = rp_rec_str(p, "id"), *why = rp_rec_str(p, "lastStatusChange");
		const char *st = rp_rec_str(p, "status");
		int ours_spot = id && st && !strcmp(st, "EXITED") && cJSON_GetObjectItemCaseSensitive(spot, id);
		if (!id || !rp_safe_name(id) || !(ours_spot || rp_drain_is_preempted(p)) ||
		    !rp_fleet_is_ours(s->cfg, rp_rec_str(p, "name")))
			continue;
		if (!list)
			list = our_nodes(s, &nodes);
		const char *node = rp_fleet_node_name(rp_fleet_node_of_pod(nodes, id, rp_rec_str(p, "name")));
		rp_info("preempted", "pod", id, "node", node ? node : "-", "why",
			why ? why : "EXITED, a spot pod by our ledger");
		struct rp_drain_target *t = rp_drain_set_add(s, node, id, 0, 0);
		if (t) {
			t->preempted = 1;
			t->pod_name = rp_xstrdup(rp_rec_str(p, "name"));
		}
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, spot) {
		const char *id = e->string, *name = rp_rec_str(e, "name");
		if (!ledger_alive(e) || listed(pods, id) || !rp_safe_name(id) || !rp_fleet_is_ours(s->cfg, name))
			continue;
		if (!list)
			list = our_nodes(s, &nodes);
		const char *node = rp_fleet_node_name(rp_fleet_node_of_pod(nodes, id, name));
		rp_info("preempted", "pod", id, "node", node ? node : "-", "why",
			"gone from RunPod's list without our terminate (a spot pod by our ledger)");
		struct rp_drain_target *t = rp_drain_set_add(s, node, id, 0, 0);
		if (t) {
			t->preempted = 1;
			t->pod_name = rp_xstrdup(name);
		}
	}
	cJSON_Delete(spot);
	cJSON_Delete(list);
	cJSON_Delete(pods);
}

/* Where a worker-mode pod listens, from the last ledger lines about it. */
struct ledger_find {
	const char *id;
	char *host;
	int port;
};

static int ledger_cb(const cJSON *rec, long line, void *arg)
{
	struct ledger_find *f = arg;
	const char *id = rp_rec_str(rec, "id"), *h = rp_rec_str(rec, "ssh_host");
	(void)line;
	if (!id || strcmp(id, f->id))
		return 0;
	if (h) {
		free(f->host);
		f->host = rp_xstrdup(h);
	}
	if (rp_rec_num(rec, "ssh_port", 0) > 0)
		f->port = (int)rp_rec_num(rec, "ssh_port", 0);
	return 0;
}

static void worker_address(struct rp_drain_target *t)
{
	struct ledger_find f = { .id = t->pod_id };
	long torn;
	char *err = NULL;
	if (rp_ledger_read(NULL, ledger_cb, &f, &torn, &err) < 0) {
		rp_warn("ledger: %s", err);
		free(err);
	}
	if (!t->host && f.host)
		t->host = rp_xstrdup(f.host);
	if (!t->port && f.port)
		t->port = f.port;
	free(f.host);
}

/* The node's pod by fleet.h's order; RunPod is listed once, on need. */
static const char *pod_of(struct rp_drain_set *s, const cJSON *node)
{
	char *err = NULL;
	if (!rp_fleet_pod_id(node) && !s->rp_pods) {
		int rc = rp_runpod_list(s->rp, NULL, &s->rp_pods, &err);
		if (rc)
			rp_fatal(rc, "RunPod: %s", err);
	}
	return rp_fleet_pod_of_node(node, s->rp_pods);
}

/* 1 keep, 0 drop (warned); exits for a named target that may not go. */
static int vet_node(struct rp_drain_set *s, struct rp_drain_target *t)
{
	if (!rp_safe_name(t->node)) {
		if (t->named)
			rp_fatal(RP_EXIT_USAGE, "'%s' is not a node name", t->node);
		rp_warn("'%s' is not a node name: skipped", t->node);
		return 0;
	}
	cJSON *obj = NULL;
	char *path = rp_xasprintf("/api/v1/nodes/%s", t->node), *err = NULL;
	long st;
	if (rp_kube_call(s->k, "GET", path, NULL, NULL, &st, &obj, &err) < 0)
		rp_fatal(RP_EXIT_TEMP, "%s", err);
	free(path);
	if (st == 404) {
		if (t->named)
			rp_fatal(RP_EXIT_USAGE, "node %s: no such node", t->node);
		rp_warn("node %s: no such node: skipped", t->node);
		cJSON_Delete(obj);
		return 0;
	} else if (st != 200) {
		rp_fatal(st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL, "node %s: %s", t->node, rp_kube_errmsg(st, obj));
	}
	const char *why = rp_fleet_refusal(s->cfg, obj);
	int ok = 1;
	double now = rp_now();
	t->lost = rp_fleet_lost(obj, now, s->grace);
	t->not_ready_s = rp_fleet_notready_s(obj, now, NULL);
	t->notready = t->not_ready_s >= 0;
	if (why) {
		if (t->named)
			rp_fatal(RP_EXIT_USAGE, "node %s: %s", t->node, why);
		if (t->lost) /* the opt-out wins, but say what it costs */
			rp_warn("node %s: NotReady for %.0fs, but %s: skipped, still billing", t->node, t->not_ready_s,
				why);
		else
			rp_warn("node %s: %s: skipped", t->node, why);
		ok = 0;
	}
	if (ok && t->as_lost && !t->lost && !t->named) {
		if (t->not_ready_s < 0)
			rp_info("not lost any more: Ready again, not drained", "node", t->node);
		else
			rp_info("not lost: NotReady within scale.notready_grace, not drained", "node", t->node);
		ok = 0;
	}
	if (ok) {
		const char *id = pod_of(s, obj);
		if (id && !rp_safe_name(id))
			rp_fatal(RP_EXIT_FAIL, "node %s: odd pod id '%s'", t->node, id);
		if (!id)
			rp_logw("no RunPod pod for this node: nothing to terminate", "node", t->node);
		t->pod_id = id ? rp_xstrdup(id) : NULL;
	}
	cJSON_Delete(obj);
	return ok;
}

/* Only our pods are terminated: t's pod by ledger.h's rp_ledger_ours(),
 * with its node for a node target.  1 ours (or no pod); 0 refused, said in
 * one line and counted. */
static int ours(struct rp_drain_set *s, const struct rp_drain_target *t)
{
	char *err = NULL, why[300];
	int rc;
	if (!t->pod_id)
		return 1;
	if (!s->launches) {
		if ((rc = rp_fleetlog_sync(&err)) != 0) /* the whole fleet's ledger, or no drain */
			rp_fatal(rc, "fleet view unavailable: draining nothing (never guess whose pod it is): %s", err);
		if (!(s->launches = rp_ledger_launches(NULL, &err)))
			rp_fatal(RP_EXIT_FAIL, "%s: draining nothing (whose pod it is is unknown)", err);
	}
	if (rp_ledger_ours(s->launches, s->cfg, t->pod_id, t->pod_name, t->node, NULL, NULL, why, sizeof why))
		return 1;
	rp_loge("not ours per the ledger: refused, the pod and node left alone", "node", t->node ? t->node : "-",
		"pod", t->pod_id, "why", why);
	s->refused++;
	return 0;
}

void rp_drain_vet(struct rp_drain_set *s)
{
	size_t keep = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct rp_drain_target *t = &s->t[i];
		int ok = 1;
		if (t->preempted) { /* found from its pod id, and gone anyway */
		} else if (t->worker) {
			if (!t->pod_id || !rp_safe_name(t->pod_id))
				rp_fatal(RP_EXIT_USAGE, "worker: a pod id is needed (--id)");
			if (!t->host)
				worker_address(t);
			if (!t->host)
				rp_fatal(RP_EXIT_USAGE, "worker %s: no SSH address (give --host, or the ledger has none)",
					 t->pod_id);
		} else {
			ok = vet_node(s, t);
		}
		if (ok)
			ok = ours(s, t);
		if (ok) {
			s->t[keep++] = *t;
		} else {
			free(t->node);
			free(t->pod_id);
			free(t->pod_name);
			free(t->host);
		}
	}
	s->n = keep;
}

long rp_drain_step(const char *step, long total, int *pct)
{
	char *end;
	double v = strtod(step ? step : "", &end);
	if (pct)
		*pct = 0;
	if (!step || end == step || v <= 0 || (*end && strcmp(end, "%")))
		return -1;
	if (!*end)
		return (long)v < 1 ? 1 : (long)v;
	if (pct)
		*pct = 1;
	long k = (long)ceil((double)total * v / 100.0);
	return k < 1 ? 1 : k;
}

long rp_drain_at_once(struct rp_drain_set *s)
{
	const char *step = rp_cfg_str(s->cfg, "scale.step");
	int pct;
	if (rp_drain_step(step, 0, &pct) < 0)
		rp_fatal(RP_EXIT_USAGE, "scale.step: want N or P%%, got '%s'", step ? step : "");
	if (!pct)
		return rp_drain_step(step, 0, NULL);
	cJSON *list = NULL;
	const cJSON *items;
	char *err = NULL, *path = s->k ? rp_fleet_nodes_path(s->cfg, &err) : NULL;
	long total = 0;
	if (path && !rp_kube_list(s->k, path, &list, &items, &err))
		total = cJSON_GetArraySize(items);
	else if (err)
		rp_warn("counting burst nodes: %s", err);
	free(path);
	free(err);
	cJSON_Delete(list);
	return rp_drain_step(step, total, NULL);
}
