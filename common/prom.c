/* prom.c — one instant query against the Prometheus HTTP API (see prom.h). */
#include "prom.h"
#include "http.h"
#include "rp.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* [ <unix time>, "<value>" ] */
static int sample(const cJSON *v, const char *query, double *value, char **note)
{
	const cJSON *s = cJSON_GetArrayItem(v, 1);
	char *end;
	if (!cJSON_IsArray(v) || !cJSON_IsString(s)) {
		*note = rp_xasprintf("prometheus: malformed sample for query %s", query);
		return RP_PROM_ERROR;
	}
	double x = strtod(s->valuestring, &end);
	if (end == s->valuestring || *end) {
		*note = rp_xasprintf("prometheus: value '%.40s' is not a number (query %s)", s->valuestring,
				     query);
		return RP_PROM_ERROR;
	}
	if (isnan(x)) {
		*note = rp_xstrdup("prometheus returned NaN");
		return RP_PROM_NONE;
	}
	*value = x;
	return RP_PROM_OK;
}

int rp_prom_parse(const char *body, const char *query, double *value, char **note)
{
	cJSON *j = cJSON_Parse(body);
	int rc;
	*note = NULL;
	const char *status = jstr(j, "status");
	if (!status) {
		*note = rp_xstrdup("prometheus: answer is not an API response");
		rc = RP_PROM_ERROR;
		goto out;
	}
	if (strcmp(status, "success")) {
		const char *e = jstr(j, "error");
		*note = rp_xasprintf("prometheus: %s (query %s)", e ? e : status, query);
		rc = RP_PROM_ERROR;
		goto out;
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	const char *type = jstr(data, "resultType");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (type && !strcmp(type, "scalar")) {
		rc = sample(res, query, value, note);
	} else if (type && !strcmp(type, "vector") && cJSON_IsArray(res)) {
		int n = cJSON_GetArraySize(res);
		if (n == 0) {
			*note = rp_xstrdup("prometheus returned no data");
			rc = RP_PROM_NONE;
		} else if (n > 1) {
			*note = rp_xasprintf("prometheus: query returned %d series, want one "
					     "(aggregate it, e.g. sum by (le)): %s",
					     n, query);
			rc = RP_PROM_ERROR;
		} else {
			rc = sample(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "value"),
				    query, value, note);
		}
	} else {
		*note = rp_xasprintf("prometheus: result type %s not supported (query %s)",
				     type ? type : "(none)", query);
		rc = RP_PROM_ERROR;
	}
out:
	cJSON_Delete(j);
	return rc;
}

int rp_prom_query(const char *url, const char *query, double timeout, double *value, char **note)
{
	char *q = rp_http_escape(query);
	size_t ul = strlen(url);
	while (ul && url[ul - 1] == '/')
		ul--;
	char *full = rp_xasprintf("%.*s/api/v1/query?query=%s", (int)ul, url, q);
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct rp_http_req req = { .url = full, .headers = hdrs, .retries = 1 };
	struct rp_http_resp resp;
	int rc;
	free(q);
	*note = NULL;
	req.timeout = timeout > 0 ? timeout : 5;
	req.connect_timeout = req.timeout < 2 ? req.timeout : 2;
	req.max_body = 4 << 20;
	if (rp_http_do(&req, &resp) < 0) {
		*note = rp_xasprintf("prometheus unreachable: %s", rp_http_errstr(&resp));
		rc = RP_PROM_ERROR;
	} else if (resp.status != 200 && !(resp.status >= 400 && resp.status < 500 && resp.body &&
					    resp.body[0] == '{')) {
		*note = rp_xasprintf("prometheus: %s", rp_http_errstr(&resp));
		rc = RP_PROM_ERROR;
	} else {
		rc = rp_prom_parse(resp.body ? resp.body : "", query, value, note);
	}
	rp_http_resp_free(&resp);
	free(full);
	return rc;
}

void rp_prom_label(struct rp_buf *b, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '"')
			rp_buf_add(b, "\\", 1);
		if (*p == '\n')
			rp_buf_adds(b, "\\n");
		else
			rp_buf_add(b, p, 1);
	}
}
