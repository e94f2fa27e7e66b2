/* drain.h — the steps of taking a burst node out of service the way
 * `kubectl drain` does, then stopping paying for it.  The order of the
 * steps (hook -> terminate -> confirmed gone -> Node deleted) is
 * drainseq.h's; which nodes, drainset.h's; what is ours, fleet.h's.
 *
 * Promises:
 *  - rp_drain_cordon(): the node gets the taint rp.io/draining:NoSchedule
 *    and spec.unschedulable=true in one PATCH carrying the node's
 *    resourceVersion (a 409 is read again and retried); undo takes both
 *    back.  Taints have no merge key, so the whole list is sent.
 *  - rp_drain_plan(): lists the node's pods (fieldSelector spec.nodeName,
 *    limit 500, following `continue`) and runs kubectl's filters in
 *    kubectl's order, stopping at the first that keeps a pod: DaemonSet
 *    (finished: goes; controller gone: goes with force, else an error;
 *    else skipped), mirror (skipped), emptyDir (needs delete_emptydir
 *    unless finished), no controller (needs force unless finished).  Any
 *    error blocks the whole node: the caller evicts nothing.
 *  - rp_drain_filter(): those filters for one pod, pure: the API answer
 *    about its DaemonSet is passed in (RP_DRAIN_ASK_DS asks for it).
 *  - rp_drain_evict(): every planned pod is evicted at once through the
 *    Eviction API (policy/v1; plain DELETE with disable_eviction).  A 429
 *    (a PodDisruptionBudget says wait) is retried every retry_delay
 *    (kubectl: 5 s); 404 means gone; a 403 whose details.causes[].reason
 *    is NamespaceTerminating means the pod goes with its namespace: it is
 *    waited for like an evicted one (kubectl waits for a pod so refused
 *    once it is marked deleted; it retries the eviction until then, which
 *    the namespace refuses every time).  Then the
 *    node's pods are listed every poll seconds, the first time at once,
 *    until no pod with an evicted pod's UID is left (kubectl GETs each pod
 *    for a 404 or another UID: the same test, one request instead of n).
 *    One deadline covers it all.
 *  - rp_drain_hook(): runs a shell command with RP_NODE, RP_POD_ID and
 *    RP_JOBS in its environment, its stdout sent to stderr, killed (its
 *    whole process group) at the timeout.
 *  - rp_drain_terminate(): terminates a RunPod pod and confirms with a GET
 *    that it is gone or TERMINATED, retrying until the budget is spent.
 *    Only 0 from here allows deleting the Node.
 *  - Return codes are RP_EXIT_*; *err is one line, caller frees.
 */
#ifndef RP_DRAIN_H
#define RP_DRAIN_H
#include <cjson/cJSON.h>
#include "kube.h"
#include "runpod.h"

#define RP_DRAIN_TAINT "rp.io/draining"
#define RP_DRAIN_JOB "rp.io/job"

struct rp_drain_opts {
	int force;             /* pods without a controller may go */
	int delete_emptydir;   /* pods with emptyDir volumes may go */
	int disable_eviction;  /* DELETE instead of evict (bypasses PDBs) */
	long grace_period;     /* -1: the pod's own */
	double retry_delay;    /* after a 429; 5 s when 0 */
	double poll;           /* wait-for-delete interval; 1 s when 0 */
	int parallel;          /* requests at once; 32 when 0 */
	const char *pod_selector; /* labelSelector, or NULL */
};

struct rp_drain_pod {
	char *ns, *name, *uid, *job; /* job: label rp.io/job or NULL */
	int state;
	double next;
};

struct rp_drain_plan {
	char *node;
	struct rp_drain_pod *pods; /* to evict */
	size_t n;
	size_t skipped;            /* DaemonSet and mirror pods left alone */
	cJSON *warnings;           /* strings "ns/name: why" */
	cJSON *errors;             /* non-empty: the node is blocked */
};

/* kubectl's filters, in kubectl's order, for one pod.  ds_status: 0, or
 * the HTTP status of a GET of the pod's DaemonSet (ds_err: its error
 * text).  Notes "ns/name: why" go to warnings (the pod goes anyway) or
 * errors (it blocks the node).  RP_DRAIN_SKIP: left alone (DaemonSet,
 * mirror, or no name); RP_DRAIN_ASK_DS: a live DaemonSet pod, call again
 * with the answer. */
enum { RP_DRAIN_EVICT, RP_DRAIN_SKIP, RP_DRAIN_BLOCK, RP_DRAIN_ASK_DS };
int rp_drain_filter(const cJSON *pod, const struct rp_drain_opts *o, long ds_status, const char *ds_err,
		    cJSON *warnings, cJSON *errors);

int rp_drain_cordon(struct rp_kube *k, const char *node, int undo, char **err);
int rp_drain_plan(struct rp_kube *k, const char *node, const struct rp_drain_opts *o,
		  struct rp_drain_plan *p, char **err);
void rp_drain_plan_free(struct rp_drain_plan *p);
/* deadline: rp_mono() time, 0 for none.  0: all gone; RP_EXIT_PARTIAL:
 * the deadline passed; RP_EXIT_FAIL: a pod could not be evicted.
 * *evicted counts the pods gone. */
int rp_drain_evict(struct rp_kube *k, struct rp_drain_plan *p, const struct rp_drain_opts *o,
		   double deadline, size_t *evicted, char **err);
/* Distinct job labels of the planned pods, space-separated ("" if none). */
char *rp_drain_jobs(const struct rp_drain_plan *p);

int rp_drain_delete_node(struct rp_kube *k, const char *node, char **err);
int rp_drain_hook(const char *cmd, const char *node, const char *pod_id, const char *jobs,
		  double timeout, char **err);
int rp_drain_terminate(struct rp_runpod *rp, const char *id, double budget, char **err);
/* 0 stopped, 1 nothing was running, -1 (+ *err) could not stop it. */

#endif
