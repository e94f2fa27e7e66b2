/* bootstrap.h — the Kubernetes side of a `kubeadm join`.
 *
 * Promises:
 *  - A bootstrap token is made of /dev/urandom-grade randomness (OpenSSL
 *    RAND) as [a-z0-9]{6}.[a-z0-9]{16}; its secret (and the whole token)
 *    is registered with the log redactor the moment it exists.  Make
 *    tokens before starting threads (the redactor's list is not locked).
 *  - rp_boot_token_create() writes Secret kube-system/bootstrap-token-<id>
 *    of type bootstrap.kubernetes.io/token with an absolute expiration
 *    now + ttl, usage-bootstrap-authentication and usage-bootstrap-signing
 *    "true", and auth-extra-groups
 *    system:bootstrappers:kubeadm:default-node-token.
 *  - rp_boot_token_delete() treats 404 as done.
 *  - rp_boot_wait_signed() polls kube-public/cluster-info until it has
 *    jws-kubeconfig-<id> (the BootstrapSigner's signature) or the timeout.
 *  - rp_boot_ca_hashes(): "sha256:" + lowercase hex of SHA-256 over the DER
 *    SubjectPublicKeyInfo of each certificate in a PEM bundle (kubeadm's
 *    --discovery-token-ca-cert-hash; works for RSA and EC keys).
 *  - rp_boot_kubelet_may_set() says whether a kubelet may set a label on
 *    its own Node (NodeRestriction, k8s-keda-kafka.md §1.5).
 *  - rp_boot_join_yaml() renders a JoinConfiguration with the CA pinned
 *    (never unsafeSkipCAVerification): kubeadm.k8s.io/v1beta4 (kubelet
 *    arguments a list of {name, value}; the discovery and TLS bootstrap
 *    timeouts under `timeouts`), or v1beta3 (arguments a map; the
 *    discovery timeout under `discovery`) when asked.  Only fields of the
 *    version written appear (kubeadm refuses unknown ones).
 *  - rp_boot_kubeadm_v1beta3(): v1beta3 only for a kubeadm that says it
 *    is older than 1.31 (v1beta4 appeared in 1.31; 1.36 removed v1beta3);
 *    anything unreadable gets v1beta4.
 *  - Every function here may be called from several threads (no shared
 *    state but the poll below).  Threads waiting for cluster-info
 *    signatures share one GET of it per poll interval instead of one
 *    each.  A Node is looked for by itself (a list with
 *    fieldSelector=metadata.name=NAME), never by listing every node.
 *  - Every call to the API server here goes through rp_boot_api(), and at
 *    most RP_BOOT_API_AT_ONCE of them are in flight at once in a process
 *    (the others wait their turn): the API server answers one at a time
 *    anyway, and each request in flight holds a TLS connection and its
 *    buffers (~70 KiB) -- 20 join threads polling together held 20.
 */
#ifndef RP_BOOTSTRAP_H
#define RP_BOOTSTRAP_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "kube.h"

struct rp_boot_token {
	char id[7];
	char secret[17];
	char full[24]; /* id.secret */
};

void rp_boot_token_new(struct rp_boot_token *t);
/* 0 ok; -1 + *err (one line, no secret). */
int rp_boot_token_create(struct rp_kube *k, const struct rp_boot_token *t, double ttl,
			 const char *description, char **err);
int rp_boot_token_delete(struct rp_kube *k, const char *id, char **err);
/* 1 if the Secret for this token id still exists, 0 if not, -1 + *err. */
int rp_boot_token_exists(struct rp_kube *k, const char *id, char **err);
int rp_boot_wait_signed(struct rp_kube *k, const char *id, double timeout, char **err);

/* Up to max hashes into out[] (each char[72]); count, or -1 + *err. */
int rp_boot_ca_hashes(const char *ca_pem, char (*out)[72], int max, char **err);

int rp_boot_kubelet_may_set(const char *label_key);

struct rp_taint {
	const char *key, *value, *effect;
};

struct rp_boot_join {
	const char *endpoint;        /* host:port of the API server */
	const char *token;           /* id.secret */
	char (*ca_hashes)[72];
	int nhashes;
	const char *node_name;
	const char *node_labels;     /* "k=v,k=v" or NULL */
	const struct rp_taint *taints;
	size_t ntaints;
	int v1beta3;                 /* write kubeadm.k8s.io/v1beta3 */
	long timeout_s;              /* discovery and TLS bootstrap timeout; 0: kubeadm's */
	const char *discovery_file;  /* file discovery: the bootstrap kubeconfig's path on the
					pod (endpoint, token, pins unused); NULL: token discovery */
};
/* `kubeadm version -o short` (e.g. "v1.30.2\n"): 1 when below 1.31. */
int rp_boot_kubeadm_v1beta3(const char *version);
char *rp_boot_join_yaml(const struct rp_boot_join *j);
/* The bootstrap kubeconfig of file discovery: one cluster (server,
 * tls-server-name, the CA PEM inline), one user holding the bootstrap
 * token, the context between them current.  The token is in the file
 * because kubeadm keeps tls-server-name only from a discovery file with
 * its own credentials (with discovery.tlsBootstrapToken it rebuilds the
 * TLS bootstrap config from the server and CA alone). */
char *rp_boot_bootstrap_kubeconfig(const char *server, const char *tls_server_name, const char *ca_pem,
				   const char *token);

#define RP_BOOT_API_AT_ONCE 4

/* One API call (thread-safe; it waits while RP_BOOT_API_AT_ONCE are in
 * flight); *status and *out as rp_kube_call.  On an
 * HTTP answer outside 2xx, *err gets "METHOD PATH: HTTP n: message". */
int rp_boot_api(struct rp_kube *k, const char *method, const char *path, const char *ctype,
		const cJSON *body, long *status, cJSON **out, char **err);

/* Node helpers.  GET the node: 1 found (*node set), 0 not found, -1 err. */
int rp_boot_node_get(struct rp_kube *k, const char *name, cJSON **node, char **err);
/* The node as a list with fieldSelector=metadata.name=NAME shows it: 1
 * (*node, caller frees), 0 absent, -1 + *err. */
int rp_boot_node_peek(struct rp_kube *k, const char *name, cJSON **node, char **err);
/* Wait until the Node exists and is Ready, looking every 250 ms as
 * rp_boot_node_peek() does: 0 (and *node, if node is not NULL), or -1 +
 * *err on timeout. */
int rp_boot_wait_ready(struct rp_kube *k, const char *name, double timeout, cJSON **node, char **err);
/* Remove the taints whose key is in drop_taint_keys (NULL-terminated, or
 * NULL), set spec.unschedulable false when uncordon and it is true, merge
 * labels (object of strings) and annotations; one PATCH carrying the
 * node's resourceVersion (from `known` when given, else a GET), again on
 * a 409.  0 or -1 + *err. */
int rp_boot_node_finish(struct rp_kube *k, const char *name, const cJSON *known,
			const char *const *drop_taint_keys, int uncordon, const cJSON *labels,
			const cJSON *annotations, char **err);

#endif
