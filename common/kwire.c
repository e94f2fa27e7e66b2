/* kwire.c — a small Kafka wire-protocol client (see kwire.h). */
#include "kwire.h"
#include "hostport.h"
#include "rp.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KW_CLIENT_ID "rp-lagwatch"
#define KW_MAX_FRAME (64 << 20)

/* ---- encoding ---- */
static void put(struct kw_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + n)
			c *= 2;
		b->p = rp_xrealloc(b->p, c);
		b->cap = c;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_be(struct kw_buf *b, uint64_t v, int n)
{
	unsigned char x[8];
	for (int i = 0; i < n; i++)
		x[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	put(b, x, (size_t)n);
}

void kw_i8(struct kw_buf *b, int8_t v) { put_be(b, (uint8_t)v, 1); }
void kw_i16(struct kw_buf *b, int16_t v) { put_be(b, (uint16_t)v, 2); }
void kw_i32(struct kw_buf *b, int32_t v) { put_be(b, (uint32_t)v, 4); }
void kw_i64(struct kw_buf *b, int64_t v) { put_be(b, (uint64_t)v, 8); }

void kw_str(struct kw_buf *b, const char *s)
{
	if (!s) {
		kw_i16(b, -1);
		return;
	}
	size_t n = strlen(s);
	if (n > 32767)
		n = 32767; /* names are far shorter; never a wrong length */
	kw_i16(b, (int16_t)n);
	put(b, s, n);
}

/* ---- bounded reading ---- */
static uint64_t get_be(struct kw_rd *r, int n)
{
	if (r->bad || r->len - r->off < (size_t)n) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | r->p[r->off + (size_t)i];
	r->off += (size_t)n;
	return v;
}

int8_t kw_r8(struct kw_rd *r) { return (int8_t)(uint8_t)get_be(r, 1); }
int16_t kw_r16(struct kw_rd *r) { return (int16_t)(uint16_t)get_be(r, 2); }
int32_t kw_r32(struct kw_rd *r) { return (int32_t)(uint32_t)get_be(r, 4); }
int64_t kw_r64(struct kw_rd *r) { return (int64_t)get_be(r, 8); }

int kw_rstr(struct kw_rd *r, const char **s, size_t *n)
{
	int16_t l = kw_r16(r);
	*s = "";
	*n = 0;
	if (r->bad)
		return -1;
	if (l < 0)
		return 0;
	if (r->len - r->off < (size_t)l) {
		r->bad = 1;
		return -1;
	}
	*s = (const char *)r->p + r->off;
	*n = (size_t)l;
	r->off += (size_t)l;
	return 0;
}

int32_t kw_rarr(struct kw_rd *r)
{
	int32_t n = kw_r32(r);
	if (r->bad)
		return 0;
	if (n < -1 || (n > 0 && (size_t)n > r->len - r->off)) {
		r->bad = 1;
		return 0;
	}
	return n;
}

int kw_rend(struct kw_rd *r)
{
	if (r->off != r->len)
		r->bad = 1;
	return !r->bad;
}

int kw_streq(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && !memcmp(s, want, n);
}

const char *kw_errstr(int code)
{
	static const struct {
		int code;
		const char *text;
	} t[] = {
		{ -1, "Broker: Unknown broker error" },
		{ 1, "Broker: Offset out of range" },
		{ 2, "Broker: Invalid message" },
		{ 3, "Broker: Unknown topic or partition" },
		{ 5, "Broker: Leader not available" },
		{ 6, "Broker: Not leader for partition" },
		{ 7, "Broker: Request timed out" },
		{ 8, "Broker: Broker not available" },
		{ 9, "Broker: Replica not available" },
		{ 14, "Broker: Coordinator load in progress" },
		{ 15, "Broker: Coordinator not available" },
		{ 16, "Broker: Not coordinator" },
		{ 17, "Broker: Invalid topic" },
		{ 24, "Broker: Invalid group id" },
		{ 29, "Broker: Topic authorization failed" },
		{ 30, "Broker: Group authorization failed" },
		{ 31, "Broker: Cluster authorization failed" },
		{ 35, "Broker: Unsupported version" },
		{ 69, "Broker: Group id not found" },
		{ 74, "Broker: Fenced leader epoch" },
		{ 75, "Broker: Unknown leader epoch" },
		{ 78, "Broker: Offset not available" },
		{ 88, "Broker: Unstable offset commit" },
	};
	static _Thread_local char other[40];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].code == code)
			return t[i].text;
	snprintf(other, sizeof other, "Broker: error %d", code);
	return other;
}

static const struct {
	int api;
	const char *name;
	int lo, hi;
} versions[] = {
#define X(a, n, l, h) { a, n, l, h },
	KW_VERSIONS
#undef X
};

const char *kw_apiname(int api)
{
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
		if (versions[i].api == api)
			return versions[i].name;
	return "api";
}

/* ---- the client ---- */
struct kw_req {
	int api, ver;
	int32_t corr;
	int written;
	kw_enc_fn enc;
	kw_dec_fn dec; /* NULL: abandoned (or our ApiVersions) */
	void *arg;
};

struct kw_conn {
	struct kw_client *c;
	char *host, name[300];
	int port, fd, connecting, have_versions;
	int16_t vmin[KW_NAPI], vmax[KW_NAPI]; /* -1: not offered */
	struct addrinfo *ai, *ai_next;        /* while connecting */
	struct kw_req *q;                     /* FIFO: q[head..n) */
	size_t head, n, cap;
	struct kw_buf out;
	size_t out_off;
	struct kw_buf in;
	int32_t next_corr;
};

struct kw_client {
	struct kw_conn **v;
	size_t n;
	int ran; /* callbacks run in this kw_poll */
};

struct kw_client *kw_client_new(void)
{
	return rp_xcalloc(1, sizeof(struct kw_client));
}

static void conn_close(struct kw_conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->connecting = 0;
	k->have_versions = 0;
	if (k->ai)
		freeaddrinfo(k->ai);
	k->ai = k->ai_next = NULL;
	k->out.len = k->out_off = 0;
	k->in.len = 0;
}

void kw_client_free(struct kw_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		struct kw_conn *k = c->v[i];
		conn_close(k);
		free(k->q);
		free(k->out.p);
		free(k->in.p);
		free(k->host);
		free(k);
	}
	free(c->v);
	free(c);
}

struct kw_conn *kw_conn(struct kw_client *c, const char *host, int port)
{
	if (port < 1 || port > 65535 || !host || !*host || strlen(host) > 255)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i]->port == port && !strcmp(c->v[i]->host, host))
			return c->v[i];
	struct kw_conn *k = rp_xcalloc(1, sizeof *k);
	k->c = c;
	k->host = rp_xstrdup(host);
	k->port = port;
	k->fd = -1;
	rp_hostport_fmt(k->name, sizeof k->name, host, port);
	c->v = rp_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	c->v[c->n++] = k;
	return k;
}

const char *kw_conn_name(const struct kw_conn *k)
{
	return k->name;
}

static void push(struct kw_conn *k, struct kw_req r)
{
	if (k->head && k->head == k->n)
		k->head = k->n = 0;
	if (k->n == k->cap) {
		if (k->head) { /* slide down before growing */
			memmove(k->q, k->q + k->head, (k->n - k->head) * sizeof *k->q);
			k->n -= k->head;
			k->head = 0;
		}
		if (k->n == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 8;
			k->q = rp_xrealloc(k->q, k->cap * sizeof *k->q);
		}
	}
	k->q[k->n++] = r;
}

void kw_send(struct kw_conn *k, int api, kw_enc_fn enc, kw_dec_fn dec, void *arg)
{
	push(k, (struct kw_req){ .api = api, .enc = enc, .dec = dec, .arg = arg });
}

size_t kw_pending(const struct kw_client *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = c->v[i]->head; j < c->v[i]->n; j++)
			n += c->v[i]->q[j].dec != NULL;
	return n;
}

void kw_frame(struct kw_buf *out, int api, int ver, int32_t corr, kw_enc_fn enc, void *arg)
{
	size_t at = out->len;
	kw_i32(out, 0); /* the size, below */
	kw_i16(out, (int16_t)api);
	kw_i16(out, (int16_t)ver);
	kw_i32(out, corr);
	kw_str(out, KW_CLIENT_ID);
	if (enc)
		enc(arg, out, ver);
	uint32_t n = (uint32_t)(out->len - at - 4);
	for (int i = 0; i < 4; i++)
		out->p[at + (size_t)i] = (unsigned char)(n >> (8 * (3 - i)));
}

/* Fail every request of k (and close it): one callback each. */
static void conn_fail(struct kw_conn *k, int how, const char *why)
{
	char *err = rp_xasprintf("kafka broker %s: %s", k->name, why);
	rp_debug("kafka: connection failed", "broker", k->name, "error", why);
	conn_close(k);
	/* Take the queue first: a callback may queue anew on k. */
	struct kw_req *q = k->q;
	size_t head = k->head, n = k->n;
	k->q = NULL;
	k->head = k->n = k->cap = 0;
	for (size_t i = head; i < n; i++)
		if (q[i].dec) {
			k->c->ran++;
			q[i].dec(q[i].arg, how, err, NULL, 0);
		}
	free(q);
	free(err);
}

/* Encode the requests not yet written, at the versions agreed. */
static void conn_encode(struct kw_conn *k)
{
	for (size_t i = k->head; i < k->n; i++) {
		struct kw_req *r = &k->q[i];
		if (r->written)
			continue;
		int lo = -1, hi = -1;
		for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++)
			if (versions[v].api == r->api)
				lo = versions[v].lo, hi = versions[v].hi;
		int bmin = r->api < KW_NAPI ? k->vmin[r->api] : -1;
		int bmax = r->api < KW_NAPI ? k->vmax[r->api] : -1;
		int ver = hi < bmax ? hi : bmax;
		if (lo < 0 || bmin < 0 || ver < lo || ver < bmin) {
			char *why = bmin < 0 ? rp_xasprintf("kafka broker %s does not support %s", k->name,
							    kw_apiname(r->api))
					     : rp_xasprintf("kafka broker %s supports %s v%d-v%d, rp-lagwatch "
							    "needs one of v%d-v%d",
							    k->name, kw_apiname(r->api), bmin, bmax, lo, hi);
			struct kw_req x = *r;
			memmove(r, r + 1, (k->n - i - 1) * sizeof *r);
			k->n--;
			i--;
			if (x.dec) {
				k->c->ran++;
				x.dec(x.arg, KW_EVERSION, why, NULL, 0);
			}
			free(why);
			continue;
		}
		r->ver = ver;
		r->corr = k->next_corr++;
		if (k->next_corr < 0)
			k->next_corr = 0;
		r->written = 1;
		kw_frame(&k->out, r->api, ver, r->corr, r->enc, r->arg);
	}
}

/* ApiVersions v0 goes first on a fresh connection. */
static void conn_opened(struct kw_conn *k)
{
	k->connecting = 0;
	if (k->ai)
		freeaddrinfo(k->ai);
	k->ai = k->ai_next = NULL;
	int one = 1;
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct kw_req r = { .api = KW_APIVERSIONS, .ver = 0, .corr = k->next_corr++, .written = 1 };
	/* It goes before any request queued while connecting. */
	push(k, r);
	memmove(k->q + k->head + 1, k->q + k->head, (k->n - k->head - 1) * sizeof *k->q);
	k->q[k->head] = r;
	kw_frame(&k->out, KW_APIVERSIONS, 0, r.corr, NULL, NULL);
	rp_debug("kafka: connected", "broker", k->name);
}

/* Try the next address; 0 under way (or open), -1 none left (errno). */
static int conn_try(struct kw_conn *k)
{
	while (k->ai_next) {
		struct addrinfo *a = k->ai_next;
		k->ai_next = a->ai_next;
		if (k->fd >= 0)
			close(k->fd);
		k->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (k->fd < 0)
			continue;
		if (connect(k->fd, a->ai_addr, a->ai_addrlen) == 0) {
			conn_opened(k);
			return 0;
		}
		if (errno == EINPROGRESS) {
			k->connecting = 1;
			return 0;
		}
	}
	return -1;
}

static void conn_start(struct kw_conn *k)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	char port[8];
	snprintf(port, sizeof port, "%d", k->port);
	int e = getaddrinfo(k->host, port, &hints, &k->ai);
	if (e) {
		char *why = rp_xasprintf("cannot resolve: %s", gai_strerror(e));
		k->ai = NULL;
		conn_fail(k, KW_ETRANSPORT, why);
		free(why);
		return;
	}
	k->ai_next = k->ai;
	if (conn_try(k) < 0) {
		char *why = rp_xasprintf("connect: %s", strerror(errno ? errno : ECONNREFUSED));
		conn_fail(k, KW_ETRANSPORT, why);
		free(why);
	}
}

static int apiversions(struct kw_conn *k, struct kw_rd *r)
{
	for (int i = 0; i < KW_NAPI; i++)
		k->vmin[i] = k->vmax[i] = -1;
	int16_t e = kw_r16(r);
	int32_t n = kw_rarr(r);
	for (int32_t i = 0; i < n && !r->bad; i++) {
		int16_t api = kw_r16(r), lo = kw_r16(r), hi = kw_r16(r);
		if (api >= 0 && api < KW_NAPI && lo >= 0 && hi >= lo)
			k->vmin[api] = lo, k->vmax[api] = hi;
	}
	if (!kw_rend(r)) {
		conn_fail(k, KW_ETRANSPORT, "malformed ApiVersions response");
		return -1;
	}
	if (e) {
		char *why = rp_xasprintf("ApiVersions: %s", kw_errstr(e));
		conn_fail(k, KW_ETRANSPORT, why);
		free(why);
		return -1;
	}
	k->have_versions = 1;
	return 0;
}

/* Answers complete in k->in, in order. */
static void conn_frames(struct kw_conn *k)
{
	size_t off = 0;
	while (k->in.len - off >= 4) {
		const unsigned char *p = k->in.p + off;
		uint32_t size = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (size < 4 || size > KW_MAX_FRAME) {
			char *why = rp_xasprintf("bad response size %u", size);
			conn_fail(k, KW_ETRANSPORT, why);
			free(why);
			return;
		}
		if (k->in.len - off - 4 < size)
			break;
		int32_t corr = (int32_t)((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]);
		if (k->head == k->n || !k->q[k->head].written || k->q[k->head].corr != corr) {
			char *why = k->head == k->n || !k->q[k->head].written
					    ? rp_xasprintf("an answer (correlation id %d) to no request", (int)corr)
					    : rp_xasprintf("answer out of order (correlation id %d, expected %d)",
							   (int)corr, (int)k->q[k->head].corr);
			conn_fail(k, KW_ETRANSPORT, why);
			free(why);
			return;
		}
		struct kw_req r = k->q[k->head++];
		struct kw_rd rd = { .p = p + 8, .len = size - 4 };
		off += 4 + (size_t)size;
		if (r.api == KW_APIVERSIONS && !r.dec) {
			if (apiversions(k, &rd) < 0)
				return;
			conn_encode(k);
		} else if (r.dec) {
			k->c->ran++;
			r.dec(r.arg, KW_OK, NULL, &rd, r.ver);
		}
	}
	memmove(k->in.p, k->in.p + off, k->in.len - off);
	k->in.len -= off;
}

static void conn_read(struct kw_conn *k)
{
	for (;;) {
		if (k->in.cap - k->in.len < 4096) {
			k->in.cap = k->in.cap ? k->in.cap * 2 : 16384;
			k->in.p = rp_xrealloc(k->in.p, k->in.cap);
		}
		ssize_t n = read(k->fd, k->in.p + k->in.len, k->in.cap - k->in.len);
		if (n > 0) {
			/* Frames are taken as they complete: a broker that keeps
			 * sending never makes us hold more than one frame (at
			 * most KW_MAX_FRAME) and one read. */
			k->in.len += (size_t)n;
			conn_frames(k);
			if (k->fd < 0)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		int eof = n == 0;
		int e = errno;
		conn_frames(k); /* what came before the end still counts */
		if (k->fd >= 0) {
			char *why = eof ? rp_xstrdup("connection closed") : rp_xasprintf("read: %s", strerror(e));
			conn_fail(k, KW_ETRANSPORT, why);
			free(why);
		}
		return;
	}
	conn_frames(k);
}

static void conn_write(struct kw_conn *k)
{
	while (k->out_off < k->out.len) {
		ssize_t n = send(k->fd, k->out.p + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			k->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		char *why = rp_xasprintf("write: %s", strerror(errno));
		conn_fail(k, KW_ETRANSPORT, why);
		free(why);
		return;
	}
	k->out.len = k->out_off = 0;
}

int kw_poll(struct kw_client *c, double until)
{
	c->ran = 0;
	for (;;) {
		for (size_t i = 0; i < c->n; i++) {
			struct kw_conn *k = c->v[i];
			if (k->fd < 0 && k->n > k->head)
				conn_start(k);
			if (k->fd >= 0 && !k->connecting && k->have_versions)
				conn_encode(k);
		}
		if (c->ran)
			return c->ran;
		double left = until - rp_mono();
		if (left <= 0)
			return 0;
		struct pollfd *pf = rp_xcalloc(c->n ? c->n : 1, sizeof *pf);
		size_t np = 0;
		for (size_t i = 0; i < c->n; i++) {
			struct kw_conn *k = c->v[i];
			pf[i].fd = -1;
			if (k->fd < 0)
				continue;
			pf[i].fd = k->fd;
			pf[i].events = k->connecting ? POLLOUT : POLLIN | (k->out_off < k->out.len ? POLLOUT : 0);
			np++;
		}
		if (!np) {
			free(pf);
			rp_sleep(left);
			return 0;
		}
		int ms = (int)(left * 1000) + 1;
		int rc = poll(pf, c->n, ms);
		if (rc < 0 && errno != EINTR) {
			free(pf);
			return 0;
		}
		size_t nv = c->n; /* callbacks may add connections: not polled now */
		for (size_t i = 0; rc > 0 && i < nv; i++) {
			struct kw_conn *k = c->v[i];
			short ev = pf[i].revents;
			if (!ev || k->fd != pf[i].fd)
				continue;
			if (k->connecting) {
				int e = 0;
				socklen_t l = sizeof e;
				if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
					e = errno;
				if (!e) {
					conn_opened(k);
				} else if (conn_try(k) < 0) {
					char *why = rp_xasprintf("connect: %s", strerror(e));
					conn_fail(k, KW_ETRANSPORT, why);
					free(why);
					continue;
				}
				if (k->connecting || k->fd < 0)
					continue;
			}
			if (ev & POLLOUT)
				conn_write(k);
			if (k->fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR)))
				conn_read(k);
			if (k->fd >= 0 && k->out_off < k->out.len)
				conn_write(k);
		}
		free(pf);
		if (c->ran)
			return c->ran;
	}
}

void kw_abandon(struct kw_client *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct kw_conn *k = c->v[i];
		int stuck = 0;
		for (size_t j = k->head; j < k->n; j++)
			stuck |= k->q[j].written;
		/* A connection with answers still due (or a connect still under
		 * way) is closed: it may hang; the next use reopens it. */
		if (stuck || k->connecting)
			conn_close(k);
		k->head = k->n = 0;
	}
}
