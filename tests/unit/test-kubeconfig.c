/* test-kubeconfig: certificate-authority-data is base64 with at most two
 * '=' of padding.  fuzz_kubeconfig found "====": OpenSSL decodes it as a
 * 3-byte block, the padding loop took 4 off, and b64dec wrote out[-1]
 * (tests/fuzz/regress/kubeconfig/ca-data-all-padding).  Such data is now
 * "not valid base64"; real padding still trims exactly. */
#include "kube.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static struct rp_kube *with_ca(const char *b64, char **err)
{
	char *y = rp_xasprintf("current-context: c\n"
			       "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
			       "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443/\n"
			       "    certificate-authority-data: \"%s\"\n"
			       "users:\n- name: u\n  user: {token: t0k3n-abcdef}\n",
			       b64);
	struct rp_kube *k = rp_kube_parse(y, strlen(y), "unit/kubeconfig", err);
	free(y);
	return k;
}

int main(void)
{
	rp_init("test-kubeconfig");
	static const struct {
		const char *in, *out;
	} good[] = { { "QUJD", "ABC" }, { "QUI=", "AB" }, { "QQ==", "A" }, { "QUJDRA==", "ABCD" }, { "", "" } };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		char *err = NULL;
		struct rp_kube *k = with_ca(good[i].in, &err);
		T_OK(k && !err, "CA data '%s' is accepted (%s)", good[i].in, err ? err : "");
		if (k) {
			T_STR(rp_kube_ca_pem(k), good[i].out, "decoded to exactly its bytes");
			T_STR(rp_kube_server(k), "https://127.0.0.1:6443", "server without its trailing slash");
		}
		rp_kube_free(k);
		free(err);
	}
	static const char *const bad[] = { "====", "QQ===", "A===", "========", "QUJ", NULL };
	for (int i = 0; bad[i]; i++) {
		char *err = NULL;
		struct rp_kube *k = with_ca(bad[i], &err);
		T_OK(!k && err && strstr(err, "not valid base64"), "CA data '%s' is refused (%s)", bad[i],
		     err ? err : "accepted");
		rp_kube_free(k);
		free(err);
	}
	return T_DONE();
}
