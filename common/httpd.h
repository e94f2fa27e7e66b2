/* httpd.h — a tiny single-threaded HTTP/1.1 responder (one request per
 * connection, Connection: close), enough for KEDA's metrics-api scaler
 * and a health check.
 *
 * Promises:
 *  - Listens on "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces);
 *    port 0 picks a free one (rp_httpd_addr() tells which).
 *  - A client gets 2 s to send its request head (8 KiB max), else 408/431;
 *    only GET and HEAD reach the handler (405 otherwise).
 *  - The handler gets the path (query string included) and fills the body;
 *    its return value is the HTTP status.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H
#include "rp.h"

struct rp_httpd;
typedef int (*rp_httpd_fn)(void *arg, const char *path, struct rp_buf *body, const char **ctype);

struct rp_httpd *rp_httpd_open(const char *addr, char **err);
const char *rp_httpd_addr(const struct rp_httpd *h);
/* Wait up to timeout seconds for a connection and answer it.  1 served,
 * 0 nothing came (or a signal interrupted the wait). */
int rp_httpd_serve_one(struct rp_httpd *h, double timeout, rp_httpd_fn fn, void *arg);
void rp_httpd_close(struct rp_httpd *h);

#endif
