/* test-bootstrap.c — CA pins (checked against the openssl CLI), the
 * NodeRestriction label rule, the JoinConfiguration, tokens, forwards. */
#include "bootstrap.h"
#include "log.h"
#include "rp.h"
#include "ssh.h"
#include "t.h"
#include "tunnel.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *sh(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	struct rp_buf b = { 0 };
	char buf[4096];
	size_t n;
	if (!p)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		rp_buf_add(&b, buf, n);
	if (pclose(p) != 0) {
		rp_buf_free(&b);
		return NULL;
	}
	return b.data ? b.data : rp_xstrdup("");
}

/* Make a self-signed CA with the given key options; compare our pin with
 * openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum. */
static void ca_case(const char *dir, const char *name, const char *keyopt)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -nodes -newkey %s -keyout %s.key -out %s.crt -days 1 "
		 "-subj /CN=%s >/dev/null 2>&1 && cat %s.crt",
		 dir, keyopt, name, name, name, name);
	char *pem = sh(cmd);
	T_OK(pem && strstr(pem, "BEGIN CERTIFICATE"), "%s: openssl made a CA", name);
	if (!pem)
		return;
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl x509 -pubkey -noout -in %s.crt | openssl pkey -pubin -outform DER | "
		 "sha256sum | cut -d' ' -f1",
		 dir, name);
	char *want = sh(cmd);
	char hashes[4][72], *err = NULL;
	int n = rp_boot_ca_hashes(pem, hashes, 4, &err);
	T_INT(n, 1, "one certificate, one pin");
	if (want && n == 1) {
		want[strcspn(want, "\n")] = 0;
		char exp[80];
		snprintf(exp, sizeof exp, "sha256:%s", want);
		T_STR(hashes[0], exp, "pin equals the openssl CLI's SPKI sha256");
	}
	free(want);
	free(pem);
}

/* ---- rp_boot_api's gate: a loopback HTTP server that holds each request
 * 100 ms and counts how many are in flight at once ---- */
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static int srv_now, srv_max;

static void *srv_conn(void *arg)
{
	int fd = (int)(long)arg;
	char req[4096];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof req - 1 && (n = read(fd, req + got, sizeof req - 1 - got)) > 0) {
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	pthread_mutex_lock(&srv_mu);
	if (++srv_now > srv_max)
		srv_max = srv_now;
	pthread_mutex_unlock(&srv_mu);
	usleep(100000);
	pthread_mutex_lock(&srv_mu);
	srv_now--;
	pthread_mutex_unlock(&srv_mu);
	static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
				  "Connection: close\r\n\r\n{}";
	if (write(fd, ans, sizeof ans - 1) < 0)
		perror("write");
	close(fd);
	return NULL;
}

static void *srv_main(void *arg)
{
	int ls = *(int *)arg, fd;
	while ((fd = accept(ls, NULL, NULL)) >= 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, srv_conn, (void *)(long)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

struct gate_call {
	struct rp_kube *k;
	long status;
};

static void *gate_call(void *arg)
{
	struct gate_call *c = arg;
	char *err = NULL;
	if (rp_boot_api(c->k, "GET", "/api/v1/namespaces", NULL, NULL, &c->status, NULL, &err) < 0)
		c->status = -1;
	free(err);
	return NULL;
}

/* 12 threads at once: at most RP_BOOT_API_AT_ONCE requests in flight,
 * and every one answered. */
static void gate_case(const char *dir)
{
	static int ls;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
		T_OK(0, "gate: a loopback listener");
		return;
	}
	pthread_t srv;
	pthread_create(&srv, NULL, srv_main, &ls);
	pthread_detach(srv);
	char *kc = rp_xasprintf("%s/kubeconfig", dir);
	FILE *f = fopen(kc, "w");
	fprintf(f, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:%d\n"
		   "users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		   "current-context: x\n", ntohs(a.sin_port));
	fclose(f);
	char *err = NULL;
	struct rp_kube *k = rp_kube_open(kc, &err);
	T_OK(k != NULL, "gate: a kube handle on the loopback server (%s)", err ? err : "ok");
	if (k) {
		enum { N = 12 };
		pthread_t t[N];
		struct gate_call c[N];
		for (int i = 0; i < N; i++) {
			c[i] = (struct gate_call){ k, 0 };
			pthread_create(&t[i], NULL, gate_call, &c[i]);
		}
		int answered = 0;
		for (int i = 0; i < N; i++) {
			pthread_join(t[i], NULL);
			answered += c[i].status == 200;
		}
		T_INT(answered, N, "gate: 12 calls at once, every one answered");
		T_OK(srv_max >= 2 && srv_max <= RP_BOOT_API_AT_ONCE,
		     "gate: at most RP_BOOT_API_AT_ONCE (%d) in flight at once, and more than one (saw %d)",
		     RP_BOOT_API_AT_ONCE, srv_max);
		rp_kube_free(k);
	}
	free(err);
	free(kc);
}

int main(void)
{
	char tmpl[] = "/tmp/rp-unit-boot.XXXXXX";
	char *dir = mkdtemp(tmpl);
	T_OK(dir != NULL, "temp dir");
	if (dir) {
		gate_case(dir);
		ca_case(dir, "rsa", "rsa:2048");
		ca_case(dir, "ec", "ec -pkeyopt ec_paramgen_curve:P-256");
		char cmd[512];
		snprintf(cmd, sizeof cmd, "cat %s/rsa.crt %s/ec.crt", dir, dir);
		char *both = sh(cmd), hashes[4][72], *err = NULL;
		T_INT(rp_boot_ca_hashes(both, hashes, 4, &err), 2, "a bundle gives a pin per certificate");
		free(both);
		T_INT(rp_boot_ca_hashes("not a pem", hashes, 4, &err), -1, "garbage is refused");
		T_OK(err && strstr(err, "certificate"), "with a reason (%s)", err ? err : "");
		free(err);
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			T_OK(0, "cleanup");
	}

	/* NodeRestriction (k8s-keda-kafka.md §1.5). */
	T_OK(rp_boot_kubelet_may_set("gpu-type"), "gpu-type: allowed");
	T_OK(rp_boot_kubelet_may_set("nvidia.com/gpu"), "nvidia.com/gpu: allowed");
	T_OK(rp_boot_kubelet_may_set("node.kubernetes.io/gpu-burst"), "node.kubernetes.io/*: allowed");
	T_OK(rp_boot_kubelet_may_set("foo.kubelet.kubernetes.io/x"), "*.kubelet.kubernetes.io/*: allowed");
	T_OK(rp_boot_kubelet_may_set("topology.kubernetes.io/zone"), "topology zone: allowed");
	T_OK(!rp_boot_kubelet_may_set("node-role.kubernetes.io/gpu"), "node-role.kubernetes.io/*: forbidden");
	T_OK(!rp_boot_kubelet_may_set("node-restriction.kubernetes.io/burst"), "node-restriction: forbidden");
	T_OK(!rp_boot_kubelet_may_set("a.node-restriction.kubernetes.io/b"), "*.node-restriction: forbidden");
	T_OK(!rp_boot_kubelet_may_set("k8s.io/x"), "k8s.io/*: forbidden");
	T_OK(!rp_boot_kubelet_may_set("example.k8s.io/x"), "*.k8s.io/*: forbidden");
	T_OK(rp_boot_kubelet_may_set("notkubernetes.io/x"), "a look-alike domain is not kubernetes.io");

	/* Tokens: format, and redacted from the first moment. */
	struct rp_boot_token t;
	rp_boot_token_new(&t);
	int good = strlen(t.id) == 6 && strlen(t.secret) == 16 && t.full[6] == '.';
	for (const char *p = t.full; *p; p++)
		if (p - t.full != 6 && !(islower((unsigned char)*p) || isdigit((unsigned char)*p)))
			good = 0;
	T_OK(good, "token is [a-z0-9]{6}.[a-z0-9]{16} (%s.<secret>)", t.id);
	char *line = rp_xasprintf("token=%s secret=%s", t.full, t.secret);
	char *red = rp_redact(line);
	T_OK(!strstr(red, t.secret), "the secret is redacted (%s)", red);
	free(line);
	free(red);
	struct rp_boot_token t2;
	rp_boot_token_new(&t2);
	T_OK(strcmp(t.full, t2.full), "two tokens differ");

	/* JoinConfiguration. */
	char h[1][72] = { "sha256:0123" };
	struct rp_taint tt = { "rp.io/starting", NULL, "NoSchedule" };
	struct rp_boot_join j = { .endpoint = "10.0.0.10:6443", .token = t.full, .ca_hashes = h, .nhashes = 1,
				  .node_name = "demo-burst-x", .node_labels = "gpu-type=runpod,a=\"q\"",
				  .taints = &tt, .ntaints = 1 };
	char *y = rp_boot_join_yaml(&j);
	T_OK(strstr(y, "kind: JoinConfiguration\n") != NULL, "kind");
	T_OK(strstr(y, "caCertHashes:\n    - \"sha256:0123\"\n") != NULL, "CA pinned");
	T_OK(strstr(y, "unsafeSkipCAVerification: false") != NULL, "never unsafe");
	T_OK(strstr(y, "apiVersion: kubeadm.k8s.io/v1beta4\n") != NULL, "v1beta4 by default");
	T_OK(strstr(y, "  kubeletExtraArgs:\n  - name: \"node-labels\"\n    value: \"gpu-type=runpod,a=\\\"q\\\"\"\n") !=
		     NULL,
	     "v1beta4: kubelet arguments a list of {name, value}, labels quoted");
	T_OK(strstr(y, "- key: \"rp.io/starting\"\n    effect: \"NoSchedule\"") != NULL, "startup taint");
	T_OK(strstr(y, "name: \"demo-burst-x\"") != NULL, "node name");
	T_OK(!strstr(y, "timeout"), "no timeout asked: none written");
	free(y);
	j.timeout_s = 150;
	y = rp_boot_join_yaml(&j);
	T_OK(strstr(y, "\ntimeouts:\n  discovery: \"150s\"\n  tlsBootstrap: \"150s\"\n") != NULL,
	     "v1beta4: timeouts under timeouts");
	T_OK(!strstr(y, "  timeout:"), "v1beta4: no discovery.timeout (a v1beta3 field)");
	free(y);
	j.v1beta3 = 1;
	y = rp_boot_join_yaml(&j);
	T_OK(strstr(y, "apiVersion: kubeadm.k8s.io/v1beta3\n") != NULL, "v1beta3 when asked");
	T_OK(strstr(y, "  kubeletExtraArgs:\n    node-labels: \"gpu-type=runpod,a=\\\"q\\\"\"\n") != NULL,
	     "v1beta3: kubelet arguments a map");
	T_OK(strstr(y, "  tlsBootstrapToken: ") && strstr(y, "\n  timeout: \"150s\"\nnodeRegistration:"),
	     "v1beta3: the discovery timeout under discovery");
	T_OK(!strstr(y, "timeouts:"), "v1beta3: no timeouts (a v1beta4 field)");
	free(y);
	j.v1beta3 = 0;
	j.discovery_file = ".rp-join/bootstrap-abc.conf";
	y = rp_boot_join_yaml(&j);
	T_OK(strstr(y, "discovery:\n  file:\n    kubeConfigPath: \".rp-join/bootstrap-abc.conf\"\n") != NULL,
	     "file discovery: the bootstrap kubeconfig's path");
	T_OK(!strstr(y, "bootstrapToken") && !strstr(y, t.secret), "file discovery: no bootstrapToken, no token");
	T_OK(!strstr(y, "tlsBootstrapToken"), "file discovery: no tlsBootstrapToken (kubeadm would drop tls-server-name)");
	free(y);
	const char *pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	char *kc = rp_boot_bootstrap_kubeconfig("https://127.0.0.1:6443", "kubernetes", pem, t.full);
	T_OK(strstr(kc, "    server: \"https://127.0.0.1:6443\"\n    tls-server-name: \"kubernetes\"\n") != NULL,
	     "bootstrap kubeconfig: server and tls-server-name");
	T_OK(strstr(kc, "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\n") != NULL,
	     "bootstrap kubeconfig: the CA inline, base64");
	T_OK(strstr(kc, t.full) != NULL, "bootstrap kubeconfig: the token");
	T_OK(strstr(kc, "current-context: tls-bootstrap-token-user@kubernetes\n") &&
		     strstr(kc, "    cluster: kubernetes\n    user: tls-bootstrap-token-user\n"),
	     "bootstrap kubeconfig: its context current");
	free(kc);

	/* Which version a pod's kubeadm reads. */
	T_INT(rp_boot_kubeadm_v1beta3("v1.30.2\n"), 1, "kubeadm 1.30: v1beta3");
	T_INT(rp_boot_kubeadm_v1beta3("v1.31.0"), 0, "kubeadm 1.31: v1beta4");
	T_INT(rp_boot_kubeadm_v1beta3("v1.36.1\n"), 0, "kubeadm 1.36: v1beta4");
	T_INT(rp_boot_kubeadm_v1beta3("v2.0.0"), 0, "kubeadm 2.0: v1beta4");
	T_INT(rp_boot_kubeadm_v1beta3(""), 0, "nothing readable: v1beta4");
	T_INT(rp_boot_kubeadm_v1beta3("bash: kubeadm: command not found"), 0, "garbage: v1beta4");

	/* Forward specs. */
	struct rp_fwd f;
	char *err = NULL;
	T_INT(rp_fwd_parse("L:8080:10.0.0.1:80", &f, &err), 0, "L spec");
	T_OK(f.kind == 'L' && f.listen == 8080 && !strcmp(f.host, "10.0.0.1") && f.port == 80, "L parsed");
	T_INT(rp_fwd_parse("R:6443:api.example:6443", &f, &err), 0, "R spec");
	T_OK(f.kind == 'R' && !strcmp(f.host, "api.example"), "R parsed");
	T_INT(rp_fwd_parse("X:1:h:2", &f, &err), -1, "bad kind");
	free(err);
	err = NULL;
	T_INT(rp_fwd_parse("L:0:h:2", &f, &err), -1, "port 0");
	free(err);
	err = NULL;
	T_INT(rp_fwd_parse("L:1:h:2:extra", &f, &err), -1, "trailing junk");
	free(err);

	char *q = rp_ssh_quote("it's");
	T_STR(q, "'it'\\''s'", "shell quoting");
	free(q);
	return T_DONE();
}
