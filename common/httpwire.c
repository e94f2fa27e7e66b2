/* httpwire.c — one HTTP/1.1 exchange over TCP or OpenSSL TLS. */
/* The per-library ERR_load_*_strings() are deprecated in OpenSSL 3 but
 * are the one way to load error texts after OPENSSL_init_ssl() was told
 * not to (see rp_wire_init). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "httpwire.h"
#include "hostport.h"
#include "rp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- parsers ------------------------------------------------------------- */

int rp_url_parse(const char *url, struct rp_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	const char *p = url ? url : "";
	for (const char *q = p; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f) {
			snprintf(err, errlen, "bad URL: a space or control character in it");
			return -1;
		}
	const char *sep = strstr(p, "://");
	if (sep) {
		size_t sl = (size_t)(sep - p);
		if (sl == 5 && !strncasecmp(p, "https", 5))
			u->tls = 1;
		else if (!(sl == 4 && !strncasecmp(p, "http", 4))) {
			snprintf(err, errlen, "bad URL: only http:// and https:// are spoken");
			return -1;
		}
		p = sep + 3;
	}
	const char *end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p))) {
		snprintf(err, errlen, "bad URL: user:password@ in a URL is not supported");
		return -1;
	}
	int defport = u->tls ? 443 : 80;
	struct rp_hostport hp;
	int r = rp_hostport(p, (size_t)(end - p), RP_HP_PORT_OPTIONAL | RP_HP_PORT_EMPTY, defport, &hp);
	if (r == RP_HP_EBRACKET || r == RP_HP_EJUNK) {
		snprintf(err, errlen, "bad URL: %s", rp_hostport_strerror(r));
		return -1;
	}
	/* the host is checked before the port, so a bad one is named first */
	if (!hp.hostlen || rp_hostport_host(&hp, u->host, sizeof u->host) < 0) {
		snprintf(err, errlen, "bad URL: no host");
		return -1;
	}
	unsigned char a[16];
	if (hp.bracketed) {
		if (inet_pton(AF_INET6, u->host, a) != 1) {
			snprintf(err, errlen, "bad URL: '%s' is not an IPv6 address", u->host);
			return -1;
		}
		u->ip = 1;
	} else {
		u->ip = inet_pton(AF_INET, u->host, a) == 1;
		for (const char *q = u->host; *q; q++)
			if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.' && *q != '_') {
				snprintf(err, errlen, "bad URL: bad character in host name");
				return -1;
			}
	}
	if (r) {
		snprintf(err, errlen, "bad URL: bad port");
		return -1;
	}
	u->port = hp.port;
	rp_hostport_fmt(u->hostport, sizeof u->hostport, u->host, u->port != defport ? u->port : -1);
	size_t tl = strcspn(end, "#");
	if (tl + 2 > sizeof u->target) {
		snprintf(err, errlen, "bad URL: path too long");
		return -1;
	}
	snprintf(u->target, sizeof u->target, "%s%.*s", *end == '/' ? "" : "/", (int)tl, end);
	return 0;
}

long rp_wire_status_line(const char *line, size_t n)
{
	/* HTTP/1.x SP DIGIT DIGIT DIGIT (SP reason)? */
	if (n < 12 || strncmp(line, "HTTP/1.", 7) || !isdigit((unsigned char)line[7]) || line[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (!isdigit((unsigned char)line[i]))
			return -1;
	if (n > 12 && line[12] != ' ' && line[12] != '\r' && line[12] != '\n')
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

int rp_wire_header_line(const char *line, size_t n, struct rp_wire_meta *m)
{
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	const char *c = memchr(line, ':', n);
	if (!c || c == line || line[0] == ' ' || line[0] == '\t')
		return -1; /* no name, or an obsolete folded line */
	size_t nl = (size_t)(c - line);
	const char *v = c + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (nl == 14 && !strncasecmp(line, "Content-Length", 14)) {
		if (v == e)
			return -1;
		long long x = 0;
		for (const char *q = v; q < e; q++) {
			if (!isdigit((unsigned char)*q) || x > (1LL << 50))
				return -1;
			x = x * 10 + (*q - '0');
		}
		if (m->clen >= 0 && m->clen != x)
			return -1; /* two different lengths: a smuggling risk */
		m->clen = x;
	} else if (nl == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
		size_t vl = (size_t)(e - v);
		m->chunked = vl >= 7 && !strncasecmp(e - 7, "chunked", 7);
	} else if (nl == 10 && !strncasecmp(line, "Connection", 10)) {
		for (const char *t = v; t + 5 <= e; t++) /* a token list: "close" among them */
			if (!strncasecmp(t, "close", 5) && (t == v || t[-1] == ' ' || t[-1] == ',') &&
			    (t + 5 == e || t[5] == ' ' || t[5] == ','))
				m->close = 1;
	}
	return 0;
}

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_DONE };

int rp_chunk_done(const struct rp_chunk *c)
{
	return c->state == CH_DONE;
}

long rp_chunk_feed(struct rp_chunk *c, const char *p, size_t n,
		   int (*out)(void *arg, const char *p, size_t n), void *arg)
{
	size_t i = 0;
	while (i < n && c->state != CH_DONE) {
		char ch = p[i];
		switch (c->state) {
		case CH_SIZE:
			if (isxdigit((unsigned char)ch)) {
				if (c->left >> 56)
					return -1; /* a size beyond reason */
				c->left = c->left * 16 + (unsigned)(isdigit((unsigned char)ch) ? ch - '0'
									 : (tolower(ch) - 'a' + 10));
				c->linelen++;
			} else if (c->linelen && (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r')) {
				c->state = CH_EXT;
			} else if (c->linelen && ch == '\n') {
				c->state = c->left ? CH_DATA : CH_TRAILER;
				c->linelen = 0;
			} else {
				return -1;
			}
			i++;
			break;
		case CH_EXT: /* extensions are ignored, up to the end of the line */
			if (ch == '\n') {
				c->state = c->left ? CH_DATA : CH_TRAILER;
				c->linelen = 0;
			} else if (++c->linelen > 4096) {
				return -1;
			}
			i++;
			break;
		case CH_DATA: {
			size_t k = n - i;
			if ((unsigned long long)k > c->left)
				k = (size_t)c->left;
			if (out(arg, p + i, k))
				return -2;
			c->left -= k;
			i += k;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				return -1;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -1;
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER: /* trailer lines until an empty one */
			if (ch == '\n') {
				if (!c->linelen)
					c->state = CH_DONE;
				c->linelen = 0;
			} else if (ch != '\r' || c->linelen) {
				if (++c->linelen > 65536)
					return -1;
			}
			i++;
			break;
		}
	}
	return (long)i;
}

/* ---- OpenSSL ------------------------------------------------------------------ */

/* OpenSSL's error texts (about 0.5 MiB resident once loaded) are loaded
 * only when an error is to be written: a run whose requests succeed
 * never pays for them (issue 21: every binary <= 10 MiB max RSS). */
static void init_once(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
}

void rp_wire_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
}

static void strings_once(void)
{
	ERR_load_ERR_strings();
	ERR_load_CRYPTO_strings();
	ERR_load_SSL_strings();
	ERR_load_X509_strings();
	ERR_load_X509V3_strings();
	ERR_load_PEM_strings();
	ERR_load_ASN1_strings();
	ERR_load_BIO_strings();
	ERR_load_EVP_strings();
	ERR_load_EC_strings();
	ERR_load_RSA_strings();
}

/* ---- the connection --------------------------------------------------------- */

struct conn {
	int fd;
	SSL_CTX *ctx;
	int own_ctx;       /* not from the cache: freed with the connection */
	SSL *ssl;
	double start, deadline, timeout;
	double cdl, ctimeout; /* the connect (TCP and TLS handshake) deadline */
	struct rp_wire_res *res;
	int keep;          /* the answer leaves the connection fit for another */
	int heard;         /* a byte of an answer came */
};

static void fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct conn *c, const char *fmt, ...)
{
	if (c->res->err[0])
		return; /* the first reason counts */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->res->err, sizeof c->res->err, fmt, ap);
	va_end(ap);
}

static void timed_out(struct conn *c)
{
	c->res->timed_out = 1;
	fail(c, "timed out after %g s", c->timeout);
}

/* Wait for ev on the socket until the deadline: 1 ready, 0 timed out. */
static int wait_fd(struct conn *c, short ev, double deadline)
{
	for (;;) {
		double left = deadline - rp_mono();
		if (left <= 0)
			return 0;
		struct pollfd pf = { .fd = c->fd, .events = ev };
		int r = poll(&pf, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* let the next call report it */
	}
}

static int tcp_connect(struct conn *c, const struct rp_url *u, double connect_timeout)
{
	double cdl = rp_mono() + connect_timeout;
	if (cdl > c->deadline)
		cdl = c->deadline;
	c->cdl = cdl;
	c->ctimeout = connect_timeout;
	char port[8];
	snprintf(port, sizeof port, "%d", u->port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
	if (u->ip)
		hints.ai_flags = AI_NUMERICHOST;
	int g = getaddrinfo(u->host, port, &hints, &ai);
	if (g) {
		fail(c, "could not resolve host %s: %s", u->host, gai_strerror(g));
		return -1;
	}
	int e = 0;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			c->fd = fd;
			if (!wait_fd(c, POLLOUT, cdl)) {
				close(fd);
				c->fd = -1;
				freeaddrinfo(ai);
				c->res->timed_out = 1;
				fail(c, "connect to %s port %d: timed out after %g s", u->host, u->port,
				     cdl < c->deadline ? connect_timeout : c->timeout);
				return -1;
			}
			socklen_t sl = sizeof e;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
				e = errno;
			r = e ? -1 : 0;
		} else if (r < 0) {
			e = errno;
		}
		if (r == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
			c->fd = fd;
			freeaddrinfo(ai);
			return 0;
		}
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	fail(c, "connect to %s port %d: %s", u->host, u->port, strerror(e ? e : ECONNREFUSED));
	return -1;
}

static void tls_err(struct conn *c, const char *what)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	unsigned long e = ERR_get_error();
	char buf[160] = "";
	if (e) {
		pthread_once(&once, strings_once);
		ERR_error_string_n(e, buf, sizeof buf);
	}
	ERR_clear_error();
	fail(c, "TLS: %s%s%s", what, *buf ? ": " : "", buf);
}

/* Certificates from PEM text into the store (CA) or the context (client). */
static int load_pem_cas(struct conn *c, const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_STORE *st = SSL_CTX_get_cert_store(c->ctx);
	int n = 0;
	X509 *x;
	while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		X509_STORE_add_cert(st, x);
		X509_free(x);
		n++;
	}
	ERR_clear_error(); /* the end of the text */
	BIO_free(b);
	if (!n)
		fail(c, "TLS: no certificate in the CA given in memory");
	return n ? 0 : -1;
}

static int load_client(struct conn *c, const char *cert_pem, const char *key_pem)
{
	if (cert_pem) {
		BIO *b = BIO_new_mem_buf(cert_pem, -1);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		int ok = x && SSL_CTX_use_certificate(c->ctx, x) == 1;
		X509_free(x);
		X509 *ch;
		while (ok && (ch = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			if (SSL_CTX_add_extra_chain_cert(c->ctx, ch) != 1)
				X509_free(ch);
		BIO_free(b);
		if (!ok) {
			tls_err(c, "cannot use the client certificate");
			return -1;
		}
		ERR_clear_error();
	}
	if (key_pem) {
		BIO *b = BIO_new_mem_buf(key_pem, -1);
		EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		int ok = k && SSL_CTX_use_PrivateKey(c->ctx, k) == 1;
		EVP_PKEY_free(k);
		BIO_free(b);
		if (!ok) {
			tls_err(c, "cannot use the client key");
			return -1;
		}
	}
	return 0;
}

/* A TLS context for w's CA and client certificate; NULL and err. */
static SSL_CTX *make_ctx(struct conn *c, const struct rp_wire_req *w)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		tls_err(c, "cannot make a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	const char *env = getenv("SSL_CERT_FILE");
	int ok = 1;
	if (w->cainfo && SSL_CTX_load_verify_locations(c->ctx, w->cainfo, NULL) != 1) {
		tls_err(c, "cannot read the CA file");
		ok = 0;
	}
	if (ok && w->ca_pem && load_pem_cas(c, w->ca_pem) < 0)
		ok = 0;
	if (ok && !w->cainfo && !w->ca_pem &&
	    (env && *env ? SSL_CTX_load_verify_locations(c->ctx, env, NULL)
			 : SSL_CTX_set_default_verify_paths(c->ctx)) != 1) {
		tls_err(c, env && *env ? "cannot read $SSL_CERT_FILE" : "cannot load the system CAs");
		ok = 0;
	}
	if (ok && load_client(c, w->cert_pem, w->key_pem) < 0)
		ok = 0;
	SSL_CTX *x = c->ctx;
	c->ctx = NULL;
	if (!ok)
		SSL_CTX_free(x);
	return ok ? x : NULL;
}

/* Contexts are kept for the run, one per CA and client certificate (a
 * SHA-256 of them is the key, no copy of a key): a CA bundle is parsed
 * once, not once per request, and requests on many threads share it
 * (OpenSSL makes SSL objects from one context on any thread). */
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char id[65];
	SSL_CTX *ctx;
} ctxs[8];
static size_t nctx;

static int get_ctx(struct conn *c, const struct rp_wire_req *w)
{
	const char *env = getenv("SSL_CERT_FILE");
	struct rp_buf k = { 0 };
	const char *parts[] = { w->cainfo, w->ca_pem, w->cert_pem, w->key_pem,
				!w->cainfo && !w->ca_pem ? env : NULL };
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		rp_buf_addf(&k, "%zu:", parts[i] ? strlen(parts[i]) : (size_t)-1);
		if (parts[i])
			rp_buf_adds(&k, parts[i]);
	}
	char id[65];
	rp_sha256_hex(k.data, k.len, id);
	OPENSSL_cleanse(k.data, k.len);
	rp_buf_free(&k);
	pthread_mutex_lock(&ctx_mu);
	for (size_t i = 0; i < nctx; i++)
		if (!strcmp(ctxs[i].id, id)) {
			c->ctx = ctxs[i].ctx;
			pthread_mutex_unlock(&ctx_mu);
			return 0;
		}
	SSL_CTX *x = make_ctx(c, w);
	if (x && nctx < sizeof ctxs / sizeof ctxs[0]) {
		memcpy(ctxs[nctx].id, id, sizeof id);
		ctxs[nctx++].ctx = x;
	} else if (x) {
		c->own_ctx = 1;
	}
	pthread_mutex_unlock(&ctx_mu);
	c->ctx = x;
	return x ? 0 : -1;
}

static int tls_start(struct conn *c, const struct rp_url *u, const struct rp_wire_req *w)
{
	if (get_ctx(c, w) < 0)
		return -1;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		tls_err(c, "cannot start");
		return -1;
	}
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (u->ip) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, u->host);
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		X509_VERIFY_PARAM_set1_host(vp, u->host, 0);
		SSL_set_tlsext_host_name(c->ssl, u->host);
	}
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (!wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, c->cdl)) {
				c->res->timed_out = 1;
				fail(c, "TLS handshake with %s port %d: timed out after %g s", u->host, u->port,
				     c->cdl < c->deadline ? c->ctimeout : c->timeout);
				return -1;
			}
			continue;
		}
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)
			fail(c, "TLS: certificate verify failed: %s (%s)", X509_verify_cert_error_string(v),
			     u->host);
		else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
			fail(c, "TLS: connection to %s port %d closed in the handshake", u->host, u->port);
		else
			tls_err(c, "handshake failed");
		return -1;
	}
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t r;
		short ev = POLLOUT;
		if (c->ssl) {
			ERR_clear_error();
			errno = 0;
			int k = SSL_write(c->ssl, p, n > (1u << 30) ? (1 << 30) : (int)n);
			if (k > 0) {
				r = k;
			} else {
				int e = SSL_get_error(c->ssl, k);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					if (e == SSL_ERROR_SYSCALL && errno)
						fail(c, "send failure: %s", strerror(errno));
					else
						tls_err(c, "send failure");
					return -1;
				}
				ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				r = -1;
			}
		} else {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				fail(c, "send failure: %s", strerror(errno));
				return -1;
			}
		}
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (!wait_fd(c, ev, c->deadline)) {
			timed_out(c);
			return -1;
		}
	}
	return 0;
}

/* >0 bytes, 0 the peer closed, -1 failed (err set). */
static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
	for (;;) {
		short ev = POLLIN;
		if (c->ssl) {
			ERR_clear_error();
			errno = 0;
			int k = SSL_read(c->ssl, p, n > (1u << 30) ? (1 << 30) : (int)n);
			if (k > 0)
				return k;
			int e = SSL_get_error(c->ssl, k);
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !errno && !ERR_peek_error()))
				return 0;
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				if (e == SSL_ERROR_SYSCALL && errno)
					fail(c, "receive failure: %s", strerror(errno));
				else
					tls_err(c, "receive failure");
				return -1;
			}
			if (e == SSL_ERROR_WANT_WRITE)
				ev = POLLOUT;
		} else {
			ssize_t r = recv(c->fd, p, n, 0);
			if (r >= 0)
				return r;
			if (errno != EAGAIN && errno != EINTR) {
				fail(c, "receive failure: %s", strerror(errno));
				return -1;
			}
		}
		if (!wait_fd(c, ev, c->deadline)) {
			timed_out(c);
			return -1;
		}
	}
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl); /* no close_notify: the connection is ours alone */
	if (c->ctx && c->own_ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

/* ---- one exchange ------------------------------------------------------------ */

static int has_header(const char *const *h, const char *name)
{
	size_t nl = strlen(name);
	for (; h && *h; h++)
		if (!strncasecmp(*h, name, nl) && (*h)[nl] == ':')
			return 1;
	return 0;
}

static int send_request(struct conn *c, const struct rp_url *u, const struct rp_wire_req *w, char *buf,
			size_t bufsize)
{
	struct rp_buf h = { 0 };
	rp_buf_addf(&h, "%s %s HTTP/1.1\r\n", w->method, u->target);
	if (!has_header(w->headers, "Host"))
		rp_buf_addf(&h, "Host: %s\r\n", u->hostport);
	if (!has_header(w->headers, "User-Agent"))
		rp_buf_adds(&h, "User-Agent: rp/" RP_VERSION "\r\n");
	if (!has_header(w->headers, "Accept"))
		rp_buf_adds(&h, "Accept: */*\r\n");
	for (const char *const *p = w->headers; p && *p; p++) {
		const char *col = strchr(*p, ':');
		if (!col || strpbrk(*p, "\r\n"))
			continue; /* never a line break from a caller */
		if (!col[1 + strspn(col + 1, " ")])
			continue; /* "Name:" only removes a header, as in curl */
		rp_buf_addf(&h, "%s\r\n", *p);
	}
	if (w->send_length)
		rp_buf_addf(&h, "Content-Length: %lld\r\n", w->body_len);
	rp_buf_adds(&h, w->keepalive ? "\r\n" : "Connection: close\r\n\r\n");
	int r = conn_write(c, h.data, h.len);
	memset(h.data, 0, h.len); /* it may hold a token */
	rp_buf_free(&h);
	if (r < 0 || !w->send_length || w->body_len <= 0)
		return r;
	double total = (double)w->body_len;
	if (w->body) {
		for (long long off = 0; off < w->body_len;) {
			size_t k = (size_t)(w->body_len - off) < bufsize ? (size_t)(w->body_len - off) : bufsize;
			if (conn_write(c, (const char *)w->body + off, k) < 0)
				return -1;
			off += (long long)k;
			if (w->progress)
				w->progress(w->arg, (double)off, total);
		}
		return 0;
	}
	long long sent = 0;
	while (sent < w->body_len) {
		size_t want = (size_t)(w->body_len - sent) < bufsize ? (size_t)(w->body_len - sent) : bufsize;
		long got = w->read ? w->read(w->arg, buf, want) : -1;
		if (got <= 0) {
			fail(c, "the upload stopped after %lld of %lld bytes", sent, w->body_len);
			return -2; /* ours, not the server's: no answer to wait for */
		}
		if (conn_write(c, buf, (size_t)got) < 0)
			return -1;
		sent += got;
		if (w->progress)
			w->progress(w->arg, (double)sent, total);
	}
	return 0;
}

struct rx {
	struct conn *c;
	const struct rp_wire_req *w;
	long status;
	long long got, clen;
};

static int deliver(void *arg, const char *p, size_t n)
{
	struct rx *x = arg;
	if (!n)
		return 0;
	if (x->w->on_body && x->w->on_body(x->w->arg, x->status, p, n))
		return -1;
	x->got += (long long)n;
	if (x->w->progress && x->clen > 0 && !x->w->send_length)
		x->w->progress(x->w->arg, (double)x->got, (double)x->clen);
	return 0;
}

/* Reads the answer: 0 complete, -1 not. */
static int read_answer(struct conn *c, const struct rp_wire_req *w, char *buf, size_t bufsize)
{
	struct rx x = { .c = c, .w = w, .clen = -1 };
	struct rp_wire_meta m = { .clen = -1 };
	struct rp_buf line = { 0 };
	struct rp_chunk ch = { 0 };
	int in_head = 1, first = 1, ret = -1, http11 = 0;
	size_t extra = 0; /* bytes after the answer's end: the connection is not kept */
	size_t headbytes = 0;
	for (;;) {
		ssize_t n = conn_read(c, buf, bufsize);
		if (n < 0)
			break;
		c->heard |= n > 0;
		if (n == 0) { /* the peer closed */
			if (in_head)
				fail(c, first && !headbytes ? "empty reply from server"
							   : "the connection closed inside the answer's header");
			else if (m.chunked)
				fail(c, "the connection closed inside a chunked body");
			else if (m.clen >= 0 && x.got < m.clen)
				fail(c, "transfer closed with %lld bytes remaining to read", m.clen - x.got);
			else
				ret = 0;
			break;
		}
		size_t i = 0;
		while (in_head && i < (size_t)n) {
			const char *nl = memchr(buf + i, '\n', (size_t)n - i);
			size_t k = nl ? (size_t)(nl - (buf + i)) + 1 : (size_t)n - i;
			rp_buf_add(&line, buf + i, k);
			i += k;
			headbytes += k;
			if (headbytes > (256u << 10)) {
				fail(c, "the answer's header is too large");
				goto out;
			}
			if (!nl)
				break;
			const char *l = line.data;
			size_t ll = line.len;
			if (first) {
				x.status = rp_wire_status_line(l, ll);
				if (x.status < 0) {
					fail(c, "not an HTTP/1.x answer");
					goto out;
				}
				http11 = !strncmp(l, "HTTP/1.1 ", 9);
				first = 0;
			} else if (ll == 1 || (ll == 2 && l[0] == '\r')) {
				if (w->on_head)
					w->on_head(w->arg, l, ll);
				line.len = 0;
				if (x.status >= 100 && x.status < 200) { /* interim: the real one follows */
					first = 1;
					m.clen = -1;
					m.chunked = 0;
					continue;
				}
				in_head = 0;
				x.clen = m.clen;
				c->res->status = x.status;
				if (w->head || x.status == 204 || x.status == 304 || (!m.chunked && m.clen == 0)) {
					extra = (size_t)n - i;
					ret = 0;
					goto out;
				}
				break;
			} else if (rp_wire_header_line(l, ll, &m) < 0) {
				fail(c, "a malformed header line in the answer");
				goto out;
			}
			if (w->on_head)
				w->on_head(w->arg, l, ll);
			line.len = 0;
		}
		if (in_head || i == (size_t)n)
			continue;
		char *p = buf + i;
		size_t k = (size_t)n - i;
		if (m.chunked) {
			long r = rp_chunk_feed(&ch, p, k, deliver, &x);
			if (r == -1) {
				fail(c, "bad chunked encoding in the answer");
				break;
			}
			if (r == -2) {
				c->res->aborted = 1;
				fail(c, "the receiver stopped the transfer");
				break;
			}
			if (rp_chunk_done(&ch)) {
				extra = k - (size_t)r;
				ret = 0;
				break;
			}
		} else {
			if (m.clen >= 0 && (long long)k > m.clen - x.got) {
				extra = k - (size_t)(m.clen - x.got);
				k = (size_t)(m.clen - x.got); /* more than announced: ignored */
			}
			if (deliver(&x, p, k)) {
				c->res->aborted = 1;
				fail(c, "the receiver stopped the transfer");
				break;
			}
			if (m.clen >= 0 && x.got >= m.clen) {
				ret = 0;
				break;
			}
		}
	}
out:
	/* Fit for another exchange only when the answer ended by its own
	 * length, not by the peer's close, and nothing followed it. */
	c->keep = ret == 0 && http11 && !m.close && !extra && (w->head || m.chunked || m.clen >= 0 ||
								x.status == 204 || x.status == 304);
	if (in_head)
		c->keep = 0;
	rp_buf_free(&line);
	return ret;
}

/* ---- the idle connection, one per thread ---------------------------------- */

struct idle {
	int fd;
	SSL *ssl;
	SSL_CTX *ctx;
	int own_ctx;
	double since;
	int tls, port;
	char host[256];
	const char *cainfo, *ca_pem, *cert_pem, *key_pem;
};
static __thread struct idle idle = { .fd = -1 };
static pthread_key_t idle_key;
static pthread_once_t idle_once = PTHREAD_ONCE_INIT;

static void idle_drop(struct idle *d)
{
	struct conn c = { .fd = d->fd, .ssl = d->ssl, .ctx = d->ctx, .own_ctx = d->own_ctx };
	conn_close(&c);
	d->fd = -1;
	d->ssl = NULL;
	d->ctx = NULL;
}

static void idle_at_exit(void *p)
{
	if (p)
		idle_drop(p);
}

static void idle_key_once(void)
{
	pthread_key_create(&idle_key, idle_at_exit);
}

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* This thread's idle connection into c, when it fits: 1, else 0 (and any
 * idle connection that does not fit is closed). */
static int idle_take(struct conn *c, const struct rp_url *u, const struct rp_wire_req *w)
{
	struct idle *d = &idle;
	if (d->fd < 0)
		return 0;
	int fits = d->tls == u->tls && d->port == u->port && !strcmp(d->host, u->host) &&
		   str_eq(d->cainfo, w->cainfo) && d->ca_pem == w->ca_pem && d->cert_pem == w->cert_pem &&
		   d->key_pem == w->key_pem && rp_mono() - d->since < RP_WIRE_IDLE_S;
	/* Anything to read on an idle connection is the peer's close (or
	 * junk): either way it is done. */
	struct pollfd pf = { .fd = d->fd, .events = POLLIN };
	if (fits && (poll(&pf, 1, 0) != 0 || (d->ssl && SSL_pending(d->ssl) > 0)))
		fits = 0;
	if (!fits) {
		idle_drop(d);
		return 0;
	}
	c->fd = d->fd;
	c->ssl = d->ssl;
	c->ctx = d->ctx;
	c->own_ctx = d->own_ctx;
	d->fd = -1;
	d->ssl = NULL;
	d->ctx = NULL;
	return 1;
}

/* Keep c as this thread's idle connection (the one before is closed). */
static void idle_put(struct conn *c, const struct rp_url *u, const struct rp_wire_req *w)
{
	pthread_once(&idle_once, idle_key_once);
	struct idle *d = &idle;
	if (d->fd >= 0)
		idle_drop(d);
	d->fd = c->fd;
	d->ssl = c->ssl;
	d->ctx = c->ctx;
	d->own_ctx = c->own_ctx;
	d->since = rp_mono();
	d->tls = u->tls;
	d->port = u->port;
	snprintf(d->host, sizeof d->host, "%s", u->host);
	d->cainfo = w->cainfo;
	d->ca_pem = w->ca_pem;
	d->cert_pem = w->cert_pem;
	d->key_pem = w->key_pem;
	pthread_setspecific(idle_key, d);
	c->fd = -1;
	c->ssl = NULL;
	c->ctx = NULL;
}

int rp_wire_do(const struct rp_wire_req *w, struct rp_wire_res *res)
{
	memset(res, 0, sizeof *res);
	rp_wire_init();
	struct rp_url u;
	if (rp_url_parse(w->url, &u, res->err, sizeof res->err) < 0)
		return -1;
	struct conn c = { .fd = -1, .res = res, .start = rp_mono() };
	c.timeout = w->timeout > 0 ? w->timeout : 30;
	c.deadline = c.start + c.timeout;
	/* A peer that closes while we write must not kill the process:
	 * SIGPIPE is held for this thread and a pending one swallowed. */
	sigset_t pipe, old;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigset_t pend;
	sigpending(&pend);
	int was_pending = sigismember(&pend, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	size_t bs = w->bufsize ? w->bufsize : 16384;
	char *buf = rp_xmalloc(bs);
	int ok = -1, sent = -1;
	res->reused = w->reuse && idle_take(&c, &u, w);
	if (res->reused || (tcp_connect(&c, &u, w->connect_timeout > 0 ? w->connect_timeout : 10) == 0 &&
			    (!u.tls || tls_start(&c, &u, w) == 0))) {
		sent = send_request(&c, &u, w, buf, bs);
		if (sent == 0 || (sent == -1 && !res->timed_out)) {
			/* A server may answer (413, 403) before it took the whole
			 * body; its answer is the one to report. */
			char keep[256];
			snprintf(keep, sizeof keep, "%s", res->err);
			res->err[0] = 0;
			ok = read_answer(&c, w, buf, bs);
			if (sent < 0 && ok < 0 && keep[0])
				snprintf(res->err, sizeof res->err, "%s", keep);
			if (sent < 0 && ok == 0 && !res->status)
				ok = -1;
		}
	}
	res->stale = res->reused && ok < 0 && !c.heard && !res->timed_out && !res->aborted;
	if (ok == 0 && sent == 0 && c.keep && w->keepalive)
		idle_put(&c, &u, w);
	else
		conn_close(&c);
	free(buf);
	sigpending(&pend);
	if (!was_pending && sigismember(&pend, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ok < 0)
		res->status = 0;
	if (ok < 0 && !res->err[0])
		snprintf(res->err, sizeof res->err, "no answer");
	return ok;
}
