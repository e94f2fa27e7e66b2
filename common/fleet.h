/* fleet.h — the one answer to "what is ours".
 *
 * Promises:
 *  - Our pods are named "<cluster>-burst-<id>" (cluster "rp" when unset);
 *    rp_fleet_prefix() is that prefix and rp_fleet_is_ours() the only
 *    test of a name against it: a name is ours when it starts with the
 *    prefix and has something after it.  "<cluster>-" alone is never
 *    enough (another tool's "<cluster>-db-1" is not ours).
 *  - A burst node carries every label listed in kube.labels (rp-join puts
 *    them there).  rp_fleet_selector() is that list as one labelSelector
 *    (ANDed, URL-escaped); an empty or malformed kube.labels is an error,
 *    never "every node".  rp_fleet_refusal() says why a Node is not ours
 *    to drain: a label missing or different ("not a burst node (K=V)"),
 *    then the opt-out annotations.
 *  - Opt-out: a node annotated
 *    cluster-autoscaler.kubernetes.io/scale-down-disabled=true or
 *    karpenter.sh/do-not-disrupt=true is never drained or counted idle
 *    for removal; rp_fleet_opt_out() names the one that applies.
 *  - Pod <-> node, one lookup order everywhere: (1) the node's annotation
 *    rp.io/pod-id, (2) else its label rp.io/pod-id, (3) else the name
 *    rule: a node without either is the pod whose name equals the node's
 *    name (rp-join names the node after the pod).  An empty value counts
 *    as absent.
 *  - Lost: a node NotReady for longer than scale.notready_grace
 *    (rp_fleet_lost(), from rp_fleet_notready_s()).
 *  - Every function here is pure: no I/O, no API call.
 */
#ifndef RP_FLEET_H
#define RP_FLEET_H
#include <cjson/cJSON.h>
#include "config.h"

#define RP_FLEET_POD_ID "rp.io/pod-id"

/* "<cluster>-burst-" (malloc'd). */
char *rp_fleet_prefix(const struct rp_config *cfg);
/* 1 when name is one of our pods' names ("<cluster>-burst-" + more). */
int rp_fleet_is_ours(const struct rp_config *cfg, const char *name);
/* kube.labels as a URL-escaped labelSelector (malloc'd), or NULL and *err. */
char *rp_fleet_selector(const struct rp_config *cfg, char **err);
/* kube.labels (a list of "KEY=VALUE") as one object, in order, a later
 * duplicate key winning; -1 with *bad at the first entry that is not
 * KEY=VALUE (empty key, no '=', not a string).  The one parser of the
 * list: rp-join labels nodes with it, the selector and the refusal read
 * nodes with it. */
int rp_fleet_labels(const cJSON *list, cJSON **labels, const char **bad);
/* "/api/v1/nodes?labelSelector=..." for our nodes (malloc'd), or NULL and *err. */
char *rp_fleet_nodes_path(const struct rp_config *cfg, char **err);
/* NULL when the node is ours to drain, else why not (static storage). */
const char *rp_fleet_refusal(const struct rp_config *cfg, const cJSON *node);
/* NULL, or which opt-out annotation the node carries (static storage). */
const char *rp_fleet_opt_out(const cJSON *node);

/* Steps (1) and (2): the node's pod id, or NULL. */
const char *rp_fleet_pod_id(const cJSON *node);
/* All three steps: the id of the pod behind node, looking in pods (RunPod
 * pod objects with "id" and "name"; may be NULL) for the name rule. */
const char *rp_fleet_pod_of_node(const cJSON *node, const cJSON *pods);
/* The same order read the other way: the node (from an array of Nodes)
 * that carries pod id, or NULL. */
const cJSON *rp_fleet_node_of_pod(const cJSON *nodes, const char *id, const char *name);
/* The Node's metadata.name, or NULL. */
const char *rp_fleet_node_name(const cJSON *node);

/* How long a Node has not been Ready at time now, in seconds: from its
 * Ready condition's lastTransitionTime when that condition is False or
 * Unknown, from metadata.creationTimestamp when it has no Ready condition
 * yet; 0 when the time is missing or ahead of now (clock skew: never a
 * false "long ago"); -1 while Ready is True.  *since (optional) gets the
 * time the count starts from, or -1. */
double rp_fleet_notready_s(const cJSON *node, double now, double *since);
/* Lost: NotReady for longer than grace seconds.  It serves nothing: not
 * capacity, and drained by force. */
int rp_fleet_lost(const cJSON *node, double now, double grace);
/* The same rule on a NotReady time (-1 while Ready), for callers that have
 * no Node object (the simulator). */
int rp_fleet_lost_after(double not_ready_s, double grace);

#endif
