/* idle.c — since when each burst node has been idle (see idle.h).
 *
 * The marks live in $RP_STATE_DIR/idle.json as
 *   {"idle_since":{"NODE":"2026-11-28T08:15:20.123Z", ...}}
 * With a shared fleet (fleet.store kafka) the Node's annotation
 * rp.io/idle-since is the mark and idle.json only mirrors it.
 * A refresh holds the exclusive rp_lock() (state.h) of
 * $RP_STATE_DIR/idle.lock for its read-modify-write, so rp-lagwatch and rp-drain running at once never lose
 * each other's marks.  A node that is gone from the API loses its mark.
 *
 * Which nodes are ours, the pod behind each, the opt-out and NotReady-ness
 * are fleet's rules (fleet.h); this file only adds "idle" and its marks.
 * "pod_id" is null when the node names none.  NotReady-ness is not kept in
 * the state dir: the API's Ready condition says since when, the same for
 * every reader.
 */
#include "idle.h"
#include "fleet.h"
#include "fleetlog.h"
#include "rp.h"
#include "log.h"
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int busy_pod(const cJSON *pod)
{
	return !rp_kube_pod_is_daemonset(pod) && !rp_kube_pod_is_mirror(pod) &&
	       !rp_kube_pod_is_finished(pod);
}

/* The pods bound to node `name` (one list by field selector): 0, or an
 * exit code (*err). */
static int pods_on(struct rp_kube *k, const char *name, cJSON **list, const cJSON **items, char **err)
{
	char *esc = rp_http_escape(name);
	char *path = rp_xasprintf("/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", esc);
	free(esc);
	int r = rp_kube_list(k, path, list, items, err);
	free(path);
	return r;
}

/* A virtual node's pods that run on RunPod (annotated rp.io/pod-id, not
 * finished): each is one unit of burst capacity, never idle, never lost,
 * never named for a down (opt_out: they scale with their controller).
 * 0, or -1 (*err). */
static int virtual_pods(struct rp_kube *k, const char *name, cJSON *out, char **err)
{
	cJSON *list;
	const cJSON *items, *pod;
	if (pods_on(k, name, &list, &items, err))
		return -1;
	cJSON_ArrayForEach(pod, items)
	{
		const char *id = rp_kube_annotation(pod, RP_FLEET_POD_ID);
		if (!id || !*id || !busy_pod(pod))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node", name);
		cJSON_AddStringToObject(o, "pod_id", id);
		cJSON_AddBoolToObject(o, "virtual", 1);
		cJSON_AddNullToObject(o, "idle_since");
		cJSON_AddNumberToObject(o, "idle_s", 0);
		cJSON_AddBoolToObject(o, "ready", 1);
		cJSON_AddNullToObject(o, "not_ready_since");
		cJSON_AddNumberToObject(o, "not_ready_s", 0);
		cJSON_AddBoolToObject(o, "lost", 0);
		cJSON_AddBoolToObject(o, "cordoned", 0);
		cJSON_AddBoolToObject(o, "opt_out", 1);
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(list);
	return 0;
}

/* 1 idle, 0 busy, -1 error (*err). */
static int node_idle(struct rp_kube *k, const char *name, char **err)
{
	cJSON *list;
	const cJSON *items, *pod;
	if (pods_on(k, name, &list, &items, err))
		return -1;
	int idle = 1;
	cJSON_ArrayForEach(pod, items)
	{
		/* A stand-in or an old server may ignore the field selector. */
		const cJSON *nn = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(pod, "spec"), "nodeName");
		if (!cJSON_IsString(nn) || strcmp(nn->valuestring, name))
			continue;
		if (busy_pod(pod)) {
			idle = 0;
			break;
		}
	}
	cJSON_Delete(list);
	return idle;
}

/* Set (since) or remove (NULL) a Node's shared idle mark.  A failure is
 * said and costs only this mark's sharing: the local mirror still has it. */
static void mark_node(struct rp_kube *k, const char *name, const char *since)
{
	cJSON *patch = cJSON_CreateObject();
	cJSON *an = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	if (since)
		cJSON_AddStringToObject(an, RP_IDLE_SINCE, since);
	else
		cJSON_AddNullToObject(an, RP_IDLE_SINCE);
	char *esc = rp_http_escape(name);
	char *path = rp_xasprintf("/api/v1/nodes/%s", esc);
	free(esc);
	long st = 0;
	cJSON *out = NULL;
	char *err = NULL;
	if (rp_kube_call(k, "PATCH", path, "application/merge-patch+json", patch, &st, &out, &err) < 0)
		rp_logw("cannot share the idle mark", "node", name, "error", err);
	else if (st != 200)
		rp_logw("cannot share the idle mark", "node", name, "error", rp_kube_errmsg(st, out));
	free(err);
	free(path);
	cJSON_Delete(out);
	cJSON_Delete(patch);
}

/* Since when node `name` is idle, seen idle at now: its mark (the Node's
 * annotation when shared, else the local one) when that is a time not
 * ahead of now; a mark ahead of now (another replica's clock runs ahead)
 * counts from now and is left as it is; none or garbage: now, written. */
static double idle_since(struct rp_kube *k, const cJSON *node, const char *name, const cJSON *marks, double now)
{
	int shared = rp_fleetlog_enabled();
	const char *m = NULL;
	if (shared) {
		m = rp_kube_annotation(node, RP_IDLE_SINCE);
	} else {
		const cJSON *lm = cJSON_GetObjectItemCaseSensitive(marks, name);
		m = cJSON_IsString(lm) ? lm->valuestring : NULL;
	}
	double since;
	if (m && rp_parse_rfc3339(m, &since) == 0)
		return since > now ? now : since;
	if (shared) {
		char ts[40];
		mark_node(k, name, rp_rfc3339(now, ts, sizeof ts));
	}
	return now;
}

/* The marks in path; *found: read from the file (else a fresh object). */
static cJSON *load_marks(const char *path, int *found)
{
	size_t n;
	char *s = rp_read_file(path, 1 << 20, &n);
	cJSON *j = s ? cJSON_Parse(s) : NULL;
	free(s);
	cJSON *m = j ? cJSON_DetachItemFromObjectCaseSensitive(j, "idle_since") : NULL;
	cJSON_Delete(j);
	*found = cJSON_IsObject(m);
	if (!*found) {
		if (s)
			rp_logw("idle marks unreadable, starting afresh", "file", path);
		cJSON_Delete(m);
		m = cJSON_CreateObject();
	}
	return m;
}

int rp_idle_refresh(struct rp_kube *k, const struct rp_config *cfg, double now, cJSON **nodes, char **err)
{
	const char *dir = rp_state_dir();
	cJSON *list = NULL, *marks = NULL, *fresh = NULL, *out = NULL;
	const cJSON *items, *node;
	char *file = NULL, *lock = NULL, *path;
	int lfd = -1, rc, found = 0;

	*err = NULL;
	if (nodes)
		*nodes = NULL;
	if (!(path = rp_fleet_nodes_path(cfg, err)))
		return RP_EXIT_USAGE;
	rc = rp_kube_list(k, path, &list, &items, err);
	free(path);
	if (rc)
		return rc;

	if (rp_state_mkdir_for(RP_STATE_IDLE) < 0) {
		*err = rp_xasprintf("state dir %s: %s", dir, strerror(errno));
		rc = RP_EXIT_FAIL;
		goto out;
	}
	file = rp_state_path(RP_STATE_IDLE, NULL);
	lock = rp_state_path(RP_STATE_IDLE_LOCK, NULL);
	lfd = rp_lock(lock, RP_LOCK_EX, -1);
	if (lfd < 0) {
		*err = rp_xasprintf("%s: %s", lock, strerror(errno));
		rc = RP_EXIT_FAIL;
		goto out;
	}
	marks = load_marks(file, &found);
	fresh = cJSON_CreateObject();
	out = cJSON_CreateArray();

	cJSON_ArrayForEach(node, items)
	{
		const char *name = rp_fleet_node_name(node);
		if (!name)
			continue;
		if (rp_fleet_is_virtual(node)) {
			if (virtual_pods(k, name, out, err) < 0) {
				rc = RP_EXIT_TEMP;
				goto out;
			}
			continue;
		}
		int idle = node_idle(k, name, err);
		if (idle < 0) {
			rc = RP_EXIT_TEMP;
			goto out;
		}
		double since = -1;
		if (idle) {
			since = idle_since(k, node, name, marks, now);
			char ts[40];
			cJSON_AddStringToObject(fresh, name, rp_rfc3339(since, ts, sizeof ts));
		} else if (rp_fleetlog_enabled() && rp_kube_annotation(node, RP_IDLE_SINCE)) {
			mark_node(k, name, NULL); /* seen busy: the mark goes, for every replica */
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node", name);
		const char *pid = rp_fleet_pod_id(node);
		if (pid)
			cJSON_AddStringToObject(o, "pod_id", pid);
		else
			cJSON_AddNullToObject(o, "pod_id");
		if (since >= 0) {
			char ts[40];
			cJSON_AddStringToObject(o, "idle_since", rp_rfc3339(since, ts, sizeof ts));
			cJSON_AddNumberToObject(o, "idle_s", (double)(long long)((now - since) * 1000) / 1000);
		} else {
			cJSON_AddNullToObject(o, "idle_since");
			cJSON_AddNumberToObject(o, "idle_s", 0);
		}
		cJSON_AddBoolToObject(o, "ready", rp_kube_node_ready(node));
		double nrs, nr = rp_fleet_notready_s(node, now, &nrs);
		if (nr >= 0) {
			char ts[40];
			cJSON_AddStringToObject(o, "not_ready_since", rp_rfc3339(nrs, ts, sizeof ts));
		} else {
			cJSON_AddNullToObject(o, "not_ready_since");
		}
		cJSON_AddNumberToObject(o, "not_ready_s", nr > 0 ? (double)(long long)(nr * 1000) / 1000 : 0);
		cJSON_AddBoolToObject(o, "lost", rp_fleet_lost(node, now, rp_cfg_dur(cfg, "scale.notready_grace")));
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(node, "spec"), "unschedulable");
		cJSON_AddBoolToObject(o, "cordoned", cJSON_IsTrue(u));
		/* The opt-outs rp-drain honours; lagwatch does not name these. */
		cJSON_AddBoolToObject(o, "opt_out", rp_fleet_opt_out(node) != NULL);
		cJSON_AddItemToArray(out, o);
	}

	if (found && cJSON_Compare(marks, fresh, 1))
		goto out; /* unchanged (an idle tick): no write, no fsync */
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddItemToObject(doc, "idle_since", fresh);
	fresh = NULL;
	char *txt = cJSON_Print(doc);
	cJSON_Delete(doc);
	size_t len = strlen(txt);
	txt = rp_xrealloc(txt, len + 2);
	txt[len++] = '\n';
	txt[len] = 0;
	if (rp_write_atomic(file, txt, len, rp_state_mode(RP_STATE_IDLE)) < 0) {
		*err = rp_xasprintf("%s: %s", file, strerror(errno));
		rc = RP_EXIT_FAIL;
	}
	free(txt);
out:
	rp_unlock(lfd);
	if (!rc && nodes) {
		*nodes = out;
		out = NULL;
	}
	cJSON_Delete(out);
	cJSON_Delete(fresh);
	cJSON_Delete(marks);
	cJSON_Delete(list);
	free(file);
	free(lock);
	return rc;
}

int rp_idle_select(struct rp_kube *k, const struct rp_config *cfg, double now, double min_idle, cJSON **names,
		   char **err)
{
	cJSON *nodes, *n;
	*names = NULL;
	int rc = rp_idle_refresh(k, cfg, now, &nodes, err);
	if (rc)
		return rc;
	*names = cJSON_CreateArray();
	cJSON_ArrayForEach(n, nodes)
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(n, "idle_since");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(n, "node");
		double since;
		if (cJSON_IsString(s) && rp_parse_rfc3339(s->valuestring, &since) == 0 &&
		    now - since >= min_idle)
			cJSON_AddItemToArray(*names, cJSON_CreateString(nm->valuestring));
	}
	cJSON_Delete(nodes);
	return 0;
}
