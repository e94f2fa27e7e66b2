/* test-tunnel.c — the life of a pod's tunnel (tunnel.h): the pid file,
 * rp_tunnel_stop() signalling only an rp-join, the forwards list, the
 * ledger look-up.  systemctl is kept out of PATH. */
#include "ledger.h"
#include "rp.h"
#include "t.h"
#include "tunnel.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-test-tunnel.XXXXXX";

/* A child whose command line is "NAME 30" (argv[0] set by exec). */
static pid_t spawn(const char *name)
{
	pid_t p = fork();
	if (!p) {
		execl("/bin/sleep", name, "30", (char *)NULL);
		_exit(127);
	}
	return p;
}

static void write_pid(const char *id, pid_t pid)
{
	char *pf = rp_tunnel_pidfile(id), txt[32];
	snprintf(txt, sizeof txt, "%ld\n", (long)pid);
	rp_write_atomic(pf, txt, strlen(txt), 0644);
	free(pf);
}

static int exists(const char *id)
{
	char *pf = rp_tunnel_pidfile(id);
	int r = access(pf, F_OK) == 0;
	free(pf);
	return r;
}

/* The child reaped within 6 s (it was signalled), or killed here. */
static int ended(pid_t p)
{
	for (int i = 0; i < 120; i++) {
		if (waitpid(p, NULL, WNOHANG) == p)
			return 1;
		rp_sleep(0.05);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return 0;
}

int main(void)
{
	char *err = NULL;
	rp_init("test-tunnel");
	if (!mkdtemp(dir))
		return 2;
	setenv("RP_STATE_DIR", dir, 1);
	setenv("PATH", dir, 1); /* no systemctl: the pid file path */
	char *td = rp_xasprintf("%s/tunnel", dir);
	rp_mkdir_p(td, 0700);

	char *pf = rp_tunnel_pidfile("p1");
	char *want = rp_xasprintf("%s/tunnel/p1.pid", dir);
	T_STR(pf, want, "pid file under $RP_STATE_DIR/tunnel");
	free(pf);
	free(want);

	T_INT(rp_tunnel_stop("p1", &err), 1, "no pid file: nothing to stop");
	T_INT(rp_tunnel_stop("../x", &err), 1, "an unsafe id: nothing done");

	pid_t t = spawn("rp-join");
	rp_sleep(0.1);
	write_pid("p1", t);
	T_INT(rp_tunnel_stop("p1", &err), 0, "an rp-join tunnel: stopped");
	T_OK(ended(t), "it got SIGTERM");
	T_OK(!exists("p1"), "its pid file is gone");

	pid_t other = spawn("not-ours");
	rp_sleep(0.1);
	write_pid("p2", other);
	T_INT(rp_tunnel_stop("p2", &err), 1, "a pid that is not rp-join: left alone");
	T_OK(kill(other, 0) == 0, "that process still runs");
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	T_OK(!exists("p2"), "its stale pid file is removed");

	write_pid("p3", 999999);
	T_INT(rp_tunnel_stop("p3", &err), 1, "a dead pid: nothing to stop");

	/* The forwards list. */
	struct rp_fwd *f = NULL;
	cJSON *l = cJSON_Parse("[\"L:8080:10.0.0.1:80\",\"R:6443:10.0.0.10:6443\"]");
	T_INT(rp_fwd_parse_list(l, &f, &err), 2, "two forwards");
	T_OK(f && f[0].kind == 'L' && f[1].kind == 'R' && f[1].listen == 6443, "parsed in order");
	free(f);
	cJSON_Delete(l);
	l = cJSON_Parse("[\"L:8080:10.0.0.1:80\",7]");
	T_INT(rp_fwd_parse_list(l, &f, &err), -1, "a non-string forward refused");
	T_STR(err, "kube.forwards: strings only", "said so");
	free(err);
	err = NULL;
	cJSON_Delete(l);
	l = cJSON_Parse("[\"Q:1:2:3\"]");
	T_INT(rp_fwd_parse_list(l, &f, &err), -1, "a bad spec refused");
	T_OK(err && strstr(err, "Q:1:2:3"), "naming the spec (%s)", err ? err : "");
	free(err);
	err = NULL;
	cJSON_Delete(l);
	/* The HOST:PORT part is rp_hostport's: an IPv6 target in brackets. */
	struct rp_fwd one;
	T_INT(rp_fwd_parse("L:8443:[fd00::10]:6443", &one, &err), 0, "an IPv6 target in brackets");
	T_OK(one.kind == 'L' && one.listen == 8443 && !strcmp(one.host, "fd00::10") && one.port == 6443,
	     "L 8443 -> fd00::10 port 6443 (%c %d %s %d)", one.kind, one.listen, one.host, one.port);
	T_INT(rp_fwd_parse("R:6443:kube.local:6443", &one, &err), 0, "a name");
	T_STR(one.host, "kube.local", "its host");
	const char *bad[] = { "L:8443:fd00::10:6443", "L:0:h:1", "L:65536:h:1", "L:1:h:0", "L:1:h:70000", "L:1:h",
			      "L:x:h:1", "L:1::1", "L:1:h:1x", "L:+1:h:1", "L:h:1:2", "R", "L:", "L:1:[::1:2", "X:1:h:1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		T_INT(rp_fwd_parse(bad[i], &one, &err), -1, bad[i]);
		free(err);
		err = NULL;
	}
	T_INT(rp_fwd_parse_list(NULL, &f, &err), 0, "no forwards");
	free(f);

	/* The address from the ledger: the pod's last line with ssh_host. */
	char *led = rp_xasprintf("%s/ledger.jsonl", dir);
	const char *lines =
		"{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"p9\",\"ssh_host\":\"10.0.0.1\",\"ssh_port\":22}\n"
		"{\"type\":\"ledger\",\"event\":\"joined\",\"id\":\"other\",\"ssh_host\":\"10.9.9.9\",\"ssh_port\":9}\n"
		"{\"type\":\"ledger\",\"event\":\"joined\",\"id\":\"p9\",\"ssh_host\":\"10.0.0.2\",\"ssh_port\":2222}\n"
		"{\"type\":\"ledger\",\"event\":\"drained\",\"id\":\"p9\"}\n";
	rp_write_atomic(led, lines, strlen(lines), 0600);
	char *host = NULL;
	int port = 0;
	T_INT(rp_tunnel_find("p9", &host, &port, &err), 1, "found in the ledger");
	T_STR(host, "10.0.0.2", "the last host");
	T_INT(port, 2222, "the last port");
	free(host);
	host = NULL;
	T_INT(rp_tunnel_find("nope", &host, &port, &err), 0, "an unknown pod: 0");
	T_OK(host == NULL, "no host");
	free(led);
	free(td);
	char *rm = rp_xasprintf("/bin/rm -rf %s", dir);
	if (system(rm) != 0)
		T_OK(0, "cleanup");
	free(rm);
	return T_DONE();
}
