/* checkpoint.h — job checkpoints in S3: the engine rp-checkpoint(1) and
 * its tests use, one module per responsibility.
 *
 * Promises (each kept by the module named; its header says how):
 *  - ckstore.h    the layout under the bucket (<job>/data/, manifests/,
 *                 LATEST), job ids, listings, errors, the transfer pool;
 *  - ckpath.h     which relative paths may be saved or restored, which are
 *                 DRM keys;
 *  - ckseal.h     keys are never stored in clear: AES-256-GCM under an
 *                 HMAC name;
 *  - ckmanifest.h the manifest: format, self-hash, the reader's rules, the
 *                 claimed sequence number;
 *  - cksave.h     save: data first, manifest last; content-addressed; stat
 *                 cache; bounded memory;
 *  - ckfetch.h    restore (all or nothing) and verify, every byte checked;
 *  - cklist.h     list and prune (manifests before objects);
 *  - ckqueue.h    the retry queue of failed saves.
 * The arrows point down only: pool, ckpath < ckstore < ckseal < ckmanifest
 * < cksave, ckfetch, cklist < ckqueue < this header.
 */
#ifndef RP_CHECKPOINT_H
#define RP_CHECKPOINT_H
#include "ckstore.h"
#include "ckpath.h"
#include "ckseal.h"
#include "ckmanifest.h"
#include "cksave.h"
#include "ckfetch.h"
#include "cklist.h"
#include "ckqueue.h"

#endif
