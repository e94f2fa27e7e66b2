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

/* The i-th "KEY=VALUE" of kube.labels split at '=', or 0 when there is no
 * i-th; -1 when it is malformed. */
static int label_at(const struct rp_config *cfg, int i, char *key, size_t ksz, const char **val)
{
	const cJSON *e = cJSON_GetArrayItem(rp_cfg_json(cfg, "kube.labels"), i);
	if (!e)
		return 0;
	const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
	const char *eq = s ? strchr(s, '=') : NULL;
	if (!eq || eq == s || (size_t)(eq - s) >= ksz)
		return -1;
	memcpy(key, s, (size_t)(eq - s));
	key[eq - s] = 0;
	*val = eq + 1;
	return 1;
}

char *rp_fleet_selector(const struct rp_config *cfg, char **err)
{
	const cJSON *l = rp_cfg_json(cfg, "kube.labels"), *e;
	struct rp_buf b = { 0 };
	char key[256];
	const char *v;
	*err = NULL;
	for (int i = 0;; i++) {
		int r = label_at(cfg, i, key, sizeof key, &v);
		if (!r)
			break;
		if (r < 0) {
			e = cJSON_GetArrayItem(l, i);
			*err = rp_xasprintf("kube.labels (%s): '%s' is not KEY=VALUE", rp_cfg_where(cfg, "kube.labels"),
					    cJSON_IsString(e) ? e->valuestring : "?");
			rp_buf_free(&b);
			return NULL;
		}
		if (i)
			rp_buf_add(&b, ",", 1);
		rp_buf_add(&b, cJSON_GetArrayItem(l, i)->valuestring, strlen(cJSON_GetArrayItem(l, i)->valuestring));
	}
	if (!b.len) {
		*err = rp_xasprintf("kube.labels (%s) is empty: no label tells our nodes from the others",
				    rp_cfg_where(cfg, "kube.labels"));
		rp_buf_free(&b);
		return NULL;
	}
	rp_buf_add(&b, "", 1);
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
	char key[256];
	const char *want, *a;
	int r, i;
	for (i = 0; (r = label_at(cfg, i, key, sizeof key, &want)) > 0; i++) {
		const char *t = rp_kube_label(node, key);
		if (!t || strcmp(t, want)) {
			snprintf(buf, sizeof buf, "not a burst node (%s=%s): never drained", key, t ? t : "<none>");
			return buf;
		}
	}
	if (r < 0 || !i)
		return "kube.labels names no label to tell our nodes by: never drained";
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
