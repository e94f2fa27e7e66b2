/* s3.h — S3 (AWS, MinIO, s3rver) over the one HTTP client.
 *
 * Promises:
 *  - Path-style URLs (ENDPOINT/BUCKET/KEY).  Keys are restricted to
 *    [A-Za-z0-9._~/-] (rp_s3_key_ok): http.c signs the path as it
 *    is written, so nothing in a key may need percent-encoding.
 *  - Every request is signed by http.c with "aws:amz:<region>:s3" and
 *    carries x-amz-content-sha256 (the body's SHA-256 when it is known,
 *    else UNSIGNED-PAYLOAD); query strings are written canonical (sorted,
 *    percent-encoded, valueless parameters as "name=").  No X-Amz-Date,
 *    Host or header-removal entry is ever set by hand.
 *  - Connections are kept between requests (http.h keepalive): each
 *    transfer thread reuses its own, so a save or restore of many objects
 *    pays one TCP and TLS handshake per thread, not one per object.
 *  - Retries with backoff on 5xx, 429, timeouts and transport errors
 *    (s3.retries extra attempts), for every request that can be replayed:
 *    memory bodies, fd uploads, downloads (the sink is reset first).
 *  - Objects above s3.multipart_threshold go up as multipart uploads
 *    (parts of s3.part_size >= 5 MiB); any failure aborts the upload; a
 *    Complete answering 200 with an <Error> body is a failure.
 *  - ListObjectsV2 pages on with continuation tokens; if the server
 *    answers a token with 5xx (s3rver 3.7 on OpenSSL 3), with start-after
 *    the last key (listings without a delimiter).
 *  - S3 XML (listings, errors, multipart answers) is parsed with expat,
 *    namespace-agnostic; DOCTYPEs are refused.
 *  - Errors come back in struct rp_s3_err: one line, the HTTP status, the
 *    S3 error code, and temp = 1 when trying again later may help (no
 *    answer, timeout, 5xx, 429).  Credentials never appear in it.
 */
#ifndef RP_S3_H
#define RP_S3_H
#include <stddef.h>
#include "config.h"

struct rp_s3 {
	char *endpoint;        /* scheme://host[:port], no trailing slash */
	char *bucket, *region;
	char *userpwd;         /* "access:secret" (a secret) */
	char sigv4[96];
	double timeout;        /* per request */
	int retries;
	int parallel;
	long long multipart_threshold, part_size;
};

struct rp_s3_err {
	int temp;              /* 1: temporary (exit 75), 0: permanent */
	long status;           /* HTTP status, 0 if none */
	char code[64];         /* S3 error code (NoSuchBucket, …) or "" */
	char msg[400];
};

struct rp_s3_obj {
	char *key;
	long long size;
	double mtime;          /* LastModified, epoch seconds; 0 if unknown */
};

struct rp_s3_list {
	struct rp_s3_obj *objs;
	size_t n;
	char **prefixes;       /* CommonPrefixes, with a delimiter */
	size_t np;
};

/* Page size of listings (max-keys); RP_S3_PAGE_SIZE overrides 1000. */
int rp_s3_page_size(void);

/* From config (s3.*) and secrets (s3.access_key_file / AWS_ACCESS_KEY_ID,
 * s3.secret_key_file / AWS_SECRET_ACCESS_KEY).  0, or -1 and *err. */
int rp_s3_open(struct rp_s3 *s, const struct rp_config *c, char **err);
void rp_s3_close(struct rp_s3 *s);

int rp_s3_key_ok(const char *key);
/* Canonical query string from NULL-terminated name, value pairs (a NULL
 * value is written "name="): sorted by name, RFC 3986 encoded. */
char *rp_s3_query(const char *const *kv);

/* 1 exists (*size set), 0 absent, -1 error. */
int rp_s3_head(const struct rp_s3 *s, const char *key, long long *size, struct rp_s3_err *e);
/* Whole object into memory (at most cap bytes).  0, or -1 (a missing
 * object has e->status 404). */
int rp_s3_get_mem(const struct rp_s3 *s, const char *key, size_t cap, char **data, size_t *len,
		  struct rp_s3_err *e);

/* Streaming GET: write() gets the body; reset() is called before every
 * attempt (return -1 to give up).  A sink that refuses data sets *failed
 * (through its arg) and the GET stops without retry. */
struct rp_s3_sink {
	size_t (*write)(void *arg, const void *p, size_t n);
	int (*reset)(void *arg);
	int (*failed)(void *arg);
	void *arg;
};
int rp_s3_get(const struct rp_s3 *s, const char *key, const struct rp_s3_sink *sink,
	      struct rp_s3_err *e);

/* PUT from memory.  create_only sends If-None-Match: * ; returns 1 when
 * the server says the key exists (412, or 409 conflict), 0 ok, -1 error. */
int rp_s3_put_mem(const struct rp_s3 *s, const char *key, const void *data, size_t len,
		  int create_only, struct rp_s3_err *e);
/* PUT len bytes from fd at off (multipart above the threshold).
 * sha256: hex hash of those bytes if known (sent as the payload hash),
 * or NULL. */
int rp_s3_put_fd(const struct rp_s3 *s, const char *key, int fd, long long off, long long len,
		 const char *sha256, struct rp_s3_err *e);
int rp_s3_delete(const struct rp_s3 *s, const char *key, struct rp_s3_err *e);
/* ListObjectsV2 with continuation; delimiter may be NULL.  Only keys and
 * common prefixes that start with prefix are kept, whatever the server
 * answers (one warning names how many were ignored). */
int rp_s3_list(const struct rp_s3 *s, const char *prefix, const char *delimiter,
	       struct rp_s3_list *out, struct rp_s3_err *e);
void rp_s3_list_free(struct rp_s3_list *l);
/* Reach the bucket (one signed listing with max-keys=1). */
int rp_s3_ping(const struct rp_s3 *s, struct rp_s3_err *e);

/* Parsers (exposed for the unit tests).  0 ok, -1 not the expected XML. */
int rp_s3_parse_list(const char *xml, size_t len, struct rp_s3_list *out, int *truncated,
		     char **next_token);
/* The root element name into root; for <Error>, its Code and Message. */
int rp_s3_parse_root(const char *xml, size_t len, char *root, size_t rootn, char *code,
		     size_t coden, char *msg, size_t msgn);
/* UploadId of an InitiateMultipartUploadResult, malloc'd, or NULL. */
char *rp_s3_parse_upload_id(const char *xml, size_t len);

#endif
