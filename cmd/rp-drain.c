/* rp-drain — see rp-drain(1). */
#include "cli.h"
#include "drain.h"
#include "idle.h"
#include "kube.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"
#include "ssh.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
	"usage: rp-drain [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"                [--node NAME]... [--idle DURATION] [--timeout DURATION]\n"
	"                [--force] [--delete-emptydir-data] [--disable-eviction]\n"
	"                [--grace-period SECONDS] [--pod-selector SELECTOR]\n"
	"                [--undo-on-timeout] [--skip-checkpoint]\n"
	"                [--checkpoint-command CMD] [--step N|P%]\n"
	"       rp-drain [options] --worker --id POD_ID [--host HOST] [--port PORT]\n"
	"       rp-drain [options] --preempted\n"
	"       rp-drain [options] --lost\n"
	"       rp-drain [options] < records\n";

enum {
	O_NODE = RP_OPT_TOOL, O_IDLE, O_TIMEOUT, O_FORCE, O_EMPTYDIR, O_NOEVICT, O_GRACE,
	O_PODSEL, O_UNDO, O_SKIPCK, O_CKCMD, O_STEP, O_WORKER, O_ID, O_HOST, O_PORT,
	O_PREEMPTED, O_LOST
};

struct target {
	char *node;      /* Kubernetes node; NULL for a worker-mode pod */
	char *pod_id;    /* RunPod pod; NULL when none was found */
	char *host;      /* worker mode: where its sshd listens */
	int port;
	int worker;
	int named;       /* named on the command line */
	int preempted;   /* a spot pod RunPod stopped: its machine is gone */
	int as_lost;     /* named as lost (decision "lost", --lost): drained only if still lost */
	int lost;        /* NotReady longer than scale.notready_grace (found by vet) */
	double not_ready_s;
};

struct ctx {
	struct rp_config *cfg;
	struct rp_kube *k;
	struct rp_runpod *rp;
	struct rp_drain_opts o;
	double timeout, term_budget, grace;
	int undo, skip_ck;
	const char *hook;
	struct target *t;
	size_t n;
	cJSON *rp_pods; /* RunPod pods, listed once when a node has no pod-id annotation */
};

static void add_target(struct ctx *x, const char *node, const char *id, int worker, int named)
{
	for (size_t i = 0; i < x->n; i++) {
		if (node && x->t[i].node && !strcmp(x->t[i].node, node)) {
			x->t[i].named |= named;
			return;
		}
		if (!node && worker && x->t[i].worker && id && x->t[i].pod_id && !strcmp(x->t[i].pod_id, id))
			return;
	}
	x->t = rp_xrealloc(x->t, (x->n + 1) * sizeof *x->t);
	struct target *t = &x->t[x->n++];
	memset(t, 0, sizeof *t);
	t->node = node ? rp_xstrdup(node) : NULL;
	t->pod_id = id ? rp_xstrdup(id) : NULL;
	t->worker = worker;
	t->named = named;
}

static int select_idle(struct ctx *x, double min_idle, long count)
{
	cJSON *names = NULL, *nm;
	char *err = NULL;
	int rc = rp_idle_select(x->k, rp_now(), min_idle, &names, &err);
	if (rc)
		rp_fatal(rc, "idle nodes: %s", err);
	long taken = 0;
	cJSON_ArrayForEach(nm, names)
	{
		if (count > 0 && taken >= count)
			break;
		if (cJSON_IsString(nm)) {
			add_target(x, nm->valuestring, NULL, 0, 0);
			taken++;
		}
	}
	cJSON_Delete(names);
	return 0;
}

/* A node named only because it is lost: vet drops it if it no longer is
 * (a node also named otherwise is drained whatever its state). */
static void add_lost(struct ctx *x, const char *node)
{
	size_t had = x->n;
	add_target(x, node, NULL, 0, 0);
	if (x->n > had)
		x->t[x->n - 1].as_lost = 1;
}

/* Burst nodes NotReady longer than scale.notready_grace (vet looks again). */
static void select_lost(struct ctx *x)
{
	cJSON *list = NULL;
	const cJSON *items, *n;
	char *err = NULL;
	double now = rp_now();
	int rc = rp_kube_list(x->k, "/api/v1/nodes?labelSelector=gpu-type%3Drunpod", &list, &items, &err);
	if (rc)
		rp_fatal(rc, "%s", err);
	cJSON_ArrayForEach(n, items)
	{
		const char *nn = rp_rec_str(cJSON_GetObjectItemCaseSensitive(n, "metadata"), "name");
		if (nn && rp_idle_lost(n, now, x->grace))
			add_lost(x, nn);
	}
	cJSON_Delete(list);
}

/* Has the ledger a line of this event for this pod? */
struct ledger_has {
	const char *id, *event;
	int found;
};

static int has_cb(const cJSON *rec, long line, void *arg)
{
	struct ledger_has *h = arg;
	const char *id = rp_rec_str(rec, "id"), *ev = rp_rec_str(rec, "event");
	(void)line;
	if (id && ev && !strcmp(id, h->id) && !strcmp(ev, h->event))
		h->found = 1;
	return h->found;
}

static int ledger_has(const char *id, const char *event)
{
	struct ledger_has h = { id, event, 0 };
	long torn;
	char *err = NULL;
	if (rp_ledger_read(NULL, has_cb, &h, &torn, &err) < 0) {
		rp_warn("ledger: %s", err);
		free(err);
	}
	return h.found;
}

/* Spot pods of this cluster that RunPod stopped (EXITED, interruptible or
 * "Outbid"), each with the burst node that carries it, if any. */
static void select_preempted(struct ctx *x)
{
	const char *cluster = rp_cfg_str(x->cfg, "cluster");
	char *prefix = rp_xasprintf("%s-", cluster ? cluster : "rp"), *err = NULL;
	cJSON *pods = NULL, *list = NULL;
	const cJSON *nodes = NULL, *p, *n;
	int rc = rp_runpod_list(x->rp, prefix, &pods, &err);
	free(prefix);
	if (rc)
		rp_fatal(rc, "RunPod: %s", err);
	cJSON_ArrayForEach(p, pods)
	{
		const char *st = rp_rec_str(p, "status"), *why = rp_rec_str(p, "lastStatusChange");
		const char *id = rp_rec_str(p, "id"), *name = rp_rec_str(p, "name");
		if (!id || !st || strcmp(st, "EXITED") || !rp_safe_name(id))
			continue;
		if (!rp_rec_bool(p, "interruptible", 0) && !(why && strstr(why, "Outbid")))
			continue;
		if (!list) {
			rc = rp_kube_list(x->k, "/api/v1/nodes?labelSelector=gpu-type%3Drunpod", &list, &nodes, &err);
			if (rc)
				rp_fatal(rc, "%s", err);
		}
		const char *node = NULL;
		cJSON_ArrayForEach(n, nodes)
		{
			const char *nn = rp_rec_str(cJSON_GetObjectItemCaseSensitive(n, "metadata"), "name");
			const char *pid = rp_drain_pod_id(n);
			if (nn && ((pid && !strcmp(pid, id)) || (!pid && name && !strcmp(nn, name))))
				node = nn;
		}
		rp_info("preempted", "pod", id, "node", node ? node : "-", "why", why ? why : "");
		size_t had = x->n;
		add_target(x, node, id, 0, 0);
		if (x->n > had)
			x->t[x->n - 1].preempted = 1;
	}
	cJSON_Delete(list);
	cJSON_Delete(pods);
}

/* Where a worker-mode pod listens, from the last ledger lines about it. */
struct ledger_find {
	const char *id;
	char *host;
	int port, worker;
};

static int ledger_cb(const cJSON *rec, long line, void *arg)
{
	struct ledger_find *f = arg;
	const char *id = rp_rec_str(rec, "id"), *h = rp_rec_str(rec, "ssh_host");
	const char *b = rp_rec_str(rec, "bootstrap");
	(void)line;
	if (!id || strcmp(id, f->id))
		return 0;
	if (h) {
		free(f->host);
		f->host = rp_xstrdup(h);
	}
	if (rp_rec_num(rec, "ssh_port", 0) > 0)
		f->port = (int)rp_rec_num(rec, "ssh_port", 0);
	if (b)
		f->worker = !strcmp(b, "worker");
	return 0;
}

static void worker_address(struct target *t)
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

static void take_record(struct ctx *x, const cJSON *rec, const char *raw)
{
	const char *type = rp_rec_type(rec);
	if (!strcmp(type, "decision")) {
		const char *a = rp_rec_str(rec, "action");
		const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(rec, "nodes"), *nm;
		int down = a && !strcmp(a, "down");
		if (down && !cJSON_IsArray(nodes))
			select_idle(x, rp_cfg_dur(x->cfg, "scale.idle"), (long)rp_rec_num(rec, "count", 0));
		if (!down || !cJSON_IsArray(nodes))
			nodes = NULL;
		cJSON_ArrayForEach(nm, nodes)
		{
			if (cJSON_IsString(nm))
				add_target(x, nm->valuestring, NULL, 0, 0);
		}
		/* lost nodes go whatever the action: they serve nothing */
		cJSON_ArrayForEach(nm, cJSON_GetObjectItemCaseSensitive(rec, "lost"))
		{
			if (cJSON_IsString(nm))
				add_lost(x, nm->valuestring);
		}
		if (!down)
			rp_out_raw(raw);
		return;
	}
	if (!strcmp(type, "node")) {
		const char *b = rp_rec_str(rec, "bootstrap"), *id = rp_rec_str(rec, "id");
		if (b && !strcmp(b, "worker")) {
			if (!id) {
				rp_warn("a worker node record without an id: skipped");
				return;
			}
			add_target(x, NULL, id, 1, 0);
			struct target *t = &x->t[x->n - 1];
			if (!t->host && rp_rec_str(rec, "ssh_host")) {
				t->host = rp_xstrdup(rp_rec_str(rec, "ssh_host"));
				t->port = (int)rp_rec_num(rec, "ssh_port", 0);
			}
			return;
		}
		const char *node = rp_rec_str(rec, "node");
		if (!node) {
			rp_warn("a node record without a node name: skipped");
			return;
		}
		add_target(x, node, NULL, 0, 0);
		return;
	}
	rp_out_raw(raw);
}

static const char *pod_by_name(struct ctx *x, const char *name)
{
	char *err = NULL;
	if (!x->rp_pods) {
		int rc = rp_runpod_list(x->rp, NULL, &x->rp_pods, &err);
		if (rc)
			rp_fatal(rc, "RunPod: %s", err);
	}
	const cJSON *p;
	cJSON_ArrayForEach(p, x->rp_pods)
	{
		const char *n = rp_rec_str(p, "name");
		if (n && !strcmp(n, name))
			return rp_rec_str(p, "id");
	}
	return NULL;
}

/* Keep only the targets we may drain; for named ones, refuse the whole
 * run (exit 2) before anything is touched. */
static void vet(struct ctx *x)
{
	size_t keep = 0;
	for (size_t i = 0; i < x->n; i++) {
		struct target *t = &x->t[i];
		int ok = 1;
		if (t->preempted) { /* found from its pod id: ours, and gone anyway */
			x->t[keep++] = *t;
			continue;
		}
		if (t->worker) {
			if (!t->pod_id || !rp_safe_name(t->pod_id))
				rp_fatal(RP_EXIT_USAGE, "worker: a pod id is needed (--id)");
			if (!t->host)
				worker_address(t);
			if (!t->host)
				rp_fatal(RP_EXIT_USAGE, "worker %s: no SSH address (give --host, or the ledger has none)",
					 t->pod_id);
			x->t[keep++] = *t;
			continue;
		}
		if (!rp_safe_name(t->node)) {
			if (t->named)
				rp_fatal(RP_EXIT_USAGE, "'%s' is not a node name", t->node);
			rp_warn("'%s' is not a node name: skipped", t->node);
			ok = 0;
		}
		cJSON *obj = NULL;
		if (ok) {
			char *path = rp_xasprintf("/api/v1/nodes/%s", t->node), *err = NULL;
			long st;
			if (rp_kube_call(x->k, "GET", path, NULL, NULL, &st, &obj, &err) < 0)
				rp_fatal(RP_EXIT_TEMP, "%s", err);
			free(path);
			if (st == 404) {
				if (t->named)
					rp_fatal(RP_EXIT_USAGE, "node %s: no such node", t->node);
				rp_warn("node %s: no such node: skipped", t->node);
				ok = 0;
			} else if (st != 200) {
				rp_fatal(st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL, "node %s: %s", t->node,
					 rp_kube_errmsg(st, obj));
			}
		}
		const char *why = ok ? rp_drain_refusal(obj) : NULL;
		if (ok) {
			double nr = rp_idle_notready_s(obj, rp_now(), NULL);
			t->lost = nr >= 0 && nr > x->grace; /* rp_idle_lost()'s rule */
			t->not_ready_s = nr;
		}
		if (why) {
			if (t->named)
				rp_fatal(RP_EXIT_USAGE, "node %s: %s", t->node, why);
			if (t->lost) /* the opt-out wins, but say what it costs */
				rp_warn("node %s: NotReady for %.0fs, but %s: skipped, still billing", t->node,
					t->not_ready_s, why);
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
			const char *id = rp_drain_pod_id(obj);
			if (!id)
				id = pod_by_name(x, t->node);
			if (id && !rp_safe_name(id))
				rp_fatal(RP_EXIT_FAIL, "node %s: odd pod id '%s'", t->node, id);
			if (!id)
				rp_logw("no RunPod pod for this node: nothing to terminate", "node", t->node);
			t->pod_id = id ? rp_xstrdup(id) : NULL;
			x->t[keep++] = *t;
		} else {
			free(t->node);
			free(t->pod_id);
		}
		cJSON_Delete(obj);
	}
	x->n = keep;
}

static long budget(struct ctx *x)
{
	const char *s = rp_cfg_str(x->cfg, "scale.step");
	char *end;
	double v = strtod(s ? s : "", &end);
	if (!s || end == s || v <= 0 || (*end && strcmp(end, "%")))
		rp_fatal(RP_EXIT_USAGE, "scale.step: want N or P%%, got '%s'", s ? s : "");
	if (!*end)
		return (long)v < 1 ? 1 : (long)v;
	cJSON *list = NULL;
	const cJSON *items;
	char *err = NULL;
	long total = 0;
	if (x->k && !rp_kube_list(x->k, "/api/v1/nodes?labelSelector=gpu-type%3Drunpod", &list, &items, &err))
		total = cJSON_GetArraySize(items);
	else if (err)
		rp_warn("counting burst nodes: %s", err);
	free(err);
	cJSON_Delete(list);
	long k = (long)ceil((double)total * v / 100.0);
	return k < 1 ? 1 : k;
}

static void ledger(const char *event, const struct target *t, cJSON *extra)
{
	cJSON *e = rp_ledger_event(event);
	char *err = NULL;
	if (t->pod_id)
		cJSON_AddStringToObject(e, "id", t->pod_id);
	else
		cJSON_AddNullToObject(e, "id");
	if (t->node)
		cJSON_AddStringToObject(e, "node", t->node);
	if (extra) {
		cJSON *it;
		while ((it = extra->child)) {
			cJSON_DetachItemViaPointer(extra, it);
			cJSON_AddItemToObject(e, it->string, it);
		}
		cJSON_Delete(extra);
	}
	if (rp_ledger_append(e, &err) < 0) {
		rp_warn("%s", err);
		free(err);
	}
	cJSON_Delete(e);
}

/* Terminate, stop the tunnel; 0 when the pod is confirmed not billing. */
static int stop_paying(struct ctx *x, const struct target *t)
{
	char *err = NULL;
	if (!t->pod_id)
		return 0;
	int rc = rp_drain_terminate(x->rp, t->pod_id, x->term_budget, &err);
	if (rc) {
		cJSON *ex = cJSON_CreateObject();
		cJSON_AddStringToObject(ex, "error", err);
		ledger("terminate_failed", t, ex);
		rp_warn("%s: %s; %s kept", t->node ? t->node : t->pod_id, err,
			t->node ? "the node is" : "nothing else");
		free(err);
		return rc;
	}
	ledger("terminated", t, NULL);
	rp_info("terminated", "pod", t->pod_id);
	int r = rp_drain_tunnel_stop(t->pod_id, &err);
	if (r < 0) {
		rp_warn("tunnel of %s: %s", t->pod_id, err);
		free(err);
	} else if (!r) {
		rp_info("tunnel stopped", "pod", t->pod_id);
	}
	return 0;
}

static cJSON *result(const struct target *t, size_t evicted, int ck, int term, double t0)
{
	cJSON *r = rp_rec_new("drained");
	if (t->pod_id)
		cJSON_AddStringToObject(r, "id", t->pod_id);
	else
		cJSON_AddNullToObject(r, "id");
	if (t->node)
		cJSON_AddStringToObject(r, "node", t->node);
	else
		cJSON_AddNullToObject(r, "node");
	cJSON_AddNumberToObject(r, "evicted", (double)evicted);
	cJSON_AddBoolToObject(r, "checkpointed", ck);
	cJSON_AddBoolToObject(r, "terminated", term);
	cJSON_AddNumberToObject(r, "seconds", round((rp_mono() - t0) * 10) / 10);
	if (t->preempted)
		cJSON_AddTrueToObject(r, "preempted");
	if (t->lost)
		cJSON_AddStringToObject(r, "reason", "notready");
	return r;
}

/* The ledger's "drained" line: ex (taken) plus what was evicted and
 * checkpointed, and the jobs (freed). */
static void drained_line(const struct target *t, cJSON *ex, size_t evicted, int ck, char *jobs)
{
	cJSON_AddNumberToObject(ex, "evicted", (double)evicted);
	cJSON_AddBoolToObject(ex, "checkpointed", ck);
	cJSON_AddStringToObject(ex, "jobs", jobs);
	free(jobs);
	ledger("drained", t, ex);
}

/* Its pod no longer bills: delete the Node, make the record. */
static int node_gone(struct ctx *x, const struct target *t, size_t evicted, int ck, double t0, cJSON **rec)
{
	char *err = NULL;
	int rc = rp_drain_delete_node(x->k, t->node, &err);
	if (rc) {
		rp_warn("node %s: pod terminated but %s", t->node, err);
		free(err);
		rc = RP_EXIT_PARTIAL;
	} else {
		rp_info("node deleted", "node", t->node);
	}
	*rec = result(t, evicted, ck, t->pod_id != NULL, t0);
	return rc;
}

static int drain_worker(struct ctx *x, struct target *t, cJSON **rec)
{
	double t0 = rp_mono(), deadline = t0 + x->timeout;
	struct rp_ssh_opts so = {
		.host = t->host,
		.port = t->port ? t->port : (int)rp_cfg_int(x->cfg, "ssh.port"),
		.user = rp_cfg_str(x->cfg, "ssh.user"),
		.identity_file = rp_cfg_str(x->cfg, "ssh.identity_file"),
		.known_hosts = rp_cfg_str(x->cfg, "ssh.known_hosts"),
		.connect_timeout = rp_cfg_dur(x->cfg, "ssh.connect_timeout"),
	};
	int code, ck = 0;
	char *err = NULL;
	struct rp_ssh_res r;
	struct rp_ssh *s = rp_ssh_connect(&so, &code, &err);
	if (!s) {
		rp_warn("worker %s: %s", t->pod_id, err);
		free(err);
		return code == RP_SSH_EHOSTKEY || code == RP_SSH_EAUTH ? RP_EXIT_FAIL : RP_EXIT_TEMP;
	}
	const char *marker = rp_cfg_str(x->cfg, "drain.worker_marker");
	char *qm = rp_ssh_quote(marker ? marker : "");
	char *rm = rp_xasprintf("rm -f %s", qm), *test = rp_xasprintf("test -e %s", qm);
	int rc = 0;
	if (!x->skip_ck && marker && rp_ssh_exec(s, rm, NULL, 0, 30, &r, &code, &err) == 0)
		rp_ssh_res_free(&r);
	const char *stop = rp_cfg_str(x->cfg, "drain.worker_stop_command");
	if (rp_ssh_exec(s, stop, NULL, 0, 30, &r, &code, &err) < 0) {
		rp_warn("worker %s: stop: %s", t->pod_id, err);
		rc = RP_EXIT_TEMP;
	} else {
		if (r.status)
			rp_logw("worker stop command failed", "pod", t->pod_id, "status",
				r.status < 0 ? "signal" : "nonzero", "stderr", rp_ssh_firstline(r.err));
		rp_info("worker told to stop", "pod", t->pod_id);
	}
	rp_ssh_res_free(&r);
	while (!rc && !x->skip_ck && marker) {
		if (rp_ssh_exec(s, test, NULL, 0, 30, &r, &code, &err) == 0 && r.status == 0) {
			rp_ssh_res_free(&r);
			ck = 1;
			break;
		}
		rp_ssh_res_free(&r);
		free(err);
		err = NULL;
		if (rp_mono() + 1 > deadline) {
			rp_warn("worker %s: no checkpoint marker %s within %.0fs: pod not terminated", t->pod_id,
				marker, x->timeout);
			rc = RP_EXIT_PARTIAL;
			break;
		}
		rp_sleep(1);
	}
	rp_ssh_close(s);
	free(qm);
	free(rm);
	free(test);
	free(err);
	if (rc)
		return rc;
	cJSON *ex = cJSON_CreateObject();
	cJSON_AddStringToObject(ex, "bootstrap", "worker");
	cJSON_AddBoolToObject(ex, "checkpointed", ck);
	ledger("drained", t, ex);
	rc = stop_paying(x, t);
	if (rc)
		return rc;
	*rec = result(t, 0, ck, t->pod_id != NULL, t0);
	return 0;
}

static int drain_node(struct ctx *x, struct target *t, cJSON **rec)
{
	double t0 = rp_mono(), deadline = t0 + x->timeout;
	char *err = NULL;
	struct rp_drain_plan p;
	size_t evicted = 0;
	const cJSON *w;
	int rc, ck = 0;
	*rec = NULL;
	rc = rp_drain_cordon(x->k, t->node, 0, &err);
	if (rc) {
		rp_warn("node %s: %s", t->node, err);
		free(err);
		return rc;
	}
	rp_info("cordoned", "node", t->node, "taint", RP_DRAIN_TAINT ":NoSchedule");
	struct rp_drain_opts o = x->o;
	if (t->preempted) /* the machine is gone: what ran there goes anyway */
		o.force = o.delete_emptydir = 1;
	rc = rp_drain_plan(x->k, t->node, &o, &p, &err);
	if (!rc && cJSON_GetArraySize(p.errors)) {
		cJSON_ArrayForEach(w, p.errors)
		{
			rp_warn("node %s: cannot evict %s", t->node, w->valuestring);
		}
		err = rp_xasprintf("%d pod(s) block the drain; nothing evicted", cJSON_GetArraySize(p.errors));
		rc = RP_EXIT_FAIL;
	}
	if (rc) {
		char *e2 = NULL;
		rp_warn("node %s: %s", t->node, err);
		if (rp_drain_cordon(x->k, t->node, 1, &e2)) {
			rp_warn("node %s: left cordoned: %s", t->node, e2);
			free(e2);
		}
		free(err);
		rp_drain_plan_free(&p);
		return rc;
	}
	cJSON_ArrayForEach(w, p.warnings)
	{
		rp_logw("drain", "node", t->node, "pod", w->valuestring);
	}
	char n[32], sk[32];
	snprintf(n, sizeof n, "%zu", p.n);
	snprintf(sk, sizeof sk, "%zu", p.skipped);
	rp_info("evicting", "node", t->node, "pods", n, "skipped", sk);
	rc = rp_drain_evict(x->k, &p, &o, deadline, &evicted, &err);
	if (rc && t->preempted) {
		/* its kubelet is gone with the machine: deleting the Node lets
		 * the pod garbage collector finish what eviction began */
		rp_warn("node %s (preempted): %s; going on", t->node, err);
		free(err);
		err = NULL;
		rc = 0;
	}
	if (rc) {
		char *e2 = NULL;
		const char *state = "left cordoned";
		if (rc == RP_EXIT_PARTIAL && x->undo) {
			state = rp_drain_cordon(x->k, t->node, 1, &e2) ? "left cordoned (uncordon failed)"
								      : "uncordoned";
			free(e2);
		}
		rp_warn("node %s: %s; %s, pod not terminated", t->node, err, state);
		free(err);
		rp_drain_plan_free(&p);
		return rc;
	}
	char *jobs = rp_drain_jobs(&p);
	rp_drain_plan_free(&p);
	if (x->hook && *x->hook && !x->skip_ck && !t->preempted) {
		double left = deadline - rp_mono();
		rc = rp_drain_hook(x->hook, t->node, t->pod_id, jobs, left > 10 ? left : 10, &err);
		if (rc) {
			rp_warn("node %s: %s: pod not terminated (--skip-checkpoint to go on without it)", t->node,
				err);
			free(err);
			free(jobs);
			return rc;
		}
		ck = 1;
		rp_info("checkpoint hook done", "node", t->node, "jobs", jobs);
	}
	drained_line(t, cJSON_CreateObject(), evicted, ck, jobs);
	rc = stop_paying(x, t);
	if (rc)
		return rc;
	return node_gone(x, t, evicted, ck, t0, rec);
}

/* A lost node: NotReady longer than scale.notready_grace.  Its kubelet
 * cannot confirm an eviction, so none is waited for.  Cordon; run the
 * checkpoint hook for its jobs (a failure is logged, not a reason to keep
 * paying: the jobs resume from their last checkpoint); fence: terminate
 * the RunPod pod, confirmed, so the machine can no longer run them; only
 * then delete its pods with grace 0 (kubectl delete --force
 * --grace-period=0, as after a non-graceful node shutdown) so their
 * controllers recreate them elsewhere; delete the Node.  If the pod cannot
 * be confirmed terminated, its pods are left alone and the node stays
 * cordoned for the next tick. */
static int drain_lost(struct ctx *x, struct target *t, cJSON **rec)
{
	double t0 = rp_mono(), deadline = t0 + x->timeout;
	char *err = NULL, *jobs;
	struct rp_drain_plan p;
	struct rp_drain_opts o = x->o;
	size_t evicted = 0;
	const cJSON *w;
	char nr[32];
	int rc, ck = 0;
	snprintf(nr, sizeof nr, "%.0f", t->not_ready_s);
	rp_info("lost: NotReady too long, removing by force", "node", t->node, "not_ready_s", nr);
	rc = rp_drain_cordon(x->k, t->node, 0, &err);
	if (rc) {
		rp_warn("node %s: %s", t->node, err);
		free(err);
		return rc;
	}
	o.force = o.delete_emptydir = o.disable_eviction = 1;
	o.grace_period = 0;
	o.pod_selector = NULL;
	rc = rp_drain_plan(x->k, t->node, &o, &p, &err);
	if (rc) {
		rp_warn("node %s: %s; left cordoned", t->node, err);
		free(err);
		rp_drain_plan_free(&p);
		return rc;
	}
	cJSON_ArrayForEach(w, p.errors)
	{
		rp_logw("lost node: left to the pod garbage collector", "node", t->node, "pod", w->valuestring);
	}
	jobs = rp_drain_jobs(&p);
	if (x->hook && *x->hook && !x->skip_ck) {
		double left = deadline - rp_mono();
		rc = rp_drain_hook(x->hook, t->node, t->pod_id, jobs, left > 10 ? left : 10, &err);
		if (rc) {
			rp_logw("checkpoint hook failed on a lost node: going on", "node", t->node, "error", err);
			free(err);
		} else {
			ck = 1;
			rp_info("checkpoint hook done", "node", t->node, "jobs", jobs);
		}
	}
	rc = stop_paying(x, t);
	if (rc) {
		free(jobs);
		rp_drain_plan_free(&p);
		return rc;
	}
	rc = rp_drain_evict(x->k, &p, &o, deadline, &evicted, &err);
	if (rc) {
		/* deleting the Node lets the pod garbage collector finish */
		rp_warn("node %s (lost): %s; going on", t->node, err);
		free(err);
	}
	rp_drain_plan_free(&p);
	cJSON *ex = cJSON_CreateObject();
	cJSON_AddStringToObject(ex, "reason", "notready");
	cJSON_AddNumberToObject(ex, "not_ready_s", round(t->not_ready_s));
	drained_line(t, ex, evicted, ck, jobs);
	return node_gone(x, t, evicted, ck, t0, rec);
}

/* A preempted pod with no node (worker mode, or it never joined). */
static int drain_gone(struct ctx *x, struct target *t, cJSON **rec)
{
	double t0 = rp_mono();
	int rc = stop_paying(x, t);
	if (!rc)
		*rec = result(t, 0, 0, 1, t0);
	return rc;
}

static int drain_one(struct ctx *x, struct target *t, cJSON **rec)
{
	*rec = NULL;
	if (t->preempted) {
		if (!ledger_has(t->pod_id, "preempted"))
			ledger("preempted", t, NULL);
		if (!t->node)
			return drain_gone(x, t, rec);
	}
	if (t->worker)
		return drain_worker(x, t, rec);
	return t->lost ? drain_lost(x, t, rec) : drain_node(x, t, rec);
}

struct run {
	pid_t pid;
	int fd;
};

/* Run the targets, at most k at once (one child process each). */
static int run_all(struct ctx *x, long k, int *codes)
{
	if (k <= 1 || x->n <= 1) {
		for (size_t i = 0; i < x->n; i++) {
			cJSON *rec = NULL;
			codes[i] = drain_one(x, &x->t[i], &rec);
			if (rec) {
				rp_out_rec(rec);
				cJSON_Delete(rec);
			}
		}
		return 0;
	}
	struct run *runs = rp_xcalloc(x->n, sizeof *runs);
	size_t next = 0, running = 0;
	while (next < x->n || running) {
		while (next < x->n && (long)running < k) {
			int pfd[2];
			if (pipe(pfd) < 0)
				rp_fatal(RP_EXIT_FAIL, "pipe: %s", strerror(errno));
			fflush(NULL);
			pid_t pid = fork();
			if (pid < 0)
				rp_fatal(RP_EXIT_FAIL, "fork: %s", strerror(errno));
			if (!pid) {
				close(pfd[0]);
				cJSON *rec = NULL;
				int c = drain_one(x, &x->t[next], &rec);
				if (rec) {
					char *s = cJSON_PrintUnformatted(rec);
					size_t len = strlen(s), off = 0;
					while (off < len) {
						ssize_t w = write(pfd[1], s + off, len - off);
						if (w < 0 && errno == EINTR)
							continue;
						if (w <= 0)
							break;
						off += (size_t)w;
					}
				}
				_exit(c);
			}
			close(pfd[1]);
			runs[next].pid = pid;
			runs[next].fd = pfd[0];
			next++;
			running++;
		}
		int st;
		pid_t pid = wait(&st);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			rp_fatal(RP_EXIT_FAIL, "wait: %s", strerror(errno));
		}
		for (size_t i = 0; i < next; i++) {
			if (runs[i].pid != pid)
				continue;
			struct rp_buf b = { 0 };
			char buf[4096];
			ssize_t r;
			while ((r = read(runs[i].fd, buf, sizeof buf)) != 0) {
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					break;
				rp_buf_add(&b, buf, (size_t)r);
			}
			close(runs[i].fd);
			codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : RP_EXIT_FAIL;
			cJSON *rec = b.data ? cJSON_Parse(b.data) : NULL;
			if (rec)
				rp_out_rec(rec);
			cJSON_Delete(rec);
			rp_buf_free(&b);
			running--;
		}
	}
	free(runs);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "node", required_argument, NULL, O_NODE },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "force", no_argument, NULL, O_FORCE },
		{ "delete-emptydir-data", no_argument, NULL, O_EMPTYDIR },
		{ "disable-eviction", no_argument, NULL, O_NOEVICT },
		{ "grace-period", required_argument, NULL, O_GRACE },
		{ "pod-selector", required_argument, NULL, O_PODSEL },
		{ "undo-on-timeout", no_argument, NULL, O_UNDO },
		{ "skip-checkpoint", no_argument, NULL, O_SKIPCK },
		{ "checkpoint-command", required_argument, NULL, O_CKCMD },
		{ "step", required_argument, NULL, O_STEP },
		{ "worker", no_argument, NULL, O_WORKER },
		{ "id", required_argument, NULL, O_ID },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "preempted", no_argument, NULL, O_PREEMPTED },
		{ "lost", no_argument, NULL, O_LOST },
		{ 0, 0, 0, 0 }
	};
	struct rp_cli cli;
	struct ctx x = { 0 };
	const char **nodes = NULL;
	size_t nnodes = 0;
	const char *idle = NULL, *wid = NULL, *whost = NULL;
	int worker = 0, wport = 0, preempted = 0, lost = 0, c;
	char *end, *err = NULL;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	x.o.grace_period = -1;
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_NODE:
			nodes = rp_xrealloc(nodes, (nnodes + 1) * sizeof *nodes);
			nodes[nnodes++] = optarg;
			break;
		case O_IDLE:
			idle = optarg;
			rp_cli_key(&cli, "scale.idle", optarg, 0);
			break;
		case O_TIMEOUT:
			rp_cli_key(&cli, "drain.timeout", optarg, 0);
			break;
		case O_FORCE:
			rp_cli_key(&cli, "drain.force", "true", 0);
			break;
		case O_EMPTYDIR:
			rp_cli_key(&cli, "drain.delete_emptydir_data", "true", 0);
			break;
		case O_NOEVICT:
			x.o.disable_eviction = 1;
			break;
		case O_GRACE:
			x.o.grace_period = strtol(optarg, &end, 10);
			if (end == optarg || *end)
				rp_cli_usage(&cli, "--grace-period wants whole seconds, got '%s'", optarg);
			break;
		case O_PODSEL:
			x.o.pod_selector = optarg;
			break;
		case O_UNDO:
			x.undo = 1;
			break;
		case O_SKIPCK:
			x.skip_ck = 1;
			break;
		case O_CKCMD:
			rp_cli_key(&cli, "drain.checkpoint_command", optarg, 0);
			break;
		case O_STEP:
			rp_cli_key(&cli, "scale.step", optarg, 0);
			break;
		case O_WORKER:
			worker = 1;
			break;
		case O_ID:
			wid = optarg;
			break;
		case O_HOST:
			whost = optarg;
			break;
		case O_PREEMPTED:
			preempted = 1;
			break;
		case O_LOST:
			lost = 1;
			break;
		case O_PORT:
			wport = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end || wport < 1 || wport > 65535)
				rp_cli_usage(&cli, "--port wants 1..65535, got '%s'", optarg);
			break;
		default:
			rp_cli_usage(&cli, "unknown option");
		}
	}
	if (optind < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind]);
	if (!worker && (wid || whost || wport))
		rp_cli_usage(&cli, "--id, --host and --port go with --worker");
	if (worker && !wid)
		rp_cli_usage(&cli, "--worker needs --id POD_ID");
	x.cfg = rp_cli_config(&cli);
	x.timeout = rp_cfg_dur(x.cfg, "drain.timeout");
	x.term_budget = rp_cfg_dur(x.cfg, "drain.terminate_timeout");
	x.grace = rp_cfg_dur(x.cfg, "scale.notready_grace");
	x.hook = rp_cfg_str(x.cfg, "drain.checkpoint_command");
	x.o.force = rp_cfg_bool(x.cfg, "drain.force");
	x.o.delete_emptydir = rp_cfg_bool(x.cfg, "drain.delete_emptydir_data");
	if (preempted && (nnodes || idle || worker || lost))
		rp_cli_usage(&cli, "--preempted goes alone");
	if (lost && (nnodes || idle || worker))
		rp_cli_usage(&cli, "--lost goes alone");
	int from_stdin = !nnodes && !idle && !worker && !preempted && !lost;
	if (from_stdin && isatty(0))
		rp_cli_usage(&cli, "nothing to drain: give --node, --idle, --worker, --lost or records on stdin");

	x.rp = rp_runpod_open(x.cfg, &err);
	if (!x.rp)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	if (!worker || nnodes || idle || from_stdin) {
		x.k = rp_kube_open(rp_cfg_str(x.cfg, "kube.kubeconfig"), &err);
		if (!x.k)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
	}
	for (size_t i = 0; i < nnodes; i++)
		add_target(&x, nodes[i], NULL, 0, 1);
	if (worker) {
		add_target(&x, NULL, wid, 1, 1);
		if (whost)
			x.t[x.n - 1].host = rp_xstrdup(whost);
		x.t[x.n - 1].port = wport;
	}
	if (idle)
		select_idle(&x, rp_cfg_dur(x.cfg, "scale.idle"), 0);
	if (preempted)
		select_preempted(&x);
	if (lost)
		select_lost(&x);
	if (from_stdin) {
		struct rp_rec_reader *r = rp_rec_reader_new(stdin, "<stdin>", 1);
		cJSON *rec;
		const char *raw;
		int got;
		while ((got = rp_rec_read(r, &rec, &raw)) > 0) {
			if (x.k)
				take_record(&x, rec, raw);
			cJSON_Delete(rec);
		}
		rp_rec_reader_free(r);
		if (got < 0) {
			rp_out_flush();
			return rp_finish(RP_EXIT_USAGE);
		}
	}
	vet(&x);
	long k = budget(&x);
	int *codes = rp_xcalloc(x.n ? x.n : 1, sizeof *codes);
	char kk[32], nn[32];
	snprintf(kk, sizeof kk, "%ld", k);
	snprintf(nn, sizeof nn, "%zu", x.n);
	if (x.n)
		rp_info("draining", "targets", nn, "at_once", kk);
	run_all(&x, k, codes);
	size_t okc = 0, partial = 0, temp = 0;
	for (size_t i = 0; i < x.n; i++) {
		okc += !codes[i];
		partial += codes[i] == RP_EXIT_PARTIAL;
		temp += codes[i] == RP_EXIT_TEMP;
	}
	int code = RP_EXIT_OK;
	if (okc < x.n) {
		if (okc || partial)
			code = RP_EXIT_PARTIAL;
		else if (temp == x.n)
			code = RP_EXIT_TEMP;
		else
			code = RP_EXIT_FAIL;
	}
	for (size_t i = 0; i < x.n; i++) {
		free(x.t[i].node);
		free(x.t[i].pod_id);
		free(x.t[i].host);
	}
	free(x.t);
	free(codes);
	free(nodes);
	cJSON_Delete(x.rp_pods);
	rp_kube_free(x.k);
	rp_runpod_free(x.rp);
	rp_config_free(x.cfg);
	rp_cli_free(&cli);
	rp_out_flush();
	return rp_finish(code);
}
