/* cksave.h — save: a directory to a new checkpoint of a job.
 *
 * Promises:
 *  - Order (restic's): every data object is uploaded before the manifest
 *    (ckmanifest.h claims its sequence number); a failed file means no
 *    manifest, and a crash at any point leaves earlier manifests and what
 *    they name untouched.  Unreferenced objects are only removed by prune.
 *  - Content-addressed: a file is stored under the SHA-256 of its plain
 *    content (raw, or .zst when a zstd level-1 probe of its first 64 KiB
 *    shrinks to <= 90%); an object already there (one listing of data/)
 *    with the size that shows it whole is referenced, not sent again.
 *  - Keys (ckpath.h) are never sent in clear: with an encryption key they
 *    are sealed (ckseal.h) under their HMAC name; without one save refuses
 *    the whole checkpoint (exit 2) before any upload.  A key over 16 MiB is
 *    refused (exit 2).
 *  - Only regular files under the directory, with safe paths, are saved;
 *    others are skipped with a warning.  A file is opened with O_NOFOLLOW
 *    after the walk's lstat and must still be a regular file.  A file that
 *    changes while it is read (size, mtime) fails the save.
 *  - A stat cache in $RP_STATE_DIR/checkpoint-cache/<job>.<hash of the
 *    directory> (device, inode, size, mtime, ctime per file; restic's rule)
 *    spares reading an unchanged file whose object is listed with the
 *    recorded size (checked once the pass is over; a hit whose object is
 *    gone or of another size is read and sent in a second pass).  Keys
 *    are never cached.  It is written after the uploads succeed; failing
 *    to write it is a warning.
 *  - The listings (data/, then manifests/ for the claim's first try) and
 *    the If-None-Match probe (ckmanifest.h) run on their own thread while
 *    the files are opened and hashed; a failed data listing fails the save
 *    with its own error, and nothing is sent.
 *  - Memory stays bounded: files are streamed; compressed output is
 *    spooled to an unlinked temporary file under $TMPDIR; s3.parallel
 *    transfers, and the first failure stops new ones.
 *  - After the manifest, <job>/LATEST is written as a hint (a failure is a
 *    warning).
 */
#ifndef RP_CKSAVE_H
#define RP_CKSAVE_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "ckstore.h"

/* RP_EXIT_OK and a "checkpoint" record (*rec, caller frees), or an exit
 * code and e (e->queue: worth queueing for a retry). */
int rp_ckpt_save(const struct rp_ckpt *c, const char *job, const char *dir,
		 const cJSON *progress, cJSON **rec, struct rp_ckpt_err *e);

/* 1 when zstd pays on this sample (level 1 ratio <= 0.9). */
int rp_ckpt_probe(const void *p, size_t n);

#endif
