/* runpod.c — REST v2 for on-demand pods, GraphQL for the spot path.
 * See runpod.h for what it promises. */
#include "runpod.h"
#include "hostport.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAPACITY_TEXT "no longer any instances available"
/* The same news as a 500 (observed in the field; runpodctl matches both). */
#define CAPACITY_TEXT_500 "no instances currently available"

struct rp_runpod {
	char *key;
	char *api, *gql;
	double timeout;
	/* pacing by the RateLimit headers (see rp_runpod_pace) */
	double not_before; /* monotonic: no request before this */
	long remaining;    /* least requests left in any window; -1 unknown */
};

static char *trim_slash(const char *s)
{
	char *d = rp_xstrdup(s);
	size_t n = strlen(d);
	while (n && d[n - 1] == '/')
		d[--n] = 0;
	return d;
}

struct rp_runpod *rp_runpod_open(const struct rp_config *cfg, char **err)
{
	*err = NULL;
	const char *api = rp_cfg_str(cfg, "runpod.api_url");
	const char *gql = rp_cfg_str(cfg, "runpod.graphql_url");
	if (!api || !*api) {
		*err = rp_xstrdup("runpod.api_url is not set");
		return NULL;
	}
	char *key = rp_cfg_secret(cfg, "runpod.api_key_file", "RUNPOD_API_KEY", err);
	if (!key)
		return NULL;
	struct rp_runpod *rp = rp_xcalloc(1, sizeof *rp);
	rp->key = key;
	rp->api = trim_slash(api);
	rp->gql = rp_xstrdup(gql ? gql : "");
	rp->remaining = -1;
	rp->timeout = rp_cfg_dur(cfg, "runpod.request_timeout");
	if (rp->timeout <= 0)
		rp->timeout = 30;
	rp_http_global_init();
	return rp;
}

void rp_runpod_free(struct rp_runpod *rp)
{
	if (!rp)
		return;
	free(rp->key);
	free(rp->api);
	free(rp->gql);
	free(rp);
}

/* ---- pacing -------------------------------------------------------------- */

/* The longest pause pacing ever makes (a day window run dry is left to the
 * 429 and its Retry-After, and the caller's exit 75). */
#define PACE_MAX 120.0

/* One list item's parameter: ;NAME=NUMBER; -1 when absent. */
static double sf_param(const char *item, size_t len, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = item; p + nl + 2 <= item + len; p++)
		if (*p == ';' && !strncmp(p + 1, name, nl) && p[1 + nl] == '=')
			return strtod(p + 2 + nl, NULL);
	return -1;
}

/* The quota of the window called name ("\"minute\"") in RateLimit-Policy. */
static double policy_quota(const char *pol, const char *name, size_t nlen)
{
	for (const char *p = pol; p && *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		if (len >= nlen && !strncmp(p, name, nlen))
			return sf_param(p, len, "q");
		p += len;
	}
	return -1;
}

/* Note the RateLimit headers of an answer (IETF draft, as the document
 * announces them: `"minute";r=995;t=42, "hour";r=…;t=…` and the policy
 * `"minute";q=1000;w=60, …`).  In any window with less than half its quota
 * left (or no quota known), the requests left are spread over the time to
 * its reset: the next one waits t/(r+1); none left waits t. */
static void pace_note(struct rp_runpod *rp, const struct rp_http_resp *resp)
{
	char *rl = rp_http_header(resp, "RateLimit");
	if (!rl)
		return;
	char *pol = rp_http_header(resp, "RateLimit-Policy");
	double gap = 0;
	long least = -1;
	for (const char *p = rl; *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		if (!len)
			break;
		double r = sf_param(p, len, "r"), t = sf_param(p, len, "t");
		size_t nlen = strcspn(p, ";");
		double q = policy_quota(pol, p, nlen < len ? nlen : len);
		if (r >= 0 && t >= 0) {
			double g = r < 1 ? t : (q <= 0 || r < q / 2) ? t / (r + 1) : 0;
			if (g > gap)
				gap = g;
			if (least < 0 || r < least)
				least = (long)r;
		}
		p += len;
	}
	free(rl);
	free(pol);
	rp->remaining = least;
	rp->not_before = rp_mono() + (gap < PACE_MAX ? gap : PACE_MAX);
}

size_t rp_runpod_pace(struct rp_runpod *rp, size_t want)
{
	double d = rp->not_before - rp_mono();
	if (d > 0) {
		char b[32];
		snprintf(b, sizeof b, "%.2f", d);
		rp_debug("pacing by RateLimit", "wait_s", b);
		rp_sleep(d);
	}
	if (rp->remaining >= 0 && (size_t)rp->remaining < want)
		return rp->remaining > 0 ? (size_t)rp->remaining : 1;
	return want;
}

/* One request now: paced, and its answer noted. */
static void paced_do(struct rp_runpod *rp, const struct rp_http_req *r, struct rp_http_resp *resp)
{
	rp_runpod_pace(rp, 1);
	rp_http_do(r, resp);
	pace_note(rp, resp);
}

static void base_req(struct rp_runpod *rp, struct rp_http_req *r, const char *method, const char *url)
{
	memset(r, 0, sizeof *r);
	r->want_headers = 1; /* RateLimit, RateLimit-Policy */
	r->method = method;
	r->url = url;
	r->bearer = rp->key;
	r->timeout = rp->timeout;
	r->connect_timeout = rp->timeout < 10 ? rp->timeout : 10;
	/* GET/DELETE: retried on 5xx/timeouts; any method: 429 waits
	 * Retry-After (http.c never replays a POST otherwise). */
	r->retries = 3;
	r->max_retry_after = 120;
}

/* One GraphQL query (a POST that changes nothing, so it may be retried),
 * paced like every other request. */
static void gql_query(struct rp_runpod *rp, const char *body, struct rp_http_resp *resp)
{
	struct rp_http_req r;
	base_req(rp, &r, "POST", rp->gql);
	r.content_type = "application/json";
	r.body = body;
	r.body_len = strlen(body);
	r.idempotent = 1;
	paced_do(rp, &r, resp);
}

/* Error texts are one line, whatever the server wrote. */
static char *one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

/* The one-line reason of an error answer: RFC 9457 detail (+ errors[]),
 * GraphQL errors[0].message, else the HTTP summary. */
static char *problem_text(const struct rp_http_resp *resp)
{
	cJSON *j = resp->status && resp->body ? cJSON_Parse(resp->body) : NULL;
	char *out = NULL;
	if (!resp->status)
		out = rp_xasprintf("no answer: %s%s", resp->err[0] ? resp->err : "unknown error",
				   resp->timed_out ? " (timed out)" : "");
	if (cJSON_IsObject(j)) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
		const cJSON *es = cJSON_GetObjectItemCaseSensitive(j, "errors");
		struct rp_buf b = { 0 };
		if (cJSON_IsString(d))
			rp_buf_addf(&b, "HTTP %ld: %s", resp->status, d->valuestring);
		const cJSON *e;
		int first = 1;
		cJSON_ArrayForEach(e, es) {
			const char *m = cJSON_IsString(e) ? e->valuestring
				: rp_rec_str(e, "message");
			if (!m)
				continue;
			rp_buf_adds(&b, b.len ? (first ? ": " : "; ") : "");
			rp_buf_adds(&b, m);
			first = 0;
		}
		if (b.len)
			out = b.data;
		else
			rp_buf_free(&b);
	}
	cJSON_Delete(j);
	if (!out)
		out = rp_xstrdup(rp_http_errstr(resp));
	char *red = rp_redact(out);
	free(out);
	return one_line(red);
}

/* Classify a failed answer (any API): RP_EXIT_* for plain calls. */
static int exit_for(const struct rp_http_resp *resp)
{
	if (!resp->status || resp->status == 429 || resp->status >= 500)
		return RP_EXIT_TEMP;
	if (resp->status == 422)
		return RP_EXIT_USAGE;
	return RP_EXIT_FAIL;
}

static int get_json(struct rp_runpod *rp, const char *path, long *status, cJSON **out, char **err)
{
	char *url = rp_xasprintf("%s%s", rp->api, path);
	struct rp_http_req r;
	struct rp_http_resp resp;
	base_req(rp, &r, "GET", url);
	paced_do(rp, &r, &resp);
	free(url);
	*out = NULL;
	*status = resp.status;
	int rc = 0;
	if (resp.status == 200) {
		*out = cJSON_Parse(resp.body ? resp.body : "");
		if (!*out) {
			*err = rp_xasprintf("GET %s: the answer is not JSON", path);
			rc = RP_EXIT_TEMP;
		}
	} else if (resp.status != 404) {
		char *t = problem_text(&resp);
		*err = rp_xasprintf("GET %s: %s", path, t);
		free(t);
		rc = exit_for(&resp);
	}
	rp_http_resp_free(&resp);
	return rc;
}

int rp_runpod_get(struct rp_runpod *rp, const char *id, cJSON **pod, int *gone, char **err)
{
	*err = NULL;
	*pod = NULL;
	*gone = 0;
	char *e = rp_http_escape(id);
	char *path = rp_xasprintf("/pods/%s", e);
	free(e);
	long st;
	int rc = get_json(rp, path, &st, pod, err);
	free(path);
	if (!rc && st == 404)
		*gone = 1;
	return rc;
}

static const cJSON *gql_pod_by_id(const cJSON *gpods, const char *id)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, gpods) {
		const char *gid = rp_rec_str(g, "id");
		if (gid && !strcmp(gid, id))
			return g;
	}
	return NULL;
}

/* The v2 Pod has no spot flag and no stop reason.  While GraphQL lives, an
 * EXITED pod in the list gets both from myself { pods { id podType
 * lastStatusChange } }: "interruptible" (podType INTERRUPTABLE) and
 * "lastStatusChange" are added to it (not v2 fields: an extra signal).
 * Best effort: a failed query leaves the pods as v2 gave them. */
static void spot_signal(struct rp_runpod *rp, cJSON *arr)
{
	static const char Q[] = "{\"query\":\"query { myself { pods { id podType lastStatusChange } } }\"}";
	int exited = 0;
	cJSON *p;
	cJSON_ArrayForEach(p, arr) {
		const char *st = rp_rec_str(p, "status");
		exited |= st && !strcmp(st, "EXITED");
	}
	if (!exited || !rp->gql || !*rp->gql)
		return;
	struct rp_http_resp resp;
	gql_query(rp, Q, &resp);
	cJSON *j = resp.status == 200 ? cJSON_Parse(resp.body ? resp.body : "") : NULL;
	rp_http_resp_free(&resp);
	const cJSON *gp = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "myself"), "pods");
	if (!cJSON_IsArray(gp)) {
		rp_logw("GraphQL myself.pods unavailable: EXITED pods carry no spot signal");
		cJSON_Delete(j);
		return;
	}
	cJSON_ArrayForEach(p, arr) {
		const char *id = rp_rec_str(p, "id"), *st = rp_rec_str(p, "status");
		const cJSON *g = id && st && !strcmp(st, "EXITED") ? gql_pod_by_id(gp, id) : NULL;
		if (!g)
			continue;
		const char *t = rp_rec_str(g, "podType"), *l = rp_rec_str(g, "lastStatusChange");
		cJSON_DeleteItemFromObjectCaseSensitive(p, "interruptible");
		cJSON_AddBoolToObject(p, "interruptible", t && !strcmp(t, "INTERRUPTABLE"));
		if (l) {
			cJSON_DeleteItemFromObjectCaseSensitive(p, "lastStatusChange");
			cJSON_AddStringToObject(p, "lastStatusChange", l);
		}
	}
	cJSON_Delete(j);
}

int rp_runpod_list(struct rp_runpod *rp, const char *prefix, cJSON **pods, char **err)
{
	*err = NULL;
	*pods = NULL;
	long st;
	cJSON *j;
	int rc = get_json(rp, "/pods", &st, &j, err);
	if (rc)
		return rc;
	if (st == 404) {
		*err = rp_xstrdup("GET /pods: HTTP 404 (is runpod.api_url the v2 API?)");
		return RP_EXIT_FAIL;
	}
	/* v2 wraps the list: {"pods":[...]}; tolerate a bare array. */
	cJSON *arr = cJSON_IsArray(j) ? j : cJSON_DetachItemFromObjectCaseSensitive(j, "pods");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		cJSON_Delete(j);
		*err = rp_xstrdup("GET /pods: the answer has no pods list");
		return RP_EXIT_TEMP;
	}
	if (arr != j)
		cJSON_Delete(j);
	size_t pl = prefix ? strlen(prefix) : 0;
	for (cJSON *p = arr->child, *next; p; p = next) {
		next = p->next;
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
		if (!cJSON_IsObject(p) || (pl && (!cJSON_IsString(n) || strncmp(n->valuestring, prefix, pl))))
			cJSON_Delete(cJSON_DetachItemViaPointer(arr, p));
	}
	spot_signal(rp, arr);
	*pods = arr;
	return 0;
}

static void term_prep(struct rp_runpod *rp, const char *id, struct rp_http_req *r, char **url)
{
	char *e = rp_http_escape(id);
	*url = rp_xasprintf("%s/pods/%s", rp->api, e);
	free(e);
	base_req(rp, r, "DELETE", *url);
}

static int term_done(const char *id, const struct rp_http_resp *resp, char **err)
{
	*err = NULL;
	if ((resp->status >= 200 && resp->status < 300) || resp->status == 404)
		return 0;
	char *t = problem_text(resp);
	*err = rp_xasprintf("terminate %s: %s", id, t);
	free(t);
	return exit_for(resp);
}

int rp_runpod_terminate(struct rp_runpod *rp, const char *id, char **err)
{
	struct rp_http_req r;
	struct rp_http_resp resp;
	char *url;
	term_prep(rp, id, &r, &url);
	paced_do(rp, &r, &resp);
	int rc = term_done(id, &resp, err);
	rp_http_resp_free(&resp);
	free(url);
	return rc;
}

void rp_runpod_terminate_many(struct rp_runpod *rp, const char *const *ids, size_t n, int *rcs,
			      char **errs)
{
	if (!n)
		return;
	struct rp_http_req *rs = rp_xcalloc(n, sizeof *rs);
	struct rp_http_resp *ps = rp_xcalloc(n, sizeof *ps);
	char **urls = rp_xcalloc(n, sizeof *urls);
	for (size_t i = 0; i < n; i++)
		term_prep(rp, ids[i], &rs[i], &urls[i]);
	rp_runpod_pace(rp, n);
	rp_http_multi(rs, ps, n, 16);
	for (size_t i = 0; i < n; i++) {
		pace_note(rp, &ps[i]);
		rcs[i] = term_done(ids[i], &ps[i], &errs[i]);
		rp_http_resp_free(&ps[i]);
		free(urls[i]);
	}
	free(urls);
	free(ps);
	free(rs);
}

int rp_runpod_catalog(struct rp_runpod *rp, cJSON **gpus, char **err)
{
	return rp_runpod_catalog_for(rp, 0, NULL, gpus, err);
}

int rp_runpod_catalog_for(struct rp_runpod *rp, int count, const char *cloud, cJSON **gpus, char **err)
{
	*err = NULL;
	*gpus = NULL;
	long st;
	cJSON *j;
	char path[160], cnt[32] = "";
	int community = cloud && !strcasecmp(cloud, "COMMUNITY"), secure = cloud && !strcasecmp(cloud, "SECURE");
	if (count > 0)
		snprintf(cnt, sizeof cnt, "&count=%d", count);
	snprintf(path, sizeof path, "/catalog/gpus?include=AVAILABILITY&product=POD%s%s", cnt,
		 community ? "&cloud=COMMUNITY" : secure ? "&cloud=SECURE" : "");
	int rc = get_json(rp, path, &st, &j, err);
	if (rc)
		return rc;
	if (st == 404) {
		*err = rp_xstrdup("GET /catalog/gpus: HTTP 404");
		return RP_EXIT_FAIL;
	}
	cJSON *arr = cJSON_IsArray(j) ? j : cJSON_DetachItemFromObjectCaseSensitive(j, "gpus");
	if (arr != j)
		cJSON_Delete(j);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		*err = rp_xstrdup("GET /catalog/gpus: the answer has no gpus list");
		return RP_EXIT_TEMP;
	}
	*gpus = arr;
	return 0;
}

int rp_runpod_billing(struct rp_runpod *rp, double start, double end, cJSON **records, char **err)
{
	*err = NULL;
	*records = NULL;
	char a[40], b[40], path[160];
	rp_rfc3339(start, a, sizeof a);
	rp_rfc3339(end, b, sizeof b);
	/* bucketSize day: the document's default, said out loud */
	snprintf(path, sizeof path, "/billing/pods?startTime=%s&endTime=%s&bucketSize=day", a, b);
	long st;
	cJSON *j;
	int rc = get_json(rp, path, &st, &j, err);
	if (rc)
		return rc;
	if (st == 404) {
		*err = rp_xstrdup("GET /billing/pods: HTTP 404");
		return RP_EXIT_FAIL;
	}
	cJSON *arr = cJSON_DetachItemFromObjectCaseSensitive(j, "records");
	cJSON_Delete(j);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		*err = rp_xstrdup("GET /billing/pods: the answer has no records list");
		return RP_EXIT_TEMP;
	}
	*records = arr;
	return 0;
}

/* ---- create ------------------------------------------------------------ */

static cJSON *ports_or_default(const cJSON *ports)
{
	if (cJSON_IsArray(ports) && cJSON_GetArraySize(ports) > 0)
		return cJSON_Duplicate(ports, 1);
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, cJSON_CreateString("22/tcp"));
	return a;
}

static char *rest_body(const struct rp_runpod_spec *s)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "name", s->name);
	cJSON_AddStringToObject(b, "image", s->image);
	cJSON *g = cJSON_AddObjectToObject(b, "gpu");
	cJSON_AddStringToObject(g, "id", s->gpu);
	cJSON_AddNumberToObject(g, "count", s->gpu_count > 0 ? s->gpu_count : 1);
	if (s->min_cuda && *s->min_cuda)
		cJSON_AddStringToObject(g, "minCudaVersion", s->min_cuda);
	if (s->cloud && *s->cloud)
		cJSON_AddStringToObject(b, "cloud", s->cloud);
	if (s->dc && *s->dc) {
		cJSON *d = cJSON_AddArrayToObject(b, "dataCenterIds");
		cJSON_AddItemToArray(d, cJSON_CreateString(s->dc));
	}
	if (s->disk_gb > 0)
		cJSON_AddNumberToObject(b, "disk", s->disk_gb);
	cJSON_AddItemToObject(b, "ports", ports_or_default(s->ports));
	cJSON *env = cJSON_IsObject(s->env) ? cJSON_Duplicate(s->env, 1) : cJSON_CreateObject();
	if (s->public_key && *s->public_key) {
		cJSON_DeleteItemFromObjectCaseSensitive(env, "PUBLIC_KEY");
		cJSON_AddStringToObject(env, "PUBLIC_KEY", s->public_key);
	}
	if (env->child)
		cJSON_AddItemToObject(b, "env", env);
	else
		cJSON_Delete(env);
	if (s->args && *s->args)
		cJSON_AddStringToObject(b, "args", s->args);
	cJSON_AddBoolToObject(b, "startSsh", 1);
	char *out = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return out;
}

static const char RENT_Q[] =
	"mutation Rent($input: PodRentInterruptableInput!) { podRentInterruptable(input: $input) "
	"{ id name desiredStatus costPerHr gpuCount machine { dataCenterId gpuTypeId } } }";

static char *gql_body(const struct rp_runpod_spec *s)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "query", RENT_Q);
	cJSON *v = cJSON_AddObjectToObject(b, "variables");
	cJSON *in = cJSON_AddObjectToObject(v, "input");
	cJSON_AddStringToObject(in, "name", s->name);
	cJSON_AddStringToObject(in, "imageName", s->image);
	cJSON_AddStringToObject(in, "gpuTypeId", s->gpu);
	cJSON_AddNumberToObject(in, "gpuCount", s->gpu_count > 0 ? s->gpu_count : 1);
	cJSON_AddNumberToObject(in, "bidPerGpu", s->bid_per_gpu);
	if (s->min_cuda && *s->min_cuda)
		cJSON_AddStringToObject(in, "minCudaVersion", s->min_cuda);
	cJSON_AddStringToObject(in, "cloudType", s->cloud && *s->cloud ? s->cloud : "SECURE");
	if (s->dc && *s->dc)
		cJSON_AddStringToObject(in, "dataCenterId", s->dc);
	if (s->disk_gb > 0)
		cJSON_AddNumberToObject(in, "containerDiskInGb", s->disk_gb);
	cJSON_AddNumberToObject(in, "volumeInGb", 0);
	if (s->args && *s->args)
		cJSON_AddStringToObject(in, "dockerArgs", s->args);
	/* GraphQL takes the ports as one comma string. */
	cJSON *ps = ports_or_default(s->ports);
	struct rp_buf pb = { 0 };
	const cJSON *p;
	cJSON_ArrayForEach(p, ps) {
		if (cJSON_IsString(p))
			rp_buf_addf(&pb, "%s%s", pb.len ? "," : "", p->valuestring);
	}
	cJSON_AddStringToObject(in, "ports", pb.data ? pb.data : "22/tcp");
	rp_buf_free(&pb);
	cJSON_Delete(ps);
	cJSON *env = cJSON_AddArrayToObject(in, "env");
	int own_key = s->public_key && *s->public_key;
	cJSON_ArrayForEach(p, s->env) {
		if (!cJSON_IsString(p) || (own_key && !strcmp(p->string, "PUBLIC_KEY")))
			continue;
		cJSON *kv = cJSON_CreateObject();
		cJSON_AddStringToObject(kv, "key", p->string);
		cJSON_AddStringToObject(kv, "value", p->valuestring);
		cJSON_AddItemToArray(env, kv);
	}
	if (own_key) {
		cJSON *kv = cJSON_CreateObject();
		cJSON_AddStringToObject(kv, "key", "PUBLIC_KEY");
		cJSON_AddStringToObject(kv, "value", s->public_key);
		cJSON_AddItemToArray(env, kv);
	}
	cJSON_AddBoolToObject(in, "startSsh", 1);
	cJSON_AddBoolToObject(in, "supportPublicIp", 1);
	if (s->terminate_after && *s->terminate_after)
		cJSON_AddStringToObject(in, "terminateAfter", s->terminate_after);
	char *out = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return out;
}

void rp_runpod_create_prep(struct rp_runpod *rp, const struct rp_runpod_spec *s, struct rp_runpod_call *c)
{
	memset(c, 0, sizeof *c);
	c->spot = s->spot;
	if (s->spot) {
		c->url = rp_xstrdup(rp->gql);
		c->body = gql_body(s);
	} else {
		c->url = rp_xasprintf("%s/pods", rp->api);
		c->body = rest_body(s);
	}
	base_req(rp, &c->req, "POST", c->url);
	c->req.content_type = "application/json";
	c->req.body = c->body;
	c->req.body_len = strlen(c->body);
	c->req.idempotent = 0; /* never replay a create (http.c: only 429 is retried) */
}

void rp_runpod_call_free(struct rp_runpod_call *c)
{
	free(c->url);
	free(c->body);
	c->url = c->body = NULL;
}

static int has(const char *s, const char *needle)
{
	return s && strcasestr(s, needle) != NULL;
}

/* "No capacity", in either form RunPod answers it (400 or 500). */
static int is_capacity(const char *t)
{
	return has(t, CAPACITY_TEXT) || has(t, CAPACITY_TEXT_500) || has(t, "not enough free gpus");
}

/* Classify a GraphQL error message and code. */
static int gql_outcome(const char *msg, const char *code)
{
	if (is_capacity(msg))
		return RP_RUNPOD_CAPACITY;
	if (has(msg, "bid"))
		return RP_RUNPOD_BID;
	if (has(msg, "balance") || has(msg, "insufficient funds"))
		return RP_RUNPOD_PAYMENT;
	if ((code && (!strcmp(code, "FORBIDDEN") || !strcmp(code, "UNAUTHENTICATED"))) ||
	    has(msg, "do not have access"))
		return RP_RUNPOD_FORBIDDEN;
	if (code && (!strcmp(code, "BAD_USER_INPUT") || !strcmp(code, "GRAPHQL_VALIDATION_FAILED") ||
		     !strcmp(code, "GRAPHQL_PARSE_FAILED") || !strcmp(code, "BAD_REQUEST")))
		return RP_RUNPOD_INVALID;
	/* INTERNAL_SERVER_ERROR "Something went wrong": we cannot know. */
	return RP_RUNPOD_UNKNOWN;
}

/* A v2-shaped subset of a GraphQL pod, so callers see one shape. */
static cJSON *gql_to_v2(const cJSON *g, const struct rp_runpod_call *c)
{
	cJSON *p = cJSON_CreateObject();
	const char *id = rp_rec_str(g, "id");
	cJSON_AddStringToObject(p, "id", id ? id : "");
	const char *name = rp_rec_str(g, "name");
	if (name)
		cJSON_AddStringToObject(p, "name", name);
	cJSON_AddStringToObject(p, "status", "PROVISIONING");
	cJSON_AddNumberToObject(p, "cost", rp_runpod_pod_cost(g));
	cJSON_AddBoolToObject(p, "interruptible", c->spot);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(g, "machine");
	const char *dc = rp_rec_str(m, "dataCenterId");
	if (dc)
		cJSON_AddStringToObject(p, "dataCenterId", dc);
	const char *gt = rp_rec_str(m, "gpuTypeId");
	const cJSON *gc = cJSON_GetObjectItemCaseSensitive(g, "gpuCount");
	if (gt) {
		cJSON *gpu = cJSON_AddObjectToObject(p, "gpu");
		cJSON_AddStringToObject(gpu, "id", gt);
		cJSON_AddNumberToObject(gpu, "count", cJSON_IsNumber(gc) ? gc->valuedouble : 1);
	}
	return p;
}

int rp_runpod_create_done(struct rp_runpod *rp, const struct rp_runpod_call *c,
			  const struct rp_http_resp *resp, cJSON **pod, char **err)
{
	pace_note(rp, resp);
	*pod = NULL;
	*err = NULL;
	long st = resp->status;
	if (!st || st >= 500) {
		*err = problem_text(resp);
		/* A 500 saying there is no capacity created nothing: like the 400. */
		return st >= 500 && is_capacity(*err) ? RP_RUNPOD_CAPACITY : RP_RUNPOD_UNKNOWN;
	}
	if (st == 429) {
		*err = problem_text(resp);
		return RP_RUNPOD_RATE;
	}
	if (c->spot && st == 200) {
		cJSON *j = cJSON_Parse(resp->body ? resp->body : "");
		const cJSON *es = cJSON_GetObjectItemCaseSensitive(j, "errors");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(d, "podRentInterruptable");
		int rc;
		if (cJSON_IsArray(es) && cJSON_GetArraySize(es) > 0) {
			const cJSON *e0 = cJSON_GetArrayItem(es, 0);
			const char *msg = rp_rec_str(e0, "message");
			const cJSON *ext = cJSON_GetObjectItemCaseSensitive(e0, "extensions");
			rc = gql_outcome(msg, rp_rec_str(ext, "code"));
			char *red = rp_redact(msg ? msg : "GraphQL error without a message");
			*err = one_line(rp_xasprintf("GraphQL podRentInterruptable: %s", red));
			free(red);
		} else if (cJSON_IsObject(g) && rp_rec_str(g, "id")) {
			*pod = gql_to_v2(g, c);
			rc = RP_RUNPOD_CREATED;
		} else {
			*err = rp_xstrdup("GraphQL podRentInterruptable: the answer has no pod id");
			rc = RP_RUNPOD_UNKNOWN;
		}
		cJSON_Delete(j);
		return rc;
	}
	if (!c->spot && (st == 200 || st == 201)) {
		cJSON *j = cJSON_Parse(resp->body ? resp->body : "");
		if (cJSON_IsObject(j) && rp_rec_str(j, "id")) {
			*pod = j;
			return RP_RUNPOD_CREATED;
		}
		cJSON_Delete(j);
		/* Created, but we cannot read what: like runpodctl, the caller
		 * must list by name before anything else. */
		*err = rp_xstrdup("POST /pods: created, but the answer has no pod id");
		return RP_RUNPOD_UNKNOWN;
	}
	char *t = problem_text(resp);
	*err = t;
	if (st == 402)
		return RP_RUNPOD_PAYMENT;
	if (st == 403)
		return RP_RUNPOD_FORBIDDEN;
	if (st == 422)
		return RP_RUNPOD_INVALID;
	if (is_capacity(t))
		return RP_RUNPOD_CAPACITY;
	if (c->spot && st == 400)
		return RP_RUNPOD_INVALID; /* GraphQL validation failure */
	if (has(t, "bid"))
		return RP_RUNPOD_BID;
	return RP_RUNPOD_REFUSED;
}

int rp_runpod_create(struct rp_runpod *rp, const struct rp_runpod_spec *s, cJSON **pod, char **err)
{
	struct rp_runpod_call c;
	struct rp_http_resp resp;
	rp_runpod_create_prep(rp, s, &c);
	rp_runpod_pace(rp, 1);
	rp_http_do(&c.req, &resp); /* create_done notes its RateLimit */
	int rc = rp_runpod_create_done(rp, &c, &resp, pod, err);
	rp_http_resp_free(&resp);
	rp_runpod_call_free(&c);
	return rc;
}

/* ---- spot price ---------------------------------------------------------- */

static const char PRICE_Q[] =
	"query Price($id: String, $n: Int, $secure: Boolean, $dc: String) { gpuTypes(input: {id: $id}) "
	"{ id secureSpotPrice communitySpotPrice lowestPrice(input: {gpuCount: $n, secureCloud: $secure, "
	"dataCenterId: $dc}) { minimumBidPrice stockStatus } } }";

int rp_runpod_spot_price(struct rp_runpod *rp, const char *gpu, int gpu_count, const char *dc, int secure,
			 double *min_bid, double *spot_price, char **stock, char **err)
{
	*err = NULL;
	*stock = NULL;
	*min_bid = -1;
	*spot_price = -1;
	if (!rp->gql || !*rp->gql) {
		*err = rp_xstrdup("runpod.graphql_url is not set (spot needs GraphQL)");
		return RP_EXIT_USAGE;
	}
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "query", PRICE_Q);
	cJSON *v = cJSON_AddObjectToObject(b, "variables");
	cJSON_AddStringToObject(v, "id", gpu);
	cJSON_AddNumberToObject(v, "n", gpu_count > 0 ? gpu_count : 1);
	cJSON_AddBoolToObject(v, "secure", secure);
	if (dc && *dc)
		cJSON_AddStringToObject(v, "dc", dc);
	else
		cJSON_AddNullToObject(v, "dc");
	char *body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	struct rp_http_resp resp;
	gql_query(rp, body, &resp);
	free(body);
	int rc = 0;
	cJSON *j = NULL;
	if (resp.status != 200) {
		char *t = problem_text(&resp);
		*err = rp_xasprintf("GraphQL gpuTypes: %s", t);
		free(t);
		rc = exit_for(&resp);
		goto out;
	}
	j = cJSON_Parse(resp.body ? resp.body : "");
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(j, "errors");
	if (cJSON_GetArraySize(es) > 0) {
		const char *m = rp_rec_str(cJSON_GetArrayItem(es, 0), "message");
		*err = rp_xasprintf("GraphQL gpuTypes: %s", m ? m : "error");
		rc = RP_EXIT_TEMP;
		goto out;
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "gpuTypes");
	const cJSON *g = NULL, *it;
	cJSON_ArrayForEach(it, arr) {
		const char *id = rp_rec_str(it, "id");
		if (id && !strcmp(id, gpu))
			g = it;
	}
	if (!g) {
		*err = rp_xasprintf("GraphQL gpuTypes: no GPU type '%s'", gpu);
		rc = RP_EXIT_FAIL;
		goto out;
	}
	const cJSON *lp = cJSON_GetObjectItemCaseSensitive(g, "lowestPrice");
	const cJSON *mb = cJSON_GetObjectItemCaseSensitive(lp, "minimumBidPrice");
	const char *ss = rp_rec_str(lp, "stockStatus");
	if (ss)
		*stock = rp_xstrdup(ss);
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(g, secure ? "secureSpotPrice" : "communitySpotPrice");
	if (cJSON_IsNumber(sp))
		*spot_price = sp->valuedouble;
	if (cJSON_IsNumber(mb))
		*min_bid = mb->valuedouble;
	else
		*min_bid = *spot_price;
	if (*min_bid < 0) {
		*err = rp_xasprintf("GraphQL gpuTypes: no spot price for '%s'", gpu);
		rc = RP_EXIT_TEMP;
	}
out:
	cJSON_Delete(j);
	rp_http_resp_free(&resp);
	return rc;
}

/* ---- field access ---------------------------------------------------------- */

const char *rp_runpod_pod_status(const cJSON *pod)
{
	const char *s = rp_rec_str(pod, "status");
	return s ? s : rp_rec_str(pod, "desiredStatus");
}

double rp_runpod_pod_cost(const cJSON *pod)
{
	static const char *const keys[] = { "cost", "costPerHr", "adjustedCostPerHr" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(pod, keys[i]);
		if (cJSON_IsNumber(v))
			return v->valuedouble;
		if (cJSON_IsString(v) && *v->valuestring)
			return strtod(v->valuestring, NULL);
	}
	return 0;
}

/* 1 when ip is an address a stranger's pod may be reached at: a literal
 * IPv4/IPv6 address outside the private (10/8, 172.16/12, 192.168/16,
 * fc00::/7), carrier-NAT (100.64/10), link-local, unspecified and
 * loopback ranges; loopback is allowed when allow_loopback.  Else 0 and
 * *why. */
int rp_runpod_public_ip(const char *ip, int allow_loopback, const char **why)
{
	unsigned char a[16];
	*why = NULL;
	if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char v4m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		static const unsigned char zero[16] = { 0 };
		if (!memcmp(a, v4m, 12)) { /* ::ffff:a.b.c.d: judged as IPv4 */
			memmove(a, a + 12, 4);
			goto v4;
		}
		if (!memcmp(a, zero, 15) && a[15] == 1) {
			*why = allow_loopback ? NULL : "loopback";
			return allow_loopback;
		}
		if (!memcmp(a, zero, 16))
			*why = "unspecified";
		else if ((a[0] & 0xfe) == 0xfc)
			*why = "private (fc00::/7)";
		else if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			*why = "link-local";
		return !*why;
	}
	if (!ip || inet_pton(AF_INET, ip, a) != 1) {
		*why = "not an IP address";
		return 0;
	}
v4:
	if (a[0] == 127) {
		*why = allow_loopback ? NULL : "loopback";
		return allow_loopback;
	}
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		*why = "private (RFC 1918)";
	else if (a[0] == 100 && (a[1] & 0xc0) == 64)
		*why = "carrier-grade NAT (100.64/10)";
	else if (a[0] == 169 && a[1] == 254)
		*why = "link-local";
	else if (a[0] == 0)
		*why = "unspecified";
	return !*why;
}

int rp_runpod_pod_ssh(const cJSON *pod, int allow_loopback, const char **host, int *port, const char **why)
{
	*why = NULL;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "ssh"), "direct");
	const char *h = rp_rec_str(d, "host");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "port");
	if (h && *h && cJSON_IsNumber(p) && p->valueint > 0) {
		*host = h;
		*port = p->valueint;
		return 0;
	}
	/* Else the runtime mapping of private 22 (tcp), at a public address. */
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(pod, "runtime");
	const cJSON *e;
	int refused = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rt, "ports")) {
		const cJSON *priv = cJSON_GetObjectItemCaseSensitive(e, "private");
		const cJSON *pub = cJSON_GetObjectItemCaseSensitive(e, "public");
		const char *ip = rp_rec_str(e, "ip");
		const char *type = rp_rec_str(e, "type");
		/* (no isIpPublic: the v2 PodRuntimePort has ip, private, public, type) */
		if (cJSON_IsNumber(priv) && priv->valueint == 22 && cJSON_IsNumber(pub) && pub->valueint > 0 &&
		    ip && *ip && (!type || !strcmp(type, "tcp"))) {
			const char *w;
			if (!rp_runpod_public_ip(ip, allow_loopback, &w)) {
				refused = 1;
				*why = w;
				continue;
			}
			*host = ip;
			*port = pub->valueint;
			*why = NULL;
			return 0;
		}
	}
	return refused ? -2 : -1;
}

int rp_runpod_api_loopback(const struct rp_runpod *rp)
{
	const char *h = strstr(rp->api, "://");
	h = h ? h + 3 : rp->api;
	const char *at = strchr(h, '@'), *sl = strchr(h, '/');
	if (at && (!sl || at < sl))
		h = at + 1;
	struct rp_hostport hp;
	char host[64];
	if (rp_hostport(h, strcspn(h, "/"), RP_HP_HOST_ONLY, 0, &hp) || rp_hostport_host(&hp, host, sizeof host) < 0)
		return 0;
	const char *why;
	if (!strcasecmp(host, "localhost"))
		return 1;
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return 0;
	/* a literal address: loopback exactly when only the loopback rule refuses it */
	return !rp_runpod_public_ip(host, 0, &why) && !strcmp(why, "loopback");
}

double rp_runpod_catalog_price(const cJSON *gpu, const char *cloud, int spot)
{
	int community = cloud && !strcasecmp(cloud, "COMMUNITY");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(gpu, "price");
	const char *k2 = spot ? (community ? "communitySpot" : "secureSpot") : (community ? "community" : "secure");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(pr, k2);
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	const char *k1 = spot ? (community ? "communitySpotPrice" : "secureSpotPrice")
			      : (community ? "communityPrice" : "securePrice");
	v = cJSON_GetObjectItemCaseSensitive(gpu, k1);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const char *rp_runpod_catalog_avail(const cJSON *gpu, const char *dc)
{
	if (dc && *dc) {
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(gpu, "dataCenters")) {
			const char *id = rp_rec_str(e, "id");
			if (id && !strcmp(id, dc)) {
				const char *a = rp_rec_str(e, "availability");
				return a ? a : NULL;
			}
		}
		/* A DC the catalog lists for other GPUs but not this one: none. */
		if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(gpu, "dataCenters")))
			return "NONE";
		return NULL;
	}
	return rp_rec_str(gpu, "availability");
}
