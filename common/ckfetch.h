/* ckfetch.h — restore and verify: read a checkpoint back.
 *
 * Promises:
 *  - The newest valid manifest is found by listing manifests/ (never by
 *    LATEST); a manifest is trusted only as ckmanifest.h's rp_ckmf_load
 *    says (self-hash, format, job, seq, entries, every object listed).
 *  - Every byte is checked against the recorded SHA-256 (zstd: after
 *    decompression, frame complete; keys: GCM tag and HMAC name), and the
 *    length against the recorded size; a bad object is named in the error.
 *  - Restore writes only inside its target: below DIR every directory is
 *    opened with openat(O_NOFOLLOW|O_DIRECTORY) (made 0755 when missing),
 *    temporary files are created O_EXCL|O_NOFOLLOW and renamed with
 *    renameat in the same directory; a symbolic link anywhere on the path,
 *    or at the file itself, is refused (the file fails, so nothing is
 *    renamed into place).
 *  - Restore is all-or-nothing: each file is downloaded to
 *    <path>.rp-part-<random> (O_EXCL, mode 0600 until done); only when
 *    every file of the checkpoint is good are they renamed into place,
 *    else every temporary file is removed and the directory is as it was.
 *    A file already there with the recorded content is left alone
 *    ("unchanged").  Keys are restored mode 0600, others 0755 when
 *    their recorded mode has an execute bit, else 0644 (never setuid,
 *    setgid, sticky or group/world-writable); the first failure stops new downloads.
 *  - A checkpoint holding keys is refused (exit 2) without an encryption
 *    key, before anything is written.
 *  - Restore checks the free space under the target for the manifest's
 *    bytes before anything is written.  A zstd object's frame content
 *    size must be the recorded size before a byte of it is written, and
 *    no object yields more than the recorded size.
 *  - With c->fallback, restore goes on to older manifests when one is bad
 *    (not on a transport failure or a temporary error); verify never does
 *    and checks every object (all failures are reported).
 */
#ifndef RP_CKFETCH_H
#define RP_CKFETCH_H
#include <cjson/cJSON.h>
#include "ckstore.h"

/* at < 0: the newest valid manifest.  RP_EXIT_OK and a "checkpoint" record
 * (*rec, caller frees), or an exit code and e->msg. */
int rp_ckpt_restore(const struct rp_ckpt *c, const char *job, const char *dir, long at,
		    cJSON **rec, struct rp_ckpt_err *e);
int rp_ckpt_verify(const struct rp_ckpt *c, const char *job, long at, cJSON **rec,
		   struct rp_ckpt_err *e);
/* verify --all: every manifest of the job, oldest first, one record each
 * to emit() (a bad one: "ok": false and why).  RP_EXIT_OK when all are
 * good, else the first failure's code and e->msg. */
int rp_ckpt_verify_all(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		       struct rp_ckpt_err *e);

#endif
