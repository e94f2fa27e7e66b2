/* drainseq.h — the drain sequences: the order in which a target stops
 * serving and stops costing money.
 *
 * Promises (the safety orders):
 *  - A node: cordon -> plan (kubectl's filters; any error: nothing is
 *    evicted, the node is uncordoned) -> evict and wait until the pods
 *    are gone -> checkpoint hook (drain.checkpoint_command) -> ledger
 *    "drained" -> terminate the RunPod pod, confirmed gone or TERMINATED
 *    -> only then delete the Node.  A failed hook stops before the
 *    terminate (the pod keeps billing, the node stays cordoned) unless
 *    --skip-checkpoint.  An eviction timeout leaves the node cordoned
 *    (uncordoned with undo) and the pod running.
 *  - A failed or unconfirmed terminate ("terminate_failed" in the ledger)
 *    leaves the node cordoned and the Node in place (a lost node's pods
 *    untouched): the next tick tries again.  A Node is never deleted while
 *    its pod may still bill.
 *  - A node no kubelet answers for -- lost (NotReady past
 *    scale.notready_grace), NotReady when vetted, or under a preempted
 *    spot pod -- is never waited on (a gracefully deleted pod there stays
 *    Terminating): cordon -> plan by force -> hook (a failure is logged:
 *    the jobs resume from their last checkpoint; none for a preempted
 *    pod) -> terminate, confirmed (fencing: the machine can no longer run
 *    them) -> only then force-delete its pods with grace 0 -> ledger
 *    "drained" (reason notready, or preempted) -> delete the Node.  If
 *    the terminate is not confirmed, its pods are not touched.
 *  - A preempted spot pod: its ledger line "preempted" once; with a node,
 *    the fenced sequence above; without one, only the terminate.
 *  - A worker-mode pod: over SSH, clear the marker, run
 *    drain.worker_stop_command, wait for drain.worker_marker (unless
 *    --skip-checkpoint), ledger "drained", then terminate.  The SSH half
 *    is rp_drain_worker_stop(), which a virtual node's pod delete runs
 *    too (vnode.h).
 *  - Just before the terminate (its workload stopped or checkpointed), a
 *    pod's final egress reading (egress.h's rp_egress_sample_pod: only a
 *    pod measured before, always ledgered), so the bytes it sent after the
 *    last tick's reading are counted.  Not for a preempted or lost pod
 *    (its machine is gone).  A reading not taken is one warning, bounded
 *    by egress.h, never a reason not to terminate.
 *  - After a confirmed terminate the pod's tunnel is stopped.
 *  - The lease fence (lease.h) is checked before every terminate: a
 *    replica that lost its lease terminates nothing (the target ends 75,
 *    its pod left to the lease holder).
 *  - Each target that finishes yields one "drained" record.
 *  - rp_drain_all(): at most at_once targets at a time, one thread each
 *    (pool.h), each target's "drained" record printed as it finishes; the
 *    exit code is 0 all done, 3 some done or some partly, or any target
 *    refused by vet as not ours (s->refused), 75 all temporary, else 1.
 */
#ifndef RP_DRAINSEQ_H
#define RP_DRAINSEQ_H
#include <cjson/cJSON.h>
#include "config.h"
#include "drain.h"
#include "drainset.h"

struct rp_drain_run {
	const struct rp_config *cfg;
	struct rp_kube *k;
	struct rp_runpod *rp;
	struct rp_drain_opts o;  /* flags; force and delete_emptydir from config */
	double timeout;          /* drain.timeout */
	double term_budget;      /* drain.terminate_timeout */
	const char *hook;        /* drain.checkpoint_command */
	int undo;                /* uncordon after an eviction timeout */
	int skip_ck;             /* go on without the checkpoint */
};

/* The worker stop over SSH to host:port (the key recorded for pod_id):
 * clear drain.worker_marker (unless wait is NEVER), run
 * drain.worker_stop_command, then wait for the marker until deadline
 * (rp_mono() time) -- ALWAYS, or IF_STOPPED: only when the stop command
 * exited 0 (a pkill that found no worker: nothing will write the marker).
 * 0 (*ck 1 when the marker came), RP_EXIT_PARTIAL when it did not by the
 * deadline (logged with `then`, what the caller does next), else
 * RP_EXIT_* (SSH unreachable: 75; host key or auth refused: 1). */
enum { RP_DRAIN_WAIT_NEVER, RP_DRAIN_WAIT_ALWAYS, RP_DRAIN_WAIT_IF_STOPPED };
int rp_drain_worker_stop(const struct rp_config *cfg, const char *host, int port, const char *pod_id,
			 double deadline, int wait, const char *then, int *ck);

/* Fill what comes from the config (o's flag fields are left as they are). */
void rp_drain_run_config(struct rp_drain_run *r, const struct rp_config *cfg, struct rp_kube *k,
			 struct rp_runpod *rp);
/* One target; *rec gets its "drained" record, or NULL.  RP_EXIT_*. */
int rp_drain_one(struct rp_drain_run *r, struct rp_drain_target *t, cJSON **rec);
/* All of s's targets, at_once at a time; the run's exit code. */
int rp_drain_all(struct rp_drain_run *r, struct rp_drain_set *s, long at_once);

#endif
