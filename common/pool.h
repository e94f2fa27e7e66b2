/* pool.h — the one worker pool: N threads run one function over n items.
 * Its callers: checkpoint (ckstore.c: uploads, downloads), rp-join (one
 * pod per item, ssh.concurrency threads), rp-drain (one target per item,
 * scale.step threads).
 *
 * Promises:
 *  - fn(arg, i) runs at most once for each i in [0, n), on one of at most
 *    `threads` threads (threads < 1 is one; never more threads than
 *    items); items are handed out in index order.  With RP_POOL_ALL every
 *    item runs.
 *  - Failure rule: fn returns 0 for success, anything else is a failure.
 *    With RP_POOL_STOP, once any item has failed no further item starts;
 *    the items already running finish.  Items never started get the
 *    result RP_POOL_NOT_RUN and count as failures.
 *  - res (when not NULL, n entries) gets every item's result: fn's
 *    return value, or RP_POOL_NOT_RUN.
 *  - done (when set) is called once for each item that ran, as soon as its
 *    fn has returned, with fn's result: on the thread that ran it, one call
 *    at a time (never two at once), so the order of the calls is the order
 *    in which items finish.  This is where a caller prints what an item
 *    made: one record after another, each as its item finishes.  An item's
 *    done call ends before its result counts as finished (res, tick).
 *  - rp_pool_run returns only when every started item has finished (done
 *    included), and returns the number of items that failed or never ran.
 *  - If no thread can be started, the calling thread runs the items
 *    itself (same rule, same results, same done calls).
 *  - tick (when set) is called on the calling thread while it waits: after
 *    each finished item and at least every 200 ms, with the count done;
 *    and once more when every started item has finished.
 *    fn must not call back into the pool; the pool holds no lock while fn
 *    or tick runs, and only the lock that keeps done calls apart while
 *    done runs.
 *
 * Threads, not processes, for every caller.  rp-drain once ran each
 * target in a forked child (forkpool.c) that sent its record back over a
 * pipe.  Its jobs are safe on threads: they share only read-only state
 * (the config, the kube and RunPod handles, which hold credentials and
 * open a connection per request), the per-call text buffers they use are
 * _Thread_local (kube, http, ssh, the ledger path), SSH sessions are one
 * per job (ssh.h), the ledger is appended under flock on a descriptor of
 * its own per call, the checkpoint hook's child is made ready before its
 * fork and calls only async-signal-safe functions until exec (drain.c),
 * and nothing in a job calls exit(): rp_fatal() is only used for bad
 * input before the pool starts, and for out-of-memory, which ends the run
 * in either design.  What the threads give up: a crash in one job (a bug:
 * SIGSEGV, abort) now ends the whole run instead of failing that one
 * target with exit 1 ("a killed child"); the drain sequences are written
 * so that a run killed at any point is finished by the next one (ledger,
 * cordon, terminate_failed), as for any kill -9 of rp-drain itself.
 */
#ifndef RP_POOL_H
#define RP_POOL_H
#include <limits.h>
#include <stddef.h>

enum { RP_POOL_ALL = 0, RP_POOL_STOP = 1 };
#define RP_POOL_NOT_RUN INT_MIN

struct rp_pool_opt {
	int rule;                  /* RP_POOL_ALL or RP_POOL_STOP */
	size_t stack;              /* thread stack size in bytes; 0: the default */
	void (*tick)(void *arg, size_t done, size_t n);
	void *tick_arg;
	void (*done)(void *arg, size_t i, int r); /* arg is fn's */
};

/* opt may be NULL: RP_POOL_ALL, default stacks, no tick, no done. */
size_t rp_pool_run(size_t n, int threads, int (*fn)(void *arg, size_t i), void *arg, int *res,
		   const struct rp_pool_opt *opt);

#endif
