/* adopt.h — rp-launch --adopt: the in-flight pods of a replica that died
 * are joined by the lease holder when the lag still wants them, instead
 * of being reaped (and paid for again by a new launch).
 *
 * Promises:
 *  - Only with a shared fleet (fleet.store kafka, fleetlog.h) and the
 *    Lease (RP_LOCK=lease, as rp-autoscale --lock lease sets it): holding
 *    the lease is what says the launching replica lost it.  Otherwise
 *    rp_adopt() does nothing and returns 0 (the reaper judges such pods as
 *    before).  The lease fence (lease.h) is checked first: not held, 75.
 *  - A candidate is one of our pods (name prefix) that RunPod says is
 *    RUNNING with a public SSH address, that no Node carries (fleet.h's
 *    lookup), and whose last ledger line another replica wrote while
 *    launching or joining it (launching, launched, ready, join_failed)
 *    at least the launch + join window ago (runpod.ready_timeout +
 *    kube.join_timeout + the hand-off grace: the window the reaper keeps
 *    it for, rp_adopt_orphaned()).  Its SSH banner must answer.
 *  - Wanted: the decision's lag needs rp_decide_need(lag) nodes; the pods
 *    already there or coming (live, ledgered launching/launched/ready/
 *    joined, not on a NotReady node, not candidates) are subtracted, and
 *    runpod.max_nodes caps the rest (rp_adopt_want()).  A down decision,
 *    no lag, an unknown lag or no decision on stdin wants none: it
 *    returns 0 at once, before any request.  Candidates
 *    beyond that are left to the reaper (never left billing).
 *  - An adopted pod gets a `ready` ledger line of ours (id, name, ssh
 *    address, adopted_from: the replica that launched it) before its
 *    `pod` record is printed for rp-join: the same hand-off as a launch,
 *    no create, so it is never paid twice.  It runs under launch.lock
 *    shared, like a launcher (no reaper meanwhile).
 *  - Returns 0 (also when nothing was adopted), 75 when RunPod, the
 *    Kubernetes API, the fleet store or the lease is unavailable
 *    (nothing adopted), 1 when the ledger is unreadable.
 */
#ifndef RP_ADOPT_H
#define RP_ADOPT_H
#include <cjson/cJSON.h>
#include "config.h"

/* The decision's lag: known (0: unknown or none) and value; down: 1 for a
 * down decision. */
struct rp_adopt_in {
	int lag_known, down;
	long long lag;
};

int rp_adopt(struct rp_config *cfg, const struct rp_adopt_in *in);

/* A pod's last ledger line (may be NULL): 1 when another replica than me
 * wrote it while launching or joining the pod (launching, launched,
 * ready, join_failed), 0 otherwise.  *age (optional) gets its age at now
 * (>= 0).  The pod is that replica's while *age < window; after that it
 * is left (adopted or reaped).  Pure. */
int rp_adopt_orphaned(const cJSON *last, const char *me, double now, double *age);

/* How many of ncand candidates to adopt: need - present, at least 0, at
 * most ncand and max_nodes - present.  Pure. */
long rp_adopt_want(long long need, long present, long ncand, long max_nodes);

#endif
