/* http.c — requests, the one retry policy, SigV4, many at once. */
#include "http.h"
#include "hostport.h"
#include "httpwire.h"
#include "log.h"
#include "pool.h"
#include "rp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void rp_http_global_init(void)
{
	rp_wire_init();
}

struct xfer {
	const struct rp_http_req *req;
	struct rp_http_resp *resp;
	struct rp_buf body, head;
	int too_big;
	long long upos;    /* bytes of an fd upload sent in this attempt */
};

static int on_body(void *arg, long code, const void *p, size_t n)
{
	struct xfer *x = arg;
	if (x->req->sink && code >= 200 && code < 300)
		return x->req->sink(x->req->sink_arg, p, n) != n;
	if (x->req->download && code >= 200 && code < 300)
		return fwrite(p, 1, n, x->req->download) != n;
	size_t cap = x->req->max_body ? x->req->max_body : (16u << 20);
	if (x->body.len + n > cap) {
		x->too_big = 1;
		return -1;
	}
	rp_buf_add(&x->body, p, n);
	return 0;
}

static void on_head(void *arg, const char *p, size_t n)
{
	struct xfer *x = arg;
	/* A new status line (100-continue) starts a new block. */
	if (n > 5 && !strncmp(p, "HTTP/", 5))
		x->head.len = 0;
	if (x->head.len < (256u << 10))
		rp_buf_add(&x->head, p, n);
}

static long on_read(void *arg, char *p, size_t n)
{
	struct xfer *x = arg;
	if (x->req->has_upload_fd) {
		long long left = (long long)x->req->body_len - x->upos;
		if (left <= 0)
			return 0;
		if ((long long)n > left)
			n = (size_t)left;
		ssize_t got = pread(x->req->upload_fd, p, n, (off_t)(x->req->upload_off + x->upos));
		if (got <= 0)
			return -1; /* the file shrank or failed */
		x->upos += got;
		return (long)got;
	}
	size_t got = fread(p, 1, n, x->req->upload);
	return got ? (long)got : -1;
}

static void on_progress(void *arg, double now, double total)
{
	struct xfer *x = arg;
	x->req->progress(x->req->progress_arg, now, total);
}

static int is_idempotent(const struct rp_http_req *r)
{
	if (r->idempotent > 0)
		return 1;
	const char *m = r->method ? r->method : "GET";
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
	       !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

/* A header line for SigV4: the name lowercased, the value trimmed and
 * inner runs of blanks made one space — as libcurl 7.88 does. */
static char *sig_line(const char *h)
{
	size_t nl = strcspn(h, ":");
	struct rp_buf b = { 0 };
	for (size_t i = 0; i < nl; i++) {
		char c = (char)tolower((unsigned char)h[i]);
		rp_buf_add(&b, &c, 1);
	}
	if (h[nl]) {
		rp_buf_add(&b, ":", 1);
		const char *v = h + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		while (*v) {
			size_t sp = strspn(v, " \t");
			if (sp) {
				v += sp;
				if (*v)
					rp_buf_add(&b, " ", 1);
			} else {
				rp_buf_add(&b, v++, 1);
			}
		}
	}
	rp_buf_add(&b, "", 0);
	return b.data;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hmac(const void *key, size_t kl, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* AWS Signature Version 4 as libcurl 7.88 signs (CURLOPT_AWS_SIGV4,
 * provider "p0:p1:region:service"): the signed headers are host and
 * every header of the caller's, x-<p1>-date added; the payload hash is
 * the caller's x-<p1>-content-sha256 or the SHA-256 of the memory body;
 * path and query are signed as written (s3.c writes them canonical).
 * Two lines are appended to out: Authorization and the date header.
 * -1 and err for a provider string without region and service. */
static int sigv4(const struct rp_http_req *r, const char *method, const struct rp_url *u,
		 const char *const *hdrs, size_t nh, const char *body, size_t blen, char **out,
		 char *err, size_t errlen)
{
	char p0[65] = "", p1[65] = "", region[65] = "", service[65] = "";
	(void)sscanf(r->aws_sigv4, "%64[^:]:%64[^:]:%64[^:]:%64s", p0, p1, region, service);
	if (!p0[0] || !region[0] || !service[0]) {
		snprintf(err, errlen, "aws_sigv4: the provider string needs provider:provider:region:service");
		return -1;
	}
	if (!p1[0])
		snprintf(p1, sizeof p1, "%s", p0);
	for (char *q = p1; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	for (char *q = p0; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	char ts[17], date[9];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, ts, 8);
	date[8] = 0;

	char **l = rp_xcalloc(nh + 2, sizeof *l);
	size_t n = 0;
	char datekey[80], shakey[96];
	snprintf(datekey, sizeof datekey, "x-%s-date", p1);
	snprintf(shakey, sizeof shakey, "x-%s-content-sha256", p1);
	l[n++] = rp_xasprintf("host:%s", u->hostport);
	char payload[65] = "";
	for (size_t i = 0; i < nh; i++) {
		l[n] = sig_line(hdrs[i]);
		if (!strncmp(l[n], shakey, strlen(shakey)) && l[n][strlen(shakey)] == ':')
			snprintf(payload, sizeof payload, "%s", l[n] + strlen(shakey) + 1);
		n++;
	}
	l[n++] = rp_xasprintf("%s:%s", datekey, ts);
	qsort(l, n, sizeof *l, cmp_str);
	struct rp_buf canon = { 0 }, signed_h = { 0 };
	for (size_t i = 0; i < n; i++) {
		rp_buf_addf(&canon, "%s\n", l[i]);
		rp_buf_addf(&signed_h, "%s%.*s", i ? ";" : "", (int)strcspn(l[i], ":"), l[i]);
		free(l[i]);
	}
	free(l);
	if (!payload[0])
		rp_sha256_hex(body ? body : "", body ? blen : 0, payload);
	const char *q = strchr(u->target, '?');
	char *creq = rp_xasprintf("%s\n%.*s\n%s\n%s\n%s\n%s", method,
				  (int)(q ? (size_t)(q - u->target) : strlen(u->target)), u->target,
				  q ? q + 1 : "", canon.data, signed_h.data, payload);
	char chash[65];
	rp_sha256_hex(creq, strlen(creq), chash);
	free(creq);
	char *scope = rp_xasprintf("%s/%s/%s/%s4_request", date, region, service, p0);
	for (char *c = p0; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	char *sts = rp_xasprintf("%s4-HMAC-SHA256\n%s\n%s\n%s", p0, ts, scope, chash);
	const char *pw = strchr(r->userpwd ? r->userpwd : "", ':');
	size_t ul = pw ? (size_t)(pw - r->userpwd) : strlen(r->userpwd ? r->userpwd : "");
	char *secret = rp_xasprintf("%s4%s", p0, pw ? pw + 1 : "");
	char req_type[80];
	snprintf(req_type, sizeof req_type, "%s4_request", p0);
	for (char *c = req_type; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	unsigned char k0[32], k1[32];
	hmac(secret, strlen(secret), date, k0);
	hmac(k0, 32, region, k1);
	hmac(k1, 32, service, k0);
	hmac(k0, 32, req_type, k1);
	hmac(k1, 32, sts, k0);
	char sig[65];
	for (int i = 0; i < 32; i++)
		snprintf(sig + 2 * i, 3, "%02x", k0[i]);
	char dk[80];
	snprintf(dk, sizeof dk, "X-%c%s-Date", toupper((unsigned char)p1[0]), p1 + 1);
	out[0] = rp_xasprintf("Authorization: %s4-HMAC-SHA256 Credential=%.*s/%s, SignedHeaders=%s, Signature=%s",
			      p0, (int)ul, r->userpwd ? r->userpwd : "", scope, signed_h.data, sig);
	out[1] = rp_xasprintf("%s: %s", dk, ts);
	memset(secret, 0, strlen(secret));
	free(secret);
	OPENSSL_cleanse(k0, sizeof k0);
	OPENSSL_cleanse(k1, sizeof k1);
	free(sts);
	free(scope);
	rp_buf_free(&canon);
	rp_buf_free(&signed_h);
	return 0;
}

/* One attempt on the wire; the answer is left in x and wres. */
static void attempt(struct xfer *x, struct rp_wire_res *wres)
{
	rp_http_global_init();
	const struct rp_http_req *r = x->req;
	const char *m = r->method ? r->method : "GET";
	x->body.len = 0;
	x->head.len = 0;
	x->too_big = 0;
	x->upos = 0;
	struct rp_wire_req w = {
		.method = m, .url = r->url, .arg = x, .timeout = r->timeout,
		.connect_timeout = r->connect_timeout, .cainfo = r->cainfo, .ca_pem = r->ca_pem,
		.cert_pem = r->cert_pem, .key_pem = r->key_pem,
		.bufsize = r->bufsize > 0 ? (size_t)r->bufsize : 0,
		.on_head = on_head, .on_body = on_body, .progress = r->progress ? on_progress : NULL,
	};
	/* The body, as libcurl had it: an upload (FILE or fd) is streamed
	 * with its length; GET and HEAD send none; DELETE only one given;
	 * any other method a memory body, empty if none (Content-Length: 0). */
	int form = 0;
	if (r->upload || r->has_upload_fd) {
		w.read = on_read;
		w.send_length = 1;
		w.body_len = (long long)r->body_len;
	} else if (!strcmp(m, "HEAD")) {
		w.head = 1;
	} else if (strcmp(m, "GET") && (r->body || strcmp(m, "DELETE"))) {
		w.send_length = 1;
		w.body = r->body ? r->body : "";
		w.body_len = r->body ? (long long)r->body_len : 0;
		form = 1;
	}
	size_t nh = 0;
	for (const char *const *p = r->headers; p && *p; p++)
		nh++;
	char **hl = rp_xcalloc(nh + 6, sizeof *hl);
	size_t k = 0;
	for (size_t i = 0; i < nh; i++)
		hl[k++] = rp_xstrdup(r->headers[i]);
	if (r->bearer)
		hl[k++] = rp_xasprintf("Authorization: Bearer %s", r->bearer);
	if (r->content_type)
		hl[k++] = rp_xasprintf("Content-Type: %s", r->content_type);
	int has_ct = 0;
	for (size_t i = 0; i < k; i++)
		has_ct |= !strncasecmp(hl[i], "Content-Type:", 13);
	size_t ncaller = k; /* what libcurl signed: the caller's list */
	int ok = 1;
	if (r->aws_sigv4) {
		struct rp_url u;
		int has_auth = 0;
		for (size_t i = 0; i < k; i++)
			has_auth |= !strncasecmp(hl[i], "Authorization:", 14);
		if (rp_url_parse(r->url, &u, wres->err, sizeof wres->err) < 0)
			ok = 0;
		else if (!has_auth && sigv4(r, m, &u, (const char *const *)hl, ncaller, w.body,
					    (size_t)w.body_len, hl + k, wres->err, sizeof wres->err) < 0)
			ok = 0;
		else if (!has_auth)
			k += 2;
	}
	if (form && !has_ct)
		hl[k++] = rp_xstrdup("Content-Type: application/x-www-form-urlencoded");
	w.headers = (const char *const *)hl;
	/* keepalive: a connection may be left for the next request; one is
	 * taken only for a request that may be sent twice (idempotent, its
	 * body in memory or read with pread), since a kept connection the
	 * server closed meanwhile is sent again, at once, on a new one. */
	w.keepalive = r->keepalive;
	w.reuse = r->keepalive && is_idempotent(r) && !r->upload;
	if (ok) {
		rp_wire_do(&w, wres);
		if (wres->stale) {
			x->body.len = 0;
			x->head.len = 0;
			x->too_big = 0;
			x->upos = 0;
			w.reuse = 0;
			rp_wire_do(&w, wres);
		}
	} else {
		wres->status = 0;
	}
	for (size_t i = 0; i < k; i++) {
		memset(hl[i], 0, strlen(hl[i])); /* tokens, signatures */
		free(hl[i]);
	}
	free(hl);
}

static double parse_retry_after(const char *v)
{
	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	char *end;
	double s = strtod(v, &end);
	if (end != v && s >= 0)
		return s;
	/* HTTP-date */
	struct tm tm = { 0 };
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
		double t = (double)timegm(&tm) - rp_now();
		return t > 0 ? t : 0;
	}
	return -1;
}

static char *header_in(const char *block, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = block; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = len - (size_t)(v - p);
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			char *out = rp_xmalloc(vl + 1);
			memcpy(out, v, vl);
			out[vl] = 0;
			return out;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

char *rp_http_header(const struct rp_http_resp *resp, const char *name)
{
	return resp->headers ? header_in(resp->headers, name) : NULL;
}

/* After one attempt: fill resp; return the delay before a retry, or -1
 * when this answer is final. */
static double finish_attempt(struct xfer *x, const struct rp_wire_res *wr)
{
	const struct rp_http_req *r = x->req;
	struct rp_http_resp *resp = x->resp;
	long code = wr->status;
	resp->attempts++;
	free(resp->body);
	resp->body = NULL;
	free(resp->headers);
	resp->headers = NULL;
	resp->status = 0;
	resp->len = 0;
	resp->timed_out = 0;
	resp->err[0] = 0;
	resp->retry_after = -1;
	if (code == 0) {
		resp->timed_out = wr->timed_out;
		if (x->too_big)
			snprintf(resp->err, sizeof resp->err, "response too large");
		else
			snprintf(resp->err, sizeof resp->err, "%s", wr->err[0] ? wr->err : "no answer");
	} else {
		resp->status = code;
		char *ra = header_in(x->head.data, "Retry-After");
		resp->retry_after = parse_retry_after(ra);
		free(ra);
		if (x->too_big) {
			resp->status = 0;
			snprintf(resp->err, sizeof resp->err, "response too large");
		}
	}
	if (x->body.data) {
		resp->body = rp_xmalloc(x->body.len + 1);
		memcpy(resp->body, x->body.data, x->body.len);
		resp->body[x->body.len] = 0;
		resp->len = x->body.len;
	} else if (!r->download) {
		resp->body = rp_xstrdup("");
	}
	if (r->want_headers && x->head.data)
		resp->headers = rp_xstrdup(x->head.data);

	if (resp->attempts > r->retries)
		return -1;
	int retry = 0;
	if (resp->status == 429 || (resp->status == 503 && resp->retry_after >= 0))
		retry = 1; /* not acted upon by the server */
	else if (is_idempotent(r) && (resp->status == 0 || resp->status >= 500) && !x->too_big)
		retry = 1;
	if (!retry || r->upload || ((r->download || r->sink) && resp->status == 0))
		return -1; /* a consumed stream cannot be replayed */
	double base = 0.25 * (double)(1 << (resp->attempts - 1 < 5 ? resp->attempts - 1 : 5));
	if (base > 8)
		base = 8;
	double delay = base * ((double)(rand() % 1000) / 1000.0); /* full jitter */
	if (resp->retry_after >= 0) {
		double cap = r->max_retry_after > 0 ? r->max_retry_after : 60;
		delay = resp->retry_after < cap ? resp->retry_after : cap;
	}
	char a[16], st[16], d[32];
	snprintf(a, sizeof a, "%d", resp->attempts);
	snprintf(st, sizeof st, "%ld", resp->status);
	snprintf(d, sizeof d, "%.2f", delay);
	rp_debug("http retry", "method", r->method ? r->method : "GET", "status", st,
		 "attempt", a, "delay_s", d);
	return delay;
}

const char *rp_http_cleartext(const char *url)
{
	static const char why[] = "plain http:// would send credentials in clear: use https:// "
				  "(http is allowed only to a loopback host: 127.0.0.0/8, ::1, localhost)";
	if (!url)
		return why;
	const char *auth = url, *sep = strstr(url, "://");
	if (sep && sep > url && strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") ==
					(size_t)(sep - url)) {
		if (sep - url == 5 && !strncasecmp(url, "https", 5))
			return NULL;
		auth = sep + 3;
	} /* else no scheme: libcurl would speak http */
	const char *end = auth + strcspn(auth, "/?#"), *h = auth;
	for (const char *q = auth; q < end; q++)
		if (*q == '@')
			h = q + 1; /* user:password@ */
	struct rp_hostport hp;
	char host[64];
	if (rp_hostport(h, (size_t)(end - h), RP_HP_HOST_ONLY, 0, &hp) || rp_hostport_host(&hp, host, sizeof host) < 0)
		return why;
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcasecmp(host, "localhost") ||
	    (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
	    (inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)))
		return NULL;
	return why;
}

/* A request that carries credentials to a URL the rule refuses is not
 * sent: resp says why (status 0, no attempt).  1 when refused. */
static int refuse_cleartext(const struct rp_http_req *r, struct rp_http_resp *resp)
{
	int creds = r->bearer || r->userpwd || r->key_pem || r->aws_sigv4;
	for (const char *const *p = r->headers; p && *p && !creds; p++)
		creds = !strncasecmp(*p, "Authorization:", 14);
	const char *why = creds ? rp_http_cleartext(r->url) : NULL;
	if (!why)
		return 0;
	snprintf(resp->err, sizeof resp->err, "refused: %s", why);
	resp->body = r->download ? NULL : rp_xstrdup("");
	resp->retry_after = -1;
	return 1;
}

int rp_http_do(const struct rp_http_req *req, struct rp_http_resp *resp)
{
	rp_http_global_init();
	memset(resp, 0, sizeof *resp);
	if (refuse_cleartext(req, resp))
		return -1;
	struct xfer x = { .req = req, .resp = resp };
	for (;;) {
		struct rp_wire_res wr;
		attempt(&x, &wr);
		double d = finish_attempt(&x, &wr);
		if (d < 0)
			break;
		rp_sleep(d);
	}
	rp_buf_free(&x.body);
	rp_buf_free(&x.head);
	return resp->status ? 0 : -1;
}

struct multi {
	const struct rp_http_req *reqs;
	struct rp_http_resp *resps;
};

static int one_of_many(void *arg, size_t i)
{
	struct multi *mu = arg;
	return rp_http_do(&mu->reqs[i], &mu->resps[i]);
}

int rp_http_multi(const struct rp_http_req *reqs, struct rp_http_resp *resps, size_t n, int parallel)
{
	rp_http_global_init();
	struct multi mu = { reqs, resps };
	for (size_t i = 0; i < n; i++)
		memset(&resps[i], 0, sizeof resps[i]);
	rp_pool_run(n, parallel < 1 ? 1 : parallel, one_of_many, &mu, NULL, NULL);
	int fails = 0;
	for (size_t i = 0; i < n; i++)
		if (!resps[i].status)
			fails++;
	return fails;
}

void rp_http_resp_free(struct rp_http_resp *resp)
{
	free(resp->body);
	free(resp->headers);
	resp->body = resp->headers = NULL;
}

const char *rp_http_errstr(const struct rp_http_resp *resp)
{
	static _Thread_local char buf[512]; /* one per thread: callers may be threads */
	if (!resp->status) {
		snprintf(buf, sizeof buf, "%s", resp->err[0] ? resp->err : "no answer");
		return buf;
	}
	/* Redact before cutting to 200 bytes: a secret cut at the end of
	 * the excerpt would no longer match, and its first bytes would show. */
	char ex[1025] = "";
	if (resp->body) {
		size_t j = 0;
		for (size_t i = 0; resp->body[i] && j < sizeof ex - 1; i++)
			ex[j++] = isprint((unsigned char)resp->body[i]) ? resp->body[i] : ' ';
		ex[j] = 0;
	}
	char *red = rp_redact(ex);
	snprintf(buf, sizeof buf, "HTTP %ld%s%.200s", resp->status, *red ? ": " : "", red);
	free(red);
	return buf;
}

char *rp_http_escape(const char *s)
{
	struct rp_buf b = { 0 };
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			rp_buf_add(&b, p, 1);
		else
			rp_buf_addf(&b, "%%%02X", *p);
	}
	if (!b.data)
		rp_buf_add(&b, "", 0);
	return b.data;
}
