/* fleet.c — what is ours: names, labels, pod <-> node, opt-out, lost
 * (see fleet.h). */
#include "fleet.h"
#include "http.h"
#include "kube.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *rp_fleet_prefix(const struct rp_config *cfg)
{
	const char *cl = cfg ? rp_cfg_str(cfg, "cluster") : NULL;
	return rp_xasprintf("%s-burst-", cl && *cl ? cl : "rp");
}

int rp_fleet_is_ours(const struct rp_config *cfg, const char *name)
{
	char *p = rp_fleet_prefix(cfg);
	size_t n = strlen(p);
	int ours = name && !strncmp(name, p, n) && name[n];
	free(p);
	return ours;
}

int rp_fleet_labels(const cJSON *list, cJSON **labels, const char **bad)
{
	*labels = cJSON_CreateObject();
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *s = cJSON_IsString(e) ? e->valuestring : "";
		size_t kl = strcspn(s, "=");
		if (!kl || !s[kl]) {
			*bad = s;
			cJSON_Delete(*labels);
			*labels = NULL;
			return -1;
		}
		char *k = rp_xstrdup(s);
		k[kl] = 0;
		cJSON_DeleteItemFromObjectCaseSensitive(*labels, k);
		cJSON_AddStringToObject(*labels, k, s + kl + 1);
		free(k);
	}
	return 0;
}

/* kube.labels as an object, or NULL with *err when it is malformed or
 * empty: no label would tell our nodes from the others. */
static cJSON *labels_of(const struct rp_config *cfg, char **err)
{
	cJSON *l;
	const char *bad = NULL;
	if (rp_fleet_labels(rp_cfg_json(cfg, "kube.labels"), &l, &bad) < 0) {
		*err = rp_xasprintf("kube.labels (%s): '%s' is not KEY=VALUE", rp_cfg_where(cfg, "kube.labels"), bad);
		return NULL;
	}
	if (!l->child) {
		cJSON_Delete(l);
		*err = rp_xasprintf("kube.labels (%s) is empty: no label tells our nodes from the others",
				    rp_cfg_where(cfg, "kube.labels"));
		return NULL;
	}
	return l;
}

char *rp_fleet_selector(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	cJSON *l = labels_of(cfg, err), *e;
	if (!l)
		return NULL;
	struct rp_buf b = { 0 };
	cJSON_ArrayForEach(e, l)
	{
		rp_buf_addf(&b, "%s%s=%s", b.len ? "," : "", e->string, e->valuestring);
	}
	cJSON_Delete(l);
	char *esc = rp_http_escape(b.data);
	rp_buf_free(&b);
	return esc;
}

char *rp_fleet_nodes_path(const struct rp_config *cfg, char **err)
{
	char *sel = rp_fleet_selector(cfg, err);
	if (!sel)
		return NULL;
	char *path = rp_xasprintf("/api/v1/nodes?labelSelector=%s", sel);
	free(sel);
	return path;
}

const char *rp_fleet_opt_out(const cJSON *node)
{
	const char *a = rp_kube_annotation(node, "cluster-autoscaler.kubernetes.io/scale-down-disabled");
	if (a && !strcmp(a, "true"))
		return "cluster-autoscaler.kubernetes.io/scale-down-disabled=true";
	a = rp_kube_annotation(node, "karpenter.sh/do-not-disrupt");
	if (a && !strcmp(a, "true"))
		return "karpenter.sh/do-not-disrupt=true";
	return NULL;
}

const char *rp_fleet_refusal(const struct rp_config *cfg, const cJSON *node)
{
	static char buf[512];
	const char *a;
	char *err = NULL;
	cJSON *l = labels_of(cfg, &err), *e;
	free(err);
	if (!l)
		return "kube.labels names no label to tell our nodes by: never drained";
	cJSON_ArrayForEach(e, l)
	{
		const char *t = rp_kube_label(node, e->string);
		if (!t || strcmp(t, e->valuestring)) {
			snprintf(buf, sizeof buf, "not a burst node (%s=%s): never drained", e->string, t ? t : "<none>");
			cJSON_Delete(l);
			return buf;
		}
	}
	cJSON_Delete(l);
	if ((a = rp_fleet_opt_out(node))) {
		snprintf(buf, sizeof buf, "opted out of scale-down (%s)", a);
		return buf;
	}
	return NULL;
}

const char *rp_fleet_node_name(const cJSON *node)
{
	return str(cJSON_GetObjectItemCaseSensitive(node, "metadata"), "name");
}

const char *rp_fleet_pod_id(const cJSON *node)
{
	const char *id = rp_kube_annotation(node, RP_FLEET_POD_ID);
	if (!id || !*id)
		id = rp_kube_label(node, RP_FLEET_POD_ID);
	return id && *id ? id : NULL;
}

const char *rp_fleet_pod_of_node(const cJSON *node, const cJSON *pods)
{
	const char *id = rp_fleet_pod_id(node), *nn = rp_fleet_node_name(node);
	const cJSON *p;
	if (id || !nn)
		return id;
	cJSON_ArrayForEach(p, pods)
	{
		const char *n = str(p, "name");
		if (n && !strcmp(n, nn))
			return str(p, "id");
	}
	return NULL;
}

const cJSON *rp_fleet_node_of_pod(const cJSON *nodes, const char *id, const char *name)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		const char *nn = rp_fleet_node_name(n), *pid = rp_fleet_pod_id(n);
		if (!nn)
			continue;
		if (pid ? id && !strcmp(pid, id) : name && !strcmp(nn, name))
			return n;
	}
	return NULL;
}

double rp_fleet_notready_s(const cJSON *node, double now, double *since)
{
	const cJSON *c, *ready = NULL;
	const char *t = NULL;
	double from;
	if (since)
		*since = -1;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "status"),
								 "conditions"))
	{
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(c, "type");
		if (cJSON_IsString(ty) && !strcmp(ty->valuestring, "Ready"))
			ready = c;
	}
	if (ready) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(ready, "status");
		if (cJSON_IsString(st) && !strcmp(st->valuestring, "True"))
			return -1;
		c = cJSON_GetObjectItemCaseSensitive(ready, "lastTransitionTime");
	} else {
		c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "metadata"),
						     "creationTimestamp");
	}
	if (cJSON_IsString(c))
		t = c->valuestring;
	if (!t || rp_parse_rfc3339(t, &from) < 0 || from > now)
		from = now;
	if (since)
		*since = from;
	return now - from;
}

int rp_fleet_lost_after(double not_ready_s, double grace)
{
	return not_ready_s >= 0 && not_ready_s > grace;
}

int rp_fleet_lost(const cJSON *node, double now, double grace)
{
	return rp_fleet_lost_after(rp_fleet_notready_s(node, now, NULL), grace);
}
