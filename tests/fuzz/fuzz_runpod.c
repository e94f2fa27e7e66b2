/* fuzz_runpod — the RunPod answer readers (runpod.c): the create answer
 * classifier (rp_runpod_create_done, REST v2 and GraphQL spot) over any
 * status and body, and the field readers rp-launch applies to pods and
 * catalog entries (status, cost, SSH endpoint, price, availability).
 * Input: one byte picks the HTTP status, one the flavour, then the body. */
#include "fuzz.h"
#include "runpod.h"

static const long statuses[] = { 0, 200, 201, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_runpod");
	return 0;
}

static void fields(const cJSON *o)
{
	const char *host = NULL, *why = NULL;
	int port = 0;
	(void)rp_runpod_pod_status(o);
	(void)rp_runpod_pod_cost(o);
	int r = rp_runpod_pod_ssh(o, 0, &host, &port, &why);
	if (r == 0)
		FZ_CHECK(host && *host && port > 0);
	else if (r == -2)
		FZ_CHECK(why && *why);
	(void)rp_runpod_catalog_price(o, "SECURE", 0);
	(void)rp_runpod_catalog_price(o, "COMMUNITY", 1);
	(void)rp_runpod_catalog_avail(o, NULL);
	(void)rp_runpod_catalog_avail(o, "EU-RO-1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t s = fz_byte(&data, &size), flav = fz_byte(&data, &size);
	struct rp_runpod_call call = { .spot = flav & 1 };
	struct rp_http_resp resp = { .status = statuses[s % (sizeof statuses / sizeof *statuses)] };
	char *body = fz_str(data, size);
	if (!(flav & 2)) {
		resp.body = body;
		resp.len = size;
	}
	if (!resp.status)
		snprintf(resp.err, sizeof resp.err, "%.*s", (int)(size < 200 ? size : 200), body);
	resp.timed_out = (flav & 4) != 0;
	resp.retry_after = -1;

	cJSON *pod = NULL;
	char *err = NULL;
	int rc = rp_runpod_create_done(NULL, &call, &resp, &pod, &err);
	FZ_CHECK(rc >= RP_RUNPOD_CREATED && rc <= RP_RUNPOD_REFUSED);
	if (rc == RP_RUNPOD_CREATED) {
		FZ_CHECK(cJSON_IsObject(pod) && !err);
		fields(pod);
	} else {
		FZ_CHECK(!pod && err && !strchr(err, '\n') && !strchr(err, '\r'));
	}
	cJSON_Delete(pod);
	free(err);

	cJSON *j = cJSON_Parse(body);
	const cJSON *e;
	fields(j);
	cJSON_ArrayForEach(e, j) fields(e);
	cJSON_Delete(j);
	free(body);
	return 0;
}
