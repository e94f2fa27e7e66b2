/* test-httpwire.c — the wire parsers (URL, status line, header lines,
 * chunked coding across any split) and whole exchanges against a canned
 * server in a child process (interim 100, short bodies, bad chunks, HEAD,
 * what a request carries on the wire). */
#include "httpwire.h"
#include "rp.h"
#include "t.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void url_tests(void)
{
	struct rp_url u;
	char err[256];
	T_INT(rp_url_parse("https://api.example.com/v2/pods?x=1#frag", &u, err, sizeof err), 0, "https URL parsed");
	T_OK(u.tls && u.port == 443 && !u.ip, "https: TLS, port 443, a name");
	T_STR(u.host, "api.example.com", "host");
	T_STR(u.hostport, "api.example.com", "Host header without the scheme's port");
	T_STR(u.target, "/v2/pods?x=1", "path and query; fragment dropped");
	T_INT(rp_url_parse("http://127.0.0.1:8080", &u, err, sizeof err), 0, "IPv4 with port, no path");
	T_OK(!u.tls && u.port == 8080 && u.ip, "http, port 8080, an address");
	T_STR(u.target, "/", "no path is /");
	T_STR(u.hostport, "127.0.0.1:8080", "Host header with the port");
	T_INT(rp_url_parse("https://[::1]:8443/a", &u, err, sizeof err), 0, "IPv6 with port");
	T_STR(u.host, "::1", "IPv6 host without brackets");
	T_STR(u.hostport, "[::1]:8443", "IPv6 Host header with brackets");
	T_OK(u.ip && u.port == 8443, "IPv6 is an address literal");
	T_INT(rp_url_parse("http://[fe80::1]?q", &u, err, sizeof err), 0, "IPv6 without port, query only");
	T_STR(u.target, "/?q", "a query without a path gets /");
	T_INT(rp_url_parse("localhost:9/x", &u, err, sizeof err), 0, "no scheme: http");
	T_OK(!u.tls && u.port == 9, "no scheme: plain, port 9");
	T_INT(rp_url_parse("http://h:/x", &u, err, sizeof err), 0, "an empty port is the default");
	T_INT(u.port, 80, "empty port: 80");

	T_INT(rp_url_parse("http://h:x/", &u, err, sizeof err), -1, "a port that is not a number refused");
	T_OK(strstr(err, "bad port") != NULL, "says bad port (%s)", err);
	T_INT(rp_url_parse("http://h:65536/", &u, err, sizeof err), -1, "port 65536 refused");
	T_INT(rp_url_parse("http://h:0/", &u, err, sizeof err), -1, "port 0 refused");
	T_INT(rp_url_parse("http://[::1]x80/", &u, err, sizeof err), -1, "junk after ] refused");
	T_INT(rp_url_parse("http://[::1/", &u, err, sizeof err), -1, "IPv6 without ] refused");
	T_INT(rp_url_parse("http://[nothex]/", &u, err, sizeof err), -1, "a bracketed non-address refused");
	T_INT(rp_url_parse("http:///path", &u, err, sizeof err), -1, "no host refused");
	T_INT(rp_url_parse("ftp://h/", &u, err, sizeof err), -1, "ftp:// refused");
	T_INT(rp_url_parse("http://u:p@h/", &u, err, sizeof err), -1, "user:password@ refused");
	T_OK(strstr(err, "user:password") != NULL, "says so (%s)", err);
	T_INT(rp_url_parse("http://h/a b", &u, err, sizeof err), -1, "a space refused");
	T_INT(rp_url_parse("http://h/a\r\nX-Evil: 1", &u, err, sizeof err), -1, "CR LF refused");
	T_INT(rp_url_parse("http://h%0a/", &u, err, sizeof err), -1, "a bad host character refused");
}

static void status_tests(void)
{
	T_INT(rp_wire_status_line("HTTP/1.1 200 OK\r\n", 17), 200, "HTTP/1.1 200 OK");
	T_INT(rp_wire_status_line("HTTP/1.0 404\r\n", 14), 404, "HTTP/1.0 404 without a reason");
	T_INT(rp_wire_status_line("HTTP/1.1 100 Continue\r\n", 23), 100, "interim 100");
	T_INT(rp_wire_status_line("HTTP/2 200 OK\r\n", 15), -1, "HTTP/2 refused");
	T_INT(rp_wire_status_line("HTTP/2.0 200 OK\r\n", 17), -1, "HTTP/2.0 refused");
	T_INT(rp_wire_status_line("HTTP/1.1 20 OK\r\n", 16), -1, "two digits refused");
	T_INT(rp_wire_status_line("HTTP/1.1 2000 OK\r\n", 18), -1, "four digits refused");
	T_INT(rp_wire_status_line("HTTP/1.1 2x0 OK\r\n", 17), -1, "a letter in the code refused");
	T_INT(rp_wire_status_line("ICY 200 OK\r\n", 12), -1, "not HTTP refused");
}

static void header_tests(void)
{
	struct rp_wire_meta m = { .clen = -1 };
	T_INT(rp_wire_header_line("Content-Length: 42\r\n", 20, &m), 0, "Content-Length read");
	T_INT(m.clen, 42, "length 42");
	T_INT(rp_wire_header_line("content-length:42\n", 18, &m), 0, "the same length again is fine");
	T_INT(rp_wire_header_line("Content-Length: 43\r\n", 20, &m), -1, "a second, other length refused");
	m.clen = -1;
	T_INT(rp_wire_header_line("Content-Length: 4x\r\n", 20, &m), -1, "a length with a letter refused");
	T_INT(rp_wire_header_line("Content-Length: -1\r\n", 20, &m), -1, "a negative length refused");
	T_INT(rp_wire_header_line("Content-Length: \r\n", 18, &m), -1, "an empty length refused");
	T_INT(rp_wire_header_line("Content-Length: 99999999999999999999\r\n", 38, &m), -1, "a huge length refused");
	T_INT(rp_wire_header_line("Transfer-Encoding: chunked\r\n", 28, &m), 0, "Transfer-Encoding read");
	T_INT(m.chunked, 1, "chunked");
	T_INT(rp_wire_header_line("X-Thing: a: b\r\n", 15, &m), 0, "a colon in a value is fine");
	T_INT(rp_wire_header_line("no colon here\r\n", 15, &m), -1, "a line without a colon refused");
	T_INT(rp_wire_header_line(" folded: x\r\n", 12, &m), -1, "a folded line refused");
	T_INT(rp_wire_header_line(": x\r\n", 5, &m), -1, "an empty name refused");
}

static char got[256];
static size_t gotn;
static int stop_at = -1;
static int out(void *arg, const char *p, size_t n)
{
	(void)arg;
	if (stop_at >= 0 && gotn + n > (size_t)stop_at)
		return 1;
	if (gotn + n < sizeof got) {
		memcpy(got + gotn, p, n);
		gotn += n;
	}
	return 0;
}

/* Feeds s in pieces cut at a and b; the total consumed or the error. */
static long feed3(const char *s, size_t a, size_t b)
{
	struct rp_chunk c = { 0 };
	size_t n = strlen(s), cuts[] = { 0, a, b, n };
	long tot = 0;
	gotn = 0;
	for (int i = 0; i < 3; i++) {
		if (rp_chunk_done(&c))
			break;
		long r = rp_chunk_feed(&c, s + cuts[i], cuts[i + 1] - cuts[i], out, NULL);
		if (r < 0)
			return r;
		tot += r;
	}
	return rp_chunk_done(&c) ? tot : -3;
}

static void chunk_tests(void)
{
	const char *s = "5\r\nhello\r\n6;name=v\r\n world\r\nA\r\n, and more\r\n0\r\nX-T: 1\r\n\r\nNEXT";
	size_t n = strlen(s);
	int all = 1, cnt = 0;
	for (size_t a = 0; a <= n; a++)
		for (size_t b = a; b <= n; b++) {
			long r = feed3(s, a, b);
			if (r != (long)(n - 4) || gotn != 21 || memcmp(got, "hello world, and more", 21))
				all = 0;
			cnt++;
		}
	T_OK(all, "chunked: the same 21 bytes and the end found for all %d ways of cutting it in three", cnt);
	T_INT(feed3("0\r\n\r\n", 1, 3), 5, "an empty body: the last chunk only");
	T_INT(feed3("3\nabc\n0\n\n", 2, 6), 9, "bare LF line ends accepted");
	T_INT(feed3("zz\r\nab\r\n0\r\n\r\n", 1, 2), -1, "a chunk size that is not hex refused");
	T_INT(feed3("\r\n0\r\n\r\n", 1, 2), -1, "an empty chunk size refused");
	T_INT(feed3("\n0\n\n", 1, 2), -1, "an empty chunk size (bare LF) refused");
	T_INT(feed3("3\r\nabcX\r\n0\r\n\r\n", 2, 5), -1, "no CRLF after the data refused");
	T_INT(feed3("3\r\nabcX0\r\n\r\n", 2, 5), -1, "a byte between the data and its CRLF refused");
	T_INT(feed3("3\r\nabc\rX0\r\n\r\n", 2, 5), -1, "CR without LF after the data refused");
	T_INT(feed3("fffffffffffffffff\r\n", 3, 9), -1, "a chunk size beyond reason refused");
	T_INT(feed3("5\r\nhel", 1, 3), -3, "a cut body is not done");
	stop_at = 2;
	T_INT(feed3("5\r\nhello\r\n0\r\n\r\n", 4, 6), -2, "the receiver can stop it");
	stop_at = -1;
}

/* ---- whole exchanges against a canned server -------------------------------- */

static int lfd, lport;
static char reqbuf[4096];

/* One connection: read the request (head and Content-Length body), then
 * write the answer in pieces split at '|' with a pause between, close. */
static pid_t serve(const char *answer)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	int c = accept(lfd, NULL, NULL);
	size_t n = 0;
	int noread = !strncmp(answer, "NOREAD", 6);
	if (noread)
		answer += 6;
	for (; !noread;) {
		ssize_t r = read(c, reqbuf + n, sizeof reqbuf - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		reqbuf[n] = 0;
		char *e = strstr(reqbuf, "\r\n\r\n");
		if (!e)
			continue;
		char *cl = strcasestr(reqbuf, "Content-Length: ");
		size_t want = (size_t)(e + 4 - reqbuf) + (cl ? (size_t)atol(cl + 16) : 0);
		if (n >= want)
			break;
	}
	if (!strcmp(answer, "ECHO")) {
		char h[128];
		int hl = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
		if (write(c, h, (size_t)hl) < 0 || write(c, reqbuf, n) < 0)
			_exit(1);
	} else {
		int hang = !strncmp(answer, "HANG", 4);
		if (hang)
			answer += 4;
		for (const char *p = answer; *p;) {
			size_t k = strcspn(p, "|");
			if (write(c, p, k) < 0)
				_exit(1);
			p += k;
			if (*p == '|') {
				p++;
				usleep(20000);
			}
		}
		if (hang)
			sleep(10);
	}
	close(c);
	_exit(0);
}

struct acc {
	struct rp_buf head, body;
};
static void on_head(void *arg, const char *l, size_t n)
{
	struct acc *a = arg;
	if (n > 5 && !strncmp(l, "HTTP/", 5))
		a->head.len = 0;
	rp_buf_add(&a->head, l, n);
}
static int on_body(void *arg, long st, const void *p, size_t n)
{
	(void)st;
	rp_buf_add(&((struct acc *)arg)->body, p, n);
	return 0;
}

static int run(const char *answer, const char *method, const char *body, struct acc *a, struct rp_wire_res *res)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/p?q=1", lport);
	rp_buf_free(&a->head);
	rp_buf_free(&a->body);
	rp_buf_add(&a->head, "", 0);
	rp_buf_add(&a->body, "", 0);
	a->head.len = a->body.len = 0;
	const char *hdrs[] = { "X-One: 1", "Expect:", NULL };
	struct rp_wire_req w = { .method = method, .url = url, .headers = hdrs, .arg = a, .timeout = 5,
				 .on_head = on_head, .on_body = on_body, .bufsize = 7,
				 .head = !strcmp(method, "HEAD") };
	if (body) {
		w.send_length = 1;
		w.body = body;
		w.body_len = (long long)strlen(body);
	}
	pid_t pid = serve(answer);
	int r = rp_wire_do(&w, res);
	waitpid(pid, NULL, 0);
	rp_buf_add(&a->head, "", 0);
	a->head.len--;
	rp_buf_add(&a->body, "", 0);
	a->body.len--;
	return r;
}

static void exchange_tests(void)
{
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		T_OK(0, "a listening socket");
		return;
	}
	lport = ntohs(sa.sin_port);
	struct acc a = { 0 };
	struct rp_wire_res res;

	T_INT(run("HTTP/1.1 100 Continue\r\n\r|\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5\r|\nhel|lo\r\n0\r\n\r\n",
		  "PUT", "data", &a, &res), 0, "100 then 200 chunked: complete");
	T_INT(res.status, 200, "the final status");
	T_STR(a.body.data, "hello", "the chunked body, cut anywhere");
	T_OK(!strncmp(a.head.data, "HTTP/1.1 200 OK\r\n", 17) && strstr(a.head.data, "X-A: b\r\n"),
	     "the header block is the final answer's (%.15s)", a.head.data);

	T_INT(run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel|lo", "GET", NULL, &a, &res), -1,
	      "a body shorter than its Content-Length: no answer");
	T_OK(strstr(res.err, "5 bytes remaining") != NULL, "says what is missing (%s)", res.err);
	T_INT(res.status, 0, "and no status");

	T_INT(run("HTTP/1.1 200 OK\r\n\r\nuntil| close", "GET", NULL, &a, &res), 0, "a body until close");
	T_STR(a.body.data, "until close", "all of it");

	T_INT(run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "GET", NULL, &a, &res), -1,
	      "a bad chunk size: no answer");
	T_OK(strstr(res.err, "chunked") != NULL, "says chunked (%s)", res.err);
	T_INT(run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "GET", NULL, &a, &res), -1,
	      "a chunked body cut short: no answer");

	T_INT(run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", NULL, &a, &res), 0,
	      "HEAD: Content-Length without a body is complete");
	T_INT(run("HTTP/1.1 204 No Content\r\n\r\n", "DELETE", NULL, &a, &res), 0, "204: no body");

	T_INT(run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nbroken line\r\n\r\nok", "GET", NULL, &a, &res), -1,
	      "a malformed header line: no answer");
	T_INT(run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "GET", NULL, &a, &res),
	      -1, "two Content-Lengths: no answer");
	T_INT(run("SSH-2.0-OpenSSH\r\n\r\n", "GET", NULL, &a, &res), -1, "not HTTP: no answer");
	T_INT(run("", "GET", NULL, &a, &res), -1, "closed at once: no answer");
	T_OK(strstr(res.err, "empty reply") != NULL, "says empty reply (%s)", res.err);

	T_INT(run("ECHO", "POST", "", &a, &res), 0, "an empty POST");
	T_OK(strstr(a.body.data, "POST /p?q=1 HTTP/1.1\r\n") && strstr(a.body.data, "Content-Length: 0\r\n"),
	     "request line, and Content-Length: 0");
	T_OK(strstr(a.body.data, "Host: 127.0.0.1:") && strstr(a.body.data, "User-Agent: rp/") &&
		     strstr(a.body.data, "Connection: close\r\n") && strstr(a.body.data, "X-One: 1\r\n"),
	     "Host, User-Agent, Connection: close and the caller's header");
	T_OK(!strstr(a.body.data, "Expect"), "a header given as 'Name:' alone is not sent");
	T_INT(run("ECHO", "PATCH", "{\"a\":1}", &a, &res), 0, "a PATCH with a body");
	T_OK(strstr(a.body.data, "Content-Length: 7\r\n") && strstr(a.body.data, "\r\n\r\n{\"a\":1}"),
	     "its length and body");
	T_INT(run("ECHO", "DELETE", NULL, &a, &res), 0, "a DELETE without a body");
	T_OK(!strstr(a.body.data, "Content-Length"), "sends no Content-Length");

	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", lport);
	pid_t pid = serve("HANGHTTP/1.1 200 OK\r\n");
	struct rp_wire_req w = { .method = "GET", .url = url, .timeout = 0.3, .arg = &a, .on_body = on_body };
	double t0 = rp_mono();
	T_INT(rp_wire_do(&w, &res), -1, "a server that stops mid-header: no answer");
	T_OK(res.timed_out && rp_mono() - t0 < 2, "timed out by the total timeout (%s)", res.err);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* TLS to a plain HTTP server: the handshake fails, and OpenSSL's
	 * error text (loaded only now) says why. */
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", lport);
	pid = serve("NOREADHTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	w.url = url;
	w.timeout = 5;
	T_INT(rp_wire_do(&w, &res), -1, "https to a plain HTTP server: no answer");
	T_OK(strstr(res.err, "TLS: handshake failed: ") && strstr(res.err, "SSL routines") &&
		     strstr(res.err, "wrong version number"),
	     "OpenSSL's words for it: %s", res.err);
	waitpid(pid, NULL, 0);

	/* A listener that never answers the TLS handshake: the connect
	 * timeout covers the handshake, as in curl. */
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", lport);
	pid = serve("HANG");
	w.timeout = 5;
	w.connect_timeout = 0.3;
	t0 = rp_mono();
	T_INT(rp_wire_do(&w, &res), -1, "a TLS handshake that never ends: no answer");
	T_OK(res.timed_out && rp_mono() - t0 < 2 && strstr(res.err, "TLS handshake"),
	     "ended by the connect timeout (%s)", res.err);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(lfd);
	w.url = "http://127.0.0.1:1/";
	w.timeout = 5;
	T_INT(rp_wire_do(&w, &res), -1, "nothing listening: no answer");
	T_OK(strstr(res.err, "127.0.0.1 port 1") && strstr(res.err, "refused"), "one line: %s", res.err);
	rp_buf_free(&a.head);
	rp_buf_free(&a.body);
}

int main(void)
{
	url_tests();
	status_tests();
	header_tests();
	chunk_tests();
	exchange_tests();
	return T_DONE();
}
