/* fuzz_kube — the Kubernetes answer helpers (kube.c) rp-drain and rp-join
 * decide with: pod classification (mirror, DaemonSet-owned, finished),
 * labels and annotations, Node readiness, and the one-line error message
 * of a Status answer, over an object or every item of a list. */
#include "fuzz.h"
#include "kube.h"

static void classify(const cJSON *o)
{
	FZ_CHECK((unsigned)rp_kube_pod_is_mirror(o) <= 1);
	FZ_CHECK((unsigned)rp_kube_pod_is_daemonset(o) <= 1);
	FZ_CHECK((unsigned)rp_kube_pod_is_finished(o) <= 1);
	FZ_CHECK((unsigned)rp_kube_node_ready(o) <= 1);
	(void)rp_kube_label(o, "rp.burst/node");
	(void)rp_kube_annotation(o, "kubernetes.io/config.mirror");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t st = fz_byte(&data, &size);
	char *text = fz_str(data, size);
	cJSON *j = cJSON_Parse(text);
	classify(j);
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "items")) classify(e);
	const char *m = rp_kube_errmsg(st ? 400 + st : 0, j);
	FZ_CHECK(m && !strchr(m, '\n'));
	cJSON_Delete(j);
	free(text);
	return 0;
}
