/* idle.h — since when each burst node has been idle.
 *
 * A burst node (fleet.h: it carries every label of kube.labels) is idle
 * when no pod other than DaemonSet and mirror pods, and none that has
 * finished, runs on it.  The
 * first time a node is seen idle is its mark; a node seen busy loses its
 * mark.  rp-lagwatch and rp-drain read the same marks, so "idle > 60 s"
 * means the same to both.
 *
 * Where the marks live:
 *  - one host (fleet.store local, the default): in $RP_STATE_DIR/idle.json
 *    (written atomically under idle.lock), as before.  No Kubernetes
 *    write, nothing to configure.
 *  - a shared fleet (fleet.store kafka, several replicas): on the Node
 *    itself, as the annotation rp.io/idle-since (RFC 3339), so a mark one
 *    replica's tick set counts for the next replica's tick, and a replica
 *    restarted with an empty state directory keeps the marks.  A node
 *    seen idle without a readable mark gets one (a merge PATCH); a node
 *    seen busy loses it.  idle.json then only mirrors what was read (the
 *    tick's rp_burst_idle_max_seconds gauge reads it).  A mark ahead of
 *    the reader's clock (a replica whose clock runs ahead wrote it) counts
 *    from now and is left alone: skew never makes a node look idle
 *    longer than its reader saw.  A failed PATCH is a warning: that mark
 *    is not shared this time, nothing else changes.  Why the Node: the
 *    mark is about the node, lives and dies with it (a deleted Node takes
 *    its mark along), and every replica already lists the Nodes each
 *    tick, so reading marks costs no request.  (The node's own kubelet
 *    can write its annotations too: at worst a burst node delays its own
 *    scale-down; it can never make another node drain.)
 */
#ifndef RP_IDLE_H
#define RP_IDLE_H
#include <cjson/cJSON.h>
#include "config.h"
#include "kube.h"

/* The shared idle mark on a burst Node (fleet.store kafka). */
#define RP_IDLE_SINCE "rp.io/idle-since"

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
