/* idle.h — since when each burst node has been idle.
 *
 * A burst node (fleet.h: it carries every label of kube.labels) is idle
 * when no pod other than DaemonSet and mirror pods, and none that has
 * finished, runs on it.  The
 * first time a node is seen idle is kept in $RP_STATE_DIR/idle.json
 * (written atomically); a node seen busy loses its mark.  rp-lagwatch and
 * rp-drain read the same marks, so "idle > 60 s" means the same to both.
 * (Implemented in idle.c by rp-lagwatch's owner.)
 */
#ifndef RP_IDLE_H
#define RP_IDLE_H
#include <cjson/cJSON.h>
#include "config.h"
#include "kube.h"

/* Refresh the marks from the API at time now.  *nodes (optional) gets an
 * array of {"node","pod_id","idle_since"|null,"idle_s","ready","cordoned"}
 * for every burst node, plus "not_ready_since" (RFC 3339, or null while
 * Ready) and "not_ready_s" (0 while Ready) from rp_fleet_notready_s(),
 * and "lost" from rp_fleet_lost() with scale.notready_grace.  A virtual
 * node (fleet.h) is not an entry itself: each of its pods that runs on
 * RunPod (annotated rp.io/pod-id, not finished) is, with "virtual":true,
 * never idle, never lost, and "opt_out":true (it scales with its
 * controller, never through rp-drain).
 * 0 ok, RP_EXIT_* + *err otherwise. */
int rp_idle_refresh(struct rp_kube *k, const struct rp_config *cfg, double now, cJSON **nodes, char **err);
/* Names of burst nodes idle for at least min_idle seconds (array of
 * strings, caller frees), after a refresh. */
int rp_idle_select(struct rp_kube *k, const struct rp_config *cfg, double now, double min_idle, cJSON **names,
		   char **err);

#endif
