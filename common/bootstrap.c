/* bootstrap.c — bootstrap tokens, cluster-info signatures, CA pins,
 * JoinConfiguration, and the node's finishing touches. */
#include "bootstrap.h"
#include "log.h"
#include "rp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

static void rand_alnum(char *out, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t got = 0;
	/* Rejection sampling: no modulo bias. */
	while (got < n) {
		if (RAND_bytes(r, sizeof r) != 1)
			rp_fatal(RP_EXIT_FAIL, "no randomness for a bootstrap token");
		for (size_t i = 0; i < sizeof r && got < n; i++)
			if (r[i] < 252)
				out[got++] = al[r[i] % 36];
	}
	out[n] = 0;
}

void rp_boot_token_new(struct rp_boot_token *t)
{
	rand_alnum(t->id, 6);
	rand_alnum(t->secret, 16);
	snprintf(t->full, sizeof t->full, "%s.%s", t->id, t->secret);
	rp_log_secret(t->full);
	rp_log_secret(t->secret);
}

/* At most RP_BOOT_API_AT_ONCE calls in flight (see bootstrap.h). */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_n;

int rp_boot_api(struct rp_kube *k, const char *method, const char *path, const char *ctype,
		const cJSON *body, long *status, cJSON **out, char **err)
{
	/* rp_kube_call() keeps no shared state (its messages are per thread),
	 * so join threads call it without a lock; this only words errors. */
	cJSON *o = NULL;
	*status = 0;
	pthread_mutex_lock(&gate_mu);
	while (gate_n >= RP_BOOT_API_AT_ONCE)
		pthread_cond_wait(&gate_cv, &gate_mu);
	gate_n++;
	pthread_mutex_unlock(&gate_mu);
	int r = rp_kube_call(k, method, path, ctype, body, status, &o, err);
	pthread_mutex_lock(&gate_mu);
	gate_n--;
	pthread_cond_signal(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	if (r < 0)
		return -1;
	if (*status < 200 || *status > 299)
		*err = rp_xasprintf("%s %s: %s", method, path, rp_kube_errmsg(*status, o));
	if (out)
		*out = o;
	else
		cJSON_Delete(o);
	return 0;
}

static void utc(double t, char *buf, size_t n)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rp_boot_token_create(struct rp_kube *k, const struct rp_boot_token *t, double ttl,
			 const char *description, char **err)
{
	char exp[40], name[64];
	utc(rp_now() + ttl, exp, sizeof exp);
	snprintf(name, sizeof name, "bootstrap-token-%s", t->id);
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "apiVersion", "v1");
	cJSON_AddStringToObject(s, "kind", "Secret");
	cJSON *md = cJSON_AddObjectToObject(s, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", "kube-system");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), "app.kubernetes.io/managed-by", "rp-join");
	cJSON_AddStringToObject(s, "type", "bootstrap.kubernetes.io/token");
	cJSON *d = cJSON_AddObjectToObject(s, "stringData");
	cJSON_AddStringToObject(d, "token-id", t->id);
	cJSON_AddStringToObject(d, "token-secret", t->secret);
	cJSON_AddStringToObject(d, "expiration", exp);
	cJSON_AddStringToObject(d, "usage-bootstrap-authentication", "true");
	cJSON_AddStringToObject(d, "usage-bootstrap-signing", "true");
	cJSON_AddStringToObject(d, "auth-extra-groups", "system:bootstrappers:kubeadm:default-node-token");
	if (description)
		cJSON_AddStringToObject(d, "description", description);
	long st = 0;
	int r = rp_boot_api(k, "POST", "/api/v1/namespaces/kube-system/secrets", NULL, s, &st, NULL, err);
	cJSON_Delete(s);
	if (r < 0)
		return -1;
	if (st != 201 && st != 200) {
		char *e = rp_xasprintf("bootstrap token %s: %s", t->id, *err);
		free(*err);
		*err = e;
		return -1;
	}
	return 0;
}

int rp_boot_token_delete(struct rp_kube *k, const char *id, char **err)
{
	char path[128];
	long st = 0;
	snprintf(path, sizeof path, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-%s", id);
	if (rp_boot_api(k, "DELETE", path, NULL, NULL, &st, NULL, err) < 0)
		return -1;
	if (st == 404) {
		free(*err);
		*err = NULL;
		return 0;
	}
	return st >= 200 && st < 300 ? 0 : -1;
}

int rp_boot_token_exists(struct rp_kube *k, const char *id, char **err)
{
	char path[128];
	long st = 0;
	snprintf(path, sizeof path, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-%s", id);
	if (rp_boot_api(k, "GET", path, NULL, NULL, &st, NULL, err) < 0)
		return -1;
	if (st == 404) {
		free(*err);
		*err = NULL;
		return 0;
	}
	return st == 200 ? 1 : -1;
}

/* A GET whose answer threads share: the first thread that finds the
 * cached answer older than max_age fetches it again while the others
 * wait for that answer. */
struct shared_get {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *path;
	cJSON *ans;        /* last 200 answer, or NULL */
	char *err;         /* last failure */
	double at;         /* monotonic time the last fetch started */
	int busy;
};

static struct shared_get sg_info = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
				     "/api/v1/namespaces/kube-public/configmaps/cluster-info", NULL, NULL, -1e9, 0 };

/* Look at an answer started no earlier than `since`; pick(ans, arg) runs
 * under the lock and returns what the caller keeps.  *err on failure. */
static void *shared_look(struct rp_kube *k, struct shared_get *g, double since,
			 void *(*pick)(const cJSON *ans, void *arg), void *arg, char **err)
{
	void *res = NULL;
	pthread_mutex_lock(&g->mu);
	while (g->at < since) {
		if (g->busy) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		g->busy = 1;
		double t = rp_mono();
		pthread_mutex_unlock(&g->mu);
		long st = 0;
		cJSON *o = NULL;
		char *e = NULL;
		if (rp_boot_api(k, "GET", g->path, NULL, NULL, &st, &o, &e) == 0 && st == 200) {
			free(e);
			e = NULL;
		} else {
			cJSON_Delete(o);
			o = NULL;
		}
		pthread_mutex_lock(&g->mu);
		cJSON_Delete(g->ans);
		free(g->err);
		g->ans = o;
		g->err = e;
		g->at = t;
		g->busy = 0;
		pthread_cond_broadcast(&g->cv);
	}
	if (g->ans)
		res = pick(g->ans, arg);
	else
		*err = rp_xstrdup(g->err ? g->err : "no answer");
	pthread_mutex_unlock(&g->mu);
	return res;
}

/* Sleep to the next multiple of `step` (monotonic clock) and return it:
 * waiters polling with the same step wake together and share one GET. */
static double grid(double step)
{
	double now = rp_mono(), next = (floor(now / step) + 1) * step;
	rp_sleep(next - now);
	return next;
}

static void *pick_jws(const cJSON *cm, void *arg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cm, "data"), arg);
	return cJSON_IsString(v) && *v->valuestring ? (void *)1 : NULL;
}

int rp_boot_wait_signed(struct rp_kube *k, const char *id, double timeout, char **err)
{
	char key[64];
	snprintf(key, sizeof key, "jws-kubeconfig-%s", id);
	double start = rp_mono(), end = start + timeout, since = start;
	for (;;) {
		char *e = NULL;
		if (shared_look(k, &sg_info, since, pick_jws, key, &e))
			return 0;
		if (rp_mono() + 0.1 > end) {
			*err = rp_xasprintf("cluster-info has no signature for token %s after %.0fs%s%s", id, timeout,
					    e ? ": " : "", e ? e : "");
			free(e);
			return -1;
		}
		free(e);
		since = grid(0.1);
	}
}

int rp_boot_ca_hashes(const char *ca_pem, char (*out)[72], int max, char **err)
{
	if (!ca_pem || !*ca_pem) {
		*err = rp_xasprintf("the kubeconfig has no cluster CA to pin");
		return -1;
	}
	BIO *b = BIO_new_mem_buf(ca_pem, -1);
	int n = 0;
	X509 *x;
	while (n < max && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
		X509_free(x);
		if (len <= 0)
			continue;
		char hex[65];
		rp_sha256_hex(der, (size_t)len, hex);
		OPENSSL_free(der);
		snprintf(out[n++], 72, "sha256:%s", hex);
	}
	BIO_free(b);
	if (!n) {
		*err = rp_xasprintf("the kubeconfig's cluster CA holds no readable certificate");
		return -1;
	}
	return n;
}

static int under(const char *prefix, size_t pl, const char *ns)
{
	size_t nl = strlen(ns);
	if (pl == nl && !strncmp(prefix, ns, pl))
		return 1;
	return pl > nl + 1 && prefix[pl - nl - 1] == '.' && !strncmp(prefix + pl - nl, ns, nl);
}

int rp_boot_kubelet_may_set(const char *key)
{
	static const char *const allowed[] = {
		"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
		"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
		"node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
		"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
		"failure-domain.beta.kubernetes.io/zone", NULL
	};
	const char *sl = strchr(key, '/');
	if (!sl)
		return 1;
	size_t pl = (size_t)(sl - key);
	if (under(key, pl, "node-restriction.kubernetes.io"))
		return 0;
	for (int i = 0; allowed[i]; i++)
		if (!strcmp(key, allowed[i]))
			return 1;
	if (under(key, pl, "kubelet.kubernetes.io") || under(key, pl, "node.kubernetes.io"))
		return 1;
	if (under(key, pl, "kubernetes.io") || under(key, pl, "k8s.io"))
		return 0;
	return 1;
}

/* A YAML double-quoted scalar: JSON string syntax is valid YAML. */
static void yq(struct rp_buf *b, const char *s)
{
	cJSON *j = cJSON_CreateString(s ? s : "");
	char *p = cJSON_PrintUnformatted(j);
	rp_buf_adds(b, p);
	free(p);
	cJSON_Delete(j);
}

int rp_boot_kubeadm_v1beta3(const char *v)
{
	long major = 0, minor = 0;
	if (!v)
		return 0;
	while (*v == ' ' || *v == '\t' || *v == '\n')
		v++;
	if (*v == 'v')
		v++;
	if (sscanf(v, "%ld.%ld", &major, &minor) != 2 || major < 1)
		return 0;
	return major == 1 && minor < 31;
}

char *rp_boot_join_yaml(const struct rp_boot_join *j)
{
	struct rp_buf b = { 0 };
	rp_buf_addf(&b, "apiVersion: kubeadm.k8s.io/%s\nkind: JoinConfiguration\ndiscovery:\n",
		    j->v1beta3 ? "v1beta3" : "v1beta4");
	if (j->discovery_file) {
		/* No tlsBootstrapToken: with it kubeadm would drop the file's
		 * tls-server-name for the TLS bootstrap (see the header). */
		rp_buf_adds(&b, "  file:\n    kubeConfigPath: ");
		yq(&b, j->discovery_file);
		rp_buf_adds(&b, "\n");
	} else {
		rp_buf_adds(&b, "  bootstrapToken:\n    apiServerEndpoint: ");
		yq(&b, j->endpoint);
		rp_buf_adds(&b, "\n    token: ");
		yq(&b, j->token);
		rp_buf_adds(&b, "\n    caCertHashes:\n");
		for (int i = 0; i < j->nhashes; i++) {
			rp_buf_adds(&b, "    - ");
			yq(&b, j->ca_hashes[i]);
			rp_buf_adds(&b, "\n");
		}
		rp_buf_adds(&b, "    unsafeSkipCAVerification: false\n  tlsBootstrapToken: ");
		yq(&b, j->token);
		rp_buf_adds(&b, "\n");
	}
	if (j->v1beta3 && j->timeout_s > 0)
		rp_buf_addf(&b, "  timeout: \"%lds\"\n", j->timeout_s);
	rp_buf_adds(&b, "nodeRegistration:\n  name: ");
	yq(&b, j->node_name);
	rp_buf_adds(&b, "\n");
	if (j->node_labels && *j->node_labels) {
		/* v1beta3: map[string]string; v1beta4: []Arg{name, value} */
		rp_buf_adds(&b, j->v1beta3 ? "  kubeletExtraArgs:\n    node-labels: "
					   : "  kubeletExtraArgs:\n  - name: \"node-labels\"\n    value: ");
		yq(&b, j->node_labels);
		rp_buf_adds(&b, "\n");
	}
	rp_buf_adds(&b, "  taints:");
	if (!j->ntaints)
		rp_buf_adds(&b, " []");
	rp_buf_adds(&b, "\n");
	for (size_t i = 0; i < j->ntaints; i++) {
		rp_buf_adds(&b, "  - key: ");
		yq(&b, j->taints[i].key);
		if (j->taints[i].value && *j->taints[i].value) {
			rp_buf_adds(&b, "\n    value: ");
			yq(&b, j->taints[i].value);
		}
		rp_buf_adds(&b, "\n    effect: ");
		yq(&b, j->taints[i].effect);
		rp_buf_adds(&b, "\n");
	}
	if (!j->v1beta3 && j->timeout_s > 0)
		rp_buf_addf(&b, "timeouts:\n  discovery: \"%lds\"\n  tlsBootstrap: \"%lds\"\n", j->timeout_s,
			    j->timeout_s);
	return b.data;
}

char *rp_boot_bootstrap_kubeconfig(const char *server, const char *tls_server_name, const char *ca_pem,
				   const char *token)
{
	size_t n = strlen(ca_pem);
	char *ca = rp_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)ca, (const unsigned char *)ca_pem, (int)n);
	struct rp_buf b = { 0 };
	rp_buf_adds(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n    server: ");
	yq(&b, server);
	rp_buf_adds(&b, "\n    tls-server-name: ");
	yq(&b, tls_server_name);
	rp_buf_addf(&b, "\n    certificate-authority-data: %s\n"
			"users:\n- name: tls-bootstrap-token-user\n  user:\n    token: ", ca);
	yq(&b, token);
	rp_buf_adds(&b, "\ncontexts:\n- name: tls-bootstrap-token-user@kubernetes\n  context:\n"
			"    cluster: kubernetes\n    user: tls-bootstrap-token-user\n"
			"current-context: tls-bootstrap-token-user@kubernetes\npreferences: {}\n");
	free(ca);
	return b.data;
}

static char *node_path(const char *name)
{
	char *e = rp_http_escape(name);
	char *p = rp_xasprintf("/api/v1/nodes/%s", e);
	free(e);
	return p;
}

int rp_boot_node_get(struct rp_kube *k, const char *name, cJSON **node, char **err)
{
	char *p = node_path(name);
	long st = 0;
	*node = NULL;
	int r = rp_boot_api(k, "GET", p, NULL, NULL, &st, node, err);
	free(p);
	if (r < 0)
		return -1;
	if (st == 404) {
		free(*err);
		*err = NULL;
		cJSON_Delete(*node);
		*node = NULL;
		return 0;
	}
	if (st != 200) {
		cJSON_Delete(*node);
		*node = NULL;
		return -1;
	}
	return 1;
}

/* The node by a list with fieldSelector=metadata.name=NAME (what a watch
 * of one node would use): 1 (*node), 0 absent, -1 + *err. */
static int node_by_field(struct rp_kube *k, const char *name, cJSON **node, char **err)
{
	char *sel = rp_xasprintf("metadata.name=%s", name);
	char *esc = rp_http_escape(sel);
	char *path = rp_xasprintf("/api/v1/nodes?fieldSelector=%s", esc);
	long st = 0;
	cJSON *list = NULL;
	*node = NULL;
	int r = rp_boot_api(k, "GET", path, NULL, NULL, &st, &list, err);
	free(sel);
	free(esc);
	free(path);
	if (r < 0 || st != 200) {
		cJSON_Delete(list);
		return -1;
	}
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(n, "metadata"),
								   "name");
		if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name)) {
			*node = cJSON_Duplicate(n, 1);
			break;
		}
	}
	cJSON_Delete(list);
	return *node ? 1 : 0;
}

int rp_boot_node_peek(struct rp_kube *k, const char *name, cJSON **node, char **err)
{
	return node_by_field(k, name, node, err);
}

int rp_boot_wait_ready(struct rp_kube *k, const char *name, double timeout, cJSON **node, char **err)
{
	double start = rp_mono(), end = start + timeout;
	int seen = 0;
	for (;;) {
		char *e = NULL;
		cJSON *n = NULL;
		if (node_by_field(k, name, &n, &e) == 1) {
			seen = 1;
			if (rp_kube_node_ready(n)) {
				if (node)
					*node = n;
				else
					cJSON_Delete(n);
				return 0;
			}
			cJSON_Delete(n);
		}
		if (rp_mono() + 0.25 > end) {
			*err = rp_xasprintf("node %s %s after %.0fs%s%s", name,
					    seen ? "not Ready" : "never registered", timeout, e ? ": " : "",
					    e ? e : "");
			free(e);
			return -1;
		}
		free(e);
		grid(0.25);
	}
}

static int listed(const char *const *keys, const char *k)
{
	for (; keys && *keys; keys++)
		if (!strcmp(*keys, k))
			return 1;
	return 0;
}

int rp_boot_node_finish(struct rp_kube *k, const char *name, const cJSON *known,
			const char *const *drop_taint_keys, int uncordon, const cJSON *labels,
			const cJSON *annotations, char **err)
{
	char *p = node_path(name);
	for (int attempt = 0;; attempt++) {
		cJSON *n = NULL;
		int r = attempt == 0 && known ? (n = cJSON_Duplicate(known, 1), 1) : rp_boot_node_get(k, name, &n, err);
		if (r <= 0) {
			if (r == 0)
				*err = rp_xasprintf("node %s is gone", name);
			free(p);
			return -1;
		}
		cJSON *patch = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
		const cJSON *nmd = cJSON_GetObjectItemCaseSensitive(n, "metadata");
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(nmd, "resourceVersion");
		if (cJSON_IsString(rv))
			cJSON_AddStringToObject(md, "resourceVersion", rv->valuestring);
		if (labels)
			cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, 1));
		if (annotations)
			cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(annotations, 1));
		const cJSON *nspec = cJSON_GetObjectItemCaseSensitive(n, "spec");
		const cJSON *taints = cJSON_GetObjectItemCaseSensitive(nspec, "taints");
		cJSON *spec = cJSON_CreateObject();
		if (drop_taint_keys && cJSON_IsArray(taints)) {
			cJSON *keep = cJSON_CreateArray();
			int dropped = 0;
			const cJSON *t;
			cJSON_ArrayForEach(t, taints)
			{
				const cJSON *tk = cJSON_GetObjectItemCaseSensitive(t, "key");
				if (cJSON_IsString(tk) && listed(drop_taint_keys, tk->valuestring))
					dropped = 1;
				else
					cJSON_AddItemToArray(keep, cJSON_Duplicate(t, 1));
			}
			if (dropped)
				cJSON_AddItemToObject(spec, "taints", keep);
			else
				cJSON_Delete(keep);
		}
		if (uncordon && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(nspec, "unschedulable")))
			cJSON_AddFalseToObject(spec, "unschedulable");
		if (spec->child)
			cJSON_AddItemToObject(patch, "spec", spec);
		else
			cJSON_Delete(spec);
		cJSON_Delete(n);
		long st = 0;
		r = rp_boot_api(k, "PATCH", p, "application/merge-patch+json", patch, &st, NULL, err);
		cJSON_Delete(patch);
		if (r == 0 && st == 200) {
			free(p);
			return 0;
		}
		if (r == 0 && st == 409 && attempt < 5) {
			free(*err);
			*err = NULL;
			continue;
		}
		free(p);
		return -1;
	}
}
