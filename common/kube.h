/* kube.h — a small Kubernetes API client over the toolkit's HTTP client.
 *
 * Promises:
 *  - rp_kube_open() reads a kubeconfig (path given, else kube.kubeconfig,
 *    else $KUBECONFIG, else ~/.kube/config, else — when that file does not
 *    exist and KUBERNETES_SERVICE_HOST/PORT are set — the pod's own
 *    service account, as client-go's in-cluster config: server
 *    https://HOST:PORT, CA and token from
 *    /var/run/secrets/kubernetes.io/serviceaccount, a directory the
 *    environment variable RP_TEST_SA_DIR replaces, for tests only).
 *    $KUBECONFIG may name several files (colon-separated), merged as
 *    kubectl does: missing files are skipped, the first current-context
 *    wins, and so does the first cluster, user or context of each name.
 *    From the current context: the cluster's server and CA
 *    (certificate-authority-data or file), the user's bearer token
 *    (token, tokenFile, or an exec credential plugin) or client
 *    certificate.  Relative paths (files, tokenFile, an exec command with
 *    a slash) are relative to the kubeconfig file the entry came from.
 *    TLS is always verified against that CA (insecure-skip-tls-verify is
 *    refused).  The token is registered with the log redactor.
 *  - A tokenFile (and the service-account token, which the kubelet
 *    rotates) is re-read once a minute.  An exec plugin
 *    (client.authentication.k8s.io/v1 only) is run by rp_kube_open(),
 *    never by rp_kube_parse(): its command with its args and env (added to
 *    ours, with KUBERNETES_EXEC_INFO), no shell, stdin closed, 60 s; its
 *    ExecCredential's status.token is cached until its
 *    status.expirationTimestamp (for good without one), then the plugin
 *    runs again before the next request.
 *  - A server the toolkit's TLS rule refuses (plain http:// to a host
 *    that is not loopback: rp_http_cleartext) is an error naming the
 *    kubeconfig's file and line, before any request; rp_kube_open()
 *    exits 2 on it in every tool.
 *  - rp_kube_call() sends one request (path like "/api/v1/nodes"), parses
 *    a JSON answer, and retries GETs on 5xx/timeouts.  Errors are one line:
 *    the API's Status message when there is one.
 *  - rp_kube_prep() fills an rp_http_req with the server's auth and TLS so
 *    callers can run many requests at once with rp_http_multi().
 */
#ifndef RP_KUBE_H
#define RP_KUBE_H
#include <cjson/cJSON.h>
#include "http.h"

struct rp_kube;

struct rp_kube *rp_kube_open(const char *kubeconfig, char **err);
/* The same over a kubeconfig's text (len bytes); path names it in errors
 * and relative certificate files are found beside it. */
struct rp_kube *rp_kube_parse(const char *text, size_t len, const char *path, char **err);
void rp_kube_free(struct rp_kube *k);
/* Renew the credential if it is due (rp_kube_prep does).  0, or -1 + *err
 * (the old credential is kept). */
int rp_kube_refresh(struct rp_kube *k, char **err);
/* The service-account directory of the in-cluster config. */
const char *rp_kube_sa_dir(void);
const char *rp_kube_server(const struct rp_kube *k);
const char *rp_kube_ca_pem(const struct rp_kube *k); /* NULL if none */

/* body may be NULL; ctype defaults to application/json.  Returns 0 with
 * *status (and *out: parsed JSON or NULL, caller frees) on an HTTP answer;
 * -1 + *err when no answer came.  out may be NULL. */
int rp_kube_call(struct rp_kube *k, const char *method, const char *path, const char *ctype,
		 const cJSON *body, long *status, cJSON **out, char **err);
/* The message of a Status object (or the body excerpt), static buffer. */
const char *rp_kube_errmsg(long status, const cJSON *out);
/* Fill req's url (server + path), TLS and auth fields; the strings stay
 * owned by k and the path copy by the caller (url is malloc'd into
 * *url_out: free it after the request). */
void rp_kube_prep(struct rp_kube *k, struct rp_http_req *req, const char *path, char **url_out);

/* GET a list (e.g. "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
 * *items is the borrowed "items" array of *list (caller frees *list).
 * 0 ok; RP_EXIT_* code + *err otherwise. */
int rp_kube_list(struct rp_kube *k, const char *path, cJSON **list, const cJSON **items, char **err);
/* Pod classification as kubectl drain sees it. */
int rp_kube_pod_is_mirror(const cJSON *pod);
int rp_kube_pod_is_daemonset(const cJSON *pod);
/* Succeeded or Failed. */
int rp_kube_pod_is_finished(const cJSON *pod);
/* metadata.labels[key] of an object, or NULL. */
const char *rp_kube_label(const cJSON *obj, const char *key);
const char *rp_kube_annotation(const cJSON *obj, const char *key);
/* Node condition Ready == "True". */
int rp_kube_node_ready(const cJSON *node);

#endif
