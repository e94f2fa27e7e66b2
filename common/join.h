/* join.h — the per-pod join: a pod reached over SSH becomes a Kubernetes
 * node (kubeadm), a running worker (worker), or is only looked at (check).
 *
 * Promises (the orders are the safety of a join):
 *  - The join lock: rp_join_add() takes the pod's lock (podlock.h) as its
 *    record is read, before any thread runs, and it is dropped only after
 *    the pod's `joined` or `join_failed` line is in the ledger (or when
 *    this process dies).  A lock another rp-join holds means "not ours":
 *    that pod is reported failed-temporary, nothing is run on it and no
 *    ledger line is written for it.  --check takes no lock and writes no
 *    ledger line.
 *  - Host key first: every flow begins with rp_ssh_connect(), which checks
 *    the host key against known_hosts; nothing runs on a host whose key
 *    changed.  An unknown key is learnt only in the pod's ready window
 *    (rp_join_manual() below), with the pod id as the line's comment.
 *  - kubeadm, in this order: a node already Ready with our pod-id
 *    annotation is only finished (no token, no kubeadm); otherwise a
 *    one-shot bootstrap token is created, its cluster-info signature
 *    awaited, then in one exec channel: the pod's `kubeadm version -o
 *    short` asked (the channel's first line of output), the
 *    JoinConfiguration (v1beta3 for a kubeadm that says it is
 *    older than 1.31, else v1beta4) uploaded over its stdin (never argv)
 *    into a file of mode 0600 that is removed whatever kubeadm says,
 *    kubeadm join run; a dropped session reconnects and looks for the Node before
 *    joining again (after `kubeadm reset`); then the Node is awaited
 *    Ready (asked for by fieldSelector=metadata.name, never by listing
 *    every node), and only then labelled, annotated rp.io/pod-id and its
 *    startup taint removed (one PATCH); after a join -- not for a node
 *    found already joined -- the same PATCH takes back the rp.io/draining
 *    taint and spec.unschedulable an old NotReady Node of that name kept.
 *    The token is deleted whatever happened.  A node that registered but
 *    is unfinished keeps its startup taint.
 *  - kubeadm through a tunnel (kube.api_server_tunnel PORT, which an R:
 *    forward of kube.forwards must carry, else a configuration error): a
 *    pod whose tunnel is not running (rp_tunnel_alive()) fails
 *    temporarily before any token is made.  Otherwise the join uses file
 *    discovery: a bootstrap kubeconfig (server https://127.0.0.1:PORT,
 *    tls-server-name kube.api_server_name, the kubeconfig's CA, the
 *    token) is uploaded over stdin into a 0600 file first, the
 *    JoinConfiguration names it (and no tlsBootstrapToken), and both files
 *    are removed whatever kubeadm says.  (Token discovery cannot work
 *    through a tunnel: kubeadm checks the endpoint's host against the API
 *    server's certificate, then TLS-bootstraps against the server that
 *    cluster-info names.)
 *  - worker: the environment (Kafka, S3 and the S3 keys from their 0600
 *    files, RP_POD_ID, RP_NODE_NAME) goes over stdin into a 0600 file;
 *    a worker already alive is left alone; one that dies within 1 s is a
 *    failure.
 *  - Secrets (tokens, S3 keys) never appear on a command line, in a
 *    record or in a log line (errors pass rp_redact()).
 *  - rp_join_run() prints one record per pod (`node`, or `check`) as its
 *    pod finishes and returns the exit code: 0 all, 3 some, 75 all failed
 *    temporarily (API unavailable, another joiner), 1 otherwise.
 */
#ifndef RP_JOIN_H
#define RP_JOIN_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "bootstrap.h"
#include "config.h"
#include "rp.h"

struct rp_join;

/* The engine for one run.  check: look only.  NULL + *err (exit 2) when
 * kube.bootstrap is neither kubeadm nor worker. */
struct rp_join *rp_join_new(const struct rp_config *cfg, int check, char **err);
/* A pod to join, its lock taken (see above).  A pod given twice is
 * joined once. */
void rp_join_add(struct rp_join *j, const char *id, const char *name, const char *host, int port);
size_t rp_join_count(const struct rp_join *j);
/* Pods given by hand (rp-join --host): trusted on first use as before.
 * Without it, a pod's unknown host key is trusted on first use only when
 * the ledger has our `ready` line for that pod id at that very
 * ssh_host:ssh_port, written at most runpod.ready_timeout +
 * kube.join_timeout ago (the address RunPod gave a pod we launched,
 * within its ready window); otherwise it is refused as with strict. */
void rp_join_manual(struct rp_join *j);
/* Everything read from config and the API server before any thread:
 * kubeconfig, CA pins, endpoint, labels, taints, tokens; or the worker's
 * environment.  0, or -1 + *err (a configuration error: exit 2). */
int rp_join_prepare(struct rp_join *j, char **err);
/* Join every pod, ssh.concurrency at a time; the exit code. */
int rp_join_run(struct rp_join *j);
void rp_join_free(struct rp_join *j);

/* ---- the pure rules, for the engine and its tests ---- */

/* A Node name from a pod's name (or its id when the name is empty):
 * lowercase, [a-z0-9.-] else '-', at most 63, starting and ending
 * alphanumeric; "rp-node" when nothing is left. */
char *rp_join_node_name(const char *name, const char *id);
/* "KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute" into *t: 0, with
 * t->key malloc'd (value and effect point into it or into s; free
 * (char *)t->key); -1 (nothing to free) when malformed. */
int rp_join_taint_parse(const char *s, struct rp_taint *t);
/* kube.labels ("KEY=VALUE" strings) into an object (a later key wins) and
 * the "k=v,k=v" of those a kubelet may set (NULL if none).  0, or -1 and
 * *bad (the offending entry, borrowed). */
int rp_join_labels(const cJSON *list, cJSON **labels, char **self, const char **bad);
/* The API server as host:port: kube.api_server_endpoint when set, else
 * the kubeconfig server's host with :443 when it names no port. */
char *rp_join_endpoint(const char *configured, const char *server);
/* "KEY=quoted-value\n" lines for a POSIX shell (nothing when v is NULL). */
void rp_join_env_line(struct rp_buf *b, const char *k, const char *v);
/* The worker's environment from the configuration (S3 keys when both are
 * found). */
char *rp_join_worker_env(const struct rp_config *c);
/* The JoinConfiguration of one node: base (endpoint, token, CA pins,
 * name, kubelet labels; its taints ignored) with the startup taint
 * (KEY[=VALUE]:EFFECT text; none when NULL or empty) first, then taints. */
char *rp_join_config_yaml(const struct rp_boot_join *base, const char *startup_taint,
			  const struct rp_taint *taints, size_t ntaints);
/* The remote script that writes stdin to path, mode 0600 (exit 120 and
 * nothing left when it cannot). */
char *rp_join_upload_script(const char *path);
/* The remote script of one kubeadm join: it prints what `kubeadm version
 * -o short` says (empty when it fails) as its first line, then reads the
 * config at path from stdin; reset_first runs `kubeadm reset -f` before; path and also
 * (a file uploaded before, or NULL) are removed whatever happens. */
char *rp_join_kubeadm_script(const char *path, const char *also, int reset_first);
/* kubeadm's verdict: the last non-empty line of its output that is not
 * the "To see the stack trace" hint (points into text). */
const char *rp_join_verdict(const char *text);
/* nvidia-smi --query-gpu=name,memory.total --format=csv output into an
 * array of {"name","memory"} (the header line skipped).  Modifies csv. */
cJSON *rp_join_gpus(char *csv);

#endif
