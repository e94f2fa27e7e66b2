/* reap.c — rp-launch --reap: find our orphans and terminate them (see
 * reap.h; the verdict itself is rp_reap_verdict in launch.c). */
#include "reap.h"
#include "adopt.h"
#include "fleet.h"
#include "fleetlog.h"
#include "kube.h"
#include "launch.h"
#include "state.h"
#include "lease.h"
#include "ledger.h"
#include "log.h"
#include "podlock.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One orphan gone (or, dry, that would go): ledger it, say it. */
static void reaped(const struct rp_config *cfg, const cJSON *pod, const char *id, const char *name,
		   const char *why, int dry)
{
	rp_info(dry ? "would reap" : "reaped orphan", "id", id, "name", name, "why", why);
	if (!dry) {
		rp_podlock_clear(id); /* a dead joiner's lock file */
		cJSON *e = rp_ledger_event("reaped");
		cJSON_AddStringToObject(e, "id", id);
		if (name)
			cJSON_AddStringToObject(e, "name", name);
		cJSON_AddStringToObject(e, "reason", why);
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(pod, "gpu");
		if (rp_rec_str(g, "id"))
			cJSON_AddStringToObject(e, "gpu", rp_rec_str(g, "id"));
		cJSON_AddNumberToObject(e, "cost_per_hr", rp_runpod_pod_cost(pod));
		if (rp_rec_str(pod, "createdAt"))
			cJSON_AddStringToObject(e, "created_at", rp_rec_str(pod, "createdAt"));
		rp_launch_ledger(e);
		rp_launch_pod_gone(cfg, id);
	}
	cJSON *o = rp_rec_new("reaped");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name ? name : "");
	cJSON_AddStringToObject(o, "reason", why);
	cJSON_AddBoolToObject(o, "terminated", !dry);
	rp_out_rec(o);
	cJSON_Delete(o);
}

/* With a replicated ledger (fleetlog.h): a pod whose last line another
 * replica wrote while launching or joining it is that replica's until its
 * launch + join window has passed since that line; then (the replica is
 * gone or stuck) it is judged as any other.  The reason, or NULL. */
static const char *in_flight_elsewhere(const cJSON *last, double window)
{
	static char buf[200];
	double age; /* the rule is adopt.h's: after the window the holder adopts or reaps it */
	if (!rp_fleetlog_enabled() || !rp_adopt_orphaned(last, rp_fleetlog_identity(), rp_now(), &age) ||
	    age >= window)
		return NULL;
	snprintf(buf, sizeof buf, "replica %s ledgered it %s %.0f s ago: within its launch + join window (%.0f s)",
		 rp_rec_str(last, "replica"), rp_rec_str(last, "event"), age, window);
	return buf;
}

/* The orphans among our pods, by rp_reap_verdict: their ids, pods and
 * reasons (malloc'd) into the arrays; how many. */
static size_t orphans(const struct rp_config *cfg, const cJSON *pods, const cJSON *nodes,
		      const struct rp_ledger_index *ix, const cJSON *launches, double join_grace, double window,
		      const char **ids, const cJSON **which, const char **whys, size_t *refused)
{
	size_t k2 = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		const char *id = rp_rec_str(p, "id"), *why;
		const char *st = rp_runpod_pod_status(p);
		if (!id || (st && !strcmp(st, "TERMINATED")))
			continue;
		const char *other = in_flight_elsewhere(rp_ledger_index_last(ix, id, rp_rec_str(p, "name")), window);
		if (other) { /* another replica's launch or join, still in its window */
			rp_info("kept", "id", id, "name", rp_rec_str(p, "name"), "why", other);
			continue;
		}
		int joiner = rp_podlock_held(id);
		if (joiner < 0)
			rp_logw("cannot tell whether an rp-join holds this pod", "id", id, "error", strerror(errno));
		if (!rp_reap_verdict(p, nodes, ix, rp_now(), joiner, RP_HANDOFF_GRACE, join_grace, &why)) {
			/* Said at info when it is about a join; a serving node every tick, at debug. */
			const char *ev = rp_rec_str(rp_ledger_index_last(ix, id, rp_rec_str(p, "name")), "event");
			if (joiner > 0 || (ev && !strcmp(ev, "ready")))
				rp_info("kept", "id", id, "name", rp_rec_str(p, "name"), "why", why);
			else
				rp_debug("kept", "id", id, "name", rp_rec_str(p, "name"), "why", why);
			continue;
		}
		char nw[300]; /* only our pods are terminated (ledger.h) */
		if (!rp_ledger_ours(launches, cfg, id, rp_rec_str(p, "name"), NULL, NULL, NULL, nw, sizeof nw)) {
			rp_loge("not ours per the ledger: refused, the pod left alone", "id", id, "name",
				rp_rec_str(p, "name"), "why", nw);
			(*refused)++;
			continue;
		}
		ids[k2] = id;
		whys[k2] = rp_xstrdup(why);
		which[k2++] = p;
	}
	return k2;
}

/* The nodes, and for each virtual node (vnode.h) its pods' rp.io/pod-id
 * as one more thing Kubernetes knows (*known, malloc'd).  RP_EXIT_*. */
static int known_to_kube(struct rp_kube *k, const cJSON *nodes, cJSON **known, char **err)
{
	*known = cJSON_Duplicate(nodes, 1);
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes) {
		const char *name = rp_fleet_node_name(n);
		if (!name || !rp_fleet_is_virtual(n))
			continue;
		char *path = rp_xasprintf("/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", name);
		cJSON *list;
		const cJSON *items, *p;
		int rc = rp_kube_list(k, path, &list, &items, err);
		free(path);
		if (rc)
			return rc;
		cJSON_ArrayForEach(p, items) {
			const char *id = rp_kube_annotation(p, RP_FLEET_POD_ID);
			if (!id || !*id)
				continue;
			cJSON *o = cJSON_CreateObject();
			cJSON *an = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "metadata"), "annotations");
			cJSON_AddStringToObject(an, RP_FLEET_POD_ID, id);
			cJSON_AddItemToArray(*known, o);
		}
		cJSON_Delete(list);
	}
	return 0;
}

int rp_reap(struct rp_config *cfg, int dry)
{
	struct rp_runpod *rp = rp_launch_api(cfg);
	int lk = rp_launch_lock(RP_LOCK_EX, 0);
	if (lk < 0) {
		rp_logw("a launcher is running; reaping nothing this time");
		rp_runpod_free(rp);
		return RP_EXIT_TEMP;
	}
	char *err = NULL, *prefix = NULL;
	struct rp_kube *k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), &err);
	cJSON *list = NULL, *known = NULL, *launches = NULL, *pods = NULL;
	const cJSON *nodes = NULL;
	struct rp_ledger_index *ix = NULL;
	const char *why = NULL; /* set: reaping nothing, for this reason */
	int rc = k ? rp_kube_list(k, "/api/v1/nodes", &list, &nodes, &err) : RP_EXIT_TEMP;
	if (!rc)
		rc = known_to_kube(k, nodes, &known, &err);
	if (rc)
		why = "Kubernetes API unavailable: reaping nothing (never guess)", rc = RP_EXIT_TEMP;
	else if ((rc = rp_fleetlog_sync(&err)) != 0) /* the whole fleet's ledger, or no reap */
		why = "fleet view unavailable: reaping nothing (never guess)";
	else if (!(ix = rp_ledger_index_load(NULL, &err)) || !(launches = rp_ledger_launches(NULL, &err)))
		why = "ledger unreadable: reaping nothing", rc = RP_EXIT_FAIL;
	else if ((rc = rp_runpod_list(rp, prefix = rp_launch_prefix(cfg), &pods, &err)) != 0)
		why = "listing pods failed: reaping nothing";
	if (why) {
		rp_loge(why, "error", err);
		free(err);
		goto out;
	}
	/* A `ready` pod nobody holds is kept for the hand-off only; one whose
	 * join lock cannot be read, as long as a whole join may take. */
	double join_grace = rp_cfg_dur(cfg, "kube.join_timeout") + 60;
	int fenced = 0;
	size_t n = (size_t)cJSON_GetArraySize(pods);
	const char **ids = rp_xcalloc(n + 1, sizeof *ids);
	const cJSON **which = rp_xcalloc(n + 1, sizeof *which);
	const char **whys = rp_xcalloc(n + 1, sizeof *whys);
	double window = rp_cfg_dur(cfg, "runpod.ready_timeout") + rp_cfg_dur(cfg, "kube.join_timeout") + RP_HANDOFF_GRACE;
	size_t refused = 0;
	size_t k2 = orphans(cfg, pods, known, ix, launches, join_grace, window, ids, which, whys, &refused);
	int *rcs = rp_xcalloc(k2 + 1, sizeof *rcs);
	char **errs = rp_xcalloc(k2 + 1, sizeof *errs);
	if (!dry && k2 && rp_lease_fence("terminate") < 0) { /* the lease lapsed: reap nothing */
		for (size_t j = 0; j < k2; j++)
			free((char *)whys[j]);
		k2 = 0;
		fenced = 1;
	}
	if (!dry)
		rp_runpod_terminate_many(rp, ids, k2, rcs, errs);
	/* A terminate that did not go through is tried again next tick. */
	struct rp_exit ex = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	for (size_t j = 0; j < refused; j++) /* not ours: left alone, exit 3 */
		rp_exit_add(&ex, RP_EXIT_PARTIAL);
	for (size_t j = 0; j < k2; j++) {
		const char *name = rp_rec_str(which[j], "name");
		if (rcs[j]) {
			rp_loge("reap failed", "id", ids[j], "name", name, "error", errs[j]);
			rp_launch_ledger_gone("terminate_failed", ids[j], name, errs[j]);
			rp_exit_add(&ex, RP_EXIT_TEMP);
		} else {
			reaped(cfg, which[j], ids[j], name, whys[j], dry);
			rp_exit_add(&ex, RP_EXIT_OK);
		}
		free(errs[j]);
		free((char *)whys[j]);
	}
	char nb[24];
	snprintf(nb, sizeof nb, "%zu", k2);
	rp_info("reap done", "orphans", nb);
	rc = fenced ? RP_EXIT_TEMP : rp_exit_code(&ex);
	free(rcs);
	free(errs);
	free(ids);
	free(which);
	free(whys);
out:
	cJSON_Delete(pods);
	free(prefix);
	rp_ledger_index_free(ix);
	cJSON_Delete(launches);
	cJSON_Delete(known);
	cJSON_Delete(list);
	rp_kube_free(k);
	rp_runpod_free(rp);
	rp_unlock(lk);
	return rc;
}
