/* httpd.c — a tiny HTTP responder, a thread per connection (see httpd.h). */
#include "httpd.h"
#include "hostport.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct rp_httpd {
	int fd;
	char addr[96];
	pthread_mutex_t mu;
	int live; /* connection threads running */
};

struct conn {
	struct rp_httpd *h;
	int fd;
	rp_httpd_fn fn;
	void *arg;
};

struct rp_httpd *rp_httpd_open(const char *addr, char **err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct rp_hostport hp;
	char host[80], port[8];
	if (rp_hostport_listen(addr, &hp, err) < 0)
		return NULL;
	if (rp_hostport_host(&hp, host, sizeof host) < 0) {
		*err = rp_xasprintf("listen address '%s': host too long", addr);
		return NULL;
	}
	snprintf(port, sizeof port, "%d", hp.port);
	int r = getaddrinfo(hp.hostlen ? host : NULL, port, &hints, &ai);
	if (r) {
		*err = rp_xasprintf("listen address '%s': %s", addr, gai_strerror(r));
		return NULL;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		*err = rp_xasprintf("listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	struct rp_httpd *h = rp_xcalloc(1, sizeof *h);
	h->fd = fd;
	pthread_mutex_init(&h->mu, NULL);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char hb[64], pb[16];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, hb, sizeof hb, pb, sizeof pb, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(h->addr, sizeof h->addr, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", hb, pb);
	return h;
}

const char *rp_httpd_addr(const struct rp_httpd *h)
{
	return h ? h->addr : "";
}

void rp_httpd_close(struct rp_httpd *h)
{
	if (!h)
		return;
	close(h->fd);
	pthread_mutex_lock(&h->mu);
	double end = rp_mono() + 3;
	while (h->live && rp_mono() < end) {
		pthread_mutex_unlock(&h->mu);
		rp_sleep(0.01);
		pthread_mutex_lock(&h->mu);
	}
	int live = h->live;
	pthread_mutex_unlock(&h->mu);
	if (live)
		return; /* a thread still holds h: leave it (the process is ending) */
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

const char *rp_httpd_reason(int st)
{
	switch (st) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void reply(int fd, int st, const char *ctype, const char *body, size_t n, int head)
{
	char *h = rp_xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			       "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			       st, rp_httpd_reason(st), ctype, n, st == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
	send_all(fd, h, strlen(h));
	if (!head)
		send_all(fd, body, n);
	free(h);
}

/* The value of header name (case-insensitive) in the request head, in
 * buf; NULL if absent. */
static const char *header(const char *req, const char *name, char *buf, size_t bufsz)
{
	size_t nl = strlen(name);
	for (const char *p = strchr(req, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		const char *l = p + 1;
		if (strncasecmp(l, name, nl) || l[nl] != ':')
			continue;
		l += nl + 1;
		l += strspn(l, " \t");
		size_t n = strcspn(l, "\r\n");
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		if (n >= bufsz)
			n = bufsz - 1;
		memcpy(buf, l, n);
		buf[n] = 0;
		return buf;
	}
	return NULL;
}

static void answer(int c, rp_httpd_fn fn, void *arg)
{
	char req[8192];
	size_t n = 0;
	double end = rp_mono() + 2;
	int st = 0;
	req[0] = 0;
	for (;;) {
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
		if (n + 1 >= sizeof req) {
			st = 431;
			break;
		}
		double left = end - rp_mono();
		struct pollfd cp = { .fd = c, .events = POLLIN };
		if (left <= 0 || poll(&cp, 1, (int)(left * 1000) + 1) <= 0) {
			st = 408;
			break;
		}
		ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = 0;
	}
	if (st) {
		reply(c, st, "text/plain", "", 0, 0);
		return;
	}
	char method[8], path[2048], auth[1024];
	if (sscanf(req, "%7s %2047s HTTP/", method, path) != 2) {
		reply(c, 400, "text/plain", "bad request\n", 12, 0);
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		reply(c, 405, "text/plain", "GET only\n", 9, 0);
	} else {
		struct rp_buf b = { 0 };
		const char *ctype = "application/json";
		struct rp_httpd_req rq = { .method = method, .path = path,
					   .authorization = header(req, "Authorization", auth, sizeof auth) };
		rp_buf_adds(&b, "");
		st = fn(arg, &rq, &b, &ctype);
		reply(c, st, ctype, b.data, b.len, !strcmp(method, "HEAD"));
		rp_buf_free(&b);
	}
}

static void *conn_main(void *p)
{
	struct conn *cn = p;
	struct rp_httpd *h = cn->h;
	answer(cn->fd, cn->fn, cn->arg);
	close(cn->fd);
	free(cn);
	pthread_mutex_lock(&h->mu);
	h->live--;
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int rp_httpd_serve_one(struct rp_httpd *h, double timeout, rp_httpd_fn fn, void *arg)
{
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	if (poll(&p, 1, (int)(timeout * 1000)) <= 0)
		return 0;
	int c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return 0;
	pthread_mutex_lock(&h->mu);
	int full = h->live >= RP_HTTPD_MAX;
	if (!full)
		h->live++;
	pthread_mutex_unlock(&h->mu);
	if (full) {
		reply(c, 503, "text/plain", "busy\n", 5, 0);
		close(c);
		return 1;
	}
	struct conn *cn = rp_xcalloc(1, sizeof *cn);
	*cn = (struct conn){ .h = h, .fd = c, .fn = fn, .arg = arg };
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 * 1024);
	int e = pthread_create(&t, &at, conn_main, cn);
	pthread_attr_destroy(&at);
	if (e) { /* no thread: answer here, as before */
		answer(c, fn, arg);
		close(c);
		free(cn);
		pthread_mutex_lock(&h->mu);
		h->live--;
		pthread_mutex_unlock(&h->mu);
	}
	return 1;
}
