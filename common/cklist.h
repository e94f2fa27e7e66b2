/* cklist.h — list and prune the checkpoints in the bucket.
 *
 * Promises:
 *  - list without a job: one record per job (a top-level prefix with a
 *    safe name) with its manifest count and newest seq; with a job: one
 *    record per manifest, oldest first, a bad one marked "valid": false
 *    with why (a transport failure stops the listing).
 *  - prune keeps the newest `keep` manifests that verify (signature when
 *    a signing key is set, else self-hash) and deletes the older ones that
 *    verify; a manifest that does not verify is neither kept nor counted
 *    nor deleted (a forged newest manifest cannot push the real ones out),
 *    and then no data object is deleted.  Manifests go first; only then
 *    the data objects no kept manifest names (an object is never deleted
 *    while a manifest might name it).  A transport failure stops it.  With c->grace > 0 an
 *    unreferenced object younger than grace (or of unknown age) is kept:
 *    a save in flight uploads its data before its manifest.
 */
#ifndef RP_CKLIST_H
#define RP_CKLIST_H
#include <cjson/cJSON.h>
#include "ckstore.h"

/* job NULL: one record per job; else one per manifest.  emit() takes the
 * record (and frees it).  RP_EXIT_OK, or an exit code and e->msg. */
int rp_ckpt_list(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		 struct rp_ckpt_err *e);
/* RP_EXIT_OK and a "checkpoint" record (*rec), or an exit code and e->msg. */
int rp_ckpt_prune(const struct rp_ckpt *c, const char *job, int keep, cJSON **rec,
		  struct rp_ckpt_err *e);

#endif
