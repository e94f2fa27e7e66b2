/* ckmanifest.h — the manifest: the one list of what a checkpoint holds.
 *
 * <job>/manifests/<seq>.json is one JSON object: "format"
 * ("rp-checkpoint/1"), "job", "seq", "saved", "writer", "progress" (if
 * any), "files" (path, size, mode, "sha256" or for keys "hmac", "enc" raw
 * | zstd | aes-256-gcm, "obj", "stored"), "bytes", and last its own
 * "manifest_sha256": the SHA-256 of the text before it (with the closing
 * brace).  With s3.signing_key_file, the writer appends "manifest_hmac":
 * HMAC-SHA256 under the job's key (ckseal.h) of the text before it (with
 * the closing brace), i.e. of the self-hashed manifest.
 *
 * Promises:
 *  - With a signing key (c->sign), a reader refuses a manifest without a
 *    signature or with one that does not match the job's key; without a
 *    signing key the signature is ignored and the self-hash decides.
 *  - rp_ckpt_manifest_check accepts a text only when its self-hash
 *    matches (trailing CR/LF ignored); anything else is tampered or
 *    truncated.
 *  - rp_ckmf_parse accepts a manifest only when the self-hash matches, the
 *    format, job and seq are the ones asked for, and every entry has a
 *    safe path (ckpath.h), a known codec, a 64-hex hash, the object name
 *    that hash and codec give (<hash>, <hash>.zst, <hmac>.enc), sizes in
 *    [0, 2^62), a mode in [0, 07777], and the total stays below 2^62; a
 *    key path (ckpath.h) must be sealed (aes-256-gcm).  The mode it keeps
 *    has no setuid, setgid or sticky bit.
 *    Its refusal is one line naming the entry.
 *  - rp_ckmf_load trusts a stored manifest only when it parses and (given
 *    the data listing) every object it names is listed with the recorded
 *    size (zstd objects: listed; their content is checked when read).
 *  - rp_ckmf_claim writes the manifest under the next free sequence number
 *    (its first try: guess when > 0, a listing taken earlier; then the
 *    listing's newest + 1) with If-None-Match: *, and moves to the next
 *    number when the store says the key exists (at most 25 tries, then a
 *    temporary failure).  It never overwrites a manifest it has seen.
 *    On a store shown to honour If-None-Match (cond, from rp_ckmf_probe)
 *    that one PUT is the claim.  Otherwise (s3rver and old MinIO ignore
 *    the header, and an unknown store is treated so) a HEAD goes before
 *    the PUT, and the manifest is read back 100 ms after the PUT was
 *    answered: another writer's text there means the next number.
 *  - rp_ckmf_probe is 1 only when a create-only PUT of the job's probe key
 *    (ckstore.h) was refused because the key exists (412 or 409): it
 *    writes the key create-only at most twice, and an error, a store that
 *    accepts both PUTs, or one that overwrote is 0 (the safe path).  The
 *    result is never stored: every save asks (off its critical path).
 */
#ifndef RP_CKMANIFEST_H
#define RP_CKMANIFEST_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "ckstore.h"

/* A manifest read back. */
struct rp_ckmf {
	long seq;
	cJSON *root;
	struct rp_ckfile *f;       /* n entries, in the manifest's order */
	size_t n;
	long long bytes;
	int has_keys;
};

/* Self-hash: seal appends "manifest_sha256" to a JSON object text (caller
 * frees); check returns 0 when it matches, else -1. */
char *rp_ckpt_manifest_seal(const char *json);
int rp_ckpt_manifest_check(const char *text, size_t n);

/* The manifest of files f[0..n) (their path, size, mode, enc, sha, obj,
 * stored), "seq" 0 until it is claimed. */
cJSON *rp_ckmf_build(const char *job, const cJSON *progress, const struct rp_ckfile *f, size_t n);
/* The sealed text of m with "seq" set to seq (caller frees). */
char *rp_ckmf_text(cJSON *m, long seq);
/* 0 and *m (rp_ckmf_free it), or -1 and why (one line). */
int rp_ckmf_parse(const char *text, size_t len, const char *job, long seq, struct rp_ckmf *m,
		  char *why, size_t whyn);
/* The same with the signature rule: sign is the signing master key or NULL. */
int rp_ckmf_parse_signed(const char *text, size_t len, const char *job, long seq,
			 const unsigned char *sign, struct rp_ckmf *m, char *why, size_t whyn);
/* text with its signature under jobkey appended (caller frees). */
char *rp_ckmf_sign(const char *text, const unsigned char jobkey[32]);
void rp_ckmf_free(struct rp_ckmf *m);
/* Fetch manifest seq and parse it; with have, also check its objects are
 * listed.  0, or -1 with why (and *s3fail for a transport error). */
int rp_ckmf_load(const struct rp_ckpt *c, const char *job, long seq, const struct rp_ckhave *have,
		 struct rp_ckmf *m, char *why, size_t whyn, struct rp_s3_err *se, int *s3fail);
/* Write m under the next free seq: 0, *seq and *keyout (caller frees), or
 * -1 and e.  cond: rp_ckmf_probe said the store honours If-None-Match. */
int rp_ckmf_claim(const struct rp_ckpt *c, const char *job, cJSON *m, long guess, int cond, long *seq,
		  char **keyout, struct rp_ckpt_err *e);
/* 1: the store refuses a create-only PUT of an existing key; else 0. */
int rp_ckmf_probe(const struct rp_ckpt *c, const char *job);

/* The "checkpoint" record of a manifest read back (restore, verify, list). */
cJSON *rp_ckmf_record(const char *action, const char *job, const struct rp_ckmf *m);
/* The progress fields of a "checkpoint" record: segments (segments_complete
 * or the file count), segments_complete, bitrate_level, progress. */
void rp_ckpt_add_progress(cJSON *rec, const cJSON *progress, long long files);

/* For the fuzzers: rp_ckmf_parse, keeping only the file count and bytes. */
int rp_ckpt_manifest_parse(const char *text, size_t len, const char *job, long seq,
			   const unsigned char *sign, size_t *files, long long *bytes, char *why, size_t whyn);

#endif
