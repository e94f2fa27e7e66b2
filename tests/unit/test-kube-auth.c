/* test-kube-auth: where rp_kube_open() finds the cluster and the
 * credential — tokenFile relative to its kubeconfig, several KUBECONFIG
 * files merged as kubectl does, the in-cluster service account
 * (RP_TEST_SA_DIR standing in for /var/run/secrets/...), and exec
 * credential plugins (client.authentication.k8s.io/v1: no shell, args
 * and env passed, the token cached until expirationTimestamp). */
#include "http.h"
#include "kube.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void put(const char *name, const char *text, int mode)
{
	char *p = rp_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
	free(p);
}

static char *path(const char *name)
{
	return rp_xasprintf("%s/%s", dir, name);
}

/* The bearer token the next request would carry. */
static const char *bearer(struct rp_kube *k)
{
	static char tok[256];
	struct rp_http_req r = { 0 };
	char *url;
	rp_kube_prep(k, &r, "/api", &url);
	snprintf(tok, sizeof tok, "%s", r.bearer ? r.bearer : "(none)");
	free(url);
	return tok;
}

static void mk(const char *name)
{
	char *p = path(name);
	mkdir(p, 0700);
	free(p);
}

static int runs(void)
{
	char *p = path("runs");
	char *t = rp_read_file(p, 4096, NULL);
	int n = 0;
	for (char *c = t; c && *c; c++)
		n += *c == '\n';
	free(t);
	free(p);
	return n;
}

#define KC(server, extra_user)                                                                             \
	"apiVersion: v1\nkind: Config\ncurrent-context: c\n"                                             \
	"contexts:\n- name: c\n  context: {cluster: k, user: u}\n"                                       \
	"clusters:\n- name: k\n  cluster:\n    server: " server "\n    certificate-authority-data: QUJD\n" \
	"users:\n- name: u\n  user:\n" extra_user

int main(void)
{
	rp_init("test-kube-auth");
	snprintf(dir, sizeof dir, "%s/rp-kube-auth.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	char *err = NULL;
	struct rp_kube *k;
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");

	/* tokenFile relative to the kubeconfig, not to the working directory */
	mk("sub");
	put("sub/tok", "relative-token-1\n", 0600);
	put("sub/kc", KC("https://127.0.0.1:6443", "    tokenFile: tok\n"), 0600);
	char *kc = path("sub/kc");
	k = rp_kube_open(kc, &err);
	T_OK(k != NULL, "tokenFile relative to its kubeconfig (%s)", err ? err : "");
	if (k)
		T_STR(bearer(k), "relative-token-1", "the token read from beside the kubeconfig");
	rp_kube_free(k);
	free(err);
	err = NULL;

	/* KUBECONFIG: several files, the first wins per key; missing skipped */
	put("a.kc",
	    "clusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:1111', certificate-authority-data: QUJD}\n"
	    "users:\n- name: v\n  user: {token: first-v}\n",
	    0600);
	put("b.kc",
	    "current-context: c\n"
	    "contexts:\n- name: c\n  context: {cluster: k, user: v}\n"
	    "clusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:2222', certificate-authority-data: QUJD}\n"
	    "users:\n- name: v\n  user: {token: second-v}\n",
	    0600);
	put("c.kc", "current-context: other\n", 0600);
	char *list = rp_xasprintf("%s/missing.kc:%s/a.kc:%s/b.kc:%s/c.kc", dir, dir, dir, dir);
	setenv("KUBECONFIG", list, 1);
	k = rp_kube_open(NULL, &err);
	T_OK(k != NULL, "KUBECONFIG with 4 paths, one missing (%s)", err ? err : "");
	if (k) {
		T_STR(rp_kube_server(k), "https://127.0.0.1:1111", "cluster k: the first file's");
		T_STR(bearer(k), "first-v", "user v: the first file's");
	}
	rp_kube_free(k);
	free(err);
	err = NULL;
	free(list);
	list = rp_xasprintf("%s/none1:%s/none2", dir, dir);
	setenv("KUBECONFIG", list, 1);
	k = rp_kube_open(NULL, &err);
	T_OK(!k && err && strstr(err, "none of its files"), "KUBECONFIG naming no file: error (%s)", err ? err : "");
	free(err);
	err = NULL;
	free(list);
	unsetenv("KUBECONFIG");

	/* in-cluster: no ~/.kube/config, KUBERNETES_SERVICE_HOST/PORT set */
	mk("sa");
	mk("home");
	put("sa/token", "sa-token-1\n", 0600);
	put("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n", 0644);
	char *sa = path("sa"), *home = path("home");
	setenv("RP_TEST_SA_DIR", sa, 1);
	setenv("HOME", home, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	k = rp_kube_open(NULL, &err);
	T_OK(k != NULL, "in-cluster config (%s)", err ? err : "");
	if (k) {
		T_STR(rp_kube_server(k), "https://10.96.0.1:443", "server from KUBERNETES_SERVICE_HOST/PORT");
		T_OK(rp_kube_ca_pem(k) && strstr(rp_kube_ca_pem(k), "BEGIN CERTIFICATE"), "CA from ca.crt");
		T_STR(bearer(k), "sa-token-1", "the service account's token");
	}
	rp_kube_free(k);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	k = rp_kube_open(NULL, &err);
	T_OK(k && !strcmp(rp_kube_server(k), "https://[fd00::1]:443"), "an IPv6 service host is bracketed");
	rp_kube_free(k);
	put("home/.kube-placeholder", "", 0600);
	mk("home/.kube");
	put("home/.kube/config", KC("https://127.0.0.1:3333", "    token: from-home\n"), 0600);
	k = rp_kube_open(NULL, &err);
	T_OK(k && !strcmp(rp_kube_server(k), "https://127.0.0.1:3333"), "~/.kube/config, when it exists, comes first");
	rp_kube_free(k);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");

	/* exec plugins: no shell, args and env, cached until expiry */
	char *script = rp_xasprintf("#!/bin/sh\n"
				    "printf '%%s|%%s|%%s\\n' \"$1\" \"$MY_ENV\" \"$KUBERNETES_EXEC_INFO\" >>%s/args\n"
				    "echo run >>%s/runs\n"
				    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
				    "\"status\":{\"token\":\"exec-token-%%s\"%%s}}' \"$(wc -l <%s/runs | tr -d ' ')\" \"$EXP\"\n",
				    dir, dir, dir);
	put("bin-plugin", script, 0700);
	free(script);
	put("exec.kc",
	    KC("https://127.0.0.1:6443", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
					  "      command: ./bin-plugin\n"
					  "      args: [\"a b; echo pwned\"]\n"
					  "      env: [{name: MY_ENV, value: 'x y'}]\n"
					  "      interactiveMode: Never\n"),
	    0600);
	char *ekc = path("exec.kc");
	char exp[160], when[40];
	snprintf(exp, sizeof exp, ",\"expirationTimestamp\":\"%s\"", rp_rfc3339(rp_now() + 3600, when, sizeof when));
	setenv("EXP", exp, 1);
	k = rp_kube_parse("x: 1\n", 5, ekc, &err); /* parse never runs anything */
	rp_kube_free(k);
	free(err);
	err = NULL;
	size_t len;
	char *text = rp_read_file(ekc, 65536, &len);
	k = rp_kube_parse(text, len, ekc, &err);
	T_INT(runs(), 0, "rp_kube_parse() does not run the plugin");
	rp_kube_free(k);
	free(text);
	k = rp_kube_open(ekc, &err);
	T_OK(k != NULL, "exec plugin (%s)", err ? err : "");
	if (k) {
		T_STR(bearer(k), "exec-token-1", "status.token of its ExecCredential");
		T_STR(bearer(k), "exec-token-1", "cached while not expired");
		usleep(1200 * 1000);
		T_STR(bearer(k), "exec-token-1", "still cached 1.2 s later (it expires in an hour)");
		T_INT(runs(), 1, "run once");
	}
	rp_kube_free(k);
	char *args = path("args");
	char *a = rp_read_file(args, 4096, NULL);
	T_OK(a && !strncmp(a, "a b; echo pwned|x y|{\"apiVersion\":\"client.authentication.k8s.io/v1\"", 66),
	     "one argument, no shell; its env; KUBERNETES_EXEC_INFO (%s)", a ? a : "");
	free(a);
	snprintf(exp, sizeof exp, ",\"expirationTimestamp\":\"%s\"", rp_rfc3339(rp_now() - 10, when, sizeof when));
	setenv("EXP", exp, 1);
	k = rp_kube_open(ekc, &err);
	if (k) {
		const char *t1 = bearer(k);
		T_STR(t1, "exec-token-2", "an expired credential is used once");
		sleep(1);
		T_STR(bearer(k), "exec-token-3", "then the plugin runs again");
	}
	rp_kube_free(k);
	put("bad.kc", KC("https://127.0.0.1:6443", "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
							"      command: /bin/true\n"), 0600);
	char *bkc = path("bad.kc");
	k = rp_kube_open(bkc, &err);
	T_OK(!k && err && strstr(err, "only client.authentication.k8s.io/v1"), "another apiVersion is refused (%s)",
	     err ? err : "");
	free(err);
	err = NULL;
	put("false.kc", KC("https://127.0.0.1:6443", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
							  "      command: /bin/false\n"), 0600);
	char *fkc = path("false.kc");
	k = rp_kube_open(fkc, &err);
	T_OK(!k && err && strstr(err, "exited 1"), "a failing plugin is an error naming it (%s)", err ? err : "");
	free(err);
	free(fkc);
	free(bkc);
	free(args);
	free(ekc);
	free(kc);
	free(sa);
	free(home);
	char *rm = rp_xasprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		printf("# could not remove %s\n", dir);
	free(rm);
	return T_DONE();
}
