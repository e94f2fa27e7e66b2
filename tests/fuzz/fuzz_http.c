/* fuzz_http — what http.c makes of an answer for messages and retries:
 * the one-line error excerpt (rp_http_errstr: printable, at most 200
 * bytes of body, redacted) and header lookup (rp_http_header).  The
 * excerpt never shows the API key, not even the first bytes of it cut at
 * the excerpt's end.  Input: one byte picks the status, then the body;
 * the headers are the body too. */
#include "fuzz.h"
#include "http.h"
#include "log.h"

#define KEY "rpa_K3Y0123456789abcdefghijklmnopqrstuv"
#define PREFIX 8

static const long statuses[] = { 0, 200, 400, 401, 404, 429, 500, 503 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_http");
	rp_log_secret(KEY);
	return 0;
}

/* Does s hold the key's first PREFIX bytes somewhere the whole key does
 * not start? */
static int bare_prefix(const char *s)
{
	for (const char *p = s; (p = strstr(p, "rpa_K3Y0")) != NULL; p++)
		if (strncmp(p, KEY, strlen(KEY)))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t s = fz_byte(&data, &size);
	char *body = fz_str(data, size);
	struct rp_http_resp r = { .status = statuses[s % (sizeof statuses / sizeof *statuses)] };
	r.body = body;
	r.len = size;
	r.headers = body;
	r.retry_after = -1;
	if (!r.status)
		snprintf(r.err, sizeof r.err, "%s", "Connection refused");
	const char *e = rp_http_errstr(&r);
	FZ_CHECK(e && !strchr(e, '\n') && !strchr(e, '\r'));
	FZ_CHECK(!strstr(e, KEY));
	if (!bare_prefix(body))
		FZ_CHECK(!strstr(e, "rpa_K3Y0"));
	char *h = rp_http_header(&r, "Retry-After");
	FZ_CHECK(!h || !strchr(h, '\n'));
	free(h);
	free(body);
	return 0;
}
