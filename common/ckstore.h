/* ckstore.h — a checkpoint's place in the bucket, and what every
 * checkpoint verb shares: the configuration, errors, the file entry, the
 * listings, the transfer pool.
 *
 * Layout under the bucket (restic's order: data first, manifest last):
 *   <job>/data/<sha256>          a file stored as it is (sha256 of it)
 *   <job>/data/<sha256>.zst      a file compressed with zstd (sha256 of the
 *                                plain content; frame checksum on)
 *   <job>/data/<hmac>.enc        a DRM key, AES-256-GCM sealed (ckseal.h)
 *   <job>/manifests/<seq>.json   seq zero-padded to 10 digits (ckmanifest.h)
 *   <job>/LATEST                 the newest seq written, a hint only: readers
 *                                never trust it, they list manifests/
 *   <job>/probe-if-none-match    six bytes a save writes create-only to learn
 *                                whether the store honours If-None-Match
 *                                (ckmanifest.h); nothing reads it
 *
 * Promises:
 *  - Every key of a job is built here (rp_ck_data_key, rp_ck_manifest_key)
 *    and every job id is checked here (rp_ckpt_check_job: [A-Za-z0-9._-],
 *    not . or ..) before any key is built from it.
 *  - rp_ck_list_seqs lists manifests/ and keeps only names of exactly ten
 *    digits and ".json" with seq > 0, newest first; LATEST plays no part.
 *  - rp_ckhave_load is one listing of <job>/data/; rp_ckhave_find answers
 *    from it without another request.
 *  - rp_ckpt_pool runs a verb's per-file work on s3.parallel threads (the
 *    one pool, pool.h), 1 MiB stacks, with the progress bar on stderr when
 *    c->bar is set; per-file failures live in the file entries.
 *  - rp_ckpt_first_failure picks the error a verb reports: the first
 *    temporary failure if there is one (the whole run is worth retrying),
 *    else the first failure.
 */
#ifndef RP_CKSTORE_H
#define RP_CKSTORE_H
#include <stddef.h>
#include "s3.h"

#define RP_CK_FORMAT "rp-checkpoint/1"
#define RP_CK_IOBUF (128u << 10)
#define RP_CK_KEY_CAP (16u << 20)    /* a DRM key file is at most this */
#define RP_CK_MF_CAP (64u << 20)     /* a manifest is at most this */

/* How an object is stored; rp_ck_enc_names[] are the manifest's words. */
enum { RP_CK_RAW, RP_CK_ZSTD, RP_CK_AES };
extern const char *const rp_ck_enc_names[3];

struct rp_ckpt {
	struct rp_s3 *s3;
	const unsigned char *key;  /* 32-byte encryption key, or NULL */
	const unsigned char *sign; /* 32-byte signing master key (ckseal.h), or NULL */
	int bar;                   /* draw a progress bar on stderr */
	int fallback;              /* restore: fall back to older manifests */
	double grace;              /* prune: keep unreferenced objects younger than this */
};

struct rp_ckpt_err {
	int code;                  /* RP_EXIT_* */
	int queue;                 /* a save that failed this way may be retried */
	char msg[600];
};

/* One file of a checkpoint (save: found on disk; restore: from a manifest). */
struct rp_ckfile {
	char *path;
	long long size, stored;
	unsigned mode;
	int is_key, enc, uploaded;
	char sha[65];           /* sha256 of the plain content; for keys the HMAC name */
	char obj[72];           /* name under <job>/data/ */
	int code;               /* RP_EXIT_* of this file's failure, 0 ok */
	int skipped;            /* restore: already there */
	char *tmp;              /* restore: downloaded, waiting to be renamed */
	char why[400];
};

void rp_ckfile_free(struct rp_ckfile *f, size_t n);
/* Record f's failure (code, why); returns -1. */
int rp_ckfile_fail(struct rp_ckfile *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rp_ckfile_s3fail(struct rp_ckfile *f, const struct rp_s3_err *se);

void rp_ckpt_set_err(struct rp_ckpt_err *e, int code, int queue, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A transport error: 75 when temporary, else 1; queueable. */
void rp_ckpt_s3_err(struct rp_ckpt_err *e, const struct rp_s3_err *se);
/* The verb's error from its files' failures: the code, or 0 when none failed. */
int rp_ckpt_first_failure(struct rp_ckfile *f, size_t n, struct rp_ckpt_err *e, int queue);
/* 0, or -1 and e (exit 2) for an unsafe job id. */
int rp_ckpt_check_job(const char *job, struct rp_ckpt_err *e);

/* Keys (caller frees). */
char *rp_ck_data_key(const char *job, const char *obj);
char *rp_ck_manifest_key(const char *job, long seq);
char *rp_ck_latest_key(const char *job);
char *rp_ck_probe_key(const char *job);

/* The data objects of a job, one listing, sorted. */
struct rp_ckhave {
	struct rp_s3_list l;
	size_t plen;               /* strlen("<job>/data/") */
};
int rp_ckhave_load(const struct rp_ckpt *c, const char *job, struct rp_ckhave *h, struct rp_s3_err *se);
const struct rp_s3_obj *rp_ckhave_find(const struct rp_ckhave *h, const char *job, const char *obj);

/* Sequence numbers of <job>/manifests/, newest first (*seqs: caller frees). */
int rp_ck_list_seqs(const struct rp_ckpt *c, const char *job, long **seqs, size_t *n,
		    struct rp_s3_err *se);

/* Run fn(ctx, i) for the n files f on c->s3->parallel threads; label names
 * the bar.  RP_POOL_STOP or RP_POOL_ALL (pool.h). */
void rp_ckpt_pool(const struct rp_ckpt *c, struct rp_ckfile *f, size_t n, int (*fn)(void *, size_t),
		  void *ctx, int rule, const char *label);

/* Small shared pieces. */
void rp_ck_hex(const unsigned char *md, size_t n, char *out);
int rp_ck_is_hex64(const char *s);
int rp_ck_write_all(int fd, const void *p, size_t n);
int rp_ck_str_cmp(const void *a, const void *b);   /* qsort/bsearch over char * */

#endif
