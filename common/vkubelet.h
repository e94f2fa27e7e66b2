/* vkubelet.h — the kubelet API of a virtual node (rp-join --virtual): what
 * the API server calls for `kubectl logs`, served over SSH to the RunPod
 * pod behind the Kubernetes pod.
 *
 * Promises:
 *  - Off unless kube.virtual_kubelet_port > 0.  Then HTTPS (TLS 1.2 or
 *    newer) on kube.virtual_kubelet_address:PORT with the serving
 *    certificate and key kube.virtual_kubelet_cert / _key (the API server
 *    checks them against its --kubelet-certificate-authority); the Node
 *    advertises PORT as status.daemonEndpoints.kubeletEndpoint.Port and
 *    the address as its InternalIP (vnode.c).
 *  - Every request is authenticated as a kubelet's --client-ca-file does
 *    it: a client certificate that verifies against
 *    kube.virtual_kubelet_client_ca (the API server presents its
 *    kubelet-client certificate).  No certificate, or one that does not
 *    verify: 401, and nothing is read from any pod.
 *  - GET /containerLogs/NS/POD/CONTAINER: the pod must exist, be bound to
 *    this node and have that container (else 404), and its RunPod pod
 *    must be known (annotation rp.io/pod-id) and reachable (else 400 /
 *    503, the reason as text).  The log is kube.virtual_log_file on the
 *    RunPod pod (missing: 404), read over SSH (ssh.* config; the host key
 *    recorded for that pod, or learnt on first use as rp-drain does):
 *    whole, or its last tailLines lines; follow=true streams on (tail -F)
 *    until the caller goes away, and then the remote tail is ended (its
 *    stdin closes); limitBytes caps the body.  timestamps, sinceSeconds,
 *    sinceTime and previous are refused with 400 (the lines carry no
 *    times; a RunPod pod has no previous container).  The body ends with
 *    the connection (Connection: close).
 *  - GET /healthz: "ok".  Other paths 404; other methods 405.
 *  - Connections are served concurrently, one thread each, at most
 *    RP_VKUBELET_MAX at once (more are closed at once); the request head
 *    must come within 5 s (8 KiB max, else the connection is dropped).
 *  - rp_vkubelet_wrap(): how the container's output reaches the log file.
 *    With the API on, the pod's command + args (shell-quoted) run as
 *    `sh -c '...' rp-log FILE CMD ARGS...`: the command's stdout and
 *    stderr go into a FIFO that `tee -a FILE` reads (FILE's directory
 *    made), so RunPod's own console log still gets every line; sh passes
 *    TERM, INT and HUP on to the command, waits for it and for tee (the
 *    last lines are in FILE before the pod ends) and exits with the
 *    command's code.  No FIFO possible: the command runs uncaptured.  A
 *    pod without a command (the image's entrypoint) cannot be wrapped: it
 *    has no log file unless the image writes one there.
 */
#ifndef RP_VKUBELET_H
#define RP_VKUBELET_H
#include "config.h"

#define RP_VKUBELET_MAX 32

struct rp_vkubelet;

/* Start serving for node NAME.  NULL with *err NULL when the API is off;
 * NULL with *err on a setup error (exit 2 material: files, address). */
struct rp_vkubelet *rp_vkubelet_open(const struct rp_config *cfg, const char *node, char **err);
/* Stop accepting; wait (up to 3 s) for the requests in flight. */
void rp_vkubelet_close(struct rp_vkubelet *k);
/* Is the API on (kube.virtual_kubelet_port > 0)? */
int rp_vkubelet_on(const struct rp_config *cfg);
/* The RunPod args for a container command line (shell-quoted words, or
 * NULL/"" for the image's own): wrapped as above when the API is on,
 * else a copy.  NULL in, NULL out. */
char *rp_vkubelet_wrap(const struct rp_config *cfg, const char *args);

#endif
