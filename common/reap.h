/* reap.h — rp-launch --reap: terminate our pods that nobody will use.
 *
 * Promises (the safety orders):
 *  - Nothing is reaped while a launcher runs: --reap takes launch.lock
 *    exclusively without waiting (rp_launch_lock); held by a launcher, it
 *    reaps nothing and returns 75.
 *  - Nothing is reaped on a guess: without the Kubernetes node list
 *    (75), the pods of the virtual nodes (label type=virtual-kubelet,
 *    vnode.h; 75), the ledger (1) or the RunPod pod list (75) it reaps
 *    nothing.  A Kubernetes pod on a virtual node annotated rp.io/pod-id
 *    makes that RunPod pod known, as a node would.
 *  - With a replicated ledger (fleetlog.h) the reaper first brings the
 *    local file up to the fleet store (unavailable: 75, nothing reaped),
 *    and keeps a pod whose last line another replica wrote while
 *    launching or joining it (launching, launched, ready, join_failed)
 *    for runpod.ready_timeout + kube.join_timeout + the hand-off grace
 *    after that line (rp_adopt_orphaned(), adopt.h); then it is judged
 *    as any other (a dead replica's pod the lease holder did not adopt
 *    is reaped, never left billing).
 *  - The lease fence (lease.h) is checked before the terminates: a
 *    replica that lost its lease reaps nothing (75).
 *  - Only pods with our name prefix (rp_launch_prefix) are looked at, and
 *    a pod is reaped only when rp_reap_verdict() (launch.h) says orphan;
 *    the join lock of each pod (podlock.h) is read, not taken, and a pod
 *    whose lock cannot be read gets the join grace
 *    (kube.join_timeout + 60 s).  TERMINATED pods are left alone.
 *  - Only our pods are terminated: an orphan is reaped only when
 *    ledger.h's rp_ledger_ours() says this cluster launched it (by id and
 *    RunPod name); one it does not (an orphan "not in the ledger" among
 *    them) is left alone with one error line, and the exit is 3.
 *  - Every reap is ledgered `reaped` (id, name, reason, gpu, cost,
 *    created_at) after RunPod confirms the terminate, and its dead
 *    joiner's lock file is removed; a failed terminate is ledgered
 *    `terminate_failed`.  Each reaped pod is printed as a `reaped` record.
 *  - dry: the same verdicts, printed with terminated:false; nothing is
 *    terminated or ledgered.
 *  - Returns 0 all orphans gone (or none), 3 some terminates failed or
 *    some pod refused as not ours, 75 all failed.
 */
#ifndef RP_REAP_H
#define RP_REAP_H
#include "config.h"

int rp_reap(struct rp_config *cfg, int dry);

#endif
