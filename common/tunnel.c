/* tunnel.c — L (direct-tcpip) and R (tcpip-forward) forwards over one
 * libssh2 session, one thread, non-blocking, reconnected with backoff. */
#include "tunnel.h"
#include "log.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BUFSZ 32768

int rp_fwd_parse(const char *spec, struct rp_fwd *f, char **err)
{
	memset(f, 0, sizeof *f);
	char kind = 0;
	int a = 0, b = 0, used = 0;
	char host[256];
	if (sscanf(spec, "%c:%d:%255[^:]:%d%n", &kind, &a, host, &b, &used) != 4 || spec[used] ||
	    (kind != 'L' && kind != 'R') || a < 1 || a > 65535 || b < 1 || b > 65535) {
		*err = rp_xasprintf("kube.forwards: '%s': want L:LPORT:HOST:PORT or R:RPORT:HOST:PORT", spec);
		return -1;
	}
	f->kind = kind;
	f->listen = a;
	snprintf(f->host, sizeof f->host, "%s", host);
	f->port = b;
	return 0;
}

struct conn {
	int fd;
	LIBSSH2_CHANNEL *ch;
	const struct rp_fwd *f;
	int opening, closing;
	char up[BUFSZ], down[BUFSZ];
	size_t up_len, up_off, down_len, down_off;
	int fd_eof, eof_sent, ch_eof, fd_shut;
};

struct tun {
	struct rp_ssh *s;
	LIBSSH2_SESSION *sess;
	int sfd;
	const struct rp_fwd *f;
	size_t n;
	int *lfd;                  /* L: local listening sockets (or -1) */
	LIBSSH2_LISTENER **rl;     /* R: remote listeners (or NULL) */
	double *rl_retry;          /* R: when to try listening again */
	struct conn **c;
	size_t nc;
};

static int drop_code(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	       rc == LIBSSH2_ERROR_TIMEOUT;
}

static int listen_local(int port, char **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		goto bad;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0)
		goto bad;
	return fd;
bad:
	*err = rp_xasprintf("forward L:%d: listen on 127.0.0.1:%d: %s", port, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int connect_local(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return -1;
	int fd = -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void add_conn(struct tun *t, int fd, LIBSSH2_CHANNEL *ch, const struct rp_fwd *f)
{
	struct conn *c = rp_xcalloc(1, sizeof *c);
	c->fd = fd;
	c->ch = ch;
	c->f = f;
	c->opening = ch == NULL;
	t->c = rp_xrealloc(t->c, (t->nc + 1) * sizeof *t->c);
	t->c[t->nc++] = c;
}

/* Move bytes for one connection.  1 progress, 0 none, -1 session lost. */
static int pump(struct tun *t, struct conn *c)
{
	int prog = 0;
	if (c->closing) {
		if (c->ch) {
			int r = libssh2_channel_free(c->ch);
			if (r == LIBSSH2_ERROR_EAGAIN)
				return 0;
			c->ch = NULL;
		}
		return 1;
	}
	if (c->opening) {
		c->ch = libssh2_channel_direct_tcpip_ex(t->sess, c->f->host, c->f->port, "127.0.0.1",
						       c->f->listen);
		if (!c->ch) {
			int e = libssh2_session_last_errno(t->sess);
			if (e == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (drop_code(e))
				return -1;
			char *m = NULL;
			libssh2_session_last_error(t->sess, &m, NULL, 0);
			rp_logw("forward refused by the pod", "forward", "L", "target", c->f->host, "error",
				m ? m : "");
			c->closing = 1;
			return 1;
		}
		c->opening = 0;
		prog = 1;
	}
	/* fd -> channel */
	if (!c->fd_eof && c->up_off >= c->up_len) {
		ssize_t r = read(c->fd, c->up, sizeof c->up);
		if (r > 0) {
			c->up_len = (size_t)r;
			c->up_off = 0;
			prog = 1;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->fd_eof = 1;
			prog = 1;
		}
	}
	if (c->up_off < c->up_len) {
		ssize_t w = libssh2_channel_write(c->ch, c->up + c->up_off, c->up_len - c->up_off);
		if (w > 0) {
			c->up_off += (size_t)w;
			prog = 1;
		} else if (w != LIBSSH2_ERROR_EAGAIN) {
			if (drop_code((int)w))
				return -1;
			c->closing = 1;
			return 1;
		}
	}
	if (c->fd_eof && c->up_off >= c->up_len && !c->eof_sent) {
		int r = libssh2_channel_send_eof(c->ch);
		if (r == 0 || r != LIBSSH2_ERROR_EAGAIN) {
			if (r && drop_code(r))
				return -1;
			c->eof_sent = 1;
			prog = 1;
		}
	}
	/* channel -> fd */
	if (!c->ch_eof && c->down_off >= c->down_len) {
		ssize_t r = libssh2_channel_read(c->ch, c->down, sizeof c->down);
		if (r > 0) {
			c->down_len = (size_t)r;
			c->down_off = 0;
			prog = 1;
		} else if (r == 0 || r == LIBSSH2_ERROR_EAGAIN) {
			if (libssh2_channel_eof(c->ch)) {
				c->ch_eof = 1;
				prog = 1;
			}
		} else {
			if (drop_code((int)r))
				return -1;
			c->ch_eof = 1;
			prog = 1;
		}
	}
	if (c->down_off < c->down_len) {
		ssize_t w = write(c->fd, c->down + c->down_off, c->down_len - c->down_off);
		if (w > 0) {
			c->down_off += (size_t)w;
			prog = 1;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			c->closing = 1;
			return 1;
		}
	}
	if (c->ch_eof && c->down_off >= c->down_len && !c->fd_shut) {
		shutdown(c->fd, SHUT_WR);
		c->fd_shut = 1;
		prog = 1;
	}
	if (c->fd_shut && c->eof_sent)
		c->closing = 1;
	return prog;
}

static void conn_free(struct conn *c)
{
	if (c->ch)
		libssh2_channel_free(c->ch); /* best effort; the session may be gone */
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void drop_all(struct tun *t)
{
	for (size_t i = 0; i < t->nc; i++) {
		t->c[i]->ch = NULL; /* freed with the session */
		conn_free(t->c[i]);
	}
	t->nc = 0;
	for (size_t i = 0; i < t->n; i++)
		t->rl[i] = NULL;
}

/* Serve until stop (0) or the session is lost (-1). */
static int serve(struct tun *t, volatile sig_atomic_t *stop)
{
	libssh2_keepalive_config(t->sess, 0, 5);
	while (!*stop) {
		int prog = 0, consumers = 0;
		double now = rp_mono();
		for (size_t i = 0; i < t->n; i++) {
			const struct rp_fwd *f = &t->f[i];
			if (f->kind == 'R' && !t->rl[i] && now >= t->rl_retry[i]) {
				int bound = 0;
				t->rl[i] = libssh2_channel_forward_listen_ex(t->sess, "127.0.0.1", f->listen,
									     &bound, 16);
				if (!t->rl[i]) {
					int e = libssh2_session_last_errno(t->sess);
					if (drop_code(e))
						return -1;
					if (e != LIBSSH2_ERROR_EAGAIN) {
						char ps[16];
						snprintf(ps, sizeof ps, "%d", f->listen);
						rp_logw("remote forward refused; retrying", "forward", "R", "port", ps);
						t->rl_retry[i] = now + 1.0;
					}
				} else {
					char ps[16];
					snprintf(ps, sizeof ps, "%d", f->listen);
					rp_info("remote forward listening", "port", ps);
					prog = 1;
				}
			}
			if (f->kind == 'R' && t->rl[i]) {
				consumers++;
				LIBSSH2_CHANNEL *ch = libssh2_channel_forward_accept(t->rl[i]);
				if (ch) {
					int fd = connect_local(f->host, f->port);
					if (fd < 0) {
						rp_logw("forward target unreachable", "forward", "R", "target", f->host);
						libssh2_channel_free(ch);
					} else {
						add_conn(t, fd, ch, f);
					}
					prog = 1;
				} else {
					int e = libssh2_session_last_errno(t->sess);
					if (drop_code(e))
						return -1;
				}
			}
			if (f->kind == 'L' && t->lfd[i] >= 0) {
				int fd = accept4(t->lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd >= 0) {
					add_conn(t, fd, NULL, f);
					prog = 1;
				}
			}
		}
		for (size_t i = 0; i < t->nc;) {
			struct conn *c = t->c[i];
			consumers++;
			int r = pump(t, c);
			if (r < 0)
				return -1;
			if (r > 0)
				prog = 1;
			if (c->closing && !c->ch) {
				conn_free(c);
				t->c[i] = t->c[--t->nc];
				continue;
			}
			i++;
		}
		int next = 5;
		int kr = libssh2_keepalive_send(t->sess, &next);
		if (kr && kr != LIBSSH2_ERROR_EAGAIN && drop_code(kr))
			return -1;
		if (prog)
			continue;

		/* Nothing moved: wait for any socket. */
		size_t np = 0, cap = 1 + t->n + t->nc;
		struct pollfd *p = rp_xcalloc(cap, sizeof *p);
		int dir = libssh2_session_block_directions(t->sess);
		p[np].fd = t->sfd;
		p[np].events = (consumers ? POLLIN : 0) | ((dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) ? POLLOUT : 0);
		np++;
		for (size_t i = 0; i < t->n; i++)
			if (t->f[i].kind == 'L' && t->lfd[i] >= 0)
				p[np++] = (struct pollfd){ .fd = t->lfd[i], .events = POLLIN };
		for (size_t i = 0; i < t->nc; i++) {
			struct conn *c = t->c[i];
			short ev = 0;
			if (!c->fd_eof && c->up_off >= c->up_len && !c->opening)
				ev |= POLLIN;
			if (c->down_off < c->down_len)
				ev |= POLLOUT;
			if (ev)
				p[np++] = (struct pollfd){ .fd = c->fd, .events = ev };
		}
		poll(p, np, 200);
		short sre = p[0].revents;
		free(p);
		/* Has the peer gone?  (A FIN with no bytes before it.) */
		if (sre & (POLLHUP | POLLERR | POLLIN) || !consumers) {
			char b;
			ssize_t r = recv(t->sfd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				return -1;
		}
	}
	return 0;
}

int rp_tunnel_hold(const struct rp_ssh_opts *o, const struct rp_fwd *f, size_t n,
		   volatile sig_atomic_t *stop, void (*on_up)(void *arg, int attempt), void *arg,
		   char **err)
{
	struct tun t = { .f = f, .n = n };
	t.lfd = rp_xcalloc(n ? n : 1, sizeof *t.lfd);
	t.rl = rp_xcalloc(n ? n : 1, sizeof *t.rl);
	t.rl_retry = rp_xcalloc(n ? n : 1, sizeof *t.rl_retry);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		t.lfd[i] = -1;
		if (f[i].kind == 'L' && (t.lfd[i] = listen_local(f[i].listen, err)) < 0) {
			rc = RP_EXIT_FAIL;
			goto out;
		}
	}
	double backoff = 0.25;
	for (int attempt = 1; !*stop; attempt++) {
		int code = 0;
		char *e = NULL;
		t.s = rp_ssh_connect(o, &code, &e);
		if (!t.s) {
			if (code == RP_SSH_EHOSTKEY) {
				*err = e;
				rc = RP_EXIT_FAIL;
				goto out;
			}
			double d = backoff / 2 + backoff / 2 * ((double)(rand() % 1000) / 1000.0);
			char ds[32];
			snprintf(ds, sizeof ds, "%.1fs", d);
			rp_logw("tunnel: connect failed; retrying", "error", e, "in", ds);
			free(e);
			for (double end = rp_mono() + d; !*stop && rp_mono() < end;)
				rp_sleep(0.05);
			if (backoff < 30)
				backoff *= 2;
			continue;
		}
		backoff = 0.25;
		t.sess = rp_ssh_session(t.s, &t.sfd);
		for (size_t i = 0; i < n; i++)
			t.rl_retry[i] = 0;
		rp_info("tunnel up", "host", rp_ssh_name(t.s), "fingerprint", rp_ssh_fingerprint(t.s));
		if (on_up)
			on_up(arg, attempt);
		int r = serve(&t, stop);
		if (r < 0)
			rp_logw("tunnel: session lost; reconnecting", "host", rp_ssh_name(t.s));
		drop_all(&t);
		rp_ssh_close(t.s);
		t.s = NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		if (t.lfd[i] >= 0)
			close(t.lfd[i]);
	drop_all(&t);
	free(t.c);
	free(t.lfd);
	free(t.rl);
	free(t.rl_retry);
	return rc;
}
