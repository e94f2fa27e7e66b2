/* drainset.h — which nodes and pods one rp-drain run drains.
 *
 * Promises:
 *  - A target is a Kubernetes node (and the RunPod pod behind it) or, for
 *    a worker-mode pod, a pod alone.  A node is a target once, whatever
 *    named it; named on the command line wins over found.
 *  - Found, never named: idle nodes (idle.h's marks), lost nodes (fleet.h's
 *    rule), spot pods of ours (fleet.h's name prefix) that RunPod stopped
 *    (EXITED, and interruptible or "Outbid"), with the node that carries
 *    each by fleet.h's pod <-> node order.
 *  - rp_drain_vet(): before anything is touched, every node target is
 *    checked against the API and fleet.h's refusal.  A named target that is
 *    not a node name, not found, not a burst node or opted out stops the
 *    whole run with exit 2; a found one is skipped with a warning.  A node
 *    found only as lost is skipped when it is no longer lost.  The pod
 *    behind a kept node is looked up by fleet.h's order (annotation, label,
 *    then a RunPod pod of the node's name); an odd pod id is exit 1.
 *  - Worker targets need a pod id and an SSH address (given, else from the
 *    ledger's last line about the pod), else exit 2.
 *  - Only our pods are terminated: rp_drain_vet() passes every target with
 *    a pod id (named, found, worker or preempted) through ledger.h's
 *    rp_ledger_ours(), a node target with its node name (the ledger's
 *    node <-> pod mapping must agree with what the Node says).  A target
 *    that fails is dropped before anything is touched (node and pod left
 *    alone), with one error line; each counts in s->refused, and the run
 *    exits 3 (rp_drain_all).  The ledger is read once (the fleet view
 *    synced first with a replicated ledger: unavailable is exit 75, an
 *    unreadable ledger exit 1, nothing drained).
 *  - rp_drain_at_once(): scale.step as N or P% of our nodes, at least 1.
 */
#ifndef RP_DRAINSET_H
#define RP_DRAINSET_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "config.h"
#include "kube.h"
#include "runpod.h"

struct rp_drain_target {
	char *node;      /* Kubernetes node; NULL for a worker-mode pod */
	char *pod_id;    /* RunPod pod; NULL when none was found */
	char *pod_name;  /* RunPod's name for it, when listed (preempted) */
	char *host;      /* worker mode: where its sshd listens */
	int port;
	int worker;
	int named;       /* named on the command line */
	int preempted;   /* a spot pod RunPod stopped: its machine is gone */
	int as_lost;     /* named as lost (decision "lost", --lost): drained only if still lost */
	int lost;        /* NotReady longer than scale.notready_grace (found by vet) */
	int notready;    /* NotReady at all when vetted: no kubelet confirms an eviction */
	double not_ready_s;
};

struct rp_drain_set {
	struct rp_drain_target *t;
	size_t n;
	const struct rp_config *cfg;
	struct rp_kube *k;
	struct rp_runpod *rp;
	double grace;     /* scale.notready_grace */
	cJSON *rp_pods;   /* RunPod pods, listed once for the name rule */
	cJSON *launches;  /* the ledger's launches (rp_ledger_launches), read once by vet */
	size_t refused;   /* targets dropped by vet: their pod is not ours per the ledger */
	/* how a down decision without node names picks (count 0: all);
	 * rp_drain_select_idle unless replaced */
	void (*idle)(struct rp_drain_set *s, long count);
};

void rp_drain_set_init(struct rp_drain_set *s, const struct rp_config *cfg, struct rp_kube *k,
		       struct rp_runpod *rp);
void rp_drain_set_free(struct rp_drain_set *s);
/* Add a target (node, or worker pod id); the new one, or NULL when it was
 * there already (named is then or-ed in). */
struct rp_drain_target *rp_drain_set_add(struct rp_drain_set *s, const char *node, const char *id, int worker,
					 int named);
/* Add a node found only because it is lost. */
void rp_drain_set_add_lost(struct rp_drain_set *s, const char *node);
/* Take one input record: a down decision's nodes (or its idle count), any
 * decision's "lost" nodes, node records.  1 when the record is consumed,
 * 0 when it passes through (not ours, or a decision that is not down);
 * -1 when a decision or node record is malformed as records.h's checked
 * readers say
 * (why[n]: "FIELD must be ...", for rp_recs_refuse: exit 2). */
int rp_drain_set_record(struct rp_drain_set *s, const cJSON *rec, char *why, size_t n);

/* A RunPod pod RunPod stopped under us: EXITED, and interruptible or its
 * lastStatusChange says "Outbid". */
int rp_drain_is_preempted(const cJSON *pod);
void rp_drain_select_idle(struct rp_drain_set *s, long count);
void rp_drain_select_lost(struct rp_drain_set *s);
/* Our spot pods RunPod took back: by our ledger's launched line (spot:
 * true) or rp_drain_is_preempted(), EXITED; or, ledgered as running, gone
 * from RunPod's list without our terminate. */
void rp_drain_select_preempted(struct rp_drain_set *s);
void rp_drain_vet(struct rp_drain_set *s);

/* scale.step "N" or "P%" of total nodes: how many at once (>= 1), or -1
 * when step is neither.  *pct (optional) is set when it is a percentage. */
long rp_drain_step(const char *step, long total, int *pct);
long rp_drain_at_once(struct rp_drain_set *s);

#endif
