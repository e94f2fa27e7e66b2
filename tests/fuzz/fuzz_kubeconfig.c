/* fuzz_kubeconfig — the kubeconfig reader (rp_kube_open: YAML, contexts,
 * clusters, users, base64 CA and client material): it comes back with a
 * server or with one error line, and refuses insecure-skip-tls-verify. */
#include "fuzz.h"
#include "kube.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_kubeconfig");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct rp_kube *k = rp_kube_parse((const char *)data, size, "fuzz/kubeconfig", &err);
	if (k) {
		FZ_CHECK(!err && rp_kube_server(k));
		rp_kube_free(k);
	} else {
		FZ_CHECK(err && *err);
		free(err);
	}
	return 0;
}
