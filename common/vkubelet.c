/* vkubelet.c — the kubelet API of a virtual node (see vkubelet.h). */
#include "vkubelet.h"
#include "httpd.h"
#include "fleet.h"
#include "kube.h"
#include "log.h"
#include "rp.h"
#include "runpod.h"
#include "ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct rp_vkubelet {
	const struct rp_config *cfg;
	char *node;
	SSL_CTX *ctx;
	int fd;
	struct rp_kube *k;
	struct rp_runpod *rp;
	pthread_mutex_t mu; /* rp, and the count below */
	pthread_cond_t cv;
	int active;
	volatile int stop;
	pthread_t acceptor;
};

struct conn {
	struct rp_vkubelet *v;
	int fd;
	SSL *ssl;
	int sent; /* the response head went out */
};

int rp_vkubelet_on(const struct rp_config *cfg)
{
	return rp_cfg_int(cfg, "kube.virtual_kubelet_port") > 0;
}

char *rp_vkubelet_wrap(const struct rp_config *cfg, const char *args)
{
	if (!args)
		return NULL;
	if (!*args || !rp_vkubelet_on(cfg))
		return rp_xstrdup(args);
	const char *f = rp_cfg_str(cfg, "kube.virtual_log_file");
	char *qf = rp_ssh_quote(f && *f ? f : "/var/log/rp/container.log");
	/* $1 the file; the rest the command.  tee reads a FIFO the command
	 * writes (stdout and stderr); sh waits for both, so the last lines
	 * are in the file before the pod ends, passes TERM/INT/HUP on, and
	 * exits with the command's code.  No FIFO: the command, uncaptured. */
	static const char script[] =
		"f=$1; shift; d=$(dirname \"$f\"); p=/tmp/rp-log.$$; "
		"if mkdir -p \"$d\" && rm -f \"$p\" && mkfifo -m 600 \"$p\"; then "
		"tee -a \"$f\" <\"$p\" & t=$!; exec 3>\"$p\" 4<&0; rm -f \"$p\"; "
		"\"$@\" <&4 >&3 2>&3 3>&- 4<&- & c=$!; exec 3>&- 4<&-; "
		"trap 'kill -TERM $c 2>/dev/null' TERM INT HUP; wait $c; s=$?; "
		"while kill -0 $c 2>/dev/null; do wait $c; s=$?; done; wait $t; exit $s; fi; exec \"$@\"";
	char *qs = rp_ssh_quote(script);
	char *out = rp_xasprintf("sh -c %s rp-log %s %s", qs, qf, args);
	free(qs);
	free(qf);
	return out;
}

/* ---- HTTP over TLS ----------------------------------------------------------- */

static int put(struct conn *c, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		int w = SSL_write(c->ssl, b, n > 65536 ? 65536 : (int)n);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int head(struct conn *c, int st, long len)
{
	char h[256];
	int n;
	if (len >= 0)
		n = snprintf(h, sizeof h,
			     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %ld\r\n"
			     "Connection: close\r\n\r\n",
			     st, rp_httpd_reason(st), len);
	else
		n = snprintf(h, sizeof h,
			     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", st,
			     rp_httpd_reason(st));
	c->sent = 1;
	return put(c, h, (size_t)n);
}

static int answer(struct conn *c, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int answer(struct conn *c, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	size_t n = body ? strlen(body) : 0;
	int rc = head(c, st, (long)n + 1);
	if (!rc && n)
		rc = put(c, body, n);
	if (!rc)
		rc = put(c, "\n", 1);
	free(body);
	return rc;
}

/* Has the caller gone (closed, or sent anything after its request)? */
static int caller_gone(struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
	return poll(&p, 1, 0) > 0;
}

/* ---- the query --------------------------------------------------------------- */

/* Value of ?key= in q ("" for a bare key), or NULL; decoded into buf. */
static const char *qarg(const char *q, const char *key, char *buf, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = q; p && *p;) {
		const char *e = strchr(p, '&');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= kl && !strncmp(p, key, kl) && (l == kl || p[kl] == '=')) {
			size_t o = 0;
			for (size_t i = kl + (l > kl); i < l && o + 1 < n; i++) {
				if (p[i] == '%' && i + 2 < l + 0 && strspn(p + i + 1, "0123456789abcdefABCDEF") >= 2) {
					char hx[3] = { p[i + 1], p[i + 2], 0 };
					buf[o++] = (char)strtol(hx, NULL, 16);
					i += 2;
				} else {
					buf[o++] = p[i] == '+' ? ' ' : p[i];
				}
			}
			buf[o] = 0;
			return buf;
		}
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

static int truthy(const char *s)
{
	return s && (!strcmp(s, "") || !strcmp(s, "true") || !strcmp(s, "1"));
}

/* A non-negative integer query value; -1 when absent, -2 when bad. */
static long long qnum(const char *q, const char *key)
{
	char b[32];
	const char *s = qarg(q, key, b, sizeof b);
	if (!s)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return !*s || *end || errno || v < 0 ? -2 : v;
}

static int dns_name(const char *s)
{
	return *s && strlen(s) <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(s);
}

/* ---- the log ------------------------------------------------------------------ */

struct stream {
	struct conn *c;
	long long left; /* limitBytes left, -1 none */
	int broken;
};

static int sink(void *arg, const char *d, size_t n)
{
	struct stream *s = arg;
	if (!n)
		return s->c->v->stop || caller_gone(s->c) ? -1 : 0;
	if (!s->c->sent && head(s->c, 200, -1) < 0)
		return s->broken = 1, -1;
	if (s->left >= 0 && (long long)n > s->left)
		n = (size_t)s->left;
	if (put(s->c, d, n) < 0)
		return s->broken = 1, -1;
	if (s->left >= 0 && (s->left -= (long long)n) == 0)
		return -1;
	return 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The pod's RunPod pod's SSH address into host/port; 0, or an answer sent. */
static int where(struct conn *c, const char *ns, const char *name, const char *ctr, char **id, char **host, int *port)
{
	struct rp_vkubelet *v = c->v;
	char *path = rp_xasprintf("/api/v1/namespaces/%s/pods/%s", ns, name), *err = NULL;
	cJSON *pod = NULL;
	long st = 0;
	int rc = rp_kube_call(v->k, "GET", path, NULL, NULL, &st, &pod, &err);
	free(path);
	if (rc < 0 || st != 200) {
		int code = rc < 0 || st >= 500 ? 503 : 404;
		answer(c, code, "pod %s/%s: %s", ns, name, rc < 0 ? err : rp_kube_errmsg(st, pod));
		free(err);
		cJSON_Delete(pod);
		return -1;
	}
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec"), *ct;
	int has = 0;
	cJSON_ArrayForEach(ct, cJSON_GetObjectItemCaseSensitive(spec, "containers")) {
		has |= jstr(ct, "name") && !strcmp(jstr(ct, "name"), ctr);
	}
	const char *nn = jstr(spec, "nodeName"), *pid = rp_kube_annotation(pod, RP_FLEET_POD_ID);
	if (!nn || strcmp(nn, v->node) || !has) {
		answer(c, 404, "container %s in pod %s/%s is not on node %s", ctr, ns, name, v->node);
		cJSON_Delete(pod);
		return -1;
	}
	if (!pid || !*pid) {
		answer(c, 400, "container \"%s\" in pod \"%s\" is waiting to start: no RunPod pod yet", ctr, name);
		cJSON_Delete(pod);
		return -1;
	}
	*id = rp_xstrdup(pid);
	cJSON_Delete(pod);
	cJSON *rpod = NULL;
	int gone = 0;
	pthread_mutex_lock(&v->mu);
	rc = rp_runpod_get(v->rp, *id, &rpod, &gone, &err);
	const char *h = NULL, *why = NULL;
	if (!rc && rpod && !rp_runpod_pod_ssh(rpod, rp_runpod_api_loopback(v->rp), &h, port, &why))
		*host = rp_xstrdup(h);
	pthread_mutex_unlock(&v->mu);
	if (!*host)
		answer(c, rc ? 503 : 400, "RunPod pod %s: %s", *id,
		       rc ? err : gone ? "gone" : why ? why : "no SSH address");
	free(err);
	cJSON_Delete(rpod);
	return *host ? 0 : -1;
}

static void container_logs(struct conn *c, const char *rest, const char *q)
{
	struct rp_vkubelet *v = c->v;
	char ns[254], name[254], ctr[254];
	if (sscanf(rest, "%253[^/]/%253[^/]/%253[^/?]", ns, name, ctr) != 3 || !dns_name(ns) || !dns_name(name) ||
	    !dns_name(ctr)) {
		answer(c, 404, "not a container: /containerLogs/%s", rest);
		return;
	}
	char b[64];
	const char *refused[] = { "timestamps", "sinceSeconds", "sinceTime", "previous" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		const char *val = qarg(q, refused[i], b, sizeof b);
		if (val && strcmp(val, "false")) {
			answer(c, 400, "%s is not served by the virtual node %s (log lines carry no times; "
				       "a RunPod pod has no previous container)", refused[i], v->node);
			return;
		}
	}
	long long tail = qnum(q, "tailLines"), limit = qnum(q, "limitBytes");
	int follow = truthy(qarg(q, "follow", b, sizeof b));
	if (tail == -2 || limit == -2) {
		answer(c, 400, "tailLines and limitBytes take a whole number");
		return;
	}
	char *id = NULL, *host = NULL;
	int port = 0;
	if (where(c, ns, name, ctr, &id, &host, &port) < 0) {
		free(id);
		return;
	}
	struct rp_ssh_opts so = rp_ssh_opts_cfg(v->cfg, host, port, id);
	int code = 0;
	char *err = NULL;
	struct rp_ssh *s = rp_ssh_connect(&so, &code, &err);
	if (!s) {
		answer(c, 503, "RunPod pod %s: %s", id, err);
		rp_logw("logs: pod unreachable", "pod", name, "id", id, "error", err);
		free(err);
		free(id);
		free(host);
		return;
	}
	const char *f = rp_cfg_str(v->cfg, "kube.virtual_log_file");
	char *qf = rp_ssh_quote(f && *f ? f : "/var/log/rp/container.log");
	char *test = rp_xasprintf("test -r %s", qf), *cmd;
	char nb[32] = "+1";
	if (tail >= 0)
		snprintf(nb, sizeof nb, "%lld", tail);
	if (follow)
		cmd = rp_xasprintf("tail -n %s -F %s 2>/dev/null & p=$!; cat >/dev/null; kill $p 2>/dev/null", nb, qf);
	else if (tail >= 0)
		cmd = rp_xasprintf("tail -n %s %s", nb, qf);
	else
		cmd = rp_xasprintf("cat %s", qf);
	struct rp_ssh_res r;
	double tmo = rp_cfg_dur(v->cfg, "ssh.command_timeout");
	if (rp_ssh_exec(s, test, NULL, 0, 30, &r, &code, &err) < 0) {
		answer(c, 503, "RunPod pod %s: %s", id, err);
	} else if (r.status) {
		answer(c, 404, "no log file %s on RunPod pod %s (the container's output is captured there only when "
			       "its pod sets a command: see rp-join(1))",
		       f, id);
	} else {
		rp_ssh_res_free(&r);
		struct stream st = { .c = c, .left = limit };
		if (rp_ssh_exec_stream(s, cmd, follow ? 86400 : tmo, sink, &st, &r, &code, &err) < 0 && !c->sent)
			answer(c, 503, "RunPod pod %s: %s", id, err);
		else if (!c->sent)
			head(c, 200, 0);
		rp_info("logs served", "pod", name, "id", id, "follow", follow ? "true" : "false");
	}
	rp_ssh_res_free(&r);
	rp_ssh_close(s);
	free(err);
	free(test);
	free(cmd);
	free(qf);
	free(id);
	free(host);
}

/* ---- one connection -------------------------------------------------------- */

/* 0 the caller's certificate verifies against the client CA. */
static int authenticated(SSL *ssl)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	int ok = peer && SSL_get_verify_result(ssl) == X509_V_OK;
	X509_free(peer);
	return ok ? 0 : -1;
}

static void serve(struct conn *c)
{
	char req[8193];
	size_t n = 0;
	while (n < sizeof req - 1) {
		int r = SSL_read(c->ssl, req + n, (int)(sizeof req - 1 - n));
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (!strstr(req, "\r\n\r\n"))
		return;
	char method[16], target[4096];
	if (sscanf(req, "%15s %4095s", method, target) != 2)
		return;
	if (authenticated(c->ssl)) {
		rp_logw("kubelet API: caller refused (no client certificate the client CA verifies)", "path", target);
		answer(c, 401, "Unauthorized");
		return;
	}
	if (strcmp(method, "GET")) {
		answer(c, 405, "only GET is served");
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q++ = 0;
	if (!strcmp(target, "/healthz"))
		answer(c, 200, "ok");
	else if (!strncmp(target, "/containerLogs/", 15))
		container_logs(c, target + 15, q ? q : "");
	else
		answer(c, 404, "%s is not served by the virtual node (only /containerLogs and /healthz)", target);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct rp_vkubelet *v = c->v;
	struct timeval rt = { .tv_sec = 5 }, wt = { .tv_sec = 30 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);
	c->ssl = SSL_new(v->ctx);
	if (c->ssl && SSL_set_fd(c->ssl, c->fd) == 1 && SSL_accept(c->ssl) == 1) {
		serve(c);
		SSL_shutdown(c->ssl);
	}
	SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	free(c);
	pthread_mutex_lock(&v->mu);
	v->active--;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

static void *acceptor(void *arg)
{
	struct rp_vkubelet *v = arg;
	while (!v->stop) {
		struct pollfd p = { .fd = v->fd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(v->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&v->mu);
		int full = v->active >= RP_VKUBELET_MAX;
		if (!full)
			v->active++;
		pthread_mutex_unlock(&v->mu);
		if (full) {
			close(fd);
			continue;
		}
		struct conn *c = rp_xcalloc(1, sizeof *c);
		c->v = v;
		c->fd = fd;
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_main, c)) {
			close(fd);
			free(c);
			pthread_mutex_lock(&v->mu);
			v->active--;
			pthread_mutex_unlock(&v->mu);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static int any_cert(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1; /* the handshake goes on; authenticated() decides, with a 401 */
}

static char *ssl_err(const char *what, const char *key, const struct rp_config *cfg)
{
	unsigned long e = ERR_get_error();
	char b[256] = "";
	if (e)
		ERR_error_string_n(e, b, sizeof b);
	ERR_clear_error();
	return rp_xasprintf("%s (%s, %s): %s", key, rp_cfg_str(cfg, key) ? rp_cfg_str(cfg, key) : "unset",
			    rp_cfg_where(cfg, key), *b ? b : what);
}

static int listen_on(const char *addr, int port, char **err)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sl = sizeof *a4;
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof *a6;
	} else {
		*err = rp_xasprintf("kube.virtual_kubelet_address: '%s' is not an IP address (the Node's InternalIP)",
				    addr);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		*err = rp_xasprintf("kubelet API on %s:%d: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct rp_vkubelet *rp_vkubelet_open(const struct rp_config *cfg, const char *node, char **err)
{
	*err = NULL;
	if (!rp_vkubelet_on(cfg))
		return NULL;
	long port = rp_cfg_int(cfg, "kube.virtual_kubelet_port");
	const char *addr = rp_cfg_str(cfg, "kube.virtual_kubelet_address");
	const char *cert = rp_cfg_str(cfg, "kube.virtual_kubelet_cert"), *key = rp_cfg_str(cfg, "kube.virtual_kubelet_key");
	const char *ca = rp_cfg_str(cfg, "kube.virtual_kubelet_client_ca");
	if (port > 65535 || !addr || !*addr || !cert || !*cert || !key || !*key || !ca || !*ca) {
		*err = rp_xasprintf("kube.virtual_kubelet_port %ld needs kube.virtual_kubelet_address, _cert, _key and "
				    "_client_ca (a kubelet API without a client CA would serve anyone)",
				    port);
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN); /* a caller gone mid-write is an error return, not a death */
	struct rp_vkubelet *v = rp_xcalloc(1, sizeof *v);
	v->cfg = cfg;
	v->node = rp_xstrdup(node);
	v->fd = -1;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	v->ctx = SSL_CTX_new(TLS_server_method());
	if (!v->ctx || !SSL_CTX_set_min_proto_version(v->ctx, TLS1_2_VERSION)) {
		*err = ssl_err("TLS setup", "kube.virtual_kubelet_cert", cfg);
	} else if (SSL_CTX_use_certificate_chain_file(v->ctx, cert) != 1) {
		*err = ssl_err("unreadable", "kube.virtual_kubelet_cert", cfg);
	} else if (SSL_CTX_use_PrivateKey_file(v->ctx, key, SSL_FILETYPE_PEM) != 1 ||
		   SSL_CTX_check_private_key(v->ctx) != 1) {
		*err = ssl_err("unreadable or not the certificate's", "kube.virtual_kubelet_key", cfg);
	} else if (SSL_CTX_load_verify_locations(v->ctx, ca, NULL) != 1) {
		*err = ssl_err("unreadable", "kube.virtual_kubelet_client_ca", cfg);
	} else {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
		if (names)
			SSL_CTX_set_client_CA_list(v->ctx, names);
		SSL_CTX_set_verify(v->ctx, SSL_VERIFY_PEER, any_cert);
		v->fd = listen_on(addr, (int)port, err);
	}
	if (!*err)
		v->k = rp_kube_open(rp_cfg_str(cfg, "kube.kubeconfig"), err);
	if (!*err)
		v->rp = rp_runpod_open(cfg, err);
	if (!*err && pthread_create(&v->acceptor, NULL, acceptor, v))
		*err = rp_xstrdup("kubelet API: no thread");
	if (*err) {
		if (v->fd >= 0)
			close(v->fd);
		v->fd = -1;
		v->stop = 1;
		rp_vkubelet_close(v);
		return NULL;
	}
	char pb[24];
	snprintf(pb, sizeof pb, "%ld", port);
	rp_info("kubelet API serving (kubectl logs)", "node", node, "address", addr, "port", pb);
	return v;
}

void rp_vkubelet_close(struct rp_vkubelet *v)
{
	if (!v)
		return;
	if (v->fd >= 0) {
		v->stop = 1;
		pthread_join(v->acceptor, NULL);
		close(v->fd);
	}
	pthread_mutex_lock(&v->mu);
	double until = rp_mono() + 3;
	while (v->active > 0 && rp_mono() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->cv, &v->mu, &ts);
	}
	int left = v->active;
	pthread_mutex_unlock(&v->mu);
	if (left)
		return; /* a request still runs: its thread keeps what it uses */
	SSL_CTX_free(v->ctx);
	rp_kube_free(v->k);
	rp_runpod_free(v->rp);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v->node);
	free(v);
}
