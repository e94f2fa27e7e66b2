/* extscaler.h — KEDA's external scaler: the gRPC service
 * externalscaler.ExternalScaler (tests/contract/keda/externalscaler.proto)
 * over gRPC's C core, answered from the poller of scaler.h.
 *
 * Promises:
 *  - IsActive, StreamIsActive, GetMetricSpec and GetMetrics answer from
 *    rp_scaler_view(): metric "lag" (the total), target
 *    kafka.lag_threshold, active when lag > 0 or the p95 is above
 *    prometheus.threshold (scaler.h's one rule).  No call polls Kafka.
 *  - An unknown value (stale, or no poll yet) is status UNAVAILABLE with
 *    the reason, never a 0 or "inactive"; GetMetrics for another metric
 *    name is NOT_FOUND; a request that is not valid protobuf is
 *    INVALID_ARGUMENT; any other method (StreamMetricSpec) is
 *    UNIMPLEMENTED, which KEDA takes as "pull instead".
 *  - StreamIsActive sends the current state at once, then each change of
 *    it (checked every 200 ms), until the client goes or the server stops;
 *    while the value is unknown it sends nothing.
 *  - Calls are served on one thread of ours (plus gRPC's own); there is
 *    no authentication (KEDA's external trigger has none but TLS): bind
 *    it to loopback or put it behind a NetworkPolicy.
 */
#ifndef RP_EXTSCALER_H
#define RP_EXTSCALER_H
#include "scaler.h"

struct rp_extscaler;

/* Listen on addr ("HOST:PORT", "[V6]:PORT", ":PORT" all; port 0 picks
 * one; read by rp_hostport_listen(), hostport.h) and serve.  NULL + *err if it cannot listen. */
struct rp_extscaler *rp_extscaler_start(const char *addr, struct rp_scaler *sc, char **err);
const char *rp_extscaler_addr(const struct rp_extscaler *x); /* with the real port */
/* Cancels the calls in flight, stops and joins. */
void rp_extscaler_stop(struct rp_extscaler *x);

#endif
