/* test-fleet.c — what is ours: the name prefix, the node selector from
 * kube.labels, the refusal, the opt-outs, and the one pod <-> node order
 * (annotation, then label, then the name rule). */
#include "fleet.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static struct rp_config *conf(const char *yaml)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!c) {
		printf("bad test config: %s\n", err);
		exit(2);
	}
	return c;
}

int main(void)
{
	rp_init("test-fleet");
	struct rp_config *dflt = conf(""), *demo = conf("cluster: demo\n");
	struct rp_config *mine = conf("kube:\n  labels: [\"pool=burst\", \"team=video\"]\n");
	struct rp_config *none = conf("kube:\n  labels: []\n");
	struct rp_config *bad = conf("kube:\n  labels: [\"nolabel\"]\n");
	char *s, *err = NULL;

	/* names */
	T_STR(s = rp_fleet_prefix(demo), "demo-burst-", "prefix: <cluster>-burst-");
	free(s);
	T_STR(s = rp_fleet_prefix(dflt), "rp-burst-", "no cluster: rp-burst-");
	free(s);
	T_INT(rp_fleet_is_ours(demo, "demo-burst-7f3a"), 1, "demo-burst-7f3a is ours");
	T_INT(rp_fleet_is_ours(demo, "demo-db-1"), 0, "demo-db-1 (only <cluster>-) is not ours");
	T_INT(rp_fleet_is_ours(demo, "demo-burst-"), 0, "the bare prefix is not a name");
	T_INT(rp_fleet_is_ours(demo, "prod-burst-7f3a"), 0, "another cluster's burst pod is not ours");
	T_INT(rp_fleet_is_ours(demo, NULL), 0, "no name: not ours");

	/* selector */
	T_STR(s = rp_fleet_selector(dflt, &err), "nvidia.com%2Fgpu%3Dtrue%2Cgpu-type%3Drunpod",
	      "default kube.labels ANDed, URL-escaped");
	free(s);
	T_STR(s = rp_fleet_selector(mine, &err), "pool%3Dburst%2Cteam%3Dvideo", "configured labels, not gpu-type");
	free(s);
	T_STR(s = rp_fleet_nodes_path(mine, &err), "/api/v1/nodes?labelSelector=pool%3Dburst%2Cteam%3Dvideo",
	      "the nodes path");
	free(s);
	T_OK(rp_fleet_selector(none, &err) == NULL && err && strstr(err, "empty"),
	     "empty kube.labels: an error, never every node (%s)", err ? err : "");
	free(err);
	err = NULL;
	T_OK(rp_fleet_selector(bad, &err) == NULL && err && strstr(err, "'nolabel' is not KEY=VALUE"),
	     "a label without '=': an error naming it (%s)", err ? err : "");
	free(err);
	err = NULL;

	/* refusal and opt-outs */
	cJSON *burst = js("{\"metadata\":{\"name\":\"demo-burst-a\",\"labels\":{\"gpu-type\":\"runpod\","
			  "\"nvidia.com/gpu\":\"true\"}}}");
	cJSON *base = js("{\"metadata\":{\"name\":\"gpu-base-1\",\"labels\":{\"gpu-type\":\"local-baseline\","
			 "\"nvidia.com/gpu\":\"true\"}}}");
	cJSON *half = js("{\"metadata\":{\"name\":\"x\",\"labels\":{\"gpu-type\":\"runpod\"}}}");
	cJSON *ca = js("{\"metadata\":{\"name\":\"o\",\"labels\":{\"gpu-type\":\"runpod\",\"nvidia.com/gpu\":\"true\"},"
		       "\"annotations\":{\"cluster-autoscaler.kubernetes.io/scale-down-disabled\":\"true\"}}}");
	cJSON *kp = js("{\"metadata\":{\"name\":\"o\",\"labels\":{\"gpu-type\":\"runpod\",\"nvidia.com/gpu\":\"true\"},"
		       "\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}}}");
	cJSON *kpf = js("{\"metadata\":{\"name\":\"o\",\"labels\":{\"gpu-type\":\"runpod\",\"nvidia.com/gpu\":\"true\"},"
			"\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"false\"}}}");
	T_OK(rp_fleet_refusal(dflt, burst) == NULL, "a node with every kube.labels label is ours");
	T_STR(rp_fleet_refusal(dflt, base), "not a burst node (gpu-type=local-baseline): never drained",
	      "a baseline node is refused, naming the label");
	T_STR(rp_fleet_refusal(dflt, half), "not a burst node (nvidia.com/gpu=<none>): never drained",
	      "a label missing: refused");
	T_OK(rp_fleet_refusal(mine, burst) != NULL, "with kube.labels pool=burst, a gpu-type=runpod node is not ours");
	T_OK(rp_fleet_refusal(none, burst) != NULL, "empty kube.labels: nothing is ours");
	T_STR(rp_fleet_refusal(dflt, ca),
	      "opted out of scale-down (cluster-autoscaler.kubernetes.io/scale-down-disabled=true)",
	      "cluster-autoscaler opt-out");
	T_STR(rp_fleet_opt_out(kp), "karpenter.sh/do-not-disrupt=true", "karpenter opt-out");
	T_OK(rp_fleet_opt_out(kpf) == NULL && rp_fleet_refusal(dflt, kpf) == NULL, "do-not-disrupt=false: no opt-out");

	/* pod <-> node: annotation, then label, then name */
	cJSON *both = js("{\"metadata\":{\"name\":\"n1\",\"annotations\":{\"rp.io/pod-id\":\"ann1\"},"
			 "\"labels\":{\"rp.io/pod-id\":\"lab1\"}}}");
	cJSON *lab = js("{\"metadata\":{\"name\":\"n2\",\"labels\":{\"rp.io/pod-id\":\"lab2\"}}}");
	cJSON *emptya = js("{\"metadata\":{\"name\":\"n3\",\"annotations\":{\"rp.io/pod-id\":\"\"},"
			   "\"labels\":{\"rp.io/pod-id\":\"lab3\"}}}");
	cJSON *bare = js("{\"metadata\":{\"name\":\"demo-burst-b\"}}");
	cJSON *pods = js("[{\"id\":\"p1\",\"name\":\"demo-burst-a\"},{\"id\":\"p2\",\"name\":\"demo-burst-b\"}]");
	T_STR(rp_fleet_pod_id(both), "ann1", "annotation first, even with a label");
	T_STR(rp_fleet_pod_id(lab), "lab2", "label when there is no annotation");
	T_STR(rp_fleet_pod_id(emptya), "lab3", "an empty annotation counts as absent");
	T_OK(rp_fleet_pod_id(bare) == NULL, "neither: no pod id");
	T_STR(rp_fleet_pod_of_node(both, pods), "ann1", "pod of node: the annotation wins over the name rule");
	T_STR(rp_fleet_pod_of_node(bare, pods), "p2", "pod of node: the name rule last");
	T_OK(rp_fleet_pod_of_node(bare, NULL) == NULL, "no pods listed: none");

	cJSON *nodes = js("[{\"metadata\":{\"name\":\"demo-burst-x\",\"annotations\":{\"rp.io/pod-id\":\"other\"}}},"
			  "{\"metadata\":{\"name\":\"n9\",\"labels\":{\"rp.io/pod-id\":\"px\"}}},"
			  "{\"metadata\":{\"name\":\"demo-burst-y\"}}]");
	T_STR(rp_fleet_node_name(rp_fleet_node_of_pod(nodes, "px", "demo-burst-px")), "n9", "node of pod: by its id");
	T_OK(rp_fleet_node_of_pod(nodes, "px2", "demo-burst-x") == NULL,
	     "a node named like the pod but carrying another id is not its node");
	T_STR(rp_fleet_node_name(rp_fleet_node_of_pod(nodes, "py", "demo-burst-y")), "demo-burst-y",
	      "a node with no id: the name rule");

	cJSON *all[] = { burst, base, half, ca, kp, kpf, both, lab, emptya, bare, pods, nodes };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		cJSON_Delete(all[i]);
	rp_config_free(dflt);
	rp_config_free(demo);
	/* Lost: NotReady for longer than the grace, one rule for Nodes and for
	 * the simulator's NotReady times. */
	T_OK(!rp_fleet_lost_after(-1, 120), "lost: a Ready node (-1) never is");
	T_OK(!rp_fleet_lost_after(120, 120), "lost: not at the grace itself");
	T_OK(rp_fleet_lost_after(120.5, 120), "lost: past the grace");
	cJSON *nr = cJSON_Parse("{\"metadata\":{\"name\":\"n\"},\"status\":{\"conditions\":"
				"[{\"type\":\"Ready\",\"status\":\"Unknown\","
				"\"lastTransitionTime\":\"2026-12-01T00:00:00Z\"}]}}");
	double t0;
	rp_parse_rfc3339("2026-12-01T00:00:00Z", &t0);
	T_OK(!rp_fleet_lost(nr, t0 + 119, 120), "lost: a Node NotReady 119 s of 120 is not");
	T_OK(rp_fleet_lost(nr, t0 + 121, 120), "lost: a Node NotReady 121 s of 120 is");
	cJSON_Delete(nr);
	rp_config_free(mine);
	rp_config_free(none);
	rp_config_free(bad);
	return T_DONE();
}
