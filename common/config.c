/* config.c — the schema of every key, YAML loading, flags, secrets. */
#include "config.h"
#include "http.h"
#include "log.h"
#include "rp.h"
#include "warmpool.h"
#include "yamltree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind { S, I, N, B, D, L, M };

struct key {
	const char *name;
	enum kind kind;
	const char *def; /* S/I/N/B/D: text; L/M: JSON; NULL: unset */
};

#define DEF_QUERY "histogram_quantile(0.95, sum(rate(ome_transcoding_duration_seconds_bucket[5m])) by (le))"

static const struct key schema[] = {
	{ "cluster", S, "rp" },
	{ "runpod.api_url", S, "https://api.runpod.io/v2" },
	{ "runpod.graphql_url", S, "https://api.runpod.io/graphql" },
	{ "runpod.api_key_file", S, NULL },
	/* The shipped defaults are the ones that won rp-cost simulate --compare
	 * against the seed's (rp-cost(1), issue 20): GPUs that encode, spot
	 * with on-demand fallback, ranked by price per stream, lag 4 a node. */
	{ "runpod.gpu_types", L, "[\"NVIDIA RTX 6000 Ada Generation\",\"NVIDIA RTX A6000\"]" },
	{ "runpod.data_centers", L, "[]" },
	{ "runpod.cloud", S, "SECURE" },
	{ "runpod.order", S, "value" },
	{ "runpod.spot", B, "true" },
	{ "runpod.spot_fallback", B, "true" },
	{ "runpod.max_bid_per_gpu", N, "1.0" },
	{ "runpod.spot_bid", S, "spot_price" },
	{ "runpod.min_cuda_version", S, NULL },
	{ "runpod.image", S, "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04" },
	{ "runpod.disk_gb", I, "50" },
	{ "runpod.gpu_count", I, "1" },
	{ "runpod.ports", L, "[\"22/tcp\"]" },
	{ "runpod.env", M, "{}" },
	{ "runpod.max_nodes", I, "50" },
	{ "runpod.ready_timeout", D, "20m" },
	{ "runpod.poll_interval", D, "2s" },
	{ "runpod.request_timeout", D, "30s" },
	{ "runpod.terminate_after", D, "24h" },
	{ "runpod.concurrency", I, "16" },
	{ "ssh.user", S, "root" },
	{ "ssh.identity_file", S, "/etc/rp/id_ed25519" },
	{ "ssh.public_key_file", S, NULL }, /* default: ssh.identity_file + ".pub" */
	{ "ssh.known_hosts", S, NULL }, /* default: $RP_STATE_DIR/known_hosts */
	{ "ssh.port", I, "22" },
	{ "ssh.connect_timeout", D, "10s" },
	{ "ssh.command_timeout", D, "5m" },
	{ "ssh.concurrency", I, "16" },
	{ "ssh.egress_counters", S, "/proc/net/dev" },
	{ "kube.kubeconfig", S, NULL }, /* default: $KUBECONFIG, ~/.kube/config */
	{ "kube.labels", L, "[\"nvidia.com/gpu=true\",\"gpu-type=runpod\"]" },
	{ "kube.taints", L, "[]" },
	{ "kube.bootstrap", S, "kubeadm" },
	{ "kube.worker_command", S, "rp-worker" },
	{ "kube.forwards", L, "[]" },
	{ "kube.token_ttl", D, "1h" },
	{ "kube.join_timeout", D, "5m" },
	{ "kube.api_server_endpoint", S, NULL }, /* rp-join: default host:port of the kubeconfig server */
	{ "kube.api_server_tunnel", I, "0" },    /* rp-join: the pod's 127.0.0.1 port an R: forward gives it */
	{ "kube.api_server_name", S, "kubernetes" }, /* rp-join: tls-server-name of a tunnelled join */
	{ "kube.startup_taint", S, "rp.io/starting:NoSchedule" }, /* rp-join: removed once Ready */
	{ "kube.virtual_interval", D, "10s" }, /* rp-join --virtual: heartbeat and reconcile period */
	{ "kube.virtual_lease", D, "40s" },    /* rp-join --virtual: the node Lease's duration */
	{ "kube.virtual_kubelet_port", I, "0" }, /* rp-join --virtual: kubelet API (kubectl logs); 0 off */
	{ "kube.virtual_kubelet_address", S, NULL },
	{ "kube.virtual_kubelet_cert", S, NULL },
	{ "kube.virtual_kubelet_key", S, NULL },
	{ "kube.virtual_kubelet_client_ca", S, NULL },
	{ "kube.virtual_log_file", S, "/var/log/rp/container.log" },
	{ "kafka.bootstrap_servers", S, "localhost:9092" },
	{ "kafka.group", L, "[\"ome-transcoder-consumer\"]" },
	{ "kafka.topic", L, "[\"video-transcode\"]" },
	{ "kafka.lag_threshold", I, "4" },
	{ "kafka.offset_policy", S, "latest" },
	{ "kafka.timeout", D, "5s" },
	{ "lagwatch.listen", S, "127.0.0.1:9464" },
	{ "lagwatch.token_file", S, NULL },
	{ "fleet.store", S, "local" }, /* local | kafka (fleetlog.h) */
	{ "fleet.topic", S, "rp-ledger" },
	{ "fleet.timeout", D, "10s" },
	{ "prometheus.url", S, "http://localhost:9090" },
	{ "prometheus.query", S, DEF_QUERY },
	{ "prometheus.threshold", N, "30" },
	{ "prometheus.timeout", D, "5s" },
	{ "scale.idle", D, "60s" },
	{ "scale.cooldown", D, "5m" },
	{ "scale.step", S, "10%" },
	{ "scale.notready_grace", D, "2m" }, /* a burst node NotReady this long is lost */
	{ "scale.warm_pool", M, "{}" }, /* warmpool.h: {"HH-HH": nodes} (UTC); none by default */
	{ "scale.prewarm", B, "false" }, /* prewarm.h: rp-cost prewarm's floor joins the warm pool */
	{ "drain.timeout", D, "5m" },
	{ "drain.checkpoint_command", S, NULL },
	{ "drain.force", B, "false" },
	{ "drain.delete_emptydir_data", B, "false" },
	{ "drain.terminate_timeout", D, "2m" },
	{ "drain.worker_stop_command", S, "pkill -TERM -f '[r]p-worker'" },
	{ "drain.worker_marker", S, ".rp-worker/checkpointed" },
	{ "s3.endpoint", S, "http://localhost:9000" },
	{ "s3.bucket", S, "checkpoint" },
	{ "s3.region", S, "us-east-1" },
	{ "s3.access_key_file", S, NULL },
	{ "s3.secret_key_file", S, NULL },
	{ "s3.encryption_key_file", S, NULL },
	{ "s3.signing_key_file", S, NULL },
	{ "s3.multipart_threshold", I, "16777216" },
	{ "s3.part_size", I, "8388608" },
	{ "s3.parallel", I, "8" },
	{ "s3.timeout", D, "60s" },
	{ "s3.retries", I, "4" },
	{ "worker.s3_access_key_file", S, NULL },
	{ "worker.s3_secret_key_file", S, NULL },
	{ "cost.prices", M,
	  "{\"NVIDIA RTX 6000 Ada Generation\":{\"on_demand\":0.69,\"spot\":0.35},"
	  "\"NVIDIA A100 80GB PCIe\":{\"on_demand\":1.89,\"spot\":0.95},"
	  "\"NVIDIA RTX A6000\":{\"on_demand\":0.89,\"spot\":0.44}}" },
	{ "cost.baseline", M, "{\"monthly_capex\":500,\"power_kw\":2,\"kwh_price\":0.15,\"gpus\":2}" },
	{ "cost.baseline_gpu", S, "NVIDIA A100 80GB PCIe" },
	{ "cost.hours_per_month", N, "730" },
	{ "cost.egress_per_gb", N, "0" },
	/* jobs one GPU encodes at once: its NVENC engines (NVIDIA's Video
	 * Encode and Decode GPU Support Matrix: AD102 3, GA102 1, GA100 0) */
	{ "cost.throughput", M,
	  "{\"NVIDIA RTX 6000 Ada Generation\":3,\"NVIDIA A100 80GB PCIe\":0,\"NVIDIA RTX A6000\":1}" },
	{ "cost.preempt_per_hour", N, "0.1" },
	{ "cost.spot_stock", N, "0.9" },
	{ "cost.boot", D, "150s" },
	{ "cost.boot_sigma", N, "0.5" },
	{ "cost.job_sigma", N, "0.5" },
	{ NULL, S, NULL }
};

struct rp_config {
	char *path;
	cJSON *vals;  /* flat: key -> value (typed) */
	cJSON *where; /* flat: key -> "file:line" | "flag" | "default" */
	cJSON *appended; /* keys already appended to by flags */
};

/* Errors are one line: the text or key quoted in one may hold any byte
 * (a YAML block scalar, a quoted key, a flag's value); blank out controls. */
static char *one_line(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

static const struct key *find(const char *name)
{
	for (const struct key *k = schema; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

static int is_section(const char *prefix)
{
	size_t n = strlen(prefix);
	for (const struct key *k = schema; k->name; k++)
		if (!strncmp(k->name, prefix, n) && k->name[n] == '.')
			return 1;
	return 0;
}

int rp_parse_duration(const char *s, double *secs)
{
	double total = 0;
	int any = 0;
	if (!s || !*s)
		return -1;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0 || !isfinite(v))
			return -1;
		p = end;
		double mul;
		if (!strncmp(p, "ms", 2)) {
			mul = 0.001;
			p += 2;
		} else if (*p == 's') {
			mul = 1;
			p++;
		} else if (*p == 'm') {
			mul = 60;
			p++;
		} else if (*p == 'h') {
			mul = 3600;
			p++;
		} else if (*p == 'd') {
			mul = 86400;
			p++;
		} else if (*p == 0 && !any) {
			mul = 1; /* bare number: seconds */
		} else {
			return -1;
		}
		total += v * mul;
		any = 1;
	}
	if (total > 1e9)
		return -1;
	*secs = total;
	return 0;
}

/* Scalars in free-form maps: numbers and booleans when unquoted. */
static cJSON *scalar_auto(const cJSON *n)
{
	const char *s = n->valuestring;
	if (!rp_yaml_quoted(n)) {
		char *end;
		double v = strtod(s, &end);
		if (*s && !*end && isfinite(v))
			return cJSON_CreateNumber(v);
		if (!strcmp(s, "true"))
			return cJSON_CreateTrue();
		if (!strcmp(s, "false"))
			return cJSON_CreateFalse();
	}
	return cJSON_CreateString(s);
}

static cJSON *auto_tree(const cJSON *n)
{
	if (cJSON_IsString(n))
		return scalar_auto(n);
	cJSON *out = cJSON_IsArray(n) ? cJSON_CreateArray() : cJSON_CreateObject();
	for (const cJSON *c = n->child; c; c = c->next) {
		if (cJSON_IsArray(n))
			cJSON_AddItemToArray(out, auto_tree(c));
		else
			cJSON_AddItemToObject(out, c->string, auto_tree(c));
	}
	return out;
}

/* Convert text or a YAML node to the key's type.  n may be NULL (text). */
static cJSON *typed(const struct key *k, const char *text, const cJSON *n, char **why)
{
	if (n && (k->kind == L || k->kind == M)) {
		if (k->kind == L) {
			cJSON *a = cJSON_CreateArray();
			if (cJSON_IsString(n)) {
				cJSON_AddItemToArray(a, cJSON_CreateString(n->valuestring));
				return a;
			}
			for (const cJSON *c = n->child; c; c = c->next) {
				if (cJSON_IsObject(n)) { /* mapping form: k: v -> "k=v" */
					if (!cJSON_IsString(c))
						goto bad_list;
					char *kv = rp_xasprintf("%s=%s", c->string, c->valuestring);
					cJSON_AddItemToArray(a, cJSON_CreateString(kv));
					free(kv);
				} else if (cJSON_IsString(c)) {
					cJSON_AddItemToArray(a, cJSON_CreateString(c->valuestring));
				} else {
					goto bad_list;
				}
			}
			return a;
		bad_list:
			cJSON_Delete(a);
			*why = rp_xstrdup("expected a list of strings");
			return NULL;
		}
		if (!cJSON_IsObject(n)) {
			*why = rp_xstrdup("expected a mapping");
			return NULL;
		}
		return auto_tree(n);
	}
	if (n) {
		if (!cJSON_IsString(n)) {
			*why = rp_xstrdup("expected a single value, not a list or mapping");
			return NULL;
		}
		text = n->valuestring;
	}
	char *end;
	switch (k->kind) {
	case S:
		return cJSON_CreateString(text);
	case I: {
		errno = 0;
		long v = strtol(text, &end, 10);
		if (!*text || *end || errno) {
			*why = rp_xasprintf("expected an integer, got '%.60s'", text);
			return NULL;
		}
		if (v < 0) {
			*why = rp_xasprintf("must not be negative, got '%.60s'", text);
			return NULL;
		}
		return cJSON_CreateNumber((double)v);
	}
	case N: {
		double v = strtod(text, &end);
		if (!*text || *end || !isfinite(v)) {
			*why = rp_xasprintf("expected a number, got '%.60s'", text);
			return NULL;
		}
		if (v < 0) {
			*why = rp_xasprintf("must not be negative, got '%.60s'", text);
			return NULL;
		}
		return cJSON_CreateNumber(v);
	}
	case B:
		if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on"))
			return cJSON_CreateTrue();
		if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "off"))
			return cJSON_CreateFalse();
		*why = rp_xasprintf("expected true or false, got '%.60s'", text);
		return NULL;
	case D: {
		double v;
		if (rp_parse_duration(text, &v) < 0) {
			*why = rp_xasprintf("expected a duration like 60s, 5m or 1h, got '%.60s'", text);
			return NULL;
		}
		return cJSON_CreateNumber(v);
	}
	case L: {
		cJSON *a = cJSON_CreateArray();
		if (*text) {
			char *dup = rp_xstrdup(text), *save = NULL;
			for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
				cJSON_AddItemToArray(a, cJSON_CreateString(t));
			free(dup);
		}
		return a;
	}
	case M: {
		cJSON *j = cJSON_Parse(text);
		if (!cJSON_IsObject(j)) {
			cJSON_Delete(j);
			*why = rp_xstrdup("expected a JSON object");
			return NULL;
		}
		return j;
	}
	}
	return NULL;
}

static void put(struct rp_config *c, const char *key, cJSON *v, const char *where)
{
	cJSON_DeleteItemFromObjectCaseSensitive(c->vals, key);
	cJSON_DeleteItemFromObjectCaseSensitive(c->where, key);
	cJSON_AddItemToObject(c->vals, key, v);
	cJSON_AddItemToObject(c->where, key, cJSON_CreateString(where));
}

static int walk(struct rp_config *c, const cJSON *obj, const char *prefix, char **err)
{
	for (const cJSON *e = obj->child; e; e = e->next) {
		char *key = *prefix ? rp_xasprintf("%s.%s", prefix, e->string) : rp_xstrdup(e->string);
		const struct key *k = find(key);
		int line = rp_yaml_line(e);
		if (k) {
			char *why = NULL;
			cJSON *v = typed(k, NULL, e, &why);
			if (!v) {
				*err = one_line(rp_xasprintf("%s:%d: key '%s': %s", c->path, line, key, why));
				free(why);
				free(key);
				return -1;
			}
			char *w = rp_xasprintf("%s:%d", c->path, line);
			put(c, key, v, w);
			free(w);
		} else if (is_section(key) && cJSON_IsObject(e)) {
			if (walk(c, e, key, err) < 0) {
				free(key);
				return -1;
			}
		} else if (is_section(key)) {
			*err = one_line(rp_xasprintf("%s:%d: key '%s': expected a mapping", c->path, line, key));
			free(key);
			return -1;
		} else {
			*err = one_line(rp_xasprintf("%s:%d: unknown key '%s'", c->path, line, key));
			free(key);
			return -1;
		}
		free(key);
	}
	return 0;
}

/* A config holding only the schema's defaults. */
static struct rp_config *with_defaults(void)
{
	struct rp_config *c = rp_xcalloc(1, sizeof *c);
	c->vals = cJSON_CreateObject();
	c->where = cJSON_CreateObject();
	c->appended = cJSON_CreateObject();
	for (const struct key *k = schema; k->name; k++) {
		if (!k->def)
			continue;
		char *why = NULL;
		cJSON *v = (k->kind == L || k->kind == M) ? cJSON_Parse(k->def) : typed(k, k->def, NULL, &why);
		if (!v)
			rp_fatal(RP_EXIT_FAIL, "bad default for %s: %s", k->name, why ? why : "JSON");
		/* Schema keys are unique: append, no search for one to replace
		 * (put() made every load quadratic in the schema), and point
		 * at the schema's static names instead of copying them. */
		cJSON_AddItemToObjectCS(c->vals, k->name, v);
		cJSON_AddItemToObjectCS(c->where, k->name, cJSON_CreateStringReference("default"));
	}
	return c;
}

/* Apply a parsed document (consumed) over c; c freed on error. */
static struct rp_config *apply_doc(struct rp_config *c, cJSON *doc, char **err)
{
	if (!doc) {
		rp_config_free(c);
		return NULL;
	}
	if (!cJSON_IsObject(doc)) {
		*err = rp_xasprintf("%s:%d: the config must be a mapping of keys", c->path, rp_yaml_line(doc));
		cJSON_Delete(doc);
		rp_config_free(c);
		return NULL;
	}
	int r = walk(c, doc, "", err);
	cJSON_Delete(doc);
	if (r < 0) {
		rp_config_free(c);
		return NULL;
	}
	return c;
}

struct rp_config *rp_config_parse(const char *text, size_t len, const char *name, char **err)
{
	*err = NULL;
	struct rp_config *c = with_defaults();
	c->path = rp_xstrdup(name ? name : "<config>");
	return apply_doc(c, rp_yaml_parse(text, len, c->path, err), err);
}

struct rp_config *rp_config_load(const char *path, char **err)
{
	*err = NULL;
	struct rp_config *c = with_defaults();
	int explicit = 1;
	if (!path || !*path) {
		path = getenv("RP_CONFIG");
		if (!path || !*path) {
			path = "/etc/rp/config.yaml";
			explicit = 0;
		}
	}
	c->path = rp_xstrdup(path);
	struct stat st;
	if (stat(path, &st) < 0) {
		if (!explicit && errno == ENOENT) {
			free(c->path);
			c->path = rp_xstrdup("(defaults)");
			return c;
		}
		*err = rp_xasprintf("%s: cannot read config: %s", path, strerror(errno));
		rp_config_free(c);
		return NULL;
	}
	return apply_doc(c, rp_yaml_load(path, err), err);
}

void rp_config_free(struct rp_config *c)
{
	if (!c)
		return;
	cJSON_Delete(c->vals);
	cJSON_Delete(c->where);
	cJSON_Delete(c->appended);
	free(c->path);
	free(c);
}

const char *rp_config_path(const struct rp_config *c)
{
	return c->path;
}

double rp_gpu_throughput(const struct rp_config *c, const char *gpu)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rp_cfg_json(c, "cost.throughput"), gpu);
	return cJSON_IsNumber(v) ? v->valuedouble : v ? -1 : 1;
}

/* cost.throughput: numbers >= 0; a GPU type listed to rent with 0 is a
 * warning (it is never rented to encode). */
static int throughput_check(const struct rp_config *c, char **err)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(c, "cost.throughput"))
	{
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || !isfinite(e->valuedouble)) {
			*err = one_line(rp_xasprintf("key 'cost.throughput' (%s): '%s' must be a number >= 0",
						     rp_cfg_where(c, "cost.throughput"), e->string));
			return -1;
		}
	}
	cJSON_ArrayForEach(e, rp_cfg_json(c, "runpod.gpu_types"))
	{
		if (cJSON_IsString(e) && rp_gpu_throughput(c, e->valuestring) == 0)
			rp_warn("runpod.gpu_types (%s) lists '%s', whose cost.throughput is 0: it encodes nothing "
				"and is never rented to encode", rp_cfg_where(c, "runpod.gpu_types"), e->valuestring);
	}
	return 0;
}

int rp_config_check(const struct rp_config *c, char **err)
{
	if (throughput_check(c, err) < 0)
		return -1;
	static const char *const cred_urls[] = { "runpod.api_url", "runpod.graphql_url", "s3.endpoint" };
	for (size_t i = 0; i < sizeof cred_urls / sizeof *cred_urls; i++) {
		const char *u = rp_cfg_str(c, cred_urls[i]), *why = u && *u ? rp_http_cleartext(u) : NULL;
		if (!why)
			continue;
		const char *w = rp_cfg_where(c, cred_urls[i]);
		*err = one_line(strchr(w, ':') ? rp_xasprintf("%s: key '%s': %s", w, cred_urls[i], why)
					       : rp_xasprintf("key '%s' (%s): %s", cred_urls[i], w, why));
		return -1;
	}
	int fl[RP_HOURS];
	char *why = NULL;
	if (rp_warm_pool_parse(rp_cfg_json(c, "scale.warm_pool"), rp_cfg_int(c, "runpod.max_nodes"), fl, &why) < 0) {
		const char *w = rp_cfg_where(c, "scale.warm_pool");
		*err = one_line(strchr(w, ':') ? rp_xasprintf("%s: key 'scale.warm_pool': %s", w, why)
					       : rp_xasprintf("key 'scale.warm_pool' (%s): %s", w, why));
		free(why);
		return -1;
	}
	const char *fs = rp_cfg_str(c, "fleet.store");
	if (fs && strcmp(fs, "local") && strcmp(fs, "kafka")) {
		const char *w = rp_cfg_where(c, "fleet.store");
		*err = one_line(rp_xasprintf("%s%skey 'fleet.store': expected local or kafka, got '%s'",
					     strchr(w, ':') ? w : "", strchr(w, ':') ? ": " : "", fs));
		return -1;
	}
	return 0;
}

int rp_cfg_set(struct rp_config *c, const char *key, const char *value, char **err)
{
	const struct key *k = find(key);
	if (!k) {
		*err = one_line(rp_xasprintf("unknown config key '%s'", key));
		return -1;
	}
	char *why = NULL;
	cJSON *v = typed(k, value, NULL, &why);
	if (!v) {
		*err = one_line(rp_xasprintf("key '%s': %s", key, why));
		free(why);
		return -1;
	}
	put(c, key, v, "flag");
	return 0;
}

int rp_cfg_append(struct rp_config *c, const char *key, const char *value, char **err)
{
	const struct key *k = find(key);
	if (!k || k->kind != L) {
		*err = one_line(rp_xasprintf("config key '%s' is not a list", key));
		return -1;
	}
	if (!cJSON_GetObjectItemCaseSensitive(c->appended, key)) {
		cJSON_AddItemToObject(c->appended, key, cJSON_CreateTrue());
		put(c, key, cJSON_CreateArray(), "flag");
	}
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(c->vals, key), cJSON_CreateString(value));
	return 0;
}

static const cJSON *get(const struct rp_config *c, const char *key, enum kind want)
{
	const struct key *k = find(key);
	if (!k || (k->kind != want && !(want == N && (k->kind == I || k->kind == D)))) {
		fprintf(stderr, "%s: internal error: config key '%s' read as the wrong type\n", rp_prog, key);
		abort();
	}
	return cJSON_GetObjectItemCaseSensitive(c->vals, key);
}

const char *rp_cfg_str(const struct rp_config *c, const char *key)
{
	const cJSON *v = get(c, key, S);
	return v ? v->valuestring : NULL;
}

double rp_cfg_num(const struct rp_config *c, const char *key)
{
	const cJSON *v = get(c, key, N);
	return v ? v->valuedouble : 0;
}

long rp_cfg_int(const struct rp_config *c, const char *key)
{
	const cJSON *v = get(c, key, I);
	return v ? (long)v->valuedouble : 0;
}

int rp_cfg_bool(const struct rp_config *c, const char *key)
{
	return cJSON_IsTrue(get(c, key, B));
}

double rp_cfg_dur(const struct rp_config *c, const char *key)
{
	const cJSON *v = get(c, key, D);
	return v ? v->valuedouble : 0;
}

const cJSON *rp_cfg_json(const struct rp_config *c, const char *key)
{
	const struct key *k = find(key);
	if (!k || (k->kind != L && k->kind != M)) {
		fprintf(stderr, "%s: internal error: config key '%s' is not a list or map\n", rp_prog, key);
		abort();
	}
	return cJSON_GetObjectItemCaseSensitive(c->vals, key);
}

const char *rp_cfg_where(const struct rp_config *c, const char *key)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(c->where, key);
	return w ? w->valuestring : "unset";
}

char *rp_cfg_secret(const struct rp_config *c, const char *file_key, const char *envname, char **err)
{
	const char *path = rp_cfg_str(c, file_key);
	*err = NULL;
	if (path && *path) {
		struct stat st;
		if (stat(path, &st) < 0) {
			*err = rp_xasprintf("%s (%s, from %s): cannot read: %s", file_key, path,
					    rp_cfg_where(c, file_key), strerror(errno));
			return NULL;
		}
		if (st.st_mode & 077) {
			*err = rp_xasprintf("%s (%s): secret file must not be readable by group or others "
					    "(mode %04o; chmod 600 it)", file_key, path, (unsigned)(st.st_mode & 07777));
			return NULL;
		}
		size_t len;
		char *s = rp_read_file(path, 65536, &len);
		if (!s) {
			*err = rp_xasprintf("%s (%s): cannot read: %s", file_key, path, strerror(errno));
			return NULL;
		}
		while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
			s[--len] = 0;
		if (!len || memchr(s, '\n', len)) {
			free(s);
			*err = rp_xasprintf("%s (%s): expected one line holding the secret", file_key, path);
			return NULL;
		}
		rp_log_secret(s);
		return s;
	}
	const char *e = envname ? getenv(envname) : NULL;
	if (e && *e) {
		rp_log_secret(e);
		return rp_xstrdup(e);
	}
	*err = rp_xasprintf("no secret: set %s in %s or the environment variable %s", file_key,
			    c->path, envname ? envname : "(none)");
	return NULL;
}

void rp_config_dump(const struct rp_config *c, FILE *f)
{
	for (const struct key *k = schema; k->name; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->vals, k->name);
		char *s = v ? cJSON_PrintUnformatted(v) : rp_xstrdup("(unset)");
		fprintf(f, "%-28s %-50s # %s\n", k->name, s, rp_cfg_where(c, k->name));
		free(s);
	}
}

/* One line of meaning per key, for the example configuration (the same
 * words as rp-config(5)).  rp_config_example() refuses a schema key with
 * no line here, and a line here for no key, so the example cannot drift. */
static const struct {
	const char *name, *doc;
} key_docs[] = {
	{ "cluster", "Cluster name; pods are named <cluster>-burst-<id>." },
	{ "runpod.api_url", "RunPod REST v2 base URL." },
	{ "runpod.graphql_url", "RunPod GraphQL URL (spot pods only)." },
	{ "runpod.api_key_file", "File (mode 0600) holding the API key; else $RUNPOD_API_KEY." },
	{ "runpod.gpu_types", "GPU type ids in order of preference." },
	{ "runpod.data_centers", "Data centre ids in order of preference; empty: any." },
	{ "runpod.cloud", "SECURE or COMMUNITY." },
	{ "runpod.order", "preference (as listed), price (cheapest first) or value (cheapest per unit of cost.throughput; a type with throughput 0 is never tried)." },
	{ "runpod.spot", "Rent interruptible (spot) pods through GraphQL." },
	{ "runpod.spot_fallback", "Fall back to on-demand when no spot pod can be had." },
	{ "runpod.max_bid_per_gpu", "Highest spot bid per GPU-hour, USD." },
	{ "runpod.min_cuda_version", "Lowest host CUDA version the image needs (e.g. 12.4); unset: any." },
	{ "runpod.spot_bid", "Spot bid: floor, spot_price, or USD per GPU-hour (never above max_bid_per_gpu)." },
	{ "runpod.image", "Container image of burst pods." },
	{ "runpod.disk_gb", "Container disk, GB." },
	{ "runpod.gpu_count", "GPUs per pod." },
	{ "runpod.ports", "Exposed ports (22/tcp is needed for SSH)." },
	{ "runpod.env", "Environment of burst pods (map)." },
	{ "runpod.max_nodes", "Most burst pods at once (counted from the API)." },
	{ "runpod.ready_timeout", "How long a pod may take to be ready before it is terminated." },
	{ "runpod.poll_interval", "Readiness polling interval." },
	{ "runpod.request_timeout", "Timeout of one API request." },
	{ "runpod.terminate_after", "Dead-man switch for spot pods (GraphQL terminateAfter)." },
	{ "runpod.concurrency", "API requests in flight at once." },
	{ "ssh.user", "SSH user on pods." },
	{ "ssh.identity_file", "Private key for SSH." },
	{ "ssh.public_key_file", "Public key sent to RunPod as PUBLIC_KEY, so a pod starts sshd (default: ssh.identity_file with .pub)." },
	{ "ssh.known_hosts", "Known hosts file (default $RP_STATE_DIR/known_hosts); a changed key is refused." },
	{ "ssh.port", "Default SSH port when a record names none." },
	{ "ssh.connect_timeout", "SSH connect timeout." },
	{ "ssh.command_timeout", "Timeout of one remote command." },
	{ "ssh.concurrency", "Hosts handled at once." },
	{ "ssh.egress_counters", "File on a pod read over SSH for its transmitted bytes (/proc/net/dev format: tx_bytes of every interface but lo); rp-join --egress." },
	{ "kube.kubeconfig", "kubeconfig (default $KUBECONFIG, ~/.kube/config)." },
	{ "kube.labels", "Labels of burst nodes (list of k=v or a map)." },
	{ "kube.taints", "Extra taints of burst nodes (key=value:Effect)." },
	{ "kube.bootstrap", "kubeadm or worker." },
	{ "kube.worker_command", "Command that starts a worker in worker mode." },
	{ "kube.forwards", "SSH tunnel forwards, see rp-join(1)." },
	{ "kube.token_ttl", "Bootstrap token lifetime (at most 1h)." },
	{ "kube.join_timeout", "How long a node may take to become Ready." },
	{ "kube.api_server_endpoint", "host:port the pods join (default: the kubeconfig server's)." },
	{ "kube.api_server_tunnel", "Join through a tunnel: the pod's 127.0.0.1 port that an R: forward of "
				    "kube.forwards carries to the API server (0: no tunnel)." },
	{ "kube.api_server_name", "A tunnelled join's tls-server-name: a name in the API server's certificate." },
	{ "kube.startup_taint", "Taint a joining node carries until it is Ready." },
	{ "kube.virtual_interval", "rp-join --virtual: how often the node heartbeats and its pods are reconciled." },
	{ "kube.virtual_lease", "rp-join --virtual: leaseDurationSeconds of the node's Lease in kube-node-lease." },
	{ "kube.virtual_kubelet_port", "rp-join --virtual: port of the kubelet API that serves kubectl logs (0: off)." },
	{ "kube.virtual_kubelet_address", "rp-join --virtual: IP the kubelet API listens on, the Node's InternalIP." },
	{ "kube.virtual_kubelet_cert", "rp-join --virtual: kubelet API serving certificate (PEM; the API server's kubelet CA signs it)." },
	{ "kube.virtual_kubelet_key", "rp-join --virtual: private key of kube.virtual_kubelet_cert." },
	{ "kube.virtual_kubelet_client_ca", "rp-join --virtual: CA that signs the API server's kubelet-client certificate." },
	{ "kube.virtual_log_file", "rp-join --virtual: where a RunPod pod's container output is captured (kubectl logs)." },
	{ "kafka.bootstrap_servers", "Kafka bootstrap list." },
	{ "kafka.group", "Consumer group(s) to watch." },
	{ "kafka.topic", "Topic(s) to watch." },
	{ "kafka.lag_threshold", "Scale up when total lag exceeds this (messages per node)." },
	{ "kafka.offset_policy", "latest (a partition with no commit counts 1) or earliest (whole log)." },
	{ "kafka.timeout", "Kafka request timeout." },
	{ "lagwatch.listen", "Address rp-lagwatch --serve listens on (HOST:PORT, [V6]:PORT, :PORT for all)." },
	{ "lagwatch.token_file", "File (0600) with the bearer token --serve requires on /scaler and /metrics; unset: none." },
	{ "fleet.store", "Where the ledger lives: local (this host's file) or kafka (replicated to fleet.topic; every replica reads it; idle marks then live on the Nodes)." },
	{ "fleet.topic", "Kafka topic of the replicated ledger (1 partition, replication 3, min.insync.replicas 2, no retention limit)." },
	{ "fleet.timeout", "How long a ledger line may wait for the fleet store's acknowledgement." },
	{ "prometheus.url", "Prometheus base URL." },
	{ "prometheus.query", "PromQL returning one p95 latency in seconds." },
	{ "prometheus.threshold", "Scale up when p95 exceeds this many seconds." },
	{ "prometheus.timeout", "Prometheus request timeout." },
	{ "scale.idle", "A burst node idle longer than this may be drained." },
	{ "scale.cooldown", "No scale-down within this time of a scale-up." },
	{ "scale.step", "Disruption budget of one drain: N nodes or P% of burst nodes (at least 1)." },
	{ "scale.notready_grace", "A burst node NotReady longer than this is lost: drained by force." },
	{ "scale.warm_pool", "Floor of burst nodes by hour of day, UTC: {\"08-18\": 2, \"18-22\": 1} (start included, end not; 0 to runpod.max_nodes); {}: none." },
	{ "scale.prewarm", "Keep rp-cost prewarm's floor ($RP_STATE_DIR/prewarm.json) as well as the warm pool: the larger holds." },
	{ "drain.timeout", "Overall timeout of one drain." },
	{ "drain.checkpoint_command", "Final checkpoint hook run by rp-drain before termination." },
	{ "drain.force", "Evict pods with no controller (kubectl drain --force)." },
	{ "drain.delete_emptydir_data", "Evict pods with emptyDir volumes (their data is lost)." },
	{ "drain.terminate_timeout", "How long rp-drain retries terminating a pod before it gives up." },
	{ "drain.worker_stop_command", "Remote command that tells a worker-mode pod to stop taking work." },
	{ "drain.worker_marker", "File a worker writes on the pod once its final checkpoint is saved." },
	{ "s3.endpoint", "S3/MinIO endpoint URL (path-style)." },
	{ "s3.bucket", "Checkpoint bucket." },
	{ "s3.region", "S3 region for SigV4." },
	{ "s3.access_key_file", "File (0600) with the access key; else $AWS_ACCESS_KEY_ID." },
	{ "s3.secret_key_file", "File (0600) with the secret key; else $AWS_SECRET_ACCESS_KEY." },
	{ "s3.encryption_key_file", "File (0600): 64 hex characters, the AES-256 key for DRM keys." },
	{ "s3.signing_key_file", "File (0600): 64 hex characters; manifests are signed (HMAC, a key per job) and unsigned ones refused." },
	{ "worker.s3_access_key_file", "File (0600): the access key worker-mode pods get (a MinIO user limited to the checkpoint bucket), never the controller's." },
	{ "worker.s3_secret_key_file", "File (0600): that user's secret key; without both, a worker gets no S3 keys." },
	{ "s3.multipart_threshold", "Objects larger than this (bytes) use multipart upload." },
	{ "s3.part_size", "Multipart part size (bytes, at least 5 MiB)." },
	{ "s3.parallel", "Transfers at once." },
	{ "s3.timeout", "Timeout of one S3 request." },
	{ "s3.retries", "Retries of one S3 request on 5xx or timeouts." },
	{ "cost.prices", "Map of GPU id to {on_demand, spot} USD per GPU-hour." },
	{ "cost.baseline", "{monthly_capex, power_kw, kwh_price, gpus} of one baseline server." },
	{ "cost.baseline_gpu", "GPU type of the baseline servers." },
	{ "cost.hours_per_month", "Hours in a month for monthly figures." },
	{ "cost.egress_per_gb", "Egress price, USD per GB (10^9 bytes) the pods send: 0 as RunPod charges none; your origin or CDN may." },
	{ "cost.throughput", "Map of GPU id to jobs one GPU encodes at once (its NVENC engines; 0: never rented to encode; unlisted: 1)." },
	{ "cost.preempt_per_hour", "Simulator: spot preemptions per node-hour." },
	{ "cost.spot_stock", "Simulator: chance a spot launch finds capacity at the bid (else on-demand fallback or none)." },
	{ "cost.boot", "Simulator: median pod boot time (lognormal, clipped to 60s..10m)." },
	{ "cost.boot_sigma", "Simulator: spread (sigma of the log) of boot times; 0: every boot takes cost.boot." },
	{ "cost.job_sigma", "Simulator: spread (sigma of the log) of job sizes around the trace's mean; 0: exact." },
};

static const char *key_doc(const char *name)
{
	for (size_t i = 0; i < sizeof key_docs / sizeof key_docs[0]; i++)
		if (!strcmp(key_docs[i].name, name))
			return key_docs[i].doc;
	return NULL;
}

int rp_config_example(FILE *f)
{
	for (size_t i = 0; i < sizeof key_docs / sizeof key_docs[0]; i++)
		if (!find(key_docs[i].name)) {
			fprintf(f, "# error: a description for no key: %s\n", key_docs[i].name);
			return -1;
		}
	fputs("# rp configuration: every key, its default and what it means, generated\n"
	      "# from the schema in common/config.c (see rp-config(5)).  Copy it to\n"
	      "# /etc/rp/config.yaml (or point $RP_CONFIG or -c at it) and change what\n"
	      "# differs; keys left out keep these defaults.  Commented keys have no\n"
	      "# default.  Secrets are never values here: the *_file keys name 0600 files.\n",
	      f);
	const char *sect = "";
	size_t sl = 0;
	for (const struct key *k = schema; k->name; k++) {
		const char *doc = key_doc(k->name), *dot = strchr(k->name, '.');
		if (!doc) {
			fprintf(f, "# error: key %s has no description\n", k->name);
			return -1;
		}
		size_t nl = dot ? (size_t)(dot - k->name) : 0;
		if (nl != sl || strncmp(sect, k->name, nl)) {
			for (const struct key *p = schema; p < k; p++) /* a section is written once */
				if (nl && !strncmp(p->name, k->name, nl) && p->name[nl] == '.') {
					fprintf(f, "# error: section of %s is not contiguous in the schema\n", k->name);
					return -1;
				}
			sect = k->name, sl = nl;
			/* a section none of whose keys has a default is commented
			 * out too: "worker:" alone would be a null, not a mapping */
			int any = 0;
			for (const struct key *q = k; nl && q->name && !strncmp(q->name, k->name, nl) && q->name[nl] == '.'; q++)
				any |= q->def != NULL;
			if (nl)
				fprintf(f, "\n%s%.*s:\n", any ? "" : "# ", (int)nl, k->name);
		}
		const char *ind = nl ? "  " : "", *name = nl ? dot + 1 : k->name;
		fprintf(f, "%s%s# %s\n", nl ? "" : "\n", ind, doc);
		if (!k->def) {
			fprintf(f, "%s# %s:\n", ind, name);
			continue;
		}
		char *v = NULL;
		cJSON *j = NULL;
		if (k->kind == L || k->kind == M)
			j = cJSON_Parse(k->def);
		else if (k->kind == S)
			j = cJSON_CreateString(k->def);
		if (j)
			v = cJSON_PrintUnformatted(j);
		fprintf(f, "%s%s: %s\n", ind, name, v ? v : k->def);
		free(v);
		cJSON_Delete(j);
	}
	return ferror(f) ? -1 : 0;
}
