/* http: retry on 503 and 429 with Retry-After, no retry of POST, timeout,
 * body cap, multi — against a local scripted server. */
#include "t.h"
#include "http.h"
#include "rp.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[64];

static long get(const char *method, const char *path, int retries, double timeout, struct rp_http_resp *r)
{
	char url[256];
	snprintf(url, sizeof url, "%s%s", base, path);
	struct rp_http_req q = { .method = method, .url = url, .retries = retries, .timeout = timeout };
	if (method && !strcmp(method, "POST")) {
		q.body = "{}";
		q.body_len = 2;
		q.content_type = "application/json";
	}
	rp_http_do(&q, r);
	return r->status;
}

static long count(const char *key)
{
	struct rp_http_resp r;
	char p[64];
	snprintf(p, sizeof p, "/count/%s", key);
	get("GET", p, 0, 5, &r);
	long n = r.body ? atol(r.body) : -1;
	rp_http_resp_free(&r);
	return n;
}

int main(void)
{
	rp_init("test-http");
	char dir[] = "/tmp/rp-test-http.XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	char *portfile = rp_xasprintf("%s/port", dir);
	int pfd[2];
	if (pipe(pfd) < 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[0], 0);
		close(pfd[1]);
		execlp("python3", "python3", "tests/unit/httpd.py", portfile, (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	char *port = NULL;
	for (int i = 0; i < 100 && !(port = rp_read_file(portfile, 64, NULL)); i++)
		rp_sleep(0.05);
	if (!port) {
		printf("not ok 1 - test server did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "http://127.0.0.1:%s", port);
	struct rp_http_resp r;

	T_INT(get("GET", "/flaky/a/2/503", 3, 5, &r), 200, "GET retried through two 503s");
	T_INT(r.attempts, 3, "three attempts");
	rp_http_resp_free(&r);
	T_INT(get("GET", "/flaky/b/5/503", 2, 5, &r), 503, "retries are bounded");
	T_INT(count("b"), 3, "exactly 1 + 2 attempts");
	rp_http_resp_free(&r);
	T_INT(get("POST", "/flaky/c/1/503", 3, 5, &r), 503, "POST is not retried on 503");
	T_INT(count("c"), 1, "POST sent once");
	rp_http_resp_free(&r);
	T_INT(get("POST", "/flaky/c2/1/500", 3, 5, &r), 500, "POST is not retried on 500");
	rp_http_resp_free(&r);
	double t0 = rp_mono();
	T_INT(get("POST", "/ra/d/1/1", 3, 5, &r), 200, "429 with Retry-After is retried, even for POST");
	double dt = rp_mono() - t0;
	T_OK(dt >= 0.95 && dt < 3, "waited Retry-After 1 s (%.2f s)", dt);
	T_INT(count("d"), 2, "two attempts");
	rp_http_resp_free(&r);
	T_INT(get("GET", "/ra/e/1/1", 0, 5, &r), 429, "no retries allowed: 429 returned");
	T_OK(r.retry_after == 1, "Retry-After parsed");
	rp_http_resp_free(&r);
	t0 = rp_mono();
	T_INT(get("GET", "/slow/3", 0, 0.5, &r), 0, "timeout gives no status");
	T_OK(r.timed_out && rp_mono() - t0 < 2, "timed out after 0.5 s");
	T_OK(strlen(rp_http_errstr(&r)) > 0, "timeout has an error text (%s)", rp_http_errstr(&r));
	rp_http_resp_free(&r);
	T_INT(get("GET", "/big/20000000", 0, 10, &r), 0, "body over the cap refused");
	T_OK(strstr(r.err, "too large") != NULL, "says too large");
	rp_http_resp_free(&r);
	char url[128];
	snprintf(url, sizeof url, "%s/echo", base);
	const char *h[] = { "X-Test: yes", NULL };
	struct rp_http_req q = { .method = "PUT", .url = url, .bearer = "tok-secret", .headers = h,
				 .body = "hello", .body_len = 5, .content_type = "text/plain" };
	rp_http_do(&q, &r);
	T_OK(r.status == 200 && strstr(r.body, "Bearer tok-secret") && strstr(r.body, "\"X-Test\": \"yes\"") &&
	     strstr(r.body, "\"body\": \"hello\"") && strstr(r.body, "\"PUT\""), "method, bearer, headers, body sent");
	rp_http_resp_free(&r);
	T_INT(get("GET", "/x", 0, 2, &r), 404, "404 passed back");
	T_OK(strstr(rp_http_errstr(&r), "HTTP 404") != NULL, "errstr names the status");
	rp_http_resp_free(&r);
	snprintf(url, sizeof url, "http://127.0.0.1:1/");
	struct rp_http_req dead = { .url = url, .retries = 1, .timeout = 2 };
	T_INT(rp_http_do(&dead, &r), -1, "connection refused: no answer");
	T_INT(r.attempts, 2, "transport errors retried for GET");
	rp_http_resp_free(&r);

	/* multi: 20 requests, 8 at once, some flaky */
	struct rp_http_req qs[20];
	struct rp_http_resp rs[20];
	char urls[20][128];
	for (int i = 0; i < 20; i++) {
		snprintf(urls[i], sizeof urls[i], i % 2 ? "%s/flaky/m%d/1/503" : "%s/slow/0.3", base, i);
		memset(&qs[i], 0, sizeof qs[i]);
		qs[i].url = urls[i];
		qs[i].retries = 2;
		qs[i].timeout = 5;
	}
	t0 = rp_mono();
	int fails = rp_http_multi(qs, rs, 20, 10);
	dt = rp_mono() - t0;
	int all200 = 1;
	for (int i = 0; i < 20; i++) {
		if (rs[i].status != 200)
			all200 = 0;
		rp_http_resp_free(&rs[i]);
	}
	T_OK(fails == 0 && all200, "multi: all 20 answered 200 after retries");
	T_OK(dt < 2.0, "multi ran concurrently (%.2f s for 10 x 0.3 s)", dt);

	close(pfd[1]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	char *cmd = rp_xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	free(cmd);
	free(port);
	free(portfile);
	return T_DONE();
}
