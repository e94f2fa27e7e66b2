/* net.c — TCP connect with a deadline; SSH identification lines. */
#include "net.h"
#include "rp.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BANNER_MAX 8192

struct conn {
	struct rp_net_probe *p;
	int fd;
	int state;           /* 0 idle, 1 connecting, 2 reading, 3 done */
	double deadline;
	char buf[BANNER_MAX];
	size_t len;
};

/* Start a non-blocking connect; fd >= 0, or -1 and err filled. */
static int start_connect(const char *host, int port, char *err, size_t en)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (port <= 0 || port > 65535) {
		snprintf(err, en, "bad port %d", port);
		return -1;
	}
	int g = getaddrinfo(host, ps, &hints, &res);
	if (g) {
		snprintf(err, en, "%s: %s", host, gai_strerror(g));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		snprintf(err, en, "connect %s:%d: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	if (fd < 0 && !*err)
		snprintf(err, en, "connect %s:%d: no usable address", host, port);
	freeaddrinfo(res);
	return fd;
}

/* Look for a complete "SSH-" line in c->buf: 1 found, 0 need more, -1 bad. */
static int scan_banner(struct conn *c)
{
	size_t start = 0;
	for (size_t i = 0; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		size_t e = i;
		if (e > start && c->buf[e - 1] == '\r')
			e--;
		if (e - start >= 4 && !memcmp(c->buf + start, "SSH-", 4)) {
			size_t n = e - start;
			if (n >= sizeof c->p->banner)
				n = sizeof c->p->banner - 1;
			memcpy(c->p->banner, c->buf + start, n);
			c->p->banner[n] = 0;
			if (strncmp(c->p->banner, "SSH-2.0-", 8) && strncmp(c->p->banner, "SSH-1.99-", 9)) {
				snprintf(c->p->err, sizeof c->p->err, "not SSH 2: %.100s", c->p->banner);
				return -1;
			}
			return 1;
		}
		start = i + 1;
	}
	if (c->len >= sizeof c->buf) {
		snprintf(c->p->err, sizeof c->p->err, "no SSH identification in %d bytes", BANNER_MAX);
		return -1;
	}
	return 0;
}

static void finish(struct conn *c, int ok)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = 3;
	c->p->ok = ok;
}

void rp_net_ssh_banners(struct rp_net_probe *ps, size_t n, double timeout, int parallel)
{
	if (!n)
		return;
	if (parallel < 1)
		parallel = 1;
	struct conn *cs = rp_xcalloc(n, sizeof *cs);
	struct pollfd *pfd = rp_xcalloc(n, sizeof *pfd);
	size_t *map = rp_xcalloc(n, sizeof *map);
	size_t next = 0, done = 0;
	for (size_t i = 0; i < n; i++) {
		cs[i].p = &ps[i];
		cs[i].fd = -1;
		ps[i].ok = 0;
		ps[i].banner[0] = ps[i].err[0] = 0;
	}
	while (done < n) {
		/* Start what may start: at most `parallel` open per endpoint
		 * (sshd drops unauthenticated connections past MaxStartups). */
		for (size_t i = next; i < n; i++) {
			struct conn *c = &cs[i];
			if (c->state != 0)
				continue;
			int same = 0;
			for (size_t j = 0; j < n; j++)
				if ((cs[j].state == 1 || cs[j].state == 2) && cs[j].p->port == c->p->port &&
				    !strcmp(cs[j].p->host ? cs[j].p->host : "", c->p->host ? c->p->host : ""))
					same++;
			if (same >= parallel)
				continue;
			c->fd = start_connect(c->p->host ? c->p->host : "", c->p->port, c->p->err, sizeof c->p->err);
			if (c->fd < 0) {
				finish(c, 0);
				done++;
				continue;
			}
			c->state = 1;
			c->deadline = rp_mono() + timeout;
		}
		while (next < n && cs[next].state != 0)
			next++;
		size_t np = 0;
		double now = rp_mono(), wait = timeout;
		for (size_t i = 0; i < n; i++) {
			struct conn *c = &cs[i];
			if (c->state != 1 && c->state != 2)
				continue;
			if (now >= c->deadline) {
				snprintf(c->p->err, sizeof c->p->err, "%s:%d: timed out %s", c->p->host,
					 c->p->port, c->state == 1 ? "connecting" : "waiting for the SSH banner");
				finish(c, 0);
				done++;
				continue;
			}
			if (c->deadline - now < wait)
				wait = c->deadline - now;
			pfd[np].fd = c->fd;
			pfd[np].events = c->state == 1 ? POLLOUT : POLLIN;
			pfd[np].revents = 0;
			map[np++] = i;
		}
		if (!np)
			continue;
		int ms = (int)(wait * 1000) + 1;
		int r = poll(pfd, np, ms);
		if (r < 0 && errno != EINTR)
			rp_fatal(RP_EXIT_FAIL, "poll: %s", strerror(errno));
		for (size_t k = 0; r > 0 && k < np; k++) {
			if (!pfd[k].revents)
				continue;
			struct conn *c = &cs[map[k]];
			if (c->state == 1) {
				int soerr = 0;
				socklen_t sl = sizeof soerr;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr) {
					snprintf(c->p->err, sizeof c->p->err, "connect %s:%d: %s", c->p->host,
						 c->p->port, strerror(soerr));
					finish(c, 0);
						done++;
				} else {
					c->state = 2;
				}
				continue;
			}
			ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				snprintf(c->p->err, sizeof c->p->err, "%s:%d: connection closed before the SSH banner%s%s",
					 c->p->host, c->p->port, got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
				finish(c, 0);
				done++;
				continue;
			}
			c->len += (size_t)got;
			int s = scan_banner(c);
			if (s) {
				finish(c, s > 0);
				done++;
			}
		}
	}
	free(map);
	free(pfd);
	free(cs);
}

int rp_net_ssh_banner(const char *host, int port, double timeout, char *banner, size_t n, char **err)
{
	struct rp_net_probe p = { .host = host, .port = port };
	*err = NULL;
	rp_net_ssh_banners(&p, 1, timeout, 1);
	if (!p.ok) {
		*err = rp_xstrdup(p.err[0] ? p.err : "no SSH banner");
		return -1;
	}
	if (n) {
		snprintf(banner, n, "%s", p.banner);
	}
	return 0;
}
