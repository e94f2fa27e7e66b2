/* httpd.h — a tiny HTTP/1.1 responder (one request per connection,
 * Connection: close), enough for KEDA's metrics-api scaler, a Prometheus
 * scrape and a health check.
 *
 * Promises:
 *  - Listens on "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces);
 *    port 0 picks a free one (rp_httpd_addr() tells which).  The address
 *    is read by rp_hostport_listen() (hostport.h), as --serve-grpc's is.
 *  - Connections are answered concurrently: each on its own thread, at
 *    most RP_HTTPD_MAX at once (one more gets 503 at once), so a slow or
 *    silent client never delays another.  The handler must therefore be
 *    thread-safe.
 *  - A client gets 2 s to send its request head (8 KiB max), else 408/431;
 *    only GET and HEAD reach the handler (405 otherwise).
 *  - The handler gets the path (query string included) and the
 *    Authorization header's value (NULL if none), and fills the body; its
 *    return value is the HTTP status.  A 401 carries
 *    "WWW-Authenticate: Bearer".
 *  - rp_httpd_close() stops accepting and waits (up to 3 s) for the
 *    connections in flight.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H
#include "rp.h"

#define RP_HTTPD_MAX 64

struct rp_httpd;
struct rp_httpd_req {
	const char *method, *path;
	const char *authorization; /* header value, or NULL */
};
typedef int (*rp_httpd_fn)(void *arg, const struct rp_httpd_req *req, struct rp_buf *body, const char **ctype);

struct rp_httpd *rp_httpd_open(const char *addr, char **err);
const char *rp_httpd_addr(const struct rp_httpd *h);
/* Wait up to timeout seconds for a connection and hand it to its thread.
 * 1 a connection came, 0 nothing came (or a signal interrupted the wait). */
int rp_httpd_serve_one(struct rp_httpd *h, double timeout, rp_httpd_fn fn, void *arg);
void rp_httpd_close(struct rp_httpd *h);
/* The reason phrase of HTTP status st (unknown ones: "Internal Server Error"). */
const char *rp_httpd_reason(int st);

#endif
