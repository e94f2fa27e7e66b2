/* kube.c — kubeconfig and API requests. */
#include "kube.h"
#include "log.h"
#include "rp.h"
#include "yamltree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>

extern char **environ;

/* How the user's credential is kept fresh: a token file is re-read (a
 * projected service-account token rotates), an exec plugin re-run, once
 * the cached one is due. */
enum { CRED_STATIC, CRED_FILE, CRED_EXEC };

struct rp_kube {
	char *server;
	char *ca_pem;
	char *token;
	char *cert_pem, *key_pem;
	int cred;
	char *token_file;   /* CRED_FILE */
	cJSON *exec;        /* CRED_EXEC: the user's exec block, its command resolved */
	char *exec_what;    /* "FILE: user 'u'" for errors */
	double due;         /* rp_mono() when the credential is to be renewed; 0 never */
	char **old;         /* replaced credentials: a request in flight may still use one */
	size_t nold;
	pthread_mutex_t mu;
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

static struct rp_kube *parse(cJSON *doc, const char *path, char **err, int *cleartext);
static int renew(struct rp_kube *k, char **err);

static char *dir_of(const char *path)
{
	char *dir = rp_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	return dir;
}

/* Every named entry (cluster, user, context) remembers the file it came
 * from, for relative paths and messages. */
#define FROM "\001from"

static void mark_origin(cJSON *doc, const char *path)
{
	static const char *const lists[] = { "clusters", "users", "contexts" };
	const char *const fields[] = { "cluster", "user", "context" };
	for (int i = 0; i < 3; i++) {
		cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, lists[i]))
		{
			cJSON *o = cJSON_GetObjectItemCaseSensitive(e, fields[i]);
			if (cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, FROM))
				cJSON_AddStringToObject(o, FROM, path);
		}
	}
}

/* kubectl's merge of several kubeconfig files: the first file to set
 * current-context wins; a cluster, user or context is the first one of
 * its name. */
static void merge_into(cJSON *into, cJSON *doc)
{
	static const char *const lists[] = { "clusters", "users", "contexts" };
	if (!cJSON_GetObjectItemCaseSensitive(into, "current-context") &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "current-context")) &&
	    *cJSON_GetObjectItemCaseSensitive(doc, "current-context")->valuestring)
		cJSON_AddItemToObject(into, "current-context",
				      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "current-context"), 1));
	for (int i = 0; i < 3; i++) {
		cJSON *have = cJSON_GetObjectItemCaseSensitive(into, lists[i]), *e;
		if (!have)
			have = cJSON_AddArrayToObject(into, lists[i]);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, lists[i]))
		{
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name"), *h;
			int dup = 0;
			cJSON_ArrayForEach(h, have)
			{
				const cJSON *hn = cJSON_GetObjectItemCaseSensitive(h, "name");
				dup |= cJSON_IsString(n) && cJSON_IsString(hn) && !strcmp(n->valuestring, hn->valuestring);
			}
			if (!dup)
				cJSON_AddItemToArray(have, cJSON_Duplicate(e, 1));
		}
	}
}

static cJSON *load_doc(const char *path, int must, char **err)
{
	size_t len;
	char *text = rp_read_file(path, 4 << 20, &len);
	if (!text) {
		if (must || errno != ENOENT)
			*err = rp_xasprintf("%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	cJSON *doc = rp_yaml_parse(text, len, path, err);
	free(text);
	if (doc)
		mark_origin(doc, path);
	return doc;
}

const char *rp_kube_sa_dir(void)
{
	const char *d = getenv("RP_TEST_SA_DIR"); /* tests only: see kube.h */
	return d && *d ? d : "/var/run/secrets/kubernetes.io/serviceaccount";
}

/* The pod's own service account, as client-go's InClusterConfig reads it. */
static struct rp_kube *in_cluster(char **err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = rp_kube_sa_dir();
	struct rp_kube *k = rp_xcalloc(1, sizeof *k);
	pthread_mutex_init(&k->mu, NULL);
	k->server = rp_xasprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	char *ca = rp_xasprintf("%s/ca.crt", dir);
	k->ca_pem = rp_read_file(ca, 1 << 20, NULL);
	if (!k->ca_pem)
		*err = rp_xasprintf("in-cluster config: %s: %s", ca, strerror(errno));
	free(ca);
	k->cred = CRED_FILE;
	k->token_file = rp_xasprintf("%s/token", dir);
	if (!*err)
		renew(k, err);
	if (*err) {
		rp_kube_free(k);
		return NULL;
	}
	return k;
}

struct rp_kube *rp_kube_open(const char *path, char **err)
{
	*err = NULL;
	cJSON *doc = NULL;
	const char *name = NULL;
	char *home = NULL;
	if (path && *path) {
		doc = load_doc(path, 1, err);
		name = path;
	} else if (getenv("KUBECONFIG") && *getenv("KUBECONFIG")) {
		/* several files, merged as kubectl does; missing ones are skipped */
		char *list = rp_xstrdup(getenv("KUBECONFIG")), *save = NULL;
		for (char *f = strtok_r(list, ":", &save); f && !*err; f = strtok_r(NULL, ":", &save)) {
			cJSON *d = load_doc(f, 0, err);
			if (!d)
				continue;
			if (!doc) {
				doc = cJSON_CreateObject();
				name = home = rp_xstrdup(f);
			}
			merge_into(doc, d);
			cJSON_Delete(d);
		}
		free(list);
		if (!doc && !*err)
			*err = rp_xasprintf("KUBECONFIG=%s: none of its files exists", getenv("KUBECONFIG"));
	} else {
		const char *h = getenv("HOME");
		name = home = rp_xasprintf("%s/.kube/config", h ? h : "");
		if (access(home, F_OK) < 0 && getenv("KUBERNETES_SERVICE_HOST") && getenv("KUBERNETES_SERVICE_PORT")) {
			free(home);
			return in_cluster(err);
		}
		doc = load_doc(home, 1, err);
	}
	if (!doc) {
		free(home);
		return NULL;
	}
	int cleartext = 0;
	struct rp_kube *k = parse(doc, name, err, &cleartext);
	free(home);
	if (cleartext) /* no retry can fix it, whatever a tool does with other kubeconfig errors */
		rp_fatal(RP_EXIT_USAGE, "%s", *err);
	if (k && k->cred == CRED_EXEC && renew(k, err) < 0) {
		rp_kube_free(k);
		return NULL;
	}
	return k;
}

struct rp_kube *rp_kube_parse(const char *text, size_t len, const char *path, char **err)
{
	int cleartext = 0;
	*err = NULL;
	cJSON *doc = rp_yaml_parse(text, len, path, err);
	if (!doc)
		return NULL;
	mark_origin(doc, path);
	return parse(doc, path, err, &cleartext);
}

/* Takes doc. */
static struct rp_kube *parse(cJSON *doc, const char *path, char **err, int *cleartext)
{
	*err = NULL;
	char *dir = NULL;
	struct rp_kube *k = rp_xcalloc(1, sizeof *k);
	pthread_mutex_init(&k->mu, NULL);
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
	dir = dir_of(str(cl, FROM) ? str(cl, FROM) : path);
	k->ca_pem = material(cl, "certificate-authority-data", "certificate-authority", dir, err);
	if (*err)
		goto bad;
	if (us) {
		/* a user's relative paths are relative to the file it came from */
		const char *upath = str(us, FROM) ? str(us, FROM) : path;
		free(dir);
		dir = dir_of(upath);
		const char *t = str(us, "token");
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(us, "exec");
		if (t) {
			k->token = rp_xstrdup(t);
		} else if (str(us, "tokenFile")) {
			const char *f = str(us, "tokenFile");
			k->cred = CRED_FILE;
			k->token_file = f[0] == '/' ? rp_xstrdup(f) : rp_xasprintf("%s/%s", dir, f);
			if (renew(k, err) < 0) {
				char *e = rp_xasprintf("%s: %s", upath, *err);
				free(*err);
				*err = e;
				goto bad;
			}
		} else if (cJSON_IsObject(ex)) {
			const char *av = str(ex, "apiVersion"), *cmd = str(ex, "command");
			if (!av || strcmp(av, "client.authentication.k8s.io/v1")) {
				*err = rp_xasprintf("%s:%d: user '%s': exec apiVersion '%s': only "
						    "client.authentication.k8s.io/v1 is supported", upath,
						    rp_yaml_line(ex), uname, av ? av : "");
				goto bad;
			}
			if (!cmd || !*cmd) {
				*err = rp_xasprintf("%s:%d: user '%s': exec has no command", upath, rp_yaml_line(ex), uname);
				goto bad;
			}
			k->cred = CRED_EXEC;
			k->exec = cJSON_Duplicate(ex, 1);
			/* as client-go: a relative command with a slash is relative to its kubeconfig */
			if (cmd[0] != '/' && strchr(cmd, '/')) {
				char *abs = rp_xasprintf("%s/%s", dir, cmd);
				cJSON_ReplaceItemInObjectCaseSensitive(k->exec, "command", cJSON_CreateString(abs));
				free(abs);
			}
			k->exec_what = rp_xasprintf("%s: user '%s' exec", upath, uname);
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
	free(k->token_file);
	cJSON_Delete(k->exec);
	free(k->exec_what);
	for (size_t i = 0; i < k->nold; i++)
		free(k->old[i]);
	free(k->old);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static void retire(struct rp_kube *k, char *s)
{
	if (!s)
		return;
	k->old = rp_xrealloc(k->old, (k->nold + 1) * sizeof *k->old);
	k->old[k->nold++] = s;
}

/* Run the exec plugin: no shell, its args and env added to ours,
 * KUBERNETES_EXEC_INFO set, stdin closed; its stdout (at most 1 MiB, 60 s)
 * must be an ExecCredential of the same apiVersion.  Its stderr is ours. */
static int run_exec(struct rp_kube *k, char **err)
{
	const cJSON *ex = k->exec, *a, *e;
	const char *cmd = str(ex, "command");
	size_t na = 1, ne = 0;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ex, "args")) na++;
	for (char **p = environ; *p; p++)
		ne++;
	ne += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ex, "env")) + 1;
	char **argv = rp_xcalloc(na + 1, sizeof *argv), **envp = rp_xcalloc(ne + 1, sizeof *envp);
	size_t i = 0, j = 0;
	argv[i++] = rp_xstrdup(cmd);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ex, "args"))
		argv[i++] = rp_xstrdup(cJSON_IsString(a) ? a->valuestring : "");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ex, "env"))
		if (str(e, "name"))
			envp[j++] = rp_xasprintf("%s=%s", str(e, "name"), str(e, "value") ? str(e, "value") : "");
	envp[j++] = rp_xstrdup("KUBERNETES_EXEC_INFO={\"apiVersion\":\"client.authentication.k8s.io/v1\","
			       "\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}");
	for (char **p = environ; *p; p++) {
		int shadowed = !strncmp(*p, "KUBERNETES_EXEC_INFO=", 21);
		for (size_t x = 0; x < j && !shadowed; x++) {
			size_t n = strcspn(envp[x], "=");
			shadowed = !strncmp(*p, envp[x], n + 1);
		}
		if (!shadowed)
			envp[j++] = rp_xstrdup(*p);
	}
	int fd[2];
	struct rp_buf out = { 0 };
	int rc = -1, status = 0;
	pid_t pid = -1;
	if (pipe2(fd, O_CLOEXEC) == 0) {
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_RDONLY);
			if (devnull >= 0)
				dup2(devnull, 0);
			dup2(fd[1], 1);
			execvpe(argv[0], argv, envp);
			_exit(127);
		}
		close(fd[1]);
	}
	if (pid > 0) {
		double end = rp_mono() + 60;
		for (;;) {
			char buf[4096];
			struct pollfd p = { .fd = fd[0], .events = POLLIN };
			double left = end - rp_mono();
			if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) {
				if (errno == EINTR && left > 0)
					continue;
				kill(pid, SIGKILL);
				*err = rp_xasprintf("%s: %s: no answer within 60s", k->exec_what, cmd);
				break;
			}
			ssize_t r = read(fd[0], buf, sizeof buf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (out.len + (size_t)r > (1 << 20)) {
				kill(pid, SIGKILL);
				*err = rp_xasprintf("%s: %s: answer larger than 1 MiB", k->exec_what, cmd);
				break;
			}
			rp_buf_add(&out, buf, (size_t)r);
		}
		close(fd[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!*err && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			*err = rp_xasprintf("%s: %s %s %d%s", k->exec_what, cmd,
					    WIFEXITED(status) ? "exited" : "killed by signal",
					    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
					    WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (not found?)" : "");
		else if (!*err)
			rc = 0;
	} else {
		*err = rp_xasprintf("%s: cannot run %s: %s", k->exec_what, cmd, strerror(errno));
	}
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	for (j = 0; envp[j]; j++)
		free(envp[j]);
	free(argv);
	free(envp);
	cJSON *cred = rc == 0 ? cJSON_ParseWithLength(out.data ? out.data : "", out.len) : NULL;
	rp_buf_free(&out);
	if (rc < 0)
		return -1;
	const cJSON *stt = cJSON_GetObjectItemCaseSensitive(cred, "status");
	const char *kind = str(cred, "kind"), *av = str(cred, "apiVersion"), *tok = str(stt, "token");
	const char *exp = str(stt, "expirationTimestamp");
	double t = 0;
	if (!cred || !kind || strcmp(kind, "ExecCredential") || !av || strcmp(av, "client.authentication.k8s.io/v1"))
		*err = rp_xasprintf("%s: the answer is not a client.authentication.k8s.io/v1 ExecCredential", k->exec_what);
	else if (!tok || !*tok)
		*err = rp_xasprintf("%s: the ExecCredential has no status.token", k->exec_what);
	else if (exp && rp_parse_rfc3339(exp, &t) < 0)
		*err = rp_xasprintf("%s: bad status.expirationTimestamp '%s'", k->exec_what, exp);
	if (*err) {
		cJSON_Delete(cred);
		return -1;
	}
	rp_log_secret(tok);
	retire(k, k->token);
	k->token = rp_xstrdup(tok);
	/* cached until it expires (client-go: the same); none: for good */
	k->due = exp ? rp_mono() + (t - rp_now()) : 0;
	if (exp && k->due <= rp_mono())
		k->due = rp_mono() + 1; /* already expired: use it once, ask again soon */
	cJSON_Delete(cred);
	return 0;
}

/* (Re)load the credential; under k->mu or before k is shared. */
static int renew(struct rp_kube *k, char **err)
{
	*err = NULL;
	if (k->cred == CRED_EXEC)
		return run_exec(k, err);
	if (k->cred != CRED_FILE)
		return 0;
	char *t = rp_read_file(k->token_file, 65536, NULL);
	if (!t) {
		*err = rp_xasprintf("tokenFile %s: %s", k->token_file, strerror(errno));
		return -1;
	}
	t[strcspn(t, "\r\n")] = 0;
	rp_log_secret(t);
	retire(k, k->token);
	k->token = t;
	k->due = rp_mono() + 60; /* re-read each minute, as client-go does */
	return 0;
}

int rp_kube_refresh(struct rp_kube *k, char **err)
{
	int r = 0;
	*err = NULL;
	pthread_mutex_lock(&k->mu);
	if (k->cred != CRED_STATIC && k->due && rp_mono() >= k->due)
		r = renew(k, err);
	pthread_mutex_unlock(&k->mu);
	return r;
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
	char *err = NULL;
	if (rp_kube_refresh(k, &err) < 0) /* the old credential is tried: the answer will tell */
		rp_logw("cannot renew the kubernetes credential", "error", err);
	free(err);
	*url_out = rp_xasprintf("%s%s", k->server, path);
	req->url = *url_out;
	req->ca_pem = k->ca_pem;
	pthread_mutex_lock(&k->mu);
	req->bearer = k->token; /* a replaced one stays allocated until rp_kube_free */
	pthread_mutex_unlock(&k->mu);
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
