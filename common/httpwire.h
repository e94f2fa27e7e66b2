/* httpwire.h — one HTTP/1.1 exchange on the wire (plain TCP or TLS over
 * OpenSSL): URL parsing, connect, TLS, writing the request, reading and
 * parsing the answer.  http.c builds requests on it and owns retries.
 *
 * Promises:
 *  - One connection per exchange, "Connection: close", unless the caller
 *    asks for keepalive: then no "Connection: close" is sent, and a
 *    connection whose answer ended by its length (Content-Length, the last
 *    chunk, or no body), from an HTTP/1.1 server that did not say
 *    "Connection: close", with nothing after the answer, is kept idle, one
 *    per thread (closed when the thread ends).  A later exchange with
 *    `reuse` set takes it when it goes to the same origin (scheme, host,
 *    port, the same CA and client key), was idle under RP_WIRE_IDLE_S and
 *    has nothing to read (the peer has not closed it); else it is closed
 *    and a new one made.  A reused connection that ends before any byte of
 *    an answer sets res->stale: the caller may send again at once.
 *  - No redirects, no proxies (http_proxy/https_proxy are not read),
 *    HTTP/1.1 only.
 *  - URLs: http:// or https:// (no scheme is http://), a host name, an
 *    IPv4 address or a [IPv6] address, an optional port 1-65535, path and
 *    query (a fragment is dropped).  user:password@, spaces and control
 *    characters are refused before any connection is made.
 *  - The whole exchange (resolve, connect, TLS, request, answer) ends by
 *    `timeout`; the connect (TCP and the TLS handshake, as in curl) by
 *    `connect_timeout` as well.  A timeout sets
 *    timed_out and says "timed out after N s".
 *  - TLS: 1.2 at least; the peer is always verified (chain and name: the
 *    host name, or the IP address for an address URL; SNI for names).  CA:
 *    the cainfo file and/or ca_pem; with neither, $SSL_CERT_FILE when set,
 *    else OpenSSL's default paths (the system bundle is loaded only then).
 *  - Answers: a status line "HTTP/1.x NNN", header lines, an empty line;
 *    1xx interim answers are skipped (their lines still reach on_head).
 *    Bodies by Content-Length, by chunked transfer coding, or until the
 *    server closes; none for HEAD, 204 and 304.  A body cut short, a bad
 *    chunk size or a malformed header is an error, never a short body.
 *  - Errors are one line in err; no credential is ever written into it.
 */
#ifndef RP_HTTPWIRE_H
#define RP_HTTPWIRE_H
#include <stddef.h>

struct rp_url {
	int tls;             /* https */
	int ip;              /* host is an IP address literal (no SNI) */
	char host[256];      /* without brackets */
	int port;
	char hostport[300];  /* the Host header: host or [v6], :port unless the scheme's */
	char target[4096];   /* path and query, "/" at least */
};

/* 0 and *u filled, or -1 and a one-line reason in err. */
int rp_url_parse(const char *url, struct rp_url *u, char *err, size_t errlen);

/* "HTTP/1.x NNN reason": the status, or -1. */
long rp_wire_status_line(const char *line, size_t n);

/* What the header lines of one answer say about its body. */
struct rp_wire_meta {
	long long clen;      /* -1: no Content-Length */
	int chunked;
	int close;           /* Connection: close */
};
/* One header line (CRLF or LF may end it): 0, or -1 when it is malformed
 * (no colon, a bad or conflicting Content-Length). */
int rp_wire_header_line(const char *line, size_t n, struct rp_wire_meta *m);

/* Chunked transfer coding, fed in pieces of any size. */
struct rp_chunk {
	int state;
	unsigned long long left;
	size_t linelen;
};
/* Feeds n bytes; body bytes go to out (which returns 0 to go on).
 * Returns the bytes consumed (fewer than n only once done: after the
 * last chunk's trailer), -1 on a bad encoding, -2 when out aborted. */
long rp_chunk_feed(struct rp_chunk *c, const char *p, size_t n,
		   int (*out)(void *arg, const char *p, size_t n), void *arg);
int rp_chunk_done(const struct rp_chunk *c);

struct rp_wire_req {
	const char *method;
	const char *url;
	const char *const *headers;  /* "Name: value", sent as they are */
	int send_length;             /* send Content-Length: body_len */
	long long body_len;
	const void *body;            /* the body in memory, or */
	long (*read)(void *arg, char *p, size_t n); /* >0 bytes, 0 end, -1 failed */
	void *arg;                   /* for the callbacks */
	int head;                    /* HEAD: the answer has no body */
	double timeout, connect_timeout;
	const char *cainfo, *ca_pem, *cert_pem, *key_pem;
	size_t bufsize;              /* 0: 16 KiB */
	void (*on_head)(void *arg, const char *line, size_t n); /* each line, status lines too */
	int (*on_body)(void *arg, long status, const void *p, size_t n); /* 0 to go on */
	void (*progress)(void *arg, double now, double total);
	int keepalive;               /* leave the connection idle for the next */
	int reuse;                   /* take this thread's idle connection */
};

/* Seconds an idle connection is kept for reuse: under the idle timeouts
 * of the servers we talk to (Node 5 s, nginx 75 s, S3 about 20 s). */
#define RP_WIRE_IDLE_S 2.0

struct rp_wire_res {
	long status;                 /* 0: no complete answer */
	int timed_out;
	int aborted;                 /* on_body said stop */
	int reused;                  /* went over a kept connection */
	int stale;                   /* reused, and it ended before an answer */
	char err[256];
};

/* OpenSSL set up, once (rp_wire_do calls it; call it before threads). */
void rp_wire_init(void);

/* 0: a complete answer; -1: none (res->err says why). */
int rp_wire_do(const struct rp_wire_req *w, struct rp_wire_res *res);

#endif
