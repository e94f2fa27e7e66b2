/* drainseq.c — the drain sequences (see drainseq.h). */
#include "drainseq.h"
#include "egress.h"
#include "lease.h"
#include "launch.h"
#include "ledger.h"
#include "log.h"
#include "pool.h"
#include "record.h"
#include "rp.h"
#include "ssh.h"
#include "tunnel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rp_drain_run_config(struct rp_drain_run *r, const struct rp_config *cfg, struct rp_kube *k,
			 struct rp_runpod *rp)
{
	r->cfg = cfg;
	r->k = k;
	r->rp = rp;
	r->timeout = rp_cfg_dur(cfg, "drain.timeout");
	r->term_budget = rp_cfg_dur(cfg, "drain.terminate_timeout");
	r->hook = rp_cfg_str(cfg, "drain.checkpoint_command");
	r->o.force = rp_cfg_bool(cfg, "drain.force");
	r->o.delete_emptydir = rp_cfg_bool(cfg, "drain.delete_emptydir_data");
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

/* One ledger line about the target: event, id, node, and extra (taken). */
static void ledger(const char *event, const struct rp_drain_target *t, cJSON *extra)
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

/* The pod's last egress reading (egress.h), its workload stopped: the
 * bytes sent since the last tick's reading.  Never for a pod whose machine
 * is gone (preempted, lost); a reading not taken is a warning, never a
 * reason to keep paying. */
static void final_egress(struct rp_drain_run *x, const struct rp_drain_target *t)
{
	double total;
	char *err = NULL;
	if (t->preempted || t->lost)
		return;
	if (rp_egress_sample_pod(x->cfg, t->pod_id, t->host, t->port, &total, &err)) {
		rp_logw("final egress reading not taken: going on", "pod", t->pod_id, "error", err);
		free(err);
	} else if (total >= 0) {
		char b[32];
		snprintf(b, sizeof b, "%.0f", total);
		rp_info("final egress reading", "pod", t->pod_id, "bytes", b);
	}
}

/* Terminate, stop the tunnel; 0 when the pod is confirmed not billing. */
static int stop_paying(struct rp_drain_run *x, const struct rp_drain_target *t)
{
	char *err = NULL;
	if (!t->pod_id)
		return 0;
	final_egress(x, t);
	if (rp_lease_fence("terminate") < 0) /* the lease lapsed: the pod is left to the holder */
		return RP_EXIT_TEMP;
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
	rp_launch_pod_gone(x->cfg, t->pod_id);
	int r = rp_tunnel_stop(t->pod_id, &err);
	if (r < 0) {
		rp_warn("tunnel of %s: %s", t->pod_id, err);
		free(err);
	} else if (!r) {
		rp_info("tunnel stopped", "pod", t->pod_id);
	}
	return 0;
}

static cJSON *result(const struct rp_drain_target *t, size_t evicted, int ck, int term, double t0)
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
	if (t->lost || t->notready)
		cJSON_AddStringToObject(r, "reason", "notready");
	return r;
}

/* The ledger's "drained" line: ex (taken) plus what was evicted and
 * checkpointed, and the jobs (freed). */
static void drained_line(const struct rp_drain_target *t, cJSON *ex, size_t evicted, int ck, char *jobs)
{
	cJSON_AddNumberToObject(ex, "evicted", (double)evicted);
	cJSON_AddBoolToObject(ex, "checkpointed", ck);
	cJSON_AddStringToObject(ex, "jobs", jobs);
	free(jobs);
	ledger("drained", t, ex);
}

/* Its pod no longer bills: delete the Node, make the record. */
static int node_gone(struct rp_drain_run *x, const struct rp_drain_target *t, size_t evicted, int ck, double t0,
		     cJSON **rec)
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

int rp_drain_worker_stop(const struct rp_config *cfg, const char *host, int port, const char *pod_id,
			 double deadline, int wait, const char *then, int *ck)
{
	struct rp_ssh_opts so = rp_ssh_opts_cfg(cfg, host, port, pod_id);
	int code;
	char *err = NULL;
	struct rp_ssh_res r;
	double t0 = rp_mono();
	*ck = 0;
	struct rp_ssh *s = rp_ssh_connect(&so, &code, &err);
	if (!s) {
		rp_warn("worker %s: %s", pod_id, err);
		free(err);
		return code == RP_SSH_EHOSTKEY || code == RP_SSH_EAUTH ? RP_EXIT_FAIL : RP_EXIT_TEMP;
	}
	const char *marker = rp_cfg_str(cfg, "drain.worker_marker");
	char *qm = rp_ssh_quote(marker ? marker : "");
	char *rm = rp_xasprintf("rm -f %s", qm), *test = rp_xasprintf("test -e %s", qm);
	int rc = 0;
	if (wait != RP_DRAIN_WAIT_NEVER && marker && rp_ssh_exec(s, rm, NULL, 0, 30, &r, &code, &err) == 0)
		rp_ssh_res_free(&r);
	const char *stop = rp_cfg_str(cfg, "drain.worker_stop_command");
	if (rp_ssh_exec(s, stop, NULL, 0, 30, &r, &code, &err) < 0) {
		rp_warn("worker %s: stop: %s", pod_id, err);
		rc = RP_EXIT_TEMP;
	} else {
		if (r.status)
			rp_logw("worker stop command failed", "pod", pod_id, "status",
				r.status < 0 ? "signal" : "nonzero", "stderr", rp_ssh_firstline(r.err));
		rp_info("worker told to stop", "pod", pod_id);
		if (r.status && wait == RP_DRAIN_WAIT_IF_STOPPED)
			wait = RP_DRAIN_WAIT_NEVER; /* nothing was there to stop: no marker will come */
	}
	rp_ssh_res_free(&r);
	while (!rc && wait != RP_DRAIN_WAIT_NEVER && marker) {
		if (rp_ssh_exec(s, test, NULL, 0, 30, &r, &code, &err) == 0 && r.status == 0) {
			rp_ssh_res_free(&r);
			*ck = 1;
			break;
		}
		rp_ssh_res_free(&r);
		free(err);
		err = NULL;
		if (rp_mono() + 1 > deadline) {
			rp_warn("worker %s: no checkpoint marker %s within %.0fs: %s", pod_id, marker, deadline - t0,
				then);
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
	return rc;
}

static int drain_worker(struct rp_drain_run *x, struct rp_drain_target *t, cJSON **rec)
{
	double t0 = rp_mono();
	int ck = 0;
	int rc = rp_drain_worker_stop(x->cfg, t->host, t->port, t->pod_id, t0 + x->timeout,
				      x->skip_ck ? RP_DRAIN_WAIT_NEVER : RP_DRAIN_WAIT_ALWAYS, "pod not terminated", &ck);
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

static int drain_node(struct rp_drain_run *x, struct rp_drain_target *t, cJSON **rec)
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
	if (x->hook && *x->hook && !x->skip_ck) {
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

/* A node no kubelet answers for: lost (NotReady longer than
 * scale.notready_grace), NotReady when vetted, or its spot pod preempted
 * (the machine is gone).  Its kubelet cannot confirm an eviction (a
 * gracefully deleted pod stays Terminating), so none is waited for.
 * Cordon; run the
 * checkpoint hook for its jobs (a failure is logged, not a reason to keep
 * paying: the jobs resume from their last checkpoint); fence: terminate
 * the RunPod pod, confirmed, so the machine can no longer run them; only
 * then delete its pods with grace 0 (kubectl delete --force
 * --grace-period=0, as after a non-graceful node shutdown) so their
 * controllers recreate them elsewhere; delete the Node.  If the pod cannot
 * be confirmed terminated, its pods are left alone and the node stays
 * cordoned for the next tick. */
static int drain_lost(struct rp_drain_run *x, struct rp_drain_target *t, cJSON **rec)
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
	if (t->preempted)
		rp_info("preempted: its machine is gone, removing by force", "node", t->node, "pod", t->pod_id);
	else
		rp_info(t->lost ? "lost: NotReady too long, removing by force"
				: "NotReady: no kubelet confirms an eviction, removing by force",
			"node", t->node, "not_ready_s", nr);
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
	if (x->hook && *x->hook && !x->skip_ck && !t->preempted) {
		double left = deadline - rp_mono();
		rc = rp_drain_hook(x->hook, t->node, t->pod_id, jobs, left > 10 ? left : 10, &err);
		if (rc) {
			rp_logw("checkpoint hook failed on a node no kubelet answers for: going on", "node", t->node,
				"error", err);
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
		rp_warn("node %s (%s): %s; going on", t->node, t->preempted ? "preempted" : "lost", err);
		free(err);
	}
	rp_drain_plan_free(&p);
	cJSON *ex = cJSON_CreateObject();
	if (t->preempted) {
		cJSON_AddStringToObject(ex, "reason", "preempted");
	} else {
		cJSON_AddStringToObject(ex, "reason", "notready");
		cJSON_AddNumberToObject(ex, "not_ready_s", round(t->not_ready_s));
	}
	drained_line(t, ex, evicted, ck, jobs);
	return node_gone(x, t, evicted, ck, t0, rec);
}

/* A preempted pod with no node (worker mode, or it never joined). */
static int drain_gone(struct rp_drain_run *x, struct rp_drain_target *t, cJSON **rec)
{
	double t0 = rp_mono();
	int rc = stop_paying(x, t);
	if (!rc)
		*rec = result(t, 0, 0, 1, t0);
	return rc;
}

int rp_drain_one(struct rp_drain_run *x, struct rp_drain_target *t, cJSON **rec)
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
	/* no kubelet to confirm an eviction: the fenced path, not a wait */
	return t->lost || t->notready || t->preempted ? drain_lost(x, t, rec) : drain_node(x, t, rec);
}


struct all {
	struct rp_drain_run *r;
	struct rp_drain_set *s;
	cJSON **recs; /* each target's record, from its job to its done call */
};

static int one_job(void *arg, size_t i)
{
	struct all *a = arg;
	return rp_drain_one(a->r, &a->s->t[i], &a->recs[i]);
}

/* A target finished: its record goes out now (the pool keeps these calls
 * one at a time, in finishing order). */
static void one_done(void *arg, size_t i, int code)
{
	struct all *a = arg;
	(void)code;
	if (a->recs[i])
		rp_out_rec(a->recs[i]);
	cJSON_Delete(a->recs[i]);
	a->recs[i] = NULL;
}

int rp_drain_all(struct rp_drain_run *r, struct rp_drain_set *s, long at_once)
{
	struct all a = { r, s, rp_xcalloc(s->n ? s->n : 1, sizeof *a.recs) };
	int *codes = rp_xcalloc(s->n ? s->n : 1, sizeof *codes);
	char kk[32], nn[32];
	snprintf(kk, sizeof kk, "%ld", at_once);
	snprintf(nn, sizeof nn, "%zu", s->n);
	if (s->n)
		rp_info("draining", "targets", nn, "at_once", kk);
	rp_http_global_init(); /* once, before any thread */
	struct rp_pool_opt po = { .rule = RP_POOL_ALL, .done = one_done };
	rp_pool_run(s->n, at_once > INT_MAX ? INT_MAX : (int)at_once, one_job, &a, codes, &po);
	free(a.recs);
	struct rp_exit e = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	for (size_t i = 0; i < s->n; i++)
		rp_exit_add(&e, codes[i]);
	for (size_t i = 0; i < s->refused; i++) /* not ours: left alone, the run is partly done */
		rp_exit_add(&e, RP_EXIT_PARTIAL);
	free(codes);
	return rp_exit_code(&e);
}
