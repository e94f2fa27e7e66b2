/* pool.h — one worker pool: N threads run one function over n items.
 *
 * Promises:
 *  - fn(arg, i) runs at most once for each i in [0, n), on one of at most
 *    `threads` threads (never more threads than items); items are handed
 *    out in index order.  With RP_POOL_ALL every item runs.
 *  - Failure rule: fn returns 0 for success, anything else is a failure.
 *    With RP_POOL_STOP, once any item has failed no further item starts;
 *    the items already running finish.  Items never started get the
 *    result RP_POOL_NOT_RUN and count as failures.
 *  - res (when not NULL, n entries) gets every item's result: fn's
 *    return value, or RP_POOL_NOT_RUN.
 *  - rp_pool_run returns only when every started item has finished, and
 *    returns the number of items that failed or never ran.
 *  - If no thread can be started, the calling thread runs the items
 *    itself (same rule, same results).
 *  - tick (when set) is called on the calling thread while it waits: after
 *    each finished item and at least every 200 ms, with the count done;
 *    and once more when every started item has finished.
 *    fn must not call back into the pool; the pool holds no lock while fn
 *    or tick runs.
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
};

/* opt may be NULL: RP_POOL_ALL, default stacks, no tick. */
size_t rp_pool_run(size_t n, int threads, int (*fn)(void *arg, size_t i), void *arg, int *res,
		   const struct rp_pool_opt *opt);

#endif
