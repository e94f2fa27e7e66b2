/* Credentials only over TLS, and no core dumps (issue 18 items 7, 8):
 * the one URL rule, the HTTP client's last-line refusal, the config and
 * kubeconfig checks, and rp_cli_init() turning dumps off (in a child). */
#include "t.h"
#include "cli.h"
#include "config.h"
#include "http.h"
#include "kube.h"
#include "rp.h"

#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void rule(const char *url, int ok)
{
	const char *why = rp_http_cleartext(url);
	T_OK(ok ? !why : why != NULL, "%s %s", ok ? "allowed:" : "refused:", url);
}

static char *cfg_err(const char *yaml)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!c)
		return err;
	if (rp_config_check(c, &err) == 0)
		err = NULL;
	rp_config_free(c);
	return err;
}

int main(void)
{
	rp_init("test-tls");
	rule("https://api.runpod.io/v2", 1);
	rule("HTTPS://api.runpod.io/v2", 1);
	rule("http://127.0.0.1:9000", 1);
	rule("http://127.9.8.7/x", 1);
	rule("http://localhost:9000/", 1);
	rule("http://LocalHost", 1);
	rule("http://[::1]:8080/v2", 1);
	rule("http://user:pw@127.0.0.1:1/", 1);
	rule("http://api.runpod.io/v2", 0);
	rule("http://10.0.0.1:9000", 0);
	rule("http://128.0.0.1", 0);
	rule("http://[::2]:80", 0);
	rule("http://localhost.evil.com/", 0);
	rule("http://127.0.0.1.evil.com/", 0);
	rule("http://127.0.0.1@evil.com/", 0);
	rule("http://evil.com/?u=http://127.0.0.1", 0);
	rule("evil.com/?u=http://127.0.0.1", 0); /* no scheme: libcurl speaks http */
	rule("evil.com:9000", 0);
	rule("127.0.0.1:9000", 1);
	rule("ftp://evil.com", 0);
	rule("", 0);

	/* The HTTP client refuses before connecting: no attempt is made. */
	struct rp_http_resp r;
	struct rp_http_req q = { .url = "http://rp-test.invalid:1/v2/pods", .bearer = "tok-secret" };
	T_INT(rp_http_do(&q, &r), -1, "bearer over plain http to a non-loopback host: no answer");
	T_INT(r.attempts, 0, "and no attempt was made");
	T_OK(strstr(r.err, "refused") && strstr(r.err, "https://"), "err says why (%s)", r.err);
	rp_http_resp_free(&r);
	const char *auth[] = { "Authorization: AWS4 x", NULL };
	struct rp_http_req q2 = { .url = "http://rp-test.invalid:1/", .headers = auth };
	struct rp_http_req q3 = { .url = "http://rp-test.invalid:1/", .aws_sigv4 = "aws:amz:us-east-1:s3",
				  .userpwd = "a:b" };
	struct rp_http_req qs[2] = { q2, q3 };
	struct rp_http_resp rs[2];
	T_INT(rp_http_multi(qs, rs, 2, 2), 2, "multi: an Authorization header or SigV4 refused too");
	T_OK(rs[0].attempts == 0 && rs[1].attempts == 0, "multi: no attempt made");
	rp_http_resp_free(&rs[0]);
	rp_http_resp_free(&rs[1]);

	/* Config: the three credential URLs, by file and line or by flag. */
	char *e = cfg_err("cluster: t\nrunpod:\n  api_url: http://api.runpod.io/v2\n");
	T_OK(e && strstr(e, "t.yaml:3: key 'runpod.api_url'") && !strchr(e, '\n'), "api_url: file:line:key (%s)",
	     e ? e : "accepted");
	free(e);
	e = cfg_err("runpod:\n  graphql_url: \"http://api.runpod.io/graphql\"\n");
	T_OK(e && strstr(e, "t.yaml:2: key 'runpod.graphql_url'"), "graphql_url refused (%s)", e ? e : "accepted");
	free(e);
	e = cfg_err("s3:\n  endpoint: http://minio.example:9000\n");
	T_OK(e && strstr(e, "t.yaml:2: key 's3.endpoint'"), "s3.endpoint refused (%s)", e ? e : "accepted");
	free(e);
	e = cfg_err("s3:\n  endpoint: http://127.0.0.1:9000\nrunpod:\n  api_url: https://api.runpod.io/v2\n");
	T_OK(!e, "loopback http and https accepted (%s)", e ? e : "");
	free(e);
	e = cfg_err("cluster: t\n");
	T_OK(!e, "the defaults pass (%s)", e ? e : "");
	free(e);
	char *err = NULL;
	struct rp_config *c = rp_config_parse("cluster: t\n", 11, "t.yaml", &err);
	rp_cfg_set(c, "s3.endpoint", "http://minio.example", &err);
	T_INT(rp_config_check(c, &err), -1, "a flag is checked too");
	T_OK(err && strstr(err, "key 's3.endpoint' (flag)"), "and named as a flag (%s)", err ? err : "");
	free(err);
	rp_config_free(c);

	/* Kubeconfig: the server is checked where it is written. */
	const char *kc = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
			 "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
			 "clusters:\n- name: k\n  cluster:\n    server: http://kube.example:6443\n"
			 "users:\n- name: u\n  user: {token: kube-secret}\n";
	struct rp_kube *k = rp_kube_parse(kc, strlen(kc), "kc.yaml", &err);
	T_OK(!k && err && strstr(err, "kc.yaml:10:") && strstr(err, "https://"), "kube: plain http server refused (%s)",
	     err ? err : "accepted");
	free(err);
	rp_kube_free(k);

	/* rp_cli_init turns core dumps off; checked in a child. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rp_cli cli;
		rp_cli_init(&cli, "usage: test\n");
		struct rlimit rl;
		getrlimit(RLIMIT_CORE, &rl);
		_exit((prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : 1) | (rl.rlim_cur == 0 ? 0 : 2) |
		      (rl.rlim_max == 0 ? 0 : 4));
	}
	int st = 0;
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && !(WEXITSTATUS(st) & 1), "rp_cli_init: the process is not dumpable");
	T_OK(WIFEXITED(st) && !(WEXITSTATUS(st) & 6), "rp_cli_init: RLIMIT_CORE is 0, soft and hard");
	return T_DONE();
}
