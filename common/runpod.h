/* runpod.h — the RunPod API, behind one module so the next retirement is
 * one file's change.  On-demand pods go through REST v2
 * (runpod.api_url: POST/GET /pods, GET/DELETE /pods/{id}, POST
 * /pods/{id}/action, GET /catalog/gpus); spot pods through GraphQL
 * (runpod.graphql_url: podRentInterruptable with bidPerGpu).
 *
 * Promises (implemented in runpod.c):
 *  - The API key comes from runpod.api_key_file (0600) or RUNPOD_API_KEY,
 *    never from argv; it is sent only as a bearer header, redacted in logs.
 *  - Every call has a timeout (runpod.request_timeout); GETs and DELETEs are
 *    retried with backoff; 429 waits Retry-After; a POST is never retried
 *    blindly (the caller lists pods by name first).
 *  - Return values are RP_EXIT_* codes: 0 ok, 1 failed, 2 bad request
 *    (422: *err lists the field errors), 75 temporary (5xx, timeout,
 *    rate limit exhausted); *err is one line, without the key.
 *  - Pods are returned as the v2 Pod JSON object (cJSON; caller frees).
 */
#ifndef RP_RUNPOD_H
#define RP_RUNPOD_H
#include <cjson/cJSON.h>
#include "config.h"

struct rp_runpod;

/* Reads the key; NULL + *err (exit 2 material) if missing or unsafe. */
struct rp_runpod *rp_runpod_open(const struct rp_config *cfg, char **err);
void rp_runpod_free(struct rp_runpod *rp);

/* GET /pods/{id}.  *pod NULL and 0 returned with *gone=1 on 404. */
int rp_runpod_get(struct rp_runpod *rp, const char *id, cJSON **pod, int *gone, char **err);
/* GET /pods, filtered client-side to names starting with prefix (NULL: all). */
int rp_runpod_list(struct rp_runpod *rp, const char *prefix, cJSON **pods, char **err);
/* Terminate (DELETE /pods/{id}); an unknown pod (404) counts as done. */
int rp_runpod_terminate(struct rp_runpod *rp, const char *id, char **err);
/* GET /catalog/gpus?include=AVAILABILITY&product=POD; array of GPUs. */
int rp_runpod_catalog(struct rp_runpod *rp, cJSON **gpus, char **err);

#endif
