/* test-drain-filter.c — which pods `kubectl drain` would skip, evict or be
 * blocked by (rp_drain_filter), in kubectl's order. */
#include "drain.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

#define RS "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web\",\"controller\":true}]"
#define DS "\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"agent\",\"controller\":true}]"
#define EMPTYDIR "\"spec\":{\"volumes\":[{\"name\":\"scratch\",\"emptyDir\":{}}]}"

static struct rp_drain_opts plain = { .grace_period = -1 }, forced = { .force = 1, .grace_period = -1 },
			    emptyok = { .delete_emptydir = 1, .grace_period = -1 };

/* The verdict, with the notes it left ("W:" warning, "E:" error). */
static int verdict(const char *pod, const struct rp_drain_opts *o, long ds, char *notes, size_t nsz)
{
	cJSON *p = js(pod), *w = cJSON_CreateArray(), *e = cJSON_CreateArray(), *it;
	int v = rp_drain_filter(p, o, ds, ds ? "daemonsets.apps \"agent\" is forbidden" : NULL, w, e);
	notes[0] = 0;
	cJSON_ArrayForEach(it, w) snprintf(notes + strlen(notes), nsz - strlen(notes), "W:%s;", it->valuestring);
	cJSON_ArrayForEach(it, e) snprintf(notes + strlen(notes), nsz - strlen(notes), "E:%s;", it->valuestring);
	cJSON_Delete(p);
	cJSON_Delete(w);
	cJSON_Delete(e);
	return v;
}

int main(void)
{
	char n[512];
	const char *web = "{\"metadata\":{\"namespace\":\"media\",\"name\":\"web-1\"," RS "}}";
	T_INT(verdict(web, &plain, 0, n, sizeof n), RP_DRAIN_EVICT, "a ReplicaSet pod is evicted");
	T_STR(n, "", "without a note");

	const char *ds = "{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"agent-x\"," DS "}}";
	T_INT(verdict(ds, &plain, 0, n, sizeof n), RP_DRAIN_ASK_DS, "a live DaemonSet pod: its DaemonSet is asked for");
	T_INT(verdict(ds, &plain, 200, n, sizeof n), RP_DRAIN_SKIP, "DaemonSet there: the pod is skipped");
	T_INT(verdict(ds, &plain, 404, n, sizeof n), RP_DRAIN_BLOCK, "DaemonSet gone, no --force: blocks the node");
	T_INT(verdict(ds, &forced, 404, n, sizeof n), RP_DRAIN_EVICT, "DaemonSet gone, --force: the pod goes");
	T_STR(n, "W:kube-system/agent-x: deleting Pod of a DaemonSet that is gone;", "with kubectl's warning");
	T_INT(verdict(ds, &forced, 403, n, sizeof n), RP_DRAIN_BLOCK, "DaemonSet unreadable (403): blocks, even forced");
	T_STR(n, "E:kube-system/agent-x: daemonsets.apps \"agent\" is forbidden;", "naming the API's answer");
	const char *dsdone = "{\"metadata\":{\"name\":\"agent-y\"," DS "},\"status\":{\"phase\":\"Succeeded\"}}";
	T_INT(verdict(dsdone, &plain, 0, n, sizeof n), RP_DRAIN_EVICT, "a finished DaemonSet pod goes, nothing asked");

	const char *mirror = "{\"metadata\":{\"name\":\"etcd-n1\",\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}}}";
	T_INT(verdict(mirror, &plain, 0, n, sizeof n), RP_DRAIN_SKIP, "a mirror pod is skipped");
	T_STR(n, "", "silently, even without a controller");

	const char *ed = "{\"metadata\":{\"name\":\"cache\"," RS "}," EMPTYDIR "}";
	T_INT(verdict(ed, &plain, 0, n, sizeof n), RP_DRAIN_BLOCK, "emptyDir without --delete-emptydir-data blocks");
	T_STR(n, "E:default/cache: Pods with local storage (use --delete-emptydir-data to override);",
	      "kubectl's words, namespace default");
	T_INT(verdict(ed, &emptyok, 0, n, sizeof n), RP_DRAIN_EVICT, "with --delete-emptydir-data it goes");
	T_STR(n, "W:default/cache: deleting Pod with local storage;", "with a warning");

	const char *bare = "{\"metadata\":{\"namespace\":\"media\",\"name\":\"solo\"}}";
	T_INT(verdict(bare, &plain, 0, n, sizeof n), RP_DRAIN_BLOCK, "no controller, no --force: blocks");
	T_STR(n, "E:media/solo: Pods that declare no controller (use --force to override);", "kubectl's words");
	T_INT(verdict(bare, &forced, 0, n, sizeof n), RP_DRAIN_EVICT, "no controller, --force: goes");
	T_STR(n, "W:media/solo: deleting Pod that declares no controller;", "with a warning");
	const char *baredone = "{\"metadata\":{\"name\":\"job-x\"},\"status\":{\"phase\":\"Failed\"}," EMPTYDIR "}";
	T_INT(verdict(baredone, &plain, 0, n, sizeof n), RP_DRAIN_EVICT, "a finished pod goes whatever it is");
	T_STR(n, "", "with no note");

	const char *both = "{\"metadata\":{\"name\":\"tmp\"}," EMPTYDIR "}";
	struct rp_drain_opts all = { .force = 1, .delete_emptydir = 1, .grace_period = -1 };
	T_INT(verdict(both, &forced, 0, n, sizeof n), RP_DRAIN_BLOCK, "emptyDir is checked before the controller");
	T_STR(n, "E:default/tmp: Pods with local storage (use --delete-emptydir-data to override);",
	      "one error: kubectl stops at the first filter that keeps a pod");
	T_INT(verdict(both, &all, 0, n, sizeof n), RP_DRAIN_EVICT, "both overrides: goes");
	T_STR(n, "W:default/tmp: deleting Pod with local storage;W:default/tmp: deleting Pod that declares no controller;",
	      "with both warnings");
	T_INT(verdict("{\"metadata\":{}}", &forced, 0, n, sizeof n), RP_DRAIN_SKIP, "a pod without a name is left alone");
	return T_DONE();
}
