/* http.h — the one HTTP client of the toolkit: HTTP/1.1 of our own over
 * OpenSSL (httpwire.c speaks it on the wire; libcurl is not used).
 *
 * Promises:
 *  - Timeouts always (connect 10 s, total 30 s unless set); TLS verified
 *    unless the caller pins its own CA (ca_pem/cainfo) — never switched off.
 *  - Retries with exponential backoff and full jitter (0.25 s doubling, cap
 *    8 s), up to `retries` extra attempts: a 429 or 503 with Retry-After is
 *    retried for any method (the server did not act), Retry-After honoured
 *    (capped at max_retry_after); other 5xx and transport errors are
 *    retried only for idempotent methods (GET HEAD PUT DELETE OPTIONS, or
 *    req->idempotent = 1).  A POST is never blindly retried.
 *  - The response body is capped at max_body (default 16 MiB): a larger
 *    body fails with "response too large".
 *  - The bearer token goes in a header, never in a URL or a log line.
 *  - rp_http_multi() runs many requests at once on threads (pool.h), each
 *    with the same retry rules.
 *  - Credentials travel only over TLS: rp_http_cleartext() is the one rule
 *    (https://, or any URL whose host is loopback: 127.0.0.0/8, ::1,
 *    localhost), and a request carrying credentials (bearer, userpwd,
 *    client key, an Authorization header) to any other URL is refused
 *    before a connection is made (status 0, err says why).
 *  - Without a CA of the caller's, $SSL_CERT_FILE (when set) replaces the
 *    system bundle, as in curl and OpenSSL; verification stays on.  The
 *    system bundle is read only for a request without a CA of its own.
 *  - aws_sigv4 + userpwd: the request is signed (AWS SigV4) exactly as
 *    libcurl 7.88 signed it: host and every header of the caller's are
 *    signed, x-amz-date added, the payload hash taken from the caller's
 *    x-amz-content-sha256 (else the SHA-256 of the memory body), path and
 *    query signed as written.  No "Expect: 100-continue" is ever sent.
 *  - One connection per request ("Connection: close"), HTTP/1.1 only,
 *    unless req->keepalive: then the connection is left open when the
 *    answer allows it, and the thread's next request to the same origin
 *    that may be sent twice (an idempotent method, a body in memory or an
 *    fd) goes over it (httpwire.h says when); one that the server closed
 *    meanwhile is sent again at once on a new connection, not counted as
 *    a retry.  No redirect is followed; http_proxy/https_proxy/no_proxy are NOT
 *    read (libcurl honoured them): every request goes straight to its host.
 *  - A header given as "Name:" alone is not sent (as in libcurl); a
 *    method other than GET/HEAD/DELETE without a body sends
 *    Content-Length: 0, and a memory body without a Content-Type goes as
 *    application/x-www-form-urlencoded, as libcurl's POSTFIELDS did.
 */
#ifndef RP_HTTP_H
#define RP_HTTP_H
#include <stddef.h>
#include <stdio.h>

struct rp_http_req {
	const char *method;          /* default GET */
	const char *url;
	const char *const *headers;  /* NULL-terminated "Name: value" */
	const char *bearer;          /* Authorization: Bearer … */
	const char *content_type;    /* for a body */
	const void *body;
	size_t body_len;
	FILE *upload;                /* stream the body from here instead (body_len bytes) */
	FILE *download;              /* write a 2xx body here instead of memory */
	double timeout;              /* total, seconds (default 30) */
	double connect_timeout;      /* default 10 */
	int retries;                 /* extra attempts allowed (default 0) */
	int idempotent;              /* -1/0: by method; 1: force idempotent */
	double max_retry_after;      /* cap on a server's Retry-After (default 60) */
	size_t max_body;             /* default 16 MiB */
	const char *cainfo;          /* CA bundle file */
	const char *ca_pem;          /* CA in memory (PEM) */
	const char *cert_pem;        /* client certificate (PEM, in memory) */
	const char *key_pem;         /* client key (PEM, in memory) */
	const char *aws_sigv4;       /* provider string as libcurl's CURLOPT_AWS_SIGV4:
	                                "aws:amz:REGION:SERVICE" */
	const char *userpwd;         /* with aws_sigv4: "access:secret" */
	int want_headers;            /* keep response headers */
	void (*progress)(void *arg, double now, double total); /* optional */
	void *progress_arg;
	/* Added for s3: a replayable upload read with pread() from upload_fd
	 * at upload_off (body_len bytes), retried like a memory body; used
	 * when has_upload_fd is set. */
	int has_upload_fd;
	int upload_fd;
	long long upload_off;
	/* A 2xx body is handed to sink instead of memory (return n to go on,
	 * anything else aborts the transfer); like download, a transfer cut
	 * after the answer began is not retried here. */
	size_t (*sink)(void *arg, const void *p, size_t n);
	void *sink_arg;
	/* Added for s3: receive and send buffer size for bulk transfers;
	 * 0: 16 KiB. */
	long bufsize;
	int keepalive;               /* reuse connections (see the promises) */
};

struct rp_http_resp {
	long status;                 /* 0 when no HTTP answer */
	char *body;                  /* NUL-terminated (NULL if downloaded) */
	size_t len;
	double retry_after;          /* seconds, from the last answer; -1 none */
	char *headers;               /* raw header block, if want_headers */
	int attempts;
	int timed_out;               /* the last attempt timed out */
	char err[256];               /* transport error text, when status 0 */
};

void rp_http_global_init(void);
/* 0: an HTTP answer (any status) is in resp; -1: no answer (resp->err). */
int rp_http_do(const struct rp_http_req *req, struct rp_http_resp *resp);
/* Run n requests, up to `parallel` at once; each resp filled like
 * rp_http_do; returns the number of requests without an HTTP answer. */
int rp_http_multi(const struct rp_http_req *reqs, struct rp_http_resp *resps, size_t n,
		  int parallel);
void rp_http_resp_free(struct rp_http_resp *resp);
/* Value of a response header (case-insensitive), malloc'd, or NULL. */
char *rp_http_header(const struct rp_http_resp *resp, const char *name);
/* One-line description: "HTTP 503: <first 200 bytes of body>" or the
 * transport error; a per-thread static buffer. */
const char *rp_http_errstr(const struct rp_http_resp *resp);
/* NULL when credentials may be sent to url (https://, or a loopback
 * host); else why not (a static one-line reason).  A URL without a
 * scheme counts as http://, as the client treats it. */
const char *rp_http_cleartext(const char *url);
/* URL-escape a component (malloc'd). */
char *rp_http_escape(const char *s);

#endif
