/* scaler.h — what KEDA (and Prometheus) read from rp-lagwatch: the last
 * poll, kept fresh by one poller thread, answered from memory.
 *
 * Promises:
 *  - rp_scaler_start() starts one thread that calls rp_watch_sample()
 *    every interval (the first at once); it is the only user of the
 *    rp_watch.  Requests never poll: they copy the last sample under a
 *    lock, so an answer costs no Kafka or Prometheus round trip.
 *  - A failed poll keeps the last known value (with the error) while it
 *    is young; a value older than three intervals, or none yet, is
 *    unknown: HTTP 503 / gRPC UNAVAILABLE with the reason — never a 0.
 *  - The one rule of the external scaler: active when lag > 0 or the p95
 *    is known and above prometheus.threshold; metric "lag" (total),
 *    target kafka.lag_threshold.
 *  - lagwatch.token_file set (a 0600 file): /scaler and /metrics need
 *    "Authorization: Bearer TOKEN" (as KEDA's authMode: bearer sends it),
 *    compared in constant time (SHA-256 of both, CRYPTO_memcmp); else
 *    401.  /healthz is always open and says nothing of the data.
 *  - HTTP: GET /scaler, KEDA's metrics-api JSON ({"lag", "groups",
 *    "lag_threshold", "desired_nodes", "p95_s", "active", "ts", "age_s"});
 *    GET /metrics, the same in the Prometheus text format (0.0.4).
 */
#ifndef RP_SCALER_H
#define RP_SCALER_H
#include "httpd.h"
#include "watch.h"

struct rp_scaler;

/* The latest value as a request sees it. */
struct rp_scaler_view {
	int known;
	long long lag;
	double p95;        /* NAN: no latency signal */
	long lag_threshold;
	double p95_threshold;
	int active;
	double ts, age_s;  /* the value's poll time (0: never) and age */
	char err[400];     /* why unknown, or the last poll's error */
};

/* Starts the poller; the token file is read here.  NULL + *err (a usage
 * error: an unsafe or unreadable token file). */
struct rp_scaler *rp_scaler_start(struct rp_watch *w, const struct rp_config *cfg, double interval, char **err);
/* Stops and joins the poller (a poll in flight ends within its timeouts). */
void rp_scaler_stop(struct rp_scaler *s);
void rp_scaler_view(struct rp_scaler *s, struct rp_scaler_view *v);
/* The view's groups ({"G": lag}), a copy (caller frees); NULL if unknown. */
cJSON *rp_scaler_groups(struct rp_scaler *s);
/* An rp_httpd_fn; arg: the rp_scaler. */
int rp_scaler_http(void *arg, const struct rp_httpd_req *req, struct rp_buf *body, const char **ctype);

#endif
