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
 *  - Requests are paced by the RateLimit / RateLimit-Policy headers the
 *    v2 document announces on every answer: in a window with less than
 *    half its quota left, the requests left are spread over the time to
 *    its reset (none left: wait for it, at most 120 s), so a 50-pod wave
 *    plus its polling stays inside the quota rather than meeting 429s.
 *    The document defines no pagination for GET /pods (ListPodsResponse
 *    is {pods} only, no cursor), so the list is one request.
 *  - Return values are RP_EXIT_* codes: 0 ok, 1 failed, 2 bad request
 *    (422: *err lists the field errors), 75 temporary (5xx, timeout,
 *    rate limit exhausted); *err is one line, without the key.
 *  - Pods are returned as the v2 Pod JSON object (cJSON; caller frees).
 *  - A pod is reached at ssh.direct, else at the runtime port for private
 *    22, but never at a private, carrier-NAT, link-local or (unless
 *    runpod.api_url is itself loopback) loopback address from there.
 *  - "No capacity" is recognised by its text in the 400 and in the 500
 *    ("There are no instances currently available") alike.
 *  - A create carries spec.public_key as the env variable PUBLIC_KEY, on
 *    REST v2 (env object) and GraphQL (env list of {key,value}) alike; it
 *    replaces a PUBLIC_KEY from runpod.env.
 */
#ifndef RP_RUNPOD_H
#define RP_RUNPOD_H
#include <cjson/cJSON.h>
#include "config.h"
#include "http.h"

struct rp_runpod;

/* Wait as the last RateLimit answer asks (see above); how many of `want`
 * requests may go out now (the least left in any window, at least 1;
 * `want` when no answer said). */
size_t rp_runpod_pace(struct rp_runpod *rp, size_t want);

/* Reads the key; NULL + *err (exit 2 material) if missing or unsafe. */
struct rp_runpod *rp_runpod_open(const struct rp_config *cfg, char **err);
void rp_runpod_free(struct rp_runpod *rp);

/* GET /pods/{id}.  *pod NULL and 0 returned with *gone=1 on 404. */
int rp_runpod_get(struct rp_runpod *rp, const char *id, cJSON **pod, int *gone, char **err);
/* GET /pods, filtered client-side to names starting with prefix (NULL: all).
 * When one is EXITED, GraphQL myself.pods adds "interruptible" and
 * "lastStatusChange" to the EXITED ones (not v2 fields; best effort). */
int rp_runpod_list(struct rp_runpod *rp, const char *prefix, cJSON **pods, char **err);
/* Terminate (DELETE /pods/{id}); an unknown pod (404) counts as done. */
int rp_runpod_terminate(struct rp_runpod *rp, const char *id, char **err);
/* GET /catalog/gpus?include=AVAILABILITY&product=POD; array of GPUs
 * (RunPod's defaults: count 1, SECURE cloud). */
int rp_runpod_catalog(struct rp_runpod *rp, cJSON **gpus, char **err);
/* The same for `count` GPUs per pod (sent as count=) on `cloud` (SECURE or
 * COMMUNITY, sent as cloud=; anything else: not sent).  Each GPU's
 * dataCenters then lists only the data centres offering that. */
int rp_runpod_catalog_for(struct rp_runpod *rp, int count, const char *cloud, cJSON **gpus, char **err);

/* GET /billing/pods?startTime&endTime&bucketSize=day: the account's
 * PodBillingRecord array ({podId, startTime, endTime, totalAmount, ...},
 * one per pod and UTC day, clipped to [start, end]). */
int rp_runpod_billing(struct rp_runpod *rp, double start, double end, cJSON **records, char **err);

/* ---- Creating pods (extension used by rp-launch) ------------------------
 * A create is split in prep / done so the caller can run many at once
 * with rp_http_multi(); rp_runpod_create() does both for one pod.
 * On-demand goes to REST v2 POST /pods; spot (spec.spot) to GraphQL
 * podRentInterruptable with bidPerGpu and terminateAfter. */
enum rp_runpod_outcome {
	RP_RUNPOD_CREATED = 0, /* *pod set (v2 shape, for spot a v2-like subset) */
	RP_RUNPOD_CAPACITY,    /* "no longer any instances available": next candidate */
	RP_RUNPOD_FORBIDDEN,   /* 403: no access to that pool: skip it */
	RP_RUNPOD_PAYMENT,     /* 402 / insufficient balance: stop everything */
	RP_RUNPOD_INVALID,     /* 422 / GraphQL input error: a request bug, never retried */
	RP_RUNPOD_BID,         /* spot bid under the current minimum */
	RP_RUNPOD_UNKNOWN,     /* 5xx, timeout, no answer: may have been created */
	RP_RUNPOD_RATE,        /* 429 still after the allowed Retry-After waits */
	RP_RUNPOD_REFUSED      /* any other refusal (400 rule, 401, ...) */
};

struct rp_runpod_spec {
	const char *name, *image, *gpu, *dc, *cloud; /* dc may be NULL: any */
	int gpu_count, disk_gb;
	const cJSON *ports;          /* array of "22/tcp"; NULL: ["22/tcp"] */
	const cJSON *env;            /* object of strings, may be NULL */
	const char *public_key;      /* OpenSSH public key line: sent as env PUBLIC_KEY
				      * (sshd starts only with a key), or NULL */
	const char *min_cuda;        /* "N.N": hosts with at least this CUDA (REST
				      * gpu.minCudaVersion, GraphQL minCudaVersion), or NULL */
	int spot;
	double bid_per_gpu;          /* spot only, USD/h per GPU */
	const char *terminate_after; /* spot only: RFC 3339 dead-man time, or NULL */
	const char *args;            /* the container's start command (v2 args, GraphQL
				      * dockerArgs), or NULL: the image's */
};

/* One prepared call: req points into url/body (owned here). */
struct rp_runpod_call {
	struct rp_http_req req;
	char *url, *body;
	int spot;
};

void rp_runpod_create_prep(struct rp_runpod *rp, const struct rp_runpod_spec *s,
			   struct rp_runpod_call *c);
/* Classify the answer; *pod on RP_RUNPOD_CREATED; *err one line otherwise
 * (for RP_RUNPOD_INVALID it lists the field errors). */
int rp_runpod_create_done(struct rp_runpod *rp, const struct rp_runpod_call *c,
			  const struct rp_http_resp *resp, cJSON **pod, char **err);
void rp_runpod_call_free(struct rp_runpod_call *c);
int rp_runpod_create(struct rp_runpod *rp, const struct rp_runpod_spec *s, cJSON **pod, char **err);
/* DELETE /pods/{id} for many ids at once; rcs[i] as rp_runpod_terminate. */
void rp_runpod_terminate_many(struct rp_runpod *rp, const char *const *ids, size_t n,
			      int *rcs, char **errs);

/* Live spot floor per GPU (GraphQL gpuTypes lowestPrice.minimumBidPrice)
 * for gpu_count GPUs in dc (NULL: any) on the secure or community cloud,
 * and the going spot price (gpuTypes secureSpotPrice / communitySpotPrice;
 * -1 when absent; the floor stands in when minimumBidPrice is absent).
 * *stock gets the stock status ("High", ...) or NULL when not offered
 * (malloc'd).  RP_EXIT_* code. */
int rp_runpod_spot_price(struct rp_runpod *rp, const char *gpu, int gpu_count, const char *dc,
			 int secure, double *min_bid, double *spot_price, char **stock, char **err);

/* Field access that tolerates the shapes (v2, GraphQL): */
const char *rp_runpod_pod_status(const cJSON *pod);   /* v2 status or desiredStatus */
double rp_runpod_pod_cost(const cJSON *pod);          /* cost / costPerHr (number or string) */
/* ssh.direct host/port, else the runtime port for private 22 (tcp) whose
 * ip passes rp_runpod_public_ip(): 0 found; -1 none; -2 only refused ones
 * (*why says why, static).  allow_loopback: rp_runpod_api_loopback(). */
int rp_runpod_pod_ssh(const cJSON *pod, int allow_loopback, const char **host, int *port, const char **why);
/* 1 when ip is a public IPv4/IPv6 literal: private (RFC 1918, fc00::/7),
 * carrier-grade NAT (100.64/10), link-local, unspecified and (unless
 * allow_loopback) loopback addresses, and anything not an IP literal, are
 * refused with *why (static). */
int rp_runpod_public_ip(const char *ip, int allow_loopback, const char **why);
/* 1 when runpod.api_url names a loopback host (a local stand-in): only
 * then may a pod's runtime port be on a loopback address. */
int rp_runpod_api_loopback(const struct rp_runpod *rp);
/* On-demand price per GPU from a catalog GPU entry for cloud (SECURE or
 * COMMUNITY); -1 when absent. */
double rp_runpod_catalog_price(const cJSON *gpu, const char *cloud, int spot);
/* Availability of a catalog entry in dc (NULL: the overall level):
 * "NONE".."HIGH", or NULL when the catalog does not say. */
const char *rp_runpod_catalog_avail(const cJSON *gpu, const char *dc);

#endif
