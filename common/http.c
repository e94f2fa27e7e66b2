/* http.c — libcurl easy + multi with one retry policy. */
#include "http.h"
#include "log.h"
#include "rp.h"

#include <arpa/inet.h>
#include <ctype.h>
#define CURL_DISABLE_TYPECHECK /* the calls go through the pointers below */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* libcurl is loaded on first use, not linked: a run that asks no HTTP
 * question (rp-lagwatch --lag-only, rp-cost on the ledger, --help) maps
 * none of the thirty-odd libraries it pulls in (about 15 ms of page
 * faults and 4 MiB resident each time here). */
#define RP_CURL_FNS                                                         \
	X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt)           \
	X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_easy_perform)     \
	X(curl_easy_cleanup) X(curl_slist_append) X(curl_slist_free_all)    \
	X(curl_multi_init) X(curl_multi_add_handle)                         \
	X(curl_multi_remove_handle) X(curl_multi_perform)                   \
	X(curl_multi_poll) X(curl_multi_info_read) X(curl_multi_cleanup)
#define X(f) static __typeof__(f) *p_##f;
RP_CURL_FNS
#undef X

static void load_curl(void)
{
	static const char *const names[] = { "libcurl.so.4", "libcurl.so" };
	void *h = NULL;
	for (size_t i = 0; !h && i < sizeof names / sizeof names[0]; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		rp_fatal(RP_EXIT_FAIL, "cannot load libcurl (Debian package libcurl4): %s", dlerror());
#define X(f)                                                                                  \
	if (!(*(void **)&p_##f = dlsym(h, #f)))                                               \
		rp_fatal(RP_EXIT_FAIL, "libcurl has no %s: not the version rp was built for", #f);
	RP_CURL_FNS
#undef X
	p_curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rp_http_global_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, load_curl);
}

#define curl_easy_init p_curl_easy_init
#undef curl_easy_setopt /* curl.h's own function-like macros */
#undef curl_easy_getinfo
#define curl_easy_setopt p_curl_easy_setopt
#define curl_easy_getinfo p_curl_easy_getinfo
#define curl_easy_strerror p_curl_easy_strerror
#define curl_easy_perform p_curl_easy_perform
#define curl_easy_cleanup p_curl_easy_cleanup
#define curl_slist_append p_curl_slist_append
#define curl_slist_free_all p_curl_slist_free_all
#define curl_multi_init p_curl_multi_init
#define curl_multi_add_handle p_curl_multi_add_handle
#define curl_multi_remove_handle p_curl_multi_remove_handle
#define curl_multi_perform p_curl_multi_perform
#define curl_multi_poll p_curl_multi_poll
#define curl_multi_info_read p_curl_multi_info_read
#define curl_multi_cleanup p_curl_multi_cleanup

struct xfer {
	const struct rp_http_req *req;
	struct rp_http_resp *resp;
	CURL *h;
	struct curl_slist *hdrs;
	struct rp_buf body, head;
	int too_big;
	char errbuf[CURL_ERROR_SIZE];
	double not_before; /* monotonic time of next attempt */
	int done;
	long long upos;    /* bytes of an fd upload sent in this attempt */
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nm;
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (x->req->sink && code >= 200 && code < 300)
		return x->req->sink(x->req->sink_arg, p, n);
	if (x->req->download && code >= 200 && code < 300)
		return fwrite(p, 1, n, x->req->download);
	size_t cap = x->req->max_body ? x->req->max_body : (16u << 20);
	if (x->body.len + n > cap) {
		x->too_big = 1;
		return 0;
	}
	rp_buf_add(&x->body, p, n);
	return n;
}

static size_t on_head(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nm;
	/* A new status line (redirect, 100-continue) starts a new block. */
	if (n > 5 && !strncmp(p, "HTTP/", 5))
		x->head.len = 0;
	if (x->head.len < (256u << 10))
		rp_buf_add(&x->head, p, n);
	return n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	if (x->req->has_upload_fd) {
		long long left = (long long)x->req->body_len - x->upos;
		size_t want = sz * nm;
		if (left <= 0)
			return 0;
		if ((long long)want > left)
			want = (size_t)left;
		ssize_t got = pread(x->req->upload_fd, p, want, (off_t)(x->req->upload_off + x->upos));
		if (got <= 0)
			return CURL_READFUNC_ABORT; /* the file shrank or failed */
		x->upos += got;
		return (size_t)got;
	}
	return fread(p, 1, sz * nm, x->req->upload);
}

static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	struct xfer *x = arg;
	if (ult > 0)
		x->req->progress(x->req->progress_arg, (double)uln, (double)ult);
	else if (dlt > 0)
		x->req->progress(x->req->progress_arg, (double)dln, (double)dlt);
	return 0;
}

static int is_idempotent(const struct rp_http_req *r)
{
	if (r->idempotent > 0)
		return 1;
	const char *m = r->method ? r->method : "GET";
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
	       !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

static void setup(struct xfer *x)
{
	rp_http_global_init(); /* libcurl loaded, once */
	const struct rp_http_req *r = x->req;
	const char *m = r->method ? r->method : "GET";
	CURL *h = x->h = curl_easy_init();
	if (!h)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	x->body.len = 0;
	x->head.len = 0;
	x->too_big = 0;
	x->upos = 0;
	x->errbuf[0] = 0;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((r->timeout > 0 ? r->timeout : 30) * 1000));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)((r->connect_timeout > 0 ? r->connect_timeout : 10) * 1000));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rp/" RP_VERSION);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (r->cainfo)
		curl_easy_setopt(h, CURLOPT_CAINFO, r->cainfo);
	else if (!r->ca_pem && getenv("SSL_CERT_FILE") && *getenv("SSL_CERT_FILE"))
		curl_easy_setopt(h, CURLOPT_CAINFO, getenv("SSL_CERT_FILE"));
	if (r->ca_pem) {
		struct curl_blob b = { (void *)r->ca_pem, strlen(r->ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (r->cert_pem) {
		struct curl_blob b = { (void *)r->cert_pem, strlen(r->cert_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (r->key_pem) {
		struct curl_blob b = { (void *)r->key_pem, strlen(r->key_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (r->aws_sigv4) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r->aws_sigv4);
		if (r->userpwd)
			curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
	}
	struct curl_slist *hl = NULL;
	for (const char *const *p = r->headers; p && *p; p++)
		hl = curl_slist_append(hl, *p);
	if (r->bearer) {
		char *a = rp_xasprintf("Authorization: Bearer %s", r->bearer);
		hl = curl_slist_append(hl, a);
		free(a);
	}
	if (r->content_type) {
		char *a = rp_xasprintf("Content-Type: %s", r->content_type);
		hl = curl_slist_append(hl, a);
		free(a);
	}
	if ((r->upload || r->body || r->has_upload_fd) && !r->aws_sigv4)
		hl = curl_slist_append(hl, "Expect:");
	else if (r->aws_sigv4)
		curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 1L);
	x->hdrs = hl;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (r->upload || r->has_upload_fd) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(m, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	} else if (!strcmp(m, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
		if (r->body || strcmp(m, "DELETE")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
		}
	}
	if (r->bufsize > 0) {
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, r->bufsize);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, r->bufsize);
	}
	if (r->progress) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
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
static double finish_attempt(struct xfer *x, CURLcode cc)
{
	const struct rp_http_req *r = x->req;
	struct rp_http_resp *resp = x->resp;
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
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
	if (cc != CURLE_OK || code == 0) {
		resp->timed_out = (cc == CURLE_OPERATION_TIMEDOUT);
		if (x->too_big)
			snprintf(resp->err, sizeof resp->err, "response too large");
		else
			snprintf(resp->err, sizeof resp->err, "%s",
				 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
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
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	curl_easy_cleanup(x->h);
	x->h = NULL;

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
	const char *he;
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(end - h));
		if (!he)
			return why;
		h++;
	} else {
		he = memchr(h, ':', (size_t)(end - h));
		if (!he)
			he = end;
	}
	char host[64];
	size_t hl = (size_t)(he - h);
	if (!hl || hl >= sizeof host)
		return why;
	memcpy(host, h, hl);
	host[hl] = 0;
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
		setup(&x);
		CURLcode cc = curl_easy_perform(x.h);
		double d = finish_attempt(&x, cc);
		if (d < 0)
			break;
		rp_sleep(d);
	}
	rp_buf_free(&x.body);
	rp_buf_free(&x.head);
	return resp->status ? 0 : -1;
}

int rp_http_multi(const struct rp_http_req *reqs, struct rp_http_resp *resps, size_t n, int parallel)
{
	rp_http_global_init();
	if (parallel < 1)
		parallel = 1;
	struct xfer *xs = rp_xcalloc(n, sizeof *xs);
	CURLM *m = curl_multi_init();
	size_t done = 0;
	int running = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof resps[i]);
		xs[i].req = &reqs[i];
		xs[i].resp = &resps[i];
		if (refuse_cleartext(&reqs[i], &resps[i])) {
			xs[i].done = 1;
			done++;
		}
	}
	while (done < n) {
		double now = rp_mono();
		/* Start what may start. */
		for (size_t i = 0; i < n && running < parallel; i++) {
			if (xs[i].done || xs[i].h || xs[i].not_before > now)
				continue;
			setup(&xs[i]);
			curl_easy_setopt(xs[i].h, CURLOPT_PRIVATE, &xs[i]);
			curl_multi_add_handle(m, xs[i].h);
			running++;
		}
		int still;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct xfer *x;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			CURLcode cc = msg->data.result;
			curl_multi_remove_handle(m, x->h);
			running--;
			double d = finish_attempt(x, cc);
			if (d < 0) {
				x->done = 1;
				done++;
			} else {
				x->not_before = rp_mono() + d;
			}
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	int fails = 0;
	for (size_t i = 0; i < n; i++) {
		if (!resps[i].status)
			fails++;
		rp_buf_free(&xs[i].body);
		rp_buf_free(&xs[i].head);
	}
	curl_multi_cleanup(m);
	free(xs);
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
