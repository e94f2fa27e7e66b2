/* idle.h — since when each burst node has been idle.
 *
 * A burst node (label gpu-type=runpod) is idle when no pod other than
 * DaemonSet and mirror pods, and none that has finished, runs on it.  The
 * first time a node is seen idle is kept in $RP_STATE_DIR/idle.json
 * (written atomically); a node seen busy loses its mark.  rp-lagwatch and
 * rp-drain read the same marks, so "idle > 60 s" means the same to both.
 * (Implemented in idle.c by rp-lagwatch's owner.)
 */
#ifndef RP_IDLE_H
#define RP_IDLE_H
#include <cjson/cJSON.h>
#include "kube.h"

/* Refresh the marks from the API at time now.  *nodes (optional) gets an
 * array of {"node","pod_id","idle_since"|null,"idle_s","ready","cordoned"}
 * for every burst node, plus "not_ready_since" (RFC 3339, or null while
 * Ready) and "not_ready_s" (0 while Ready) from rp_idle_notready_s().
 * 0 ok, RP_EXIT_* + *err otherwise. */
int rp_idle_refresh(struct rp_kube *k, double now, cJSON **nodes, char **err);
/* Names of burst nodes idle for at least min_idle seconds (array of
 * strings, caller frees), after a refresh. */
int rp_idle_select(struct rp_kube *k, double now, double min_idle, cJSON **names, char **err);

/* How long a Node (an API object) has not been Ready at time now, in
 * seconds: from its Ready condition's lastTransitionTime when that
 * condition is False or Unknown, from metadata.creationTimestamp when it
 * has no Ready condition yet; 0 when the time is missing or ahead of now
 * (clock skew: never a false "long ago"); -1 while Ready is True.
 * *since (optional) gets the time the count starts from, or -1. */
double rp_idle_notready_s(const cJSON *node, double now, double *since);
/* A lost node: NotReady for longer than grace seconds (scale.notready_grace).
 * It serves nothing: not capacity, and drained by force. */
int rp_idle_lost(const cJSON *node, double now, double grace);

#endif
