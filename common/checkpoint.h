/* checkpoint.h — job checkpoints in S3: layout, manifest, codecs, queue.
 *
 * Layout under the bucket (restic's order: data first, manifest last):
 *   <job>/data/<sha256>          a file stored as it is (sha256 of it)
 *   <job>/data/<sha256>.zst      a file compressed with zstd (sha256 of the
 *                                plain content; frame checksum on)
 *   <job>/data/<hmac>.enc        a DRM key, AES-256-GCM sealed; the name is
 *                                an HMAC-SHA256 of the plain key under a key
 *                                derived from the encryption key
 *   <job>/manifests/<seq>.json   seq zero-padded to 10 digits; the file list
 *                                with sizes, hashes, object names and the
 *                                choice made per object; it ends with its
 *                                own "manifest_sha256"
 *   <job>/LATEST                 the newest seq written, a hint only: readers
 *                                never trust it, they list manifests/
 *
 * Promises:
 *  - save uploads every data object before the manifest, skips objects
 *    already present (one listing), and claims the manifest's sequence
 *    number with If-None-Match: * ; because some servers (s3rver) ignore
 *    that header, the writer also reads its manifest back (twice, 100 ms
 *    apart) and moves to the next number if another writer's is there.
 *  - A crash at any point leaves earlier manifests and what they name
 *    untouched; unreferenced objects are only removed by prune.
 *  - A reader trusts a manifest only when its own hash matches and every
 *    object it names exists with the recorded size; restore and verify
 *    check every byte against the recorded SHA-256 (or the GCM tag and
 *    HMAC for keys) and name the bad object.
 *  - A stat cache in $RP_STATE_DIR/checkpoint-cache/ (device, inode,
 *    size, mtime, ctime per file) spares reading unchanged files whose
 *    object is listed with the recorded size.
 *  - Memory stays bounded: files are streamed (compressed output is
 *    spooled to an unlinked temporary file), s3.parallel transfers run in
 *    a pool of threads.
 *  - Keys (files under a keys/ directory or named *.key) are never sent in
 *    clear; without an encryption key save refuses them.
 *  - Failed saves can be queued in $RP_STATE_DIR/checkpoint-queue/ (one
 *    entry per job and directory) and re-run by rp_ckpt_retry.
 */
#ifndef RP_CHECKPOINT_H
#define RP_CHECKPOINT_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "config.h"
#include "s3.h"

struct rp_ckpt {
	struct rp_s3 *s3;
	const unsigned char *key;  /* 32-byte encryption key, or NULL */
	int bar;                   /* draw a progress bar on stderr */
	int fallback;              /* restore: fall back to older manifests */
	double grace;              /* prune: keep unreferenced objects younger than this */
};

struct rp_ckpt_err {
	int code;                  /* RP_EXIT_* */
	int queue;                 /* a save that failed this way may be retried */
	char msg[600];
};

/* Each returns RP_EXIT_OK and a "checkpoint" record (*rec, caller frees),
 * or an exit code and e->msg (one line). */
int rp_ckpt_save(const struct rp_ckpt *c, const char *job, const char *dir,
		 const cJSON *progress, cJSON **rec, struct rp_ckpt_err *e);
/* at < 0: the newest valid manifest. */
int rp_ckpt_restore(const struct rp_ckpt *c, const char *job, const char *dir, long at,
		    cJSON **rec, struct rp_ckpt_err *e);
int rp_ckpt_verify(const struct rp_ckpt *c, const char *job, long at, cJSON **rec,
		   struct rp_ckpt_err *e);
int rp_ckpt_prune(const struct rp_ckpt *c, const char *job, int keep, cJSON **rec,
		  struct rp_ckpt_err *e);
/* job NULL: one record per job; else one per manifest.  emit() takes the
 * record (and frees it). */
int rp_ckpt_list(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		 struct rp_ckpt_err *e);

/* Retry queue. */
/* Remembers the bucket too (and the endpoint, for a person reading it):
 * retry goes back to that bucket on the configured endpoint, never to an
 * endpoint read from a queue file. */
int rp_ckpt_queue_add(const struct rp_ckpt *c, const char *job, const char *dir,
		      const cJSON *progress, const char *why);
/* Re-run every queued save; emit() gets a record per drained entry.
 * Returns 0 when the queue is empty afterwards, 75 if a temporary failure
 * stopped it, 1 otherwise (e->msg: the last error). */
int rp_ckpt_retry(const struct rp_ckpt *c, void (*emit)(cJSON *rec), int *drained,
		  int *left, struct rp_ckpt_err *e);

/* s3.encryption_key_file: 1 and key[32] loaded; 0 not configured; -1 and
 * *err (bad mode, not 64 hex characters). */
int rp_ckpt_load_key(const struct rp_config *cfg, unsigned char key[32], char **err);

/* Pieces, exposed for the unit tests. */
int rp_ckpt_is_key_path(const char *rel);
int rp_ckpt_safe_path(const char *rel);
/* 1 when zstd pays on this sample (level 1 ratio <= 0.9). */
int rp_ckpt_probe(const void *p, size_t n);
/* Seal/open a DRM key: out gets "RPE1" nonce ciphertext tag. */
void rp_ckpt_name_key(const unsigned char key[32], const void *p, size_t n, char out[65]);
int rp_ckpt_seal(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn);
int rp_ckpt_open(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn);
/* Manifest self-hash: seal appends "manifest_sha256" to a JSON object text;
 * check returns 0 when it matches. */
char *rp_ckpt_manifest_seal(const char *json);
int rp_ckpt_manifest_check(const char *text, size_t n);

/* for the fuzzers */
/* Read a manifest's text as restore and verify do (self-hash, format,
 * job, seq, every entry): 0 with the number of files and their bytes, or
 * -1 with why (one line). */
int rp_ckpt_manifest_parse(const char *text, size_t len, const char *job, long seq, size_t *files,
			   long long *bytes, char *why, size_t whyn);

#endif
