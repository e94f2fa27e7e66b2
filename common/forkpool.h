/* forkpool.h — run n jobs, at most k at once, one child process each.
 *
 * Promises:
 *  - With k <= 1 or n <= 1 the jobs run one after another in this process.
 *  - Otherwise each job runs in a forked child (stdio flushed before each
 *    fork); the child sends its one record through a pipe and exits with
 *    the job's code.  A child killed by a signal counts as RP_EXIT_FAIL.
 *  - Every record a job makes is printed with rp_out_rec() by this
 *    process, in the order the jobs finish; codes[i] is job i's code.
 *  - A failed pipe, fork or wait is fatal (RP_EXIT_FAIL).
 * (rp-drain's pool, kept whole and apart so it can give way to a common
 * worker pool later.)
 */
#ifndef RP_FORKPOOL_H
#define RP_FORKPOOL_H
#include <stddef.h>
#include <cjson/cJSON.h>

/* One job: its exit code; *rec (NULL or a record, taken) is printed. */
typedef int (*rp_forkpool_job)(void *arg, size_t i, cJSON **rec);

void rp_forkpool_run(size_t n, long k, rp_forkpool_job job, void *arg, int *codes);

#endif
