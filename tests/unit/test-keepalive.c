/* test-keepalive.c — kept connections (httpwire.h, http.h): which answers
 * leave a connection fit for another request, when a kept one is taken
 * again, and that a kept connection the server closed costs the caller
 * nothing.  Against a server of our own in a child process that logs
 * every connection and request, so each claim is counted on its side. */
#include "http.h"
#include "httpwire.h"
#include "rp.h"
#include "t.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char logpath[64];

static void logf_(const char *fmt, int a, const char *s)
{
	char l[256];
	int n = snprintf(l, sizeof l, fmt, a, s);
	int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) {
		if (write(fd, l, (size_t)n) < 0)
			_exit(1);
		close(fd);
	}
}

/* The server: every connection gets a number; each request is answered
 * as its path says:
 *   /keep      200, Content-Length, the connection stays open
 *   /close     200, Content-Length, "Connection: close", closed
 *   /http10    HTTP/1.0 200 with Content-Length, left open
 *   /eof       200 without a length, ended by closing
 *   /extra     200 with Content-Length and a stray byte after it
 *   /bye       200, Content-Length, closed 50 ms later (an idle timeout)
 *   /drop      read, then closed without an answer (only the first time
 *              on a connection that served one before: a race lost)
 * Log lines: "open N", "req N PATH close=0|1", "eof N". */
static void serve(int lfd)
{
	struct conn {
		int fd, id, served;
		char buf[4096];
		size_t n;
		double bye;
	} cs[16];
	int nc = 0, ids = 0;
	for (;;) {
		struct pollfd pf[17];
		pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < nc; i++)
			pf[i + 1] = (struct pollfd){ .fd = cs[i].fd, .events = POLLIN };
		poll(pf, (nfds_t)nc + 1, 10);
		for (int i = 0; i < nc; i++)
			if (cs[i].bye > 0 && rp_mono() >= cs[i].bye) {
				close(cs[i].fd);
				cs[i--] = cs[--nc];
			}
		if ((pf[0].revents & POLLIN) && nc < 16) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0) {
				cs[nc] = (struct conn){ .fd = fd, .id = ++ids };
				logf_("open %d%s\n", ids, "");
				nc++;
			}
		}
		for (int i = 0; i < nc && i < 16; i++) {
			if (!(pf[i + 1].revents & (POLLIN | POLLHUP)) || pf[i + 1].fd != cs[i].fd)
				continue;
			struct conn *c = &cs[i];
			ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - 1 - c->n);
			if (r <= 0) {
				logf_("eof %d%s\n", c->id, "");
				close(c->fd);
				cs[i] = cs[--nc];
				i--;
				continue;
			}
			c->n += (size_t)r;
			c->buf[c->n] = 0;
			char *e = strstr(c->buf, "\r\n\r\n");
			if (!e)
				continue;
			char path[64] = "";
			sscanf(c->buf, "%*s %63s", path);
			char what[96];
			snprintf(what, sizeof what, "%s close=%d", path, strcasestr(c->buf, "\r\nConnection: close") != NULL);
			logf_("req %d %s\n", c->id, what);
			c->n = 0;
			int served = c->served++;
			const char *ans = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
			int shut = 0;
			if (!strcmp(path, "/close"))
				ans = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", shut = 1;
			else if (!strcmp(path, "/http10"))
				ans = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
			else if (!strcmp(path, "/eof"))
				ans = "HTTP/1.1 200 OK\r\n\r\nok", shut = 1;
			else if (!strcmp(path, "/extra"))
				ans = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX";
			else if (!strcmp(path, "/drop") && served)
				ans = "", shut = 1;
			if (*ans && write(c->fd, ans, strlen(ans)) < 0)
				_exit(1);
			if (!strcmp(path, "/bye"))
				c->bye = rp_mono() + 0.05;
			if (shut) {
				close(c->fd);
				cs[i] = cs[--nc];
				i--;
			}
		}
	}
}

/* A TLS server (TLS 1.3, session tickets as OpenSSL sends them), one
 * connection at a time: every request answered "ok" with its length, the
 * connection kept until the client closes it. */
static void serve_tls(int lfd, const char *crt, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		_exit(1);
	for (int id = 1;; id++) {
		int fd = accept(lfd, NULL, NULL);
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			logf_("open %d%s\n", id, "");
			char buf[4096];
			size_t n = 0;
			for (;;) {
				int r = SSL_read(ssl, buf + n, (int)(sizeof buf - 1 - n));
				if (r <= 0) {
					logf_("eof %d%s\n", id, "");
					break;
				}
				n += (size_t)r;
				buf[n] = 0;
				if (!strstr(buf, "\r\n\r\n"))
					continue;
				logf_("req %d%s\n", id, strcasestr(buf, "\r\nConnection: close") ? " close=1" : " close=0");
				n = 0;
				const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
				SSL_write(ssl, a, (int)strlen(a));
			}
		}
		SSL_free(ssl);
		close(fd);
	}
}

/* Lines of the log that begin with what. */
static int count(const char *what)
{
	FILE *f = fopen(logpath, "r");
	int n = 0;
	char l[256];
	while (f && fgets(l, sizeof l, f))
		n += !strncmp(l, what, strlen(what));
	if (f)
		fclose(f);
	return n;
}

static int port, port2;

static int wire(int p, const char *path, int keep, struct rp_wire_res *res)
{
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p, path);
	struct rp_wire_req w = { .method = "GET", .url = url, .timeout = 5, .keepalive = keep, .reuse = keep };
	return rp_wire_do(&w, res);
}

static void *in_thread(void *arg)
{
	struct rp_wire_res res;
	*(int *)arg = wire(port, "/keep", 1, &res);
	return NULL;
}

static void settle(void)
{
	usleep(60000); /* the server logs what it saw */
}

/* Leave this thread with no kept connection, and an empty log. */
static void fresh(void)
{
	struct rp_wire_res res;
	wire(port2, "/close", 1, &res); /* the kept one (another origin) closed; this one not kept */
	settle();
	unlink(logpath);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(logpath, sizeof logpath, "/tmp/rp-keepalive.%d.log", (int)getpid());
	int lfd[2];
	for (int k = 0; k < 2; k++) {
		lfd[k] = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof sa;
		if (bind(lfd[k], (struct sockaddr *)&sa, sizeof sa) || listen(lfd[k], 16) ||
		    getsockname(lfd[k], (struct sockaddr *)&sa, &sl)) {
			T_OK(0, "a listening socket");
			return T_DONE();
		}
		*(k ? &port2 : &port) = ntohs(sa.sin_port);
	}
	pid_t srv[2];
	for (int k = 0; k < 2; k++)
		if (!(srv[k] = fork()))
			serve(lfd[k]);
	struct rp_wire_res res;

	/* Without keepalive: "Connection: close", a connection each. */
	for (int i = 0; i < 3; i++)
		wire(port, "/keep", 0, &res);
	settle();
	T_INT(count("open"), 3, "without keepalive: three requests, three connections");
	T_INT(count("req 1 /keep close=1"), 1, "... each said Connection: close");

	/* With it: one connection for three requests. */
	unlink(logpath);
	int ok = 0, reused = 0;
	for (int i = 0; i < 3; i++) {
		ok += wire(port, "/keep", 1, &res) == 0 && res.status == 200;
		reused += res.reused;
	}
	settle();
	T_INT(ok, 3, "keepalive: three answers");
	T_INT(count("open"), 1, "keepalive: one connection for the three");
	T_INT(reused, 2, "... the second and third went over the kept one");
	T_INT(count("req 4 /keep close=0"), 3, "... and none said Connection: close");

	/* Answers that leave the connection unfit: a new one after each. */
	const char *unfit[] = { "/close", "/http10", "/eof", "/extra" };
	const char *why[] = { "Connection: close", "an HTTP/1.0 answer", "a body ended by the close",
			      "a byte after the answer" };
	for (int k = 0; k < 4; k++) {
		fresh();
		wire(port, unfit[k], 1, &res);
		int first = res.status == 200;
		wire(port, "/keep", 1, &res);
		settle();
		T_OK(first && res.status == 200 && !res.reused && count("open") == 2,
		     "after %s: not kept, the next request opens its own (reused %d, %d connections)", why[k],
		     res.reused, count("open"));
	}

	/* Another origin (port) does not take the kept connection. */
	fresh();
	wire(port, "/keep", 1, &res);
	wire(port2, "/keep", 1, &res);
	T_INT(res.reused, 0, "another port: a connection of its own");
	wire(port2, "/keep", 1, &res);
	T_INT(res.reused, 1, "... which is kept in turn");
	settle();
	T_INT(count("eof"), 1, "... and the first origin's kept connection was closed, not leaked");

	/* The server closes a kept connection (its idle timeout): the next
	 * request sees that before it sends, and opens a new one. */
	fresh();
	wire(port, "/bye", 1, &res);
	usleep(150000);
	int r = wire(port, "/keep", 1, &res);
	settle();
	T_OK(r == 0 && res.status == 200 && !res.reused && !res.stale,
	     "a kept connection the server closed: not used, a new one answers (reused %d)", res.reused);

	/* Kept longer than RP_WIRE_IDLE_S: closed, not used. */
	fresh();
	wire(port, "/keep", 1, &res);
	usleep((useconds_t)(RP_WIRE_IDLE_S * 1e6) + 100000);
	wire(port, "/keep", 1, &res);
	settle();
	T_OK(!res.reused && count("open") == 2 && count("eof") == 1,
	     "idle over %g s: closed and a new one made (reused %d, %d connections)", RP_WIRE_IDLE_S,
	     res.reused, count("open"));

	/* A race lost: the server closes the kept connection as our request
	 * arrives.  The wire says stale; http.c sends again at once. */
	fresh();
	wire(port, "/drop", 1, &res);
	r = wire(port, "/drop", 1, &res);
	T_OK(r < 0 && res.reused && res.stale, "reused, closed before any answer: stale (%s)", res.err);
	wire(port, "/drop", 1, &res); /* keep one for http.c */
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/drop", port);
	struct rp_http_req hr = { .url = url, .keepalive = 1 };
	struct rp_http_resp hs;
	memset(&hs, 0, sizeof hs);
	r = rp_http_do(&hr, &hs);
	T_OK(r == 0 && hs.status == 200 && hs.attempts == 1,
	     "rp_http_do: the same race costs nothing: 200, one attempt (status %ld, %d attempts, %s)", hs.status,
	     hs.attempts, hs.err);
	rp_http_resp_free(&hs);
	fresh();
	wire(port, "/drop", 1, &res); /* a kept connection the server will drop */
	settle();
	unlink(logpath);
	hr.method = "POST";
	hr.body = "x";
	hr.body_len = 1;
	memset(&hs, 0, sizeof hs);
	rp_http_do(&hr, &hs);
	settle();
	T_OK(hs.status == 200 && count("req") == 1 && count("open") == 1,
	     "a POST never takes a kept connection: sent once, on a new one (status %ld, %d sent)", hs.status,
	     count("req"));
	rp_http_resp_free(&hs);

	/* A thread's kept connection is closed when the thread ends. */
	fresh();
	pthread_t th;
	int tr = -1;
	pthread_create(&th, NULL, in_thread, &tr);
	pthread_join(th, NULL);
	settle();
	T_OK(tr == 0 && count("open") == 1 && count("eof") == 1,
	     "a thread's kept connection is closed as the thread ends (%d open, %d closed)", count("open"),
	     count("eof"));

	/* Over TLS: one handshake for three requests, the CA checked once. */
	char dir[] = "/tmp/rp-keepalive-tls.XXXXXX", cmd[1024], crt[96], key[96];
	if (mkdtemp(dir)) {
		snprintf(crt, sizeof crt, "%s/srv.crt", dir);
		snprintf(key, sizeof key, "%s/srv.key", dir);
		snprintf(cmd, sizeof cmd,
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
			 "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null", key, crt);
		int made = system(cmd) == 0;
		T_OK(made, "openssl made a test certificate");
		int tfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof sa;
		pid_t ts = -1;
		if (made && !bind(tfd, (struct sockaddr *)&sa, sizeof sa) && !listen(tfd, 4) &&
		    !getsockname(tfd, (struct sockaddr *)&sa, &sl) && !(ts = fork()))
			serve_tls(tfd, crt, key);
		fresh();
		char turl[96];
		snprintf(turl, sizeof turl, "https://127.0.0.1:%d/x", ntohs(sa.sin_port));
		int tok = 0, treused = 0;
		for (int i = 0; i < 3; i++) {
			struct rp_wire_req w = { .method = "GET", .url = turl, .timeout = 5, .cainfo = crt,
						 .keepalive = 1, .reuse = 1 };
			tok += rp_wire_do(&w, &res) == 0 && res.status == 200;
			treused += res.reused;
		}
		settle();
		T_INT(tok, 3, "TLS: three answers");
		T_OK(count("open") == 1 && count("req 1 close=0") == 3 && treused == 2,
		     "TLS: one handshake for the three (%d connections, %d reused)", count("open"), treused);
		if (ts > 0) {
			kill(ts, SIGKILL);
			waitpid(ts, NULL, 0);
		}
		close(tfd);
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			T_OK(0, "removed %s", dir);
	}

	for (int k = 0; k < 2; k++) {
		kill(srv[k], SIGKILL);
		waitpid(srv[k], NULL, 0);
	}
	unlink(logpath);
	return T_DONE();
}
