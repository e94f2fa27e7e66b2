/* vnode.c — the virtual kubelet: the Node and its Lease, the pods bound
 * to it as RunPod pods (see vnode.h). */
#include "vnode.h"
#include "drain.h"
#include "drainseq.h"
#include "fleet.h"
#include "kube.h"
#include "launch.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"
#include "ssh.h"
#include "vkubelet.h"
#include "wave.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rp_vnode {
	struct rp_config *cfg;
	char *name;
	struct rp_kube *k;
	struct rp_runpod *rp;
	char *prefix;
};

/* ---- small helpers ------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *meta_str(const cJSON *o, const char *k)
{
	return jstr(jget(o, "metadata"), k);
}

static char *esc(const char *s)
{
	struct rp_buf b = { 0 };
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			rp_buf_add(&b, p, 1);
		else
			rp_buf_addf(&b, "%%%02X", *p);
	}
	return b.data ? b.data : rp_xstrdup("");
}

static void now_ts(char *buf, size_t n)
{
	rp_rfc3339(rp_now(), buf, n);
}

/* Kubernetes' MicroTime (Lease renewTime): six fraction digits. */
static void now_micro(char *buf, size_t n)
{
	char t[40];
	rp_rfc3339(rp_now(), t, sizeof t); /* ...SS.mmmZ */
	size_t l = strlen(t);
	if (l > 1 && t[l - 1] == 'Z')
		t[l - 1] = 0;
	snprintf(buf, n, "%s000Z", t);
}

/* One call; 0 on a 2xx, else RP_EXIT_* with *err. */
static int call(struct rp_vnode *v, const char *method, const char *path, const char *ctype, const cJSON *body,
		cJSON **out, long *status, char **err)
{
	long st = 0;
	cJSON *o = NULL;
	*err = NULL;
	if (rp_kube_call(v->k, method, path, ctype, body, &st, &o, err) < 0)
		return RP_EXIT_TEMP;
	if (status)
		*status = st;
	if (st < 200 || st > 299) {
		*err = rp_xasprintf("kubernetes API %s %s: %s", method, path, rp_kube_errmsg(st, o));
		cJSON_Delete(o);
		return st >= 500 || st == 429 ? RP_EXIT_TEMP : RP_EXIT_FAIL;
	}
	if (out)
		*out = o;
	else
		cJSON_Delete(o);
	return 0;
}

/* ---- the Node and its Lease ---------------------------------------------- */

static cJSON *conditions(void)
{
	static const char *const c[][4] = {
		{ "Ready", "True", "KubeletReady", "the virtual kubelet (rp-join --virtual) is posting ready status" },
		{ "MemoryPressure", "False", "KubeletHasSufficientMemory", "RunPod pods bring their own memory" },
		{ "DiskPressure", "False", "KubeletHasNoDiskPressure", "RunPod pods bring their own disk" },
		{ "PIDPressure", "False", "KubeletHasSufficientPID", "RunPod pods bring their own PIDs" },
		{ "NetworkUnavailable", "False", "RouteCreated", "RunPod pods have public addresses" },
	};
	char t[40];
	now_ts(t, sizeof t);
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", c[i][0]);
		cJSON_AddStringToObject(o, "status", c[i][1]);
		cJSON_AddStringToObject(o, "reason", c[i][2]);
		cJSON_AddStringToObject(o, "message", c[i][3]);
		cJSON_AddStringToObject(o, "lastHeartbeatTime", t);
		cJSON_AddStringToObject(o, "lastTransitionTime", t);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *node_status(struct rp_vnode *v)
{
	cJSON *st = cJSON_CreateObject();
	long max = rp_cfg_int(v->cfg, "runpod.max_nodes");
	long gpus = max * (rp_cfg_int(v->cfg, "runpod.gpu_count") > 0 ? rp_cfg_int(v->cfg, "runpod.gpu_count") : 1);
	char pb[24], gb[24];
	snprintf(pb, sizeof pb, "%ld", max);
	snprintf(gb, sizeof gb, "%ld", gpus);
	for (int i = 0; i < 2; i++) {
		cJSON *c = cJSON_AddObjectToObject(st, i ? "allocatable" : "capacity");
		cJSON_AddStringToObject(c, "pods", pb);
		cJSON_AddStringToObject(c, "nvidia.com/gpu", gb);
		cJSON_AddStringToObject(c, "cpu", "1000");
		cJSON_AddStringToObject(c, "memory", "4Ti");
	}
	cJSON_AddItemToObject(st, "conditions", conditions());
	cJSON *ad = cJSON_AddArrayToObject(st, "addresses");
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", "Hostname");
	cJSON_AddStringToObject(a, "address", v->name);
	cJSON_AddItemToArray(ad, a);
	/* the kubelet API (vkubelet.h), where the API server reaches it */
	const char *ip = rp_cfg_str(v->cfg, "kube.virtual_kubelet_address");
	int on = rp_vkubelet_on(v->cfg);
	if (on && ip && *ip) {
		a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "type", "InternalIP");
		cJSON_AddStringToObject(a, "address", ip);
		cJSON_AddItemToArray(ad, a);
	}
	cJSON *de = cJSON_AddObjectToObject(cJSON_AddObjectToObject(st, "daemonEndpoints"), "kubeletEndpoint");
	cJSON_AddNumberToObject(de, "Port", on ? (double)rp_cfg_int(v->cfg, "kube.virtual_kubelet_port") : 0);
	cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
	cJSON_AddStringToObject(ni, "operatingSystem", "linux");
	cJSON_AddStringToObject(ni, "architecture", "amd64");
	cJSON_AddStringToObject(ni, "kubeletVersion", "v1.32.0-rp-virtual");
	cJSON_AddStringToObject(ni, "kubeProxyVersion", "");
	cJSON_AddStringToObject(ni, "containerRuntimeVersion", "runpod://v2");
	cJSON_AddStringToObject(ni, "osImage", "RunPod");
	cJSON_AddStringToObject(ni, "kernelVersion", "");
	cJSON_AddStringToObject(ni, "machineID", "");
	cJSON_AddStringToObject(ni, "systemUUID", "");
	cJSON_AddStringToObject(ni, "bootID", "");
	return st;
}

/* kube.labels + ours. */
static cJSON *node_labels(struct rp_vnode *v)
{
	cJSON *lb = NULL;
	const char *bad = NULL;
	if (rp_fleet_labels(rp_cfg_json(v->cfg, "kube.labels"), &lb, &bad) < 0 || !lb)
		lb = cJSON_CreateObject(); /* checked in rp_vnode_new */
	const char *ours[][2] = { { RP_FLEET_VIRTUAL_KEY, RP_FLEET_VIRTUAL_VALUE }, { "kubernetes.io/role", "agent" },
				  { "kubernetes.io/hostname", NULL }, { "kubernetes.io/os", "linux" } };
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(lb, ours[i][0]);
		cJSON_AddStringToObject(lb, ours[i][0], ours[i][1] ? ours[i][1] : v->name);
	}
	return lb;
}

static cJSON *our_taint(void)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "key", RP_VNODE_TAINT);
	cJSON_AddStringToObject(t, "value", "runpod");
	cJSON_AddStringToObject(t, "effect", "NoSchedule");
	return t;
}

static int has_taint(const cJSON *node)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, jget(jget(node, "spec"), "taints")) {
		const char *k = jstr(t, "key"), *e = jstr(t, "effect");
		if (k && e && !strcmp(k, RP_VNODE_TAINT) && !strcmp(e, "NoSchedule"))
			return 1;
	}
	return 0;
}

static int register_node(struct rp_vnode *v, char **err)
{
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "apiVersion", "v1");
	cJSON_AddStringToObject(n, "kind", "Node");
	cJSON *md = cJSON_AddObjectToObject(n, "metadata");
	cJSON_AddStringToObject(md, "name", v->name);
	cJSON_AddItemToObject(md, "labels", node_labels(v));
	cJSON *an = cJSON_AddObjectToObject(md, "annotations");
	cJSON_AddStringToObject(an, "rp.io/virtual", "runpod");
	cJSON *taints = cJSON_AddArrayToObject(cJSON_AddObjectToObject(n, "spec"), "taints");
	cJSON_AddItemToArray(taints, our_taint());
	cJSON_AddItemToObject(n, "status", node_status(v));
	int rc = call(v, "POST", "/api/v1/nodes", NULL, n, NULL, NULL, err);
	cJSON_Delete(n);
	if (!rc)
		rp_info("virtual node registered", "node", v->name);
	return rc;
}

/* Labels and the taint back where someone took them off. */
static int mend_node(struct rp_vnode *v, const cJSON *node, char **err)
{
	cJSON *want = node_labels(v), *patch = NULL;
	const cJSON *have = jget(jget(node, "metadata"), "labels"), *l;
	cJSON_ArrayForEach(l, want) {
		const char *h = jstr(have, l->string);
		if (!h || strcmp(h, l->valuestring)) {
			if (!patch)
				patch = cJSON_CreateObject();
			cJSON *pl = cJSON_GetObjectItemCaseSensitive(patch, "labels");
			if (!pl)
				pl = cJSON_AddObjectToObject(patch, "labels");
			cJSON_AddStringToObject(pl, l->string, l->valuestring);
		}
	}
	cJSON_Delete(want);
	int rc = 0;
	if (patch || !has_taint(node)) {
		cJSON *body = cJSON_CreateObject();
		char *rv = rp_xstrdup(meta_str(node, "resourceVersion") ? meta_str(node, "resourceVersion") : "");
		cJSON *md = cJSON_AddObjectToObject(body, "metadata");
		cJSON_AddStringToObject(md, "resourceVersion", rv);
		if (patch)
			cJSON_AddItemToObject(md, "labels", cJSON_DetachItemFromObject(patch, "labels"));
		if (!has_taint(node)) { /* taints have no merge key: the whole list */
			cJSON *ts = cJSON_AddArrayToObject(cJSON_AddObjectToObject(body, "spec"), "taints");
			const cJSON *t;
			cJSON_ArrayForEach(t, jget(jget(node, "spec"), "taints")) {
				cJSON_AddItemToArray(ts, cJSON_Duplicate(t, 1));
			}
			cJSON_AddItemToArray(ts, our_taint());
		}
		char *path = rp_xasprintf("/api/v1/nodes/%s", v->name);
		rc = call(v, "PATCH", path, "application/merge-patch+json", body, NULL, NULL, err);
		if (!rc)
			rp_info("virtual node labels/taint put back", "node", v->name);
		free(path);
		free(rv);
		cJSON_Delete(body);
	}
	cJSON_Delete(patch);
	return rc;
}

static int heartbeat_status(struct rp_vnode *v, char **err)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "status", node_status(v));
	char *path = rp_xasprintf("/api/v1/nodes/%s/status", v->name);
	int rc = call(v, "PATCH", path, "application/strategic-merge-patch+json", body, NULL, NULL, err);
	free(path);
	cJSON_Delete(body);
	return rc;
}

static int renew_lease(struct rp_vnode *v, char **err)
{
	char *path = rp_xasprintf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", v->name);
	cJSON *lease = NULL;
	long st = 0;
	int rc = call(v, "GET", path, NULL, NULL, &lease, &st, err);
	if (rc && st != 404) {
		free(path);
		return rc;
	}
	free(*err);
	*err = NULL;
	if (!lease) {
		lease = cJSON_CreateObject();
		cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
		cJSON_AddStringToObject(lease, "kind", "Lease");
		cJSON *md = cJSON_AddObjectToObject(lease, "metadata");
		cJSON_AddStringToObject(md, "name", v->name);
		cJSON_AddStringToObject(md, "namespace", "kube-node-lease");
	}
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	if (!spec)
		spec = cJSON_AddObjectToObject(lease, "spec");
	char t[48];
	now_micro(t, sizeof t);
	double dur = rp_cfg_dur(v->cfg, "kube.virtual_lease");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
	cJSON_AddStringToObject(spec, "holderIdentity", v->name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", dur >= 1 ? (long)dur : 40);
	cJSON_AddStringToObject(spec, "renewTime", t);
	rc = call(v, "PUT", path, NULL, lease, NULL, NULL, err);
	cJSON_Delete(lease);
	free(path);
	return rc;
}

/* The Node (registered or mended), its status, its Lease. */
static int node_pass(struct rp_vnode *v)
{
	char *err = NULL, *path = rp_xasprintf("/api/v1/nodes/%s", v->name);
	cJSON *node = NULL;
	long st = 0;
	int rc = call(v, "GET", path, NULL, NULL, &node, &st, &err);
	free(path);
	if (rc && st == 404) {
		free(err);
		err = NULL;
		rc = register_node(v, &err);
	} else if (!rc) {
		rc = mend_node(v, node, &err);
		if (!rc)
			rc = heartbeat_status(v, &err);
	}
	cJSON_Delete(node);
	if (!rc)
		rc = renew_lease(v, &err);
	if (rc) {
		rp_logw("virtual node heartbeat failed", "node", v->name, "error", err);
		free(err);
	}
	return rc;
}

/* ---- the ledger's word on our pods ---------------------------------------- */

/* uid -> {"id","name"} for the lines tagged with this node. */
struct ledger_map {
	const char *node;
	cJSON *by_uid;
};

static int ledger_cb(const cJSON *rec, long line, void *arg)
{
	(void)line;
	struct ledger_map *m = arg;
	const char *uid = jstr(rec, "k8s_uid"), *node = jstr(rec, "vnode");
	if (!uid || !node || strcmp(node, m->node))
		return 0;
	cJSON *e = cJSON_GetObjectItemCaseSensitive(m->by_uid, uid);
	if (!e) {
		e = cJSON_AddObjectToObject(m->by_uid, uid);
		cJSON_AddStringToObject(e, "k8s_pod", jstr(rec, "k8s_pod") ? jstr(rec, "k8s_pod") : "");
	}
	const char *keys[] = { "id", "name" };
	for (size_t i = 0; i < 2; i++) {
		const char *val = jstr(rec, keys[i]);
		if (val) {
			cJSON_DeleteItemFromObjectCaseSensitive(e, keys[i]);
			cJSON_AddStringToObject(e, keys[i], val);
		}
	}
	/* a new name (a failover launch) outdates the id of the old one */
	if (jstr(rec, "name") && !jstr(rec, "id"))
		cJSON_DeleteItemFromObjectCaseSensitive(e, "id");
	return 0;
}

static cJSON *ledger_load(struct rp_vnode *v, char **err)
{
	struct ledger_map m = { .node = v->name, .by_uid = cJSON_CreateObject() };
	long torn = 0;
	if (rp_ledger_read(NULL, ledger_cb, &m, &torn, err) < 0) {
		cJSON_Delete(m.by_uid);
		return NULL;
	}
	return m.by_uid;
}

static const cJSON *find_pod(const cJSON *pods, const char *key, const char *val)
{
	const cJSON *p;
	if (!val || !*val)
		return NULL;
	cJSON_ArrayForEach(p, pods) {
		const char *x = jstr(p, key);
		if (x && !strcmp(x, val))
			return p;
	}
	return NULL;
}

/* ---- what a Kubernetes pod asks for --------------------------------------- */

struct kpod {
	const cJSON *obj;
	const char *ns, *name, *uid;
	struct rp_wave_want want;
	cJSON *env, *ports, *tag;
	char *args;
	int gpus;
	const char *gpu;
	char *why;       /* cannot be expressed: stays Pending with this */
	const char *why_reason;
};

static void kpod_free(struct kpod *p)
{
	cJSON_Delete(p->env);
	cJSON_Delete(p->ports);
	cJSON_Delete(p->tag);
	free(p->args);
	free(p->why);
	free(p->want.id);
	free(p->want.ssh_host);
}

/* A secret's or config map's value for a pod; NULL + *why. */
static char *ref_value(struct rp_vnode *v, const char *ns, const cJSON *ref, int secret, char **why)
{
	const char *name = jstr(ref, "name"), *key = jstr(ref, "key");
	int optional = cJSON_IsTrue(jget(ref, "optional"));
	if (!name || !key) {
		*why = rp_xstrdup("a key reference without name or key");
		return NULL;
	}
	char *en = esc(ns), *nn = esc(name);
	char *path = rp_xasprintf("/api/v1/namespaces/%s/%s/%s", en, secret ? "secrets" : "configmaps", nn);
	free(en);
	free(nn);
	cJSON *o = NULL;
	char *err = NULL;
	long st = 0;
	int rc = call(v, "GET", path, NULL, NULL, &o, &st, &err);
	free(path);
	char *val = NULL;
	if (!rc)
		val = rp_kube_data(o, key, secret);
	cJSON_Delete(o);
	if (!val && !optional)
		*why = rc && st != 404 ? rp_xasprintf("%s", err)
					: rp_xasprintf("%s \"%s\" has no key \"%s\"%s", secret ? "secret" : "configmap",
						       name, key, rc ? " (not found)" : "");
	free(err);
	if (!val && optional)
		val = NULL;
	return val;
}

static void env_set(cJSON *env, const char *k, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(env, k);
	cJSON_AddStringToObject(env, k, val);
}

/* envFrom, then env (later wins, as in the kubelet). */
static int build_env(struct rp_vnode *v, struct kpod *p, const cJSON *c)
{
	const cJSON *e;
	p->env = cJSON_CreateObject();
	cJSON_ArrayForEach(e, jget(c, "envFrom")) {
		const cJSON *ref = jget(e, "secretRef");
		int secret = ref != NULL;
		if (!ref)
			ref = jget(e, "configMapRef");
		const char *name = jstr(ref, "name"), *pre = jstr(e, "prefix");
		if (!name)
			continue;
		char *en = esc(p->ns), *nn = esc(name);
		char *path = rp_xasprintf("/api/v1/namespaces/%s/%s/%s", en, secret ? "secrets" : "configmaps", nn);
		free(en);
		free(nn);
		cJSON *o = NULL;
		char *err = NULL;
		int rc = call(v, "GET", path, NULL, NULL, &o, NULL, &err);
		free(path);
		if (rc) {
			if (!cJSON_IsTrue(jget(ref, "optional"))) {
				p->why = rp_xasprintf("envFrom %s \"%s\": %s", secret ? "secret" : "configmap", name, err);
				free(err);
				return -1;
			}
			free(err);
			continue;
		}
		const cJSON *d;
		cJSON_ArrayForEach(d, jget(o, "data")) {
			char *val = rp_kube_data(o, d->string, secret);
			char *k = rp_xasprintf("%s%s", pre ? pre : "", d->string);
			if (val)
				env_set(p->env, k, val);
			free(k);
			free(val);
		}
		cJSON_Delete(o);
	}
	cJSON_ArrayForEach(e, jget(c, "env")) {
		const char *k = jstr(e, "name");
		if (!k)
			continue;
		const cJSON *from = jget(e, "valueFrom");
		if (!from) {
			env_set(p->env, k, jstr(e, "value") ? jstr(e, "value") : "");
			continue;
		}
		char *why = NULL, *val = NULL;
		if (jget(from, "secretKeyRef"))
			val = ref_value(v, p->ns, jget(from, "secretKeyRef"), 1, &why);
		else if (jget(from, "configMapKeyRef"))
			val = ref_value(v, p->ns, jget(from, "configMapKeyRef"), 0, &why);
		else if (jget(from, "fieldRef")) {
			const char *fp = jstr(jget(from, "fieldRef"), "fieldPath");
			const char *fv = !fp ? NULL : !strcmp(fp, "metadata.name") ? p->name
					 : !strcmp(fp, "metadata.namespace") ? p->ns
					 : !strcmp(fp, "metadata.uid") ? p->uid
					 : !strcmp(fp, "spec.nodeName") ? v->name : NULL;
			if (fv)
				val = rp_xstrdup(fv);
			else
				why = rp_xasprintf("env %s: fieldRef %s is not served by a virtual node", k,
						   fp ? fp : "(none)");
		} else {
			why = rp_xasprintf("env %s: this valueFrom is not served by a virtual node", k);
		}
		if (why) {
			p->why = why;
			free(val);
			return -1;
		}
		if (val)
			env_set(p->env, k, val);
		free(val);
	}
	return 0;
}

/* "cmd arg ..." shell-quoted, for RunPod's one args string. */
static char *build_args(const cJSON *c)
{
	struct rp_buf b = { 0 };
	const char *keys[] = { "command", "args" };
	for (size_t i = 0; i < 2; i++) {
		const cJSON *a;
		cJSON_ArrayForEach(a, jget(c, keys[i])) {
			if (!cJSON_IsString(a))
				continue;
			char *q = rp_ssh_quote(a->valuestring);
			rp_buf_addf(&b, "%s%s", b.len ? " " : "", q);
			free(q);
		}
	}
	return b.data;
}

static int gpu_limit(const cJSON *c, long def)
{
	const cJSON *res = jget(c, "resources");
	const cJSON *g = jget(jget(res, "limits"), "nvidia.com/gpu");
	if (!g)
		g = jget(jget(res, "requests"), "nvidia.com/gpu");
	if (cJSON_IsNumber(g))
		return g->valueint;
	if (cJSON_IsString(g))
		return atoi(g->valuestring);
	return (int)def;
}

/* What the pod asks for; p->why set when a virtual node cannot run it. */
static void kpod_read(struct rp_vnode *v, struct kpod *p)
{
	const cJSON *spec = jget(p->obj, "spec");
	const cJSON *cs = jget(spec, "containers");
	if (cJSON_GetArraySize(cs) != 1 || cJSON_GetArraySize(jget(spec, "initContainers")) > 0) {
		p->why = rp_xstrdup("a RunPod pod runs one container: this pod has several (or init containers)");
		p->why_reason = "CreateContainerConfigError";
		return;
	}
	const cJSON *c = cJSON_GetArrayItem(cs, 0);
	p->gpus = gpu_limit(c, rp_cfg_int(v->cfg, "runpod.gpu_count"));
	if (p->gpus < 1)
		p->gpus = 1;
	p->gpu = rp_kube_annotation(p->obj, RP_VNODE_GPU_ANN);
	if (p->gpu) {
		int known = 0;
		const cJSON *g;
		cJSON_ArrayForEach(g, rp_cfg_json(v->cfg, "runpod.gpu_types")) {
			known |= cJSON_IsString(g) && !strcmp(g->valuestring, p->gpu);
		}
		if (!known) {
			p->why = rp_xasprintf("annotation %s: '%s' is not one of runpod.gpu_types", RP_VNODE_GPU_ANN,
					      p->gpu);
			p->why_reason = "CreateContainerConfigError";
			return;
		}
	}
	if (build_env(v, p, c) < 0) {
		p->why_reason = "CreateContainerConfigError";
		return;
	}
	p->ports = cJSON_CreateArray();
	cJSON_AddItemToArray(p->ports, cJSON_CreateString("22/tcp"));
	const cJSON *port;
	cJSON_ArrayForEach(port, jget(c, "ports")) {
		const cJSON *n = jget(port, "containerPort");
		const char *proto = jstr(port, "protocol");
		if (!cJSON_IsNumber(n) || n->valueint == 22)
			continue;
		if (proto && strcasecmp(proto, "TCP")) {
			rp_logw("port not served (RunPod has no inbound UDP/SCTP)", "pod", p->name, "protocol", proto);
			continue;
		}
		char pb[24];
		snprintf(pb, sizeof pb, "%d/tcp", n->valueint);
		cJSON_AddItemToArray(p->ports, cJSON_CreateString(pb));
	}
	char *words = build_args(c);
	p->args = rp_vkubelet_wrap(v->cfg, words);
	free(words);
	p->tag = cJSON_CreateObject();
	cJSON_AddStringToObject(p->tag, "vnode", v->name);
	cJSON_AddStringToObject(p->tag, "k8s_uid", p->uid);
	char *kn = rp_xasprintf("%s/%s", p->ns, p->name);
	cJSON_AddStringToObject(p->tag, "k8s_pod", kn);
	free(kn);
	p->want.image = jstr(c, "image");
	p->want.args = p->args;
	p->want.env = p->env;
	p->want.ports = p->ports;
	p->want.tag = p->tag;
}

/* ---- pod status ------------------------------------------------------------ */

enum { ST_PENDING, ST_RUNNING, ST_FAILED };

struct want_status {
	int phase;
	const char *ip;
	const char *reason, *message; /* the pod's (Failed) or the container's waiting reason */
	const char *started;          /* RunPod's startedAt, if known */
};

static const char *phase_name(int ph)
{
	return ph == ST_RUNNING ? "Running" : ph == ST_FAILED ? "Failed" : "Pending";
}

static int cond_true(const cJSON *pod, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, jget(jget(pod, "status"), "conditions")) {
		const char *t = jstr(c, "type"), *s = jstr(c, "status");
		if (t && s && !strcmp(t, type))
			return !strcmp(s, "True");
	}
	return 0;
}

static int same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Is the pod's status already what we would write? */
static int status_is(const cJSON *pod, const struct want_status *w)
{
	const cJSON *st = jget(pod, "status");
	const cJSON *c0 = cJSON_GetArrayItem(jget(st, "containerStatuses"), 0);
	const cJSON *state = jget(c0, "state");
	const char *key = w->phase == ST_RUNNING ? "running" : w->phase == ST_FAILED ? "terminated" : "waiting";
	const char *creason = w->phase == ST_PENDING ? jstr(jget(state, "waiting"), "reason") : NULL;
	return same(jstr(st, "phase"), phase_name(w->phase)) && same(jstr(st, "podIP"), w->ip) &&
	       cond_true(pod, "Ready") == (w->phase == ST_RUNNING) && jget(state, key) &&
	       (w->phase != ST_PENDING || same(creason, w->reason)) &&
	       (w->phase != ST_FAILED || same(jstr(st, "reason"), w->reason));
}

static cJSON *cond(const char *type, int ok, const char *t)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", ok ? "True" : "False");
	cJSON_AddStringToObject(c, "lastTransitionTime", t);
	return c;
}

/* A merge patch of the Kubernetes pod (sub "" or "/status"): 0, or an
 * exit code and *err. */
static int patch_pod(struct rp_vnode *v, const cJSON *pod, const char *sub, const cJSON *body, char **err)
{
	char *en = esc(meta_str(pod, "namespace")), *nn = esc(meta_str(pod, "name"));
	char *path = rp_xasprintf("/api/v1/namespaces/%s/pods/%s%s", en, nn, sub);
	int rc = call(v, "PATCH", path, "application/merge-patch+json", body, NULL, NULL, err);
	free(path);
	free(en);
	free(nn);
	return rc;
}

static int set_status(struct rp_vnode *v, const cJSON *pod, const struct want_status *w)
{
	if (status_is(pod, w))
		return 0;
	char t[40];
	now_ts(t, sizeof t);
	const cJSON *old = jget(pod, "status");
	const char *start = jstr(old, "startTime") ? jstr(old, "startTime") : t;
	int run = w->phase == ST_RUNNING;
	cJSON *body = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(body, "status");
	cJSON_AddStringToObject(st, "phase", phase_name(w->phase));
	if (w->phase == ST_FAILED) {
		cJSON_AddStringToObject(st, "reason", w->reason);
		cJSON_AddStringToObject(st, "message", w->message ? w->message : "");
	} else {
		cJSON_AddNullToObject(st, "reason");
		cJSON_AddNullToObject(st, "message");
	}
	cJSON_AddStringToObject(st, "startTime", start);
	cJSON_AddStringToObject(st, "qosClass", jstr(old, "qosClass") ? jstr(old, "qosClass") : "BestEffort");
	if (w->ip) {
		cJSON_AddStringToObject(st, "podIP", w->ip);
		cJSON_AddStringToObject(st, "hostIP", w->ip);
		cJSON *ips = cJSON_AddArrayToObject(st, "podIPs"), *ip = cJSON_CreateObject();
		cJSON_AddStringToObject(ip, "ip", w->ip);
		cJSON_AddItemToArray(ips, ip);
	} else {
		cJSON_AddNullToObject(st, "podIP");
		cJSON_AddNullToObject(st, "podIPs");
	}
	cJSON *cs = cJSON_AddArrayToObject(st, "conditions");
	cJSON_AddItemToArray(cs, cond("PodScheduled", 1, t));
	cJSON_AddItemToArray(cs, cond("Initialized", 1, t));
	cJSON_AddItemToArray(cs, cond("PodReadyToStartContainers", run, t));
	cJSON_AddItemToArray(cs, cond("ContainersReady", run, t));
	cJSON_AddItemToArray(cs, cond("Ready", run, t));
	cJSON *ccs = cJSON_AddArrayToObject(st, "containerStatuses");
	const cJSON *c;
	cJSON_ArrayForEach(c, jget(jget(pod, "spec"), "containers")) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", jstr(c, "name") ? jstr(c, "name") : "");
		cJSON_AddStringToObject(x, "image", jstr(c, "image") ? jstr(c, "image") : "");
		cJSON_AddStringToObject(x, "imageID", "");
		cJSON_AddBoolToObject(x, "ready", run);
		cJSON_AddBoolToObject(x, "started", run);
		cJSON_AddNumberToObject(x, "restartCount", 0);
		cJSON *state = cJSON_AddObjectToObject(x, "state");
		if (run) {
			cJSON_AddStringToObject(cJSON_AddObjectToObject(state, "running"), "startedAt",
						w->started ? w->started : t);
		} else if (w->phase == ST_FAILED) {
			cJSON *tm = cJSON_AddObjectToObject(state, "terminated");
			cJSON_AddNumberToObject(tm, "exitCode", 137);
			cJSON_AddStringToObject(tm, "reason", w->reason);
			cJSON_AddStringToObject(tm, "message", w->message ? w->message : "");
			cJSON_AddStringToObject(tm, "finishedAt", t);
		} else {
			cJSON *wt = cJSON_AddObjectToObject(state, "waiting");
			cJSON_AddStringToObject(wt, "reason", w->reason ? w->reason : "ContainerCreating");
			if (w->message)
				cJSON_AddStringToObject(wt, "message", w->message);
		}
		cJSON_AddItemToArray(ccs, x);
	}
	char *err = NULL;
	int rc = patch_pod(v, pod, "/status", body, &err);
	if (rc)
		rp_logw("pod status not updated", "pod", meta_str(pod, "name"), "error", err);
	else
		rp_info("pod status", "pod", meta_str(pod, "name"), "phase", phase_name(w->phase), "ip",
			w->ip ? w->ip : "", "reason", w->reason ? w->reason : "");
	free(err);
	cJSON_Delete(body);
	return rc;
}

/* The mapping, where kubectl describe shows it. */
static int annotate(struct rp_vnode *v, const cJSON *pod, const char *id, const char *name, const char *host, int port)
{
	if (same(rp_kube_annotation(pod, RP_FLEET_POD_ID), id))
		return 0;
	cJSON *body = cJSON_CreateObject();
	cJSON *an = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "metadata"), "annotations");
	cJSON_AddStringToObject(an, RP_FLEET_POD_ID, id);
	if (name)
		cJSON_AddStringToObject(an, "rp.io/runpod-name", name);
	if (host) {
		const char *user = rp_cfg_str(v->cfg, "ssh.user");
		char *ssh = rp_xasprintf("ssh -p %d %s%s%s", port, user ? user : "", user ? "@" : "", host);
		cJSON_AddStringToObject(an, "rp.io/ssh", ssh);
		free(ssh);
	}
	cJSON_AddStringToObject(an, "rp.io/logs",
				rp_vkubelet_on(v->cfg)
					? "kubectl logs is served by the virtual node (kube.virtual_log_file over SSH); "
					  "kubectl exec is not: use rp.io/ssh"
					: "kubectl logs/exec are not served by the virtual node: use rp.io/ssh");
	char *err = NULL;
	int rc = patch_pod(v, pod, "", body, &err);
	if (rc)
		rp_logw("pod not annotated", "pod", meta_str(pod, "name"), "error", err);
	free(err);
	cJSON_Delete(body);
	return rc;
}

static void ledger_line(const char *event, const char *id, const char *name, struct rp_vnode *v, const char *uid,
			const char *reason)
{
	cJSON *e = rp_ledger_event(event);
	cJSON_AddStringToObject(e, "id", id);
	if (name)
		cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "node", v->name);
	cJSON_AddStringToObject(e, "bootstrap", "virtual");
	if (uid)
		cJSON_AddStringToObject(e, "k8s_uid", uid);
	if (reason)
		cJSON_AddStringToObject(e, "reason", reason);
	rp_launch_ledger(e);
}

/* Terminate, confirmed; ledgered.  0 gone. */
static int stop_paying(struct rp_vnode *v, const char *id, const char *name, const char *uid, const char *why)
{
	char *err = NULL, nw[300];
	cJSON *l = rp_ledger_launches(NULL, &err); /* only our pods are terminated (ledger.h) */
	int mine = l && rp_ledger_ours(l, v->cfg, id, name, NULL, NULL, NULL, nw, sizeof nw);
	cJSON_Delete(l);
	if (!mine) {
		rp_loge("not ours per the ledger: refused, the pod left alone", "id", id, "name", name, "why",
			err ? err : nw);
		free(err);
		return RP_EXIT_PARTIAL;
	}
	double budget = rp_cfg_dur(v->cfg, "drain.terminate_timeout");
	int rc = rp_drain_terminate(v->rp, id, budget > 0 ? budget : 60, &err);
	if (rc) {
		rp_loge("terminate not confirmed; next pass tries again", "id", id, "error", err);
		rp_launch_ledger_gone("terminate_failed", id, name, err);
		free(err);
		return rc;
	}
	rp_info("pod terminated", "id", id, "name", name, "reason", why);
	ledger_line("terminated", id, name, v, uid, why);
	rp_launch_pod_gone(v->cfg, id);
	return 0;
}

/* ---- one pod ---------------------------------------------------------------- */

/* deletionTimestamp: hook within the grace, terminate, then the object. */
static int pod_delete(struct rp_vnode *v, const cJSON *pod, const cJSON *rpod)
{
	const char *name = meta_str(pod, "name"), *uid = meta_str(pod, "uid");
	if (rpod && rp_launch_live(rp_runpod_pod_status(rpod))) {
		const char *id = jstr(rpod, "id"), *rname = jstr(rpod, "name");
		const cJSON *g = jget(jget(pod, "metadata"), "deletionGracePeriodSeconds");
		if (!cJSON_IsNumber(g))
			g = jget(jget(pod, "spec"), "terminationGracePeriodSeconds");
		double grace = cJSON_IsNumber(g) ? g->valuedouble : 30, t0 = rp_mono();
		const char *hook = rp_cfg_str(v->cfg, "drain.checkpoint_command");
		int ck = 0, marker = 0, has_hook = hook && *hook && grace > 0;
		const char *host, *why = NULL;
		int port;
		/* as a kubelet's SIGTERM: the worker stop command, its marker
		 * awaited within the grace (half of it when the hook follows) */
		if (grace > 0 && !rp_runpod_pod_ssh(rpod, rp_runpod_api_loopback(v->rp), &host, &port, &why)) {
			int src = rp_drain_worker_stop(v->cfg, host, port, id, t0 + (has_hook ? grace / 2 : grace),
						       RP_DRAIN_WAIT_IF_STOPPED, "going on (its share of the grace period is spent)",
						       &marker);
			if (src && src != RP_EXIT_PARTIAL)
				rp_logw("worker stop command not run; stopping the pod anyway", "pod", name, "id", id);
		} else if (grace > 0) {
			rp_logw("worker stop command not run (no SSH address); stopping the pod anyway", "pod", name,
				"id", id, "why", why ? why : "");
		}
		if (has_hook) {
			char *err = NULL;
			const char *job = rp_kube_label(pod, RP_DRAIN_JOB);
			double left = t0 + grace - rp_mono();
			if (rp_drain_hook(hook, v->name, id, job ? job : "", left > 1 ? left : 1, &err))
				rp_logw("checkpoint hook failed; terminating anyway (grace period over)", "pod", name,
					"id", id, "error", err);
			else
				ck = 1;
			free(err);
		}
		cJSON *e = rp_ledger_event("drained");
		cJSON_AddStringToObject(e, "id", id);
		if (rname)
			cJSON_AddStringToObject(e, "name", rname);
		cJSON_AddStringToObject(e, "node", v->name);
		cJSON_AddStringToObject(e, "bootstrap", "virtual");
		cJSON_AddStringToObject(e, "k8s_uid", uid);
		cJSON_AddBoolToObject(e, "checkpointed", ck);
		cJSON_AddBoolToObject(e, "worker_marker", marker);
		rp_launch_ledger(e);
		int rc = stop_paying(v, id, rname, uid, "kubernetes pod deleted");
		if (rc)
			return rc;
	}
	/* Only now may the object go: nothing bills for it any more. */
	cJSON *body = cJSON_CreateObject();
	cJSON_AddNumberToObject(body, "gracePeriodSeconds", 0);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "preconditions"), "uid", uid);
	char *en = esc(meta_str(pod, "namespace")), *nn = esc(name);
	char *path = rp_xasprintf("/api/v1/namespaces/%s/pods/%s", en, nn);
	char *err = NULL;
	long st = 0;
	int rc = call(v, "DELETE", path, NULL, body, NULL, &st, &err);
	if (rc && st == 404)
		rc = 0;
	if (rc)
		rp_logw("pod object not deleted", "pod", name, "error", err);
	else
		rp_info("pod deleted", "pod", name, "node", v->name);
	free(err);
	free(path);
	free(en);
	free(nn);
	cJSON_Delete(body);
	return rc;
}

/* A live RunPod pod behind a Kubernetes pod: status, annotation, or the end. */
static int pod_follow(struct rp_vnode *v, const cJSON *pod, const cJSON *rpod)
{
	const char *st = rp_runpod_pod_status(rpod);
	const char *id = jstr(rpod, "id"), *rname = jstr(rpod, "name"), *uid = meta_str(pod, "uid");
	if (!rp_launch_live(st)) {
		const char *lsc = jstr(rpod, "lastStatusChange");
		int outbid = lsc && strcasestr(lsc, "outbid");
		char *msg = rp_xasprintf("RunPod pod %s (%s) is %s%s%s", id, rname ? rname : "", st ? st : "gone",
					 lsc ? ": " : "", lsc ? lsc : "");
		struct want_status w = { .phase = ST_FAILED, .reason = outbid ? "Preempted" : "RunPodExited",
					 .message = msg };
		int rc = set_status(v, pod, &w);
		if (!rc) {
			if (outbid)
				ledger_line("preempted", id, rname, v, uid, msg);
			rc = stop_paying(v, id, rname, uid, outbid ? "preempted" : "exited");
		}
		free(msg);
		return rc;
	}
	const char *host, *why = NULL;
	int port;
	if (st && !strcmp(st, "RUNNING") &&
	    !rp_runpod_pod_ssh(rpod, rp_runpod_api_loopback(v->rp), &host, &port, &why)) {
		annotate(v, pod, id, rname, host, port);
		struct want_status w = { .phase = ST_RUNNING, .ip = host, .started = jstr(rpod, "startedAt") };
		return set_status(v, pod, &w);
	}
	struct want_status w = { .phase = ST_PENDING, .reason = "ContainerCreating" };
	return set_status(v, pod, &w);
}

/* ---- the pass --------------------------------------------------------------- */

static int runs_here(const cJSON *pod)
{
	return !rp_kube_pod_is_mirror(pod) && !rp_kube_pod_is_daemonset(pod);
}

static int pods_pass(struct rp_vnode *v)
{
	char *err = NULL;
	cJSON *rpods = NULL;
	int rc = rp_runpod_list(v->rp, v->prefix, &rpods, &err);
	if (rc) {
		rp_logw("RunPod pods unlistable: no pod touched this pass", "error", err);
		free(err);
		return RP_EXIT_TEMP;
	}
	char *nn = esc(v->name);
	char *fs = rp_xasprintf("spec.nodeName=%s", v->name), *efs = esc(fs);
	char *path = rp_xasprintf("/api/v1/pods?fieldSelector=%s", efs);
	free(fs);
	free(efs);
	free(nn);
	cJSON *list = NULL;
	const cJSON *items = NULL;
	rc = rp_kube_list(v->k, path, &list, &items, &err);
	free(path);
	if (rc) {
		rp_logw("the node's pods unlistable: no pod touched this pass", "error", err);
		free(err);
		cJSON_Delete(rpods);
		return RP_EXIT_TEMP;
	}
	cJSON *map = ledger_load(v, &err);
	if (!map) {
		rp_loge("ledger unreadable: no pod touched this pass", "error", err);
		free(err);
		cJSON_Delete(list);
		cJSON_Delete(rpods);
		return RP_EXIT_FAIL;
	}
	size_t n = (size_t)cJSON_GetArraySize(items), nl = 0;
	struct kpod *kp = rp_xcalloc(n + 1, sizeof *kp);
	struct rp_exit ex = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	const cJSON *pod;
	cJSON_ArrayForEach(pod, items) {
		const char *uid = meta_str(pod, "uid");
		if (!uid || !runs_here(pod))
			continue;
		/* Its RunPod pod: the annotation, else the ledger (id, then name). */
		const char *ann = rp_kube_annotation(pod, RP_FLEET_POD_ID);
		const cJSON *lm = jget(map, uid);
		const cJSON *rpod = find_pod(rpods, "id", ann);
		if (!rpod)
			rpod = find_pod(rpods, "id", jstr(lm, "id"));
		if (!rpod)
			rpod = find_pod(rpods, "name", jstr(lm, "name"));
		int code;
		if (jstr(jget(pod, "metadata"), "deletionTimestamp")) {
			code = pod_delete(v, pod, rpod);
		} else if (rp_kube_pod_is_finished(pod)) {
			code = rpod && rp_launch_live(rp_runpod_pod_status(rpod))
				       ? stop_paying(v, jstr(rpod, "id"), jstr(rpod, "name"), uid, "kubernetes pod finished")
				       : 0;
		} else if (rpod) {
			code = pod_follow(v, pod, rpod);
		} else if (ann && *ann) {
			/* It ran, and RunPod no longer lists it. */
			char *msg = rp_xasprintf("RunPod pod %s is gone", ann);
			struct want_status w = { .phase = ST_FAILED, .reason = "RunPodGone", .message = msg };
			code = set_status(v, pod, &w);
			free(msg);
		} else {
			struct kpod *p = &kp[nl++];
			p->obj = pod;
			p->ns = meta_str(pod, "namespace") ? meta_str(pod, "namespace") : "default";
			p->name = meta_str(pod, "name");
			p->uid = uid;
			kpod_read(v, p);
			struct want_status w = { .phase = ST_PENDING, .reason = p->why ? p->why_reason : "ContainerCreating",
						 .message = p->why };
			code = set_status(v, pod, &w);
			if (p->why)
				rp_logw("pod not run", "pod", p->name, "why", p->why);
		}
		rp_exit_add(&ex, code);
	}
	/* Launch what has no RunPod pod, grouped by GPU count and type. */
	for (size_t i = 0; i < nl; i++) {
		if (kp[i].why || kp[i].want.tag == NULL || kp[i].gpus < 0)
			continue;
		size_t m = 0;
		struct rp_wave_want *ws = rp_xcalloc(nl, sizeof *ws);
		size_t *idx = rp_xcalloc(nl, sizeof *idx);
		for (size_t j = i; j < nl; j++) {
			if (kp[j].why || kp[j].gpus < 0 || kp[j].gpus != kp[i].gpus || !same(kp[j].gpu, kp[i].gpu))
				continue;
			idx[m] = j;
			ws[m++] = kp[j].want;
		}
		char nb[24];
		snprintf(nb, sizeof nb, "%zu", m);
		rp_info("launching RunPod pods for Kubernetes pods", "node", v->name, "pods", nb);
		int lrc = rp_wave_launch_wants(v->cfg, ws, m, kp[i].gpus, kp[i].gpu);
		for (size_t j = 0; j < m; j++) {
			struct kpod *p = &kp[idx[j]];
			p->want = ws[j];
			p->gpus = -1; /* done */
			if (!p->want.ready) {
				rp_exit_add(&ex, lrc ? lrc : RP_EXIT_TEMP);
				continue;
			}
			cJSON *e = rp_ledger_event("joined");
			cJSON_AddStringToObject(e, "id", p->want.id);
			cJSON_AddStringToObject(e, "name", p->want.name);
			cJSON_AddStringToObject(e, "node", v->name);
			cJSON_AddStringToObject(e, "bootstrap", "virtual");
			cJSON_AddStringToObject(e, "k8s_uid", p->uid);
			char *kn = rp_xasprintf("%s/%s", p->ns, p->name);
			cJSON_AddStringToObject(e, "k8s_pod", kn);
			free(kn);
			rp_launch_ledger(e);
			annotate(v, p->obj, p->want.id, p->want.name, p->want.ssh_host, p->want.ssh_port);
			struct want_status w = { .phase = ST_RUNNING, .ip = p->want.ssh_host };
			rp_exit_add(&ex, set_status(v, p->obj, &w));
		}
		free(ws);
		free(idx);
	}
	/* Nothing paid after the pod is gone. */
	const cJSON *e;
	cJSON_ArrayForEach(e, map) {
		int seen = 0;
		cJSON_ArrayForEach(pod, items) {
			if (same(meta_str(pod, "uid"), e->string))
				seen = 1;
		}
		const cJSON *rpod = find_pod(rpods, "id", jstr(e, "id"));
		if (!rpod)
			rpod = find_pod(rpods, "name", jstr(e, "name"));
		if (seen || !rpod || !rp_launch_live(rp_runpod_pod_status(rpod)))
			continue;
		rp_info("its Kubernetes pod is gone: terminating", "id", jstr(rpod, "id"), "k8s_pod", jstr(e, "k8s_pod"));
		rp_exit_add(&ex, stop_paying(v, jstr(rpod, "id"), jstr(rpod, "name"), e->string,
					     "kubernetes pod gone"));
	}
	for (size_t i = 0; i < nl; i++)
		kpod_free(&kp[i]);
	free(kp);
	cJSON_Delete(map);
	cJSON_Delete(list);
	cJSON_Delete(rpods);
	return rp_exit_code(&ex);
}

int rp_vnode_pass(struct rp_vnode *v)
{
	int hb = node_pass(v);
	int rc = pods_pass(v);
	return rc ? rc : hb;
}

/* ---- lifecycle -------------------------------------------------------------- */

struct rp_vnode *rp_vnode_new(struct rp_config *cfg, const char *name, char **err)
{
	*err = NULL;
	if (!name || !*name || strlen(name) > 253 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(name) ||
	    name[0] == '-' || name[0] == '.' || name[strlen(name) - 1] == '-' || name[strlen(name) - 1] == '.') {
		*err = rp_xasprintf("--virtual: '%s' is not a node name (lowercase RFC 1123 subdomain)", name ? name : "");
		return NULL;
	}
	cJSON *lb = NULL;
	const char *bad = NULL;
	if (rp_fleet_labels(rp_cfg_json(cfg, "kube.labels"), &lb, &bad) < 0) {
		*err = rp_xasprintf("kube.labels (%s): '%s' is not KEY=VALUE", rp_cfg_where(cfg, "kube.labels"),
				    bad ? bad : "?");
		return NULL;
	}
	cJSON_Delete(lb);
	char *pk = rp_launch_public_key(cfg, err);
	if (!pk)
		return NULL;
	free(pk);
	struct rp_vnode *v = rp_xcalloc(1, sizeof *v);
	v->cfg = cfg;
	v->name = rp_xstrdup(name);
	v->k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), err);
	if (!v->k) {
		rp_vnode_free(v);
		return NULL;
	}
	v->rp = rp_runpod_open(cfg, err);
	if (!v->rp) {
		rp_vnode_free(v);
		return NULL;
	}
	v->prefix = rp_launch_prefix(cfg);
	return v;
}

void rp_vnode_free(struct rp_vnode *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->prefix);
	rp_kube_free(v->k);
	rp_runpod_free(v->rp);
	free(v);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double interval(const struct rp_vnode *v)
{
	double every = rp_cfg_dur(v->cfg, "kube.virtual_interval");
	return every > 0 ? every : 10;
}

static void nap_until(double t)
{
	while (!stop_flag && rp_mono() < t)
		rp_sleep(t - rp_mono() < 0.2 ? t - rp_mono() : 0.2);
}

/* The heartbeat has its own thread: a launch waits for readiness for up
 * to runpod.ready_timeout, far longer than a lease lasts. */
static void *heartbeat(void *arg)
{
	struct rp_vnode *v = arg;
	while (!stop_flag) {
		double t0 = rp_mono();
		node_pass(v);
		nap_until(t0 + interval(v));
	}
	return NULL;
}

int rp_vnode_run(struct rp_vnode *v, int once)
{
	if (once)
		return rp_vnode_pass(v);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	char *err = NULL;
	struct rp_vkubelet *api = rp_vkubelet_open(v->cfg, v->name, &err);
	if (err) {
		rp_loge("kubelet API not started", "node", v->name, "error", err);
		free(err);
		return RP_EXIT_USAGE;
	}
	rp_info("virtual node serving", "node", v->name);
	node_pass(v); /* registered before its pods are looked at */
	pthread_t hb;
	int threaded = !pthread_create(&hb, NULL, heartbeat, v);
	while (!stop_flag) {
		double t0 = rp_mono();
		if (!threaded)
			node_pass(v);
		pods_pass(v);
		nap_until(t0 + interval(v));
	}
	if (threaded)
		pthread_join(hb, NULL);
	rp_vkubelet_close(api);
	rp_info("virtual node stopping (its pods keep running; a restart adopts them)", "node", v->name);
	return RP_EXIT_OK;
}
