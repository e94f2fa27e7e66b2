/* tunnel.c — L (direct-tcpip) and R (tcpip-forward) forwards over one
 * libssh2 session, one thread, non-blocking, reconnected with backoff. */
#include "tunnel.h"
#include "hostport.h"
#include "state.h"
#include "ledger.h"
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
#include <sys/wait.h>
#include <unistd.h>

#define BUFSZ 32768

int rp_fwd_parse(const char *spec, struct rp_fwd *f, char **err)
{
	memset(f, 0, sizeof *f);
	/* K then :LISTEN (an empty host) and HOST:PORT, both as rp_hostport
	 * reads them: [IPv6]:PORT for an IPv6 target. */
	struct rp_hostport lp, hp;
	const char *rest = (spec[0] == 'L' || spec[0] == 'R') && spec[1] == ':' ? strchr(spec + 2, ':') : NULL;
	if (!rest || rp_hostport(spec + 1, (size_t)(rest - spec - 1), RP_HP_HOST_EMPTY, 0, &lp) != RP_HP_OK ||
	    rp_hostport(rest + 1, strlen(rest + 1), 0, 0, &hp) != RP_HP_OK ||
	    rp_hostport_host(&hp, f->host, sizeof f->host) < 0) {
		memset(f, 0, sizeof *f);
		*err = rp_xasprintf("kube.forwards: '%s': want L:LPORT:HOST:PORT or R:RPORT:HOST:PORT "
				    "([IPv6]:PORT for an IPv6 address)", spec);
		return -1;
	}
	f->kind = spec[0];
	f->listen = lp.port;
	f->port = hp.port;
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

/* ---- the life of one pod's tunnel ---- */

int rp_fwd_parse_list(const cJSON *list, struct rp_fwd **out, char **err)
{
	const cJSON *e;
	int n = 0;
	struct rp_fwd *fw = rp_xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *fw);
	*err = NULL;
	cJSON_ArrayForEach(e, list)
	{
		if (!cJSON_IsString(e) || rp_fwd_parse(e->valuestring, &fw[n], err) < 0) {
			if (!*err)
				*err = rp_xstrdup("kube.forwards: strings only");
			free(fw);
			return -1;
		}
		n++;
	}
	*out = fw;
	return n;
}

struct find {
	const char *id;
	char *host;
	int port;
};

static int find_cb(const cJSON *rec, long line, void *arg)
{
	struct find *f = arg;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(rec, "ssh_host");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "ssh_port");
	(void)line;
	if (cJSON_IsString(id) && !strcmp(id->valuestring, f->id) && cJSON_IsString(h)) {
		free(f->host);
		f->host = rp_xstrdup(h->valuestring);
		f->port = cJSON_IsNumber(p) ? (int)p->valuedouble : 0;
	}
	return 0;
}

int rp_tunnel_find(const char *id, char **host, int *port, char **err)
{
	struct find f = { .id = id };
	long torn = 0;
	*err = NULL;
	if (rp_ledger_read(NULL, find_cb, &f, &torn, err) < 0) {
		free(f.host);
		return -1;
	}
	*host = f.host;
	*port = f.port;
	return f.host != NULL;
}

char *rp_tunnel_pidfile(const char *id)
{
	char *p = rp_state_path(RP_STATE_TUNNEL_PID, id);
	return p ? p : rp_xasprintf("%s/tunnel/-.pid", rp_state_dir()); /* unsafe id: a name nothing uses */
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int rp_tunnel_run(const struct rp_ssh_opts *o, const char *id, const struct rp_fwd *f, size_t n,
		  char **err)
{
	*err = NULL;
	if (!rp_safe_name(id)) {
		*err = rp_xasprintf("pod id '%s' is not a safe name", id);
		return -1;
	}
	char *pf = rp_tunnel_pidfile(id), pid[32];
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (rp_state_mkdir_for(RP_STATE_TUNNEL_PID) < 0 ||
	    rp_write_atomic(pf, pid, strlen(pid), rp_state_mode(RP_STATE_TUNNEL_PID)) < 0) {
		*err = rp_xasprintf("%s: %s", pf, strerror(errno));
		free(pf);
		return -1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	char ns[32];
	snprintf(ns, sizeof ns, "%zu", n);
	rp_info("tunnel starting", "id", id, "host", o->host, "forwards", ns);
	int rc = rp_tunnel_hold(o, f, n, &stop_flag, NULL, NULL, err);
	if (!rc)
		rp_info("tunnel stopped", "id", id);
	unlink(pf);
	free(pf);
	return rc;
}

/* A live (not zombie) process whose command line mentions rp-join. */
static int is_tunnel(pid_t pid)
{
	char path[64];
	size_t n;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	char *st = rp_read_file(path, 4096, &n);
	if (!st)
		return 0;
	char *rp = strrchr(st, ')');
	int zombie = rp && rp[1] == ' ' && rp[2] == 'Z';
	free(st);
	if (zombie)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	char *cl = rp_read_file(path, 65536, &n);
	if (!cl)
		return 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (!cl[i])
			cl[i] = ' ';
	int ok = strstr(cl, "rp-join") != NULL;
	free(cl);
	return ok;
}

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path)
		return 0;
	char *dup = rp_xstrdup(path), *save = NULL;
	int found = 0;
	for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *f = rp_xasprintf("%s/%s", *d ? d : ".", prog);
		found = access(f, X_OK) == 0;
		free(f);
	}
	free(dup);
	return found;
}

/* systemctl ARGS: its exit status, -1 when it could not run or was
 * killed at the timeout.  stdin is /dev/null, stdout goes to stderr
 * (stdout is data), both to /dev/null when quiet. */
static int systemctl(const char *verb, const char *unit, double timeout, int quiet)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		setpgid(0, 0);
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0)
			dup2(fd, 0);
		dup2(quiet && fd >= 0 ? fd : 2, 1);
		if (quiet && fd >= 0)
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
		if (!strcmp(verb, "is-active"))
			execlp("systemctl", "systemctl", verb, "--quiet", unit, (char *)NULL);
		else
			execlp("systemctl", "systemctl", verb, unit, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	int status = 0;
	double end = rp_mono() + timeout;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (rp_mono() >= end) {
			kill(-pid, SIGTERM);
			rp_sleep(0.5);
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		rp_sleep(0.02);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The pid ID's pid file names when that process is a live tunnel, else 0. */
static pid_t tunnel_pid(const char *id)
{
	char *pf = rp_tunnel_pidfile(id);
	char *txt = rp_read_file(pf, 64, NULL);
	free(pf);
	if (!txt)
		return 0;
	char *end;
	long pid = strtol(txt, &end, 10);
	int live = pid > 1 && end != txt && is_tunnel((pid_t)pid);
	free(txt);
	return live ? (pid_t)pid : 0;
}

int rp_tunnel_alive(const char *id)
{
	return id && rp_safe_name(id) && tunnel_pid(id) > 0;
}

int rp_tunnel_stop(const char *id, char **err)
{
	*err = NULL;
	if (!id || !rp_safe_name(id))
		return 1;
	if (in_path("systemctl")) {
		char *unit = rp_xasprintf("rp-tunnel@%s.service", id);
		int r = 1;
		if (systemctl("is-active", unit, 10, 1) == 0) {
			r = systemctl("stop", unit, 60, 0) == 0 ? 0 : -1;
			if (r < 0)
				*err = rp_xasprintf("systemctl stop %s failed", unit);
		}
		free(unit);
		if (r <= 0)
			return r;
	}
	char *pf = rp_tunnel_pidfile(id);
	char *txt = rp_read_file(pf, 64, NULL);
	int r = 1;
	if (txt) {
		long pid = tunnel_pid(id);
		if (pid > 0) {
			kill((pid_t)pid, SIGTERM);
			double until = rp_mono() + 5;
			while (is_tunnel((pid_t)pid) && rp_mono() < until)
				rp_sleep(0.05);
			if (is_tunnel((pid_t)pid)) {
				kill((pid_t)pid, SIGKILL);
				rp_sleep(0.1);
			}
			if (is_tunnel((pid_t)pid)) {
				*err = rp_xasprintf("tunnel pid %ld (%s) would not stop", pid, pf);
				r = -1;
			} else {
				r = 0;
			}
		}
		free(txt);
		if (r >= 0)
			unlink(pf);
	}
	free(pf);
	return r;
}
