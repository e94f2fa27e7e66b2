/* kube.c — kubeconfig and API requests. */
#include "kube.h"
#include "log.h"
#include "rp.h"
#include "yamltree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

struct rp_kube {
	char *server;
	char *ca_pem;
	char *token;
	char *cert_pem, *key_pem;
};

static const cJSON *named(const cJSON *list, const char *name, const char *field)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
			return cJSON_GetObjectItemCaseSensitive(e, field);
	}
	return NULL;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *b64dec(const char *in)
{
	size_t n = strlen(in);
	unsigned char *out = rp_xmalloc(n + 4);
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	int pad = 0;
	while (n && in[n - 1] == '=') { /* DecodeBlock counts padding */
		pad++;
		n--;
	}
	if (pad > 2 || pad > len) { /* "====": no block has 3 pads; len went -1 */
		free(out);
		return NULL;
	}
	len -= pad;
	out[len] = 0;
	return (char *)out;
}

/* Inline data (base64) or a file path, relative to the kubeconfig's dir. */
static char *material(const cJSON *o, const char *datakey, const char *filekey, const char *dir,
		      char **err)
{
	const char *d = str(o, datakey);
	if (d) {
		char *v = b64dec(d);
		if (!v)
			*err = rp_xasprintf("kubeconfig: %s is not valid base64", datakey);
		return v;
	}
	const char *f = str(o, filekey);
	if (!f)
		return NULL;
	char *path = (f[0] == '/') ? rp_xstrdup(f) : rp_xasprintf("%s/%s", dir, f);
	char *v = rp_read_file(path, 1 << 20, NULL);
	if (!v)
		*err = rp_xasprintf("kubeconfig: %s %s: %s", filekey, path, strerror(errno));
	free(path);
	return v;
}

static struct rp_kube *parse(const char *text, size_t len, const char *path, char **err, int *cleartext);

struct rp_kube *rp_kube_open(const char *path, char **err)
{
	*err = NULL;
	char *home = NULL;
	if (!path || !*path)
		path = getenv("KUBECONFIG");
	if (path && strchr(path, ':'))
		*strchr((char *)(path = home = rp_xstrdup(path)), ':') = 0;
	if (!path || !*path) {
		const char *h = getenv("HOME");
		path = home = rp_xasprintf("%s/.kube/config", h ? h : "");
	}
	size_t len;
	char *text = rp_read_file(path, 4 << 20, &len);
	if (!text) {
		*err = rp_xasprintf("%s: cannot read: %s", path, strerror(errno));
		free(home);
		return NULL;
	}
	int cleartext = 0;
	struct rp_kube *k = parse(text, len, path, err, &cleartext);
	free(text);
	free(home);
	if (cleartext) /* no retry can fix it, whatever a tool does with other kubeconfig errors */
		rp_fatal(RP_EXIT_USAGE, "%s", *err);
	return k;
}

struct rp_kube *rp_kube_parse(const char *text, size_t len, const char *path, char **err)
{
	int cleartext = 0;
	return parse(text, len, path, err, &cleartext);
}

static struct rp_kube *parse(const char *text, size_t len, const char *path, char **err, int *cleartext)
{
	*err = NULL;
	cJSON *doc = rp_yaml_parse(text, len, path, err);
	if (!doc)
		return NULL;
	char *dir = rp_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	struct rp_kube *k = rp_xcalloc(1, sizeof *k);
	const char *ctxname = str(doc, "current-context");
	const cJSON *ctx = ctxname ? named(cJSON_GetObjectItemCaseSensitive(doc, "contexts"), ctxname, "context")
				   : NULL;
	if (!ctx) {
		const cJSON *cs = cJSON_GetObjectItemCaseSensitive(doc, "contexts");
		if (cJSON_GetArraySize(cs) == 1)
			ctx = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cs, 0), "context");
	}
	const char *cname = ctx ? str(ctx, "cluster") : NULL;
	const char *uname = ctx ? str(ctx, "user") : NULL;
	const cJSON *cl = cname ? named(cJSON_GetObjectItemCaseSensitive(doc, "clusters"), cname, "cluster") : NULL;
	const cJSON *us = uname ? named(cJSON_GetObjectItemCaseSensitive(doc, "users"), uname, "user") : NULL;
	if (!cl || !str(cl, "server")) {
		*err = rp_xasprintf("%s: no cluster server for the current context", path);
		goto bad;
	}
	const char *insecure = str(cl, "insecure-skip-tls-verify");
	if (insecure && !strcmp(insecure, "true")) {
		*err = rp_xasprintf("%s: insecure-skip-tls-verify is refused: pin the cluster CA", path);
		goto bad;
	}
	const char *why = rp_http_cleartext(str(cl, "server"));
	if (why) {
		*err = rp_xasprintf("%s:%d: cluster '%s' server: %s", path,
				    rp_yaml_line(cJSON_GetObjectItemCaseSensitive(cl, "server")), cname, why);
		for (char *p = *err; *p; p++) /* one line, whatever the name holds */
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		*cleartext = 1;
		goto bad;
	}
	k->server = rp_xstrdup(str(cl, "server"));
	size_t sl = strlen(k->server);
	if (sl && k->server[sl - 1] == '/')
		k->server[sl - 1] = 0;
	k->ca_pem = material(cl, "certificate-authority-data", "certificate-authority", dir, err);
	if (*err)
		goto bad;
	if (us) {
		const char *t = str(us, "token");
		if (t) {
			k->token = rp_xstrdup(t);
		} else if (str(us, "tokenFile")) {
			k->token = rp_read_file(str(us, "tokenFile"), 65536, NULL);
			if (!k->token) {
				*err = rp_xasprintf("%s: tokenFile %s: %s", path, str(us, "tokenFile"), strerror(errno));
				goto bad;
			}
			k->token[strcspn(k->token, "\r\n")] = 0;
		}
		k->cert_pem = material(us, "client-certificate-data", "client-certificate", dir, err);
		if (*err)
			goto bad;
		k->key_pem = material(us, "client-key-data", "client-key", dir, err);
		if (*err)
			goto bad;
	}
	if (k->token)
		rp_log_secret(k->token);
	cJSON_Delete(doc);
	free(dir);
	return k;
bad:
	cJSON_Delete(doc);
	free(dir);
	rp_kube_free(k);
	return NULL;
}

void rp_kube_free(struct rp_kube *k)
{
	if (!k)
		return;
	free(k->server);
	free(k->ca_pem);
	free(k->token);
	free(k->cert_pem);
	free(k->key_pem);
	free(k);
}

const char *rp_kube_server(const struct rp_kube *k)
{
	return k->server;
}

const char *rp_kube_ca_pem(const struct rp_kube *k)
{
	return k->ca_pem;
}

void rp_kube_prep(struct rp_kube *k, struct rp_http_req *req, const char *path, char **url_out)
{
	*url_out = rp_xasprintf("%s%s", k->server, path);
	req->url = *url_out;
	req->ca_pem = k->ca_pem;
	req->bearer = k->token;
	req->cert_pem = k->cert_pem;
	req->key_pem = k->key_pem;
	if (!req->timeout)
		req->timeout = 30;
	if (!req->connect_timeout)
		req->connect_timeout = 5;
}

const char *rp_kube_errmsg(long status, const cJSON *out)
{
	static _Thread_local char buf[512]; /* one per thread: callers may be threads */
	const char *m = out ? str(out, "message") : NULL;
	char *red = rp_redact(m ? m : "");
	snprintf(buf, sizeof buf, "HTTP %ld%s%s", status, *red ? ": " : "", red);
	free(red);
	for (char *p = buf; *p; p++) /* one line, whatever the server wrote */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return buf;
}

int rp_kube_call(struct rp_kube *k, const char *method, const char *path, const char *ctype,
		 const cJSON *body, long *status, cJSON **out, char **err)
{
	struct rp_http_req req = { .method = method };
	struct rp_http_resp resp;
	char *url, *b = NULL;
	const char *hdrs[] = { "Accept: application/json", NULL };
	*err = NULL;
	if (out)
		*out = NULL;
	rp_kube_prep(k, &req, path, &url);
	req.headers = hdrs;
	if (body) {
		b = cJSON_PrintUnformatted(body);
		req.body = b;
		req.body_len = strlen(b);
		req.content_type = ctype ? ctype : "application/json";
	}
	req.retries = (!method || !strcmp(method, "GET")) ? 3 : 0;
	int r = rp_http_do(&req, &resp);
	free(url);
	free(b);
	if (r < 0) {
		*err = rp_xasprintf("kubernetes API %s: %s", k->server, rp_http_errstr(&resp));
		rp_http_resp_free(&resp);
		return -1;
	}
	*status = resp.status;
	if (out && resp.body && resp.len)
		*out = cJSON_Parse(resp.body);
	rp_http_resp_free(&resp);
	return 0;
}

int rp_kube_list(struct rp_kube *k, const char *path, cJSON **list, const cJSON **items, char **err)
{
	long st;
	*list = NULL;
	*items = NULL;
	if (rp_kube_call(k, "GET", path, NULL, NULL, &st, list, err) < 0)
		return RP_EXIT_TEMP;
	if (st != 200) {
		*err = rp_xasprintf("kubernetes API GET %s: %s", path, rp_kube_errmsg(st, *list));
		cJSON_Delete(*list);
		*list = NULL;
		return st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL;
	}
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(*list, "items");
	if (!cJSON_IsArray(it)) {
		*err = rp_xasprintf("kubernetes API GET %s: answer has no items", path);
		cJSON_Delete(*list);
		*list = NULL;
		return RP_EXIT_FAIL;
	}
	*items = it;
	return 0;
}

static const cJSON *meta(const cJSON *o, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), field);
}

const char *rp_kube_label(const cJSON *obj, const char *key)
{
	return str(meta(obj, "labels"), key);
}

const char *rp_kube_annotation(const cJSON *obj, const char *key)
{
	return str(meta(obj, "annotations"), key);
}

int rp_kube_pod_is_mirror(const cJSON *pod)
{
	return rp_kube_annotation(pod, "kubernetes.io/config.mirror") != NULL;
}

int rp_kube_pod_is_daemonset(const cJSON *pod)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, meta(pod, "ownerReferences"))
	{
		const char *kind = str(o, "kind");
		const cJSON *ctl = cJSON_GetObjectItemCaseSensitive(o, "controller");
		if (kind && !strcmp(kind, "DaemonSet") && cJSON_IsTrue(ctl))
			return 1;
	}
	return 0;
}

int rp_kube_pod_is_finished(const cJSON *pod)
{
	const char *ph = str(cJSON_GetObjectItemCaseSensitive(pod, "status"), "phase");
	return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

int rp_kube_node_ready(const cJSON *node)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "status"),
								 "conditions"))
	{
		const char *t = str(c, "type"), *s = str(c, "status");
		if (t && s && !strcmp(t, "Ready"))
			return !strcmp(s, "True");
	}
	return 0;
}

char *rp_kube_data(const cJSON *obj, const char *key, int secret)
{
	const char *v = str(cJSON_GetObjectItemCaseSensitive(obj, "data"), key);
	if (!v)
		return NULL;
	return secret ? b64dec(v) : rp_xstrdup(v);
}
