/* ckqueue.h — the retry queue of failed saves.
 *
 * Promises:
 *  - One entry per job and directory: $RP_STATE_DIR/checkpoint-queue/
 *    <job>.<hash of the absolute directory>.json (mode 0600, written
 *    atomically, directory 0700), holding the job, the directory, the
 *    bucket of the failed save (a retry goes back to that bucket on the
 *    configured endpoint; the endpoint is kept only for a person reading
 *    the file, never used), the progress record, the last error and the attempt count.
 *  - retry takes the queue's lock (one retry at a time; a second one
 *    answers 75 at once) and re-runs every entry in name order: a save
 *    that succeeds removes its entry; one that fails for a reason a retry
 *    cannot cure (usage, or not queueable) is dropped with a warning; a
 *    temporary failure keeps it and every later entry for next time.
 *  - The lock is taken in one function (queue_lock in ckqueue.c).
 */
#ifndef RP_CKQUEUE_H
#define RP_CKQUEUE_H
#include <cjson/cJSON.h>
#include "ckstore.h"

/* 0 queued, -1 not (a warning says why). */
int rp_ckpt_queue_add(const struct rp_ckpt *c, const char *job, const char *dir,
		      const cJSON *progress, const char *why);
/* Re-run every queued save; emit() gets a record per drained entry.
 * Returns 0 when the queue is empty afterwards, 75 if a temporary failure
 * stopped it, 1 otherwise (e->msg: the last error). */
int rp_ckpt_retry(const struct rp_ckpt *c, void (*emit)(cJSON *rec), int *drained, int *left,
		  struct rp_ckpt_err *e);

#endif
