/* lease.h — leader election on a coordination.k8s.io/v1 Lease, the way
 * client-go's tools/leaderelection does it, and the fence every paid
 * action goes through.
 *
 * Promises:
 *  - rp_lease_try() is client-go's tryAcquireOrRenew: it reads the Lease;
 *    none: creates it with us as holder; one whose record (the whole spec)
 *    differs from the one last observed: that record and the local
 *    monotonic time become the observation (observedTime).  Another
 *    holder's lease is expired only when observedTime +
 *    leaseDurationSeconds has passed on this host's CLOCK_MONOTONIC: the
 *    holder's renewTime and this host's wall clock are never compared, so
 *    a skewed clock on either side changes nothing.  Every write is a PUT
 *    carrying the resourceVersion read (optimistic concurrency: of two
 *    writers one gets 409 and does not hold it).  Taking it from another
 *    holder sets acquireTime and adds one to leaseTransitions; renewing
 *    our own keeps both.
 *  - The observation survives the process: it is kept in the fence file
 *    (state.h's lease.json, with the kernel's boot id; a file from another
 *    boot, or about another Lease, is ignored), so short-lived ticks judge
 *    expiry as one long-lived elector would.
 *  - rp_lease_hold() is the renewer: it tries once; not held, it prints
 *    {"type":"lease","held":false,…} and returns (0, or 75 when the API
 *    did not answer).  Held, it prints {"type":"lease","held":true,…},
 *    then renews every retry period until told to stop (stop set, or the
 *    process watch_pid gone), writing its state to the fence file after
 *    every attempt.  A renewal that has not succeeded for renew_deadline,
 *    or a record naming another holder, is a lost lease: the fence file
 *    says so at once and it returns 75.  On stop it renews once more (the
 *    lease then lasts a full duration after the tick), marks the fence
 *    released and returns 0 (75 if it was lost meanwhile).
 *  - rp_lease_fence() is the one check before every paid action (create,
 *    terminate).  With RP_LOCK unset or "flock" (one host) it is a no-op
 *    and returns 0.  With RP_LOCK=lease it returns 0 only when the fence
 *    file says held, is of this boot, and its last successful renewal is
 *    less than renew_deadline ago by CLOCK_MONOTONIC; else it logs one
 *    error naming the action and returns -1 (the caller acts no further
 *    and exits 75).
 */
#ifndef RP_LEASE_H
#define RP_LEASE_H
#include <signal.h>
#include "kube.h"

struct rp_lease_opts {
	const char *name, *ns, *identity;
	double duration;       /* leaseDurationSeconds we write */
	double renew_deadline; /* the holder gives up after this long without a renewal */
	double retry_period;   /* renew (or retry) this often */
};

struct rp_lease {
	struct rp_lease_opts o;
	char *observed;        /* the spec last seen (JSON text), NULL: none */
	char *holder;          /* its holderIdentity ("" none) */
	double observed_dur;   /* its leaseDurationSeconds */
	double observed_mono;  /* when it was first seen as it is (CLOCK_MONOTONIC) */
	double renewed_mono;   /* our last successful acquire or renew, 0: never */
	int held;
};

/* Defaults from the duration, in client-go's 15:10:2 ratio. */
void rp_lease_defaults(struct rp_lease_opts *o);
/* 1: another holder's lease still runs by our observation at now. */
int rp_lease_taken(const struct rp_lease *l, double now);
/* One tryAcquireOrRenew at monotonic time now: 1 we hold it, 0 another
 * holder's unexpired lease, -1 + *err no answer, a conflict or an error. */
int rp_lease_try(struct rp_kube *k, struct rp_lease *l, double now, char **err);
/* The fence file: restore an observation of the same Lease and boot
 * (0, or -1 none), and save the state (0, or -1 with errno). */
int rp_lease_load(struct rp_lease *l);
int rp_lease_save(const struct rp_lease *l);
void rp_lease_free(struct rp_lease *l);
/* The renewer (rp-lagwatch --hold-lease). */
int rp_lease_hold(struct rp_kube *k, const struct rp_lease_opts *o, long watch_pid,
		  volatile sig_atomic_t *stop);
/* 0: act; -1: do not (logged, naming what). */
int rp_lease_fence(const char *what);

#endif
