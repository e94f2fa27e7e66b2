/* adopt.c — a dead replica's in-flight pods, joined instead of reaped
 * when still wanted (see adopt.h). */
#include "adopt.h"
#include "decide.h"
#include "fleet.h"
#include "fleetlog.h"
#include "kube.h"
#include "launch.h"
#include "lease.h"
#include "ledger.h"
#include "log.h"
#include "net.h"
#include "record.h"
#include "records.h"
#include "rp.h"
#include "runpod.h"
#include "state.h"

#include <stdlib.h>
#include <string.h>

static int in_flight(const char *ev)
{
	return ev && (!strcmp(ev, "launching") || !strcmp(ev, "launched") || !strcmp(ev, "ready") ||
		      !strcmp(ev, "join_failed"));
}

int rp_adopt_orphaned(const cJSON *last, const char *me, double now, double *age)
{
	const char *rep = rp_rec_str(last, "replica"), *ts = rp_rec_str(last, "ts");
	double t;
	if (!rep || !me || !strcmp(rep, me) || !in_flight(rp_rec_str(last, "event")) || !ts ||
	    rp_parse_rfc3339(ts, &t))
		return 0;
	if (age)
		*age = now - t < 0 ? 0 : now - t;
	return 1;
}

long rp_adopt_want(long long need, long present, long ncand, long max_nodes)
{
	long long k = need - present;
	if (max_nodes >= 0 && k > (long long)max_nodes - present)
		k = (long long)max_nodes - present;
	if (k > ncand)
		k = ncand;
	return k > 0 ? (long)k : 0;
}

struct cand {
	const cJSON *pod, *last;
	const char *host;
	int port;
};

/* Candidates into c (their count), and how many of our pods are there or
 * coming (*present). */
static size_t look(const cJSON *pods, const cJSON *nodes, const struct rp_ledger_index *ix, double window,
		   int loopback_ok, struct cand *c, long *present)
{
	const char *me = rp_fleetlog_identity();
	double now = rp_now();
	size_t n = 0;
	const cJSON *p;
	*present = 0;
	cJSON_ArrayForEach(p, pods) {
		const char *id = rp_rec_str(p, "id"), *name = rp_rec_str(p, "name");
		const char *st = rp_runpod_pod_status(p);
		if (!id || !rp_launch_live(st))
			continue;
		const cJSON *last = rp_ledger_index_last(ix, id, name);
		const cJSON *node = rp_fleet_node_of_pod(nodes, id, name);
		double age;
		if (!node && rp_adopt_orphaned(last, me, now, &age) && age >= window) {
			const char *host, *why;
			int port;
			if (st && !strcmp(st, "RUNNING") && rp_runpod_pod_ssh(p, loopback_ok, &host, &port, &why) == 0) {
				c[n++] = (struct cand){ p, last, host, port };
				continue;
			}
			rp_info("a left pod not ready: not adopted (the reaper judges it)", "id", id, "name", name);
			continue;
		}
		const char *ev = rp_rec_str(last, "event");
		if (!ev || (strcmp(ev, "launching") && strcmp(ev, "launched") && strcmp(ev, "ready") &&
			    strcmp(ev, "joined")))
			continue; /* on its way out (or never ours to count) */
		if (node && !rp_kube_node_ready(node))
			continue; /* serves nothing */
		(*present)++;
	}
	return n;
}

/* The adopted pod: our `ready` line, then its record for rp-join. */
static int take(const struct cand *c)
{
	const char *id = rp_rec_str(c->pod, "id"), *name = rp_rec_str(c->pod, "name");
	const char *from = rp_rec_str(c->last, "replica");
	cJSON *e = rp_ledger_event("ready");
	cJSON_AddStringToObject(e, "id", id);
	if (name)
		cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "ssh_host", c->host);
	cJSON_AddNumberToObject(e, "ssh_port", c->port);
	cJSON_AddStringToObject(e, "adopted_from", from ? from : "");
	if (rp_launch_ledger(e) < 0)
		return -1;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", c->port);
	rp_info("adopted a left pod", "id", id, "name", name, "from", from, "ssh", c->host, "port", ps);
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(c->pod, "gpu");
	const cJSON *gc = cJSON_GetObjectItemCaseSensitive(g, "count");
	struct rp_pod pr = {
		.id = id, .name = name, .gpu = rp_rec_str(g, "id") ? rp_rec_str(g, "id") : rp_rec_str(c->last, "gpu"),
		.gpu_count = cJSON_IsNumber(gc) ? (long)gc->valuedouble : 1,
		.spot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->last, "spot")),
		.cost_per_hr = rp_runpod_pod_cost(c->pod), .ssh_host = c->host, .ssh_port = c->port,
		.status = "RUNNING",
	};
	cJSON *o = rp_pod_build(&pr);
	cJSON_AddStringToObject(o, "adopted_from", from ? from : "");
	rp_out_rec(o);
	cJSON_Delete(o);
	return 0;
}

int rp_adopt(struct rp_config *cfg, const struct rp_adopt_in *in)
{
	const char *lk_mode = getenv("RP_LOCK");
	if (!rp_fleetlog_enabled() || !lk_mode || strcmp(lk_mode, "lease")) {
		rp_debug("adoption needs a shared fleet and the lease: nothing to do");
		return RP_EXIT_OK;
	}
	struct rp_decide_in rule;
	rp_decide_rule(cfg, &rule);
	long long need = in && in->lag_known && !in->down ? rp_decide_need(in->lag, rule.lag_threshold) : 0;
	if (need <= 0) {
		rp_debug("no lag: nothing to adopt (the reaper judges left pods)");
		return RP_EXIT_OK;
	}
	if (rp_lease_fence("adopt") < 0)
		return RP_EXIT_TEMP;
	char *err = NULL;
	int rc;
	if ((rc = rp_fleetlog_sync(&err)) != 0) {
		rp_loge("fleet view unavailable: adopting nothing", "error", err);
		free(err);
		return rc;
	}
	struct rp_runpod *rp = rp_launch_api(cfg);
	int lk = rp_launch_lock(RP_LOCK_SH, -1);
	struct rp_kube *k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), &err);
	cJSON *list = NULL, *pods = NULL;
	const cJSON *nodes = NULL;
	struct rp_ledger_index *ix = NULL;
	char *prefix = rp_launch_prefix(cfg);
	rc = k ? rp_kube_list(k, "/api/v1/nodes", &list, &nodes, &err) : RP_EXIT_TEMP;
	if (rc) {
		rp_loge("Kubernetes API unavailable: adopting nothing", "error", err);
		rc = RP_EXIT_TEMP;
		goto out;
	}
	if (!(ix = rp_ledger_index_load(NULL, &err))) {
		rp_loge("ledger unreadable: adopting nothing", "error", err);
		rc = RP_EXIT_FAIL;
		goto out;
	}
	if ((rc = rp_runpod_list(rp, prefix, &pods, &err)) != 0) {
		rp_loge("listing pods failed: adopting nothing", "error", err);
		goto out;
	}
	double window = rp_cfg_dur(cfg, "runpod.ready_timeout") + rp_cfg_dur(cfg, "kube.join_timeout") + RP_HANDOFF_GRACE;
	size_t np = (size_t)cJSON_GetArraySize(pods);
	struct cand *c = rp_xcalloc(np + 1, sizeof *c);
	long present;
	size_t nc = look(pods, nodes, ix, window, rp_runpod_api_loopback(rp), c, &present);
	long want = rp_adopt_want(need, present, (long)nc, rule.max_nodes);
	if (nc) {
		char a[24], b[24], d[24];
		snprintf(a, sizeof a, "%zu", nc);
		snprintf(b, sizeof b, "%lld", need);
		snprintf(d, sizeof d, "%ld", present);
		rp_info("pods left by another replica", "left", a, "need", b, "present", d);
	}
	struct rp_net_probe *pr = rp_xcalloc(nc + 1, sizeof *pr);
	for (size_t i = 0; i < nc; i++) {
		pr[i].host = c[i].host;
		pr[i].port = c[i].port;
	}
	if (want > 0) {
		double ct = rp_cfg_dur(cfg, "ssh.connect_timeout");
		rp_net_ssh_banners(pr, nc, ct > 0 && ct < 5 ? ct : 5, 8);
	}
	long took = 0;
	for (size_t i = 0; i < nc; i++) {
		const char *id = rp_rec_str(c[i].pod, "id"), *name = rp_rec_str(c[i].pod, "name");
		if (took >= want) {
			rp_info("a left pod not wanted: not adopted (the reaper takes it)", "id", id, "name", name);
		} else if (!pr[i].ok) {
			rp_info("a left pod's SSH does not answer: not adopted", "id", id, "name", name, "error", pr[i].err);
		} else if (take(&c[i]) == 0) {
			took++;
		}
	}
	free(pr);
	free(c);
	rc = RP_EXIT_OK;
out:
	free(err);
	free(prefix);
	cJSON_Delete(pods);
	cJSON_Delete(list);
	rp_ledger_index_free(ix);
	rp_kube_free(k);
	rp_unlock(lk);
	rp_runpod_free(rp);
	return rc;
}
