/* vkubelet: the wrapper that captures a virtual node pod's output (run for
 * real under sh), and the API off without a port. */
#include "t.h"
#include "config.h"
#include "rp.h"
#include "vkubelet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-test-vkubelet.XXXXXX";

static struct rp_config *cfg(const char *text)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(text, strlen(text), "t.yaml", &err);
	if (!c)
		printf("# config: %s\n", err);
	free(err);
	return c;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return rp_xstrdup("");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return rp_xstrdup(buf);
}

int main(void)
{
	char *err = NULL;
	rp_init("test-vkubelet");
	if (!mkdtemp(dir))
		return 2;
	unsetenv("RP_CONFIG");

	struct rp_config *off = cfg("cluster: t\n");
	T_OK(off && !rp_vkubelet_on(off), "off by default (kube.virtual_kubelet_port 0)");
	char *w = rp_vkubelet_wrap(off, "'rp-worker' '--queue' 'a b'");
	T_STR(w, "'rp-worker' '--queue' 'a b'", "off: the command as it is");
	free(w);
	T_OK(rp_vkubelet_open(off, "vn", &err) == NULL && err == NULL, "off: no server, no error");
	T_OK(rp_vkubelet_wrap(off, NULL) == NULL, "no command: NULL");

	char *text = rp_xasprintf("cluster: t\nkube:\n  virtual_kubelet_port: 10250\n  virtual_log_file: %s/logs/c.log\n",
				  dir);
	struct rp_config *on = cfg(text);
	free(text);
	T_OK(on && rp_vkubelet_on(on), "on with a port");
	T_OK(rp_vkubelet_open(on, "vn", &err) == NULL && err && strstr(err, "would serve anyone"),
	     "a port without address, certificate and client CA: refused");
	free(err);
	err = NULL;
	w = rp_vkubelet_wrap(on, "");
	T_STR(w, "", "the image's own entrypoint cannot be wrapped");
	free(w);

	/* the wrapped command, run as RunPod would run it */
	w = rp_vkubelet_wrap(on, "'sh' '-c' 'echo to-out; echo \"to err\" >&2; exit 7'");
	char *cmd = rp_xasprintf("cd %s && %s >%s/console 2>&1", dir, w, dir);
	int st = system(cmd);
	T_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 7, "the command's exit code is the pod's");
	char *p = rp_xasprintf("%s/logs/c.log", dir), *log = slurp(p);
	T_STR(log, "to-out\nto err\n", "stdout and stderr captured in kube.virtual_log_file (directory made)");
	free(p);
	p = rp_xasprintf("%s/console", dir);
	char *con = slurp(p);
	T_STR(con, "to-out\nto err\n", "and still on the pod's own output (RunPod's log)");
	free(con);
	free(log);
	free(p);
	free(cmd);
	/* a second start appends */
	cmd = rp_xasprintf("cd %s && %s >/dev/null 2>&1", dir, w);
	T_INT(system(cmd) == -1, 0, "started again");
	p = rp_xasprintf("%s/logs/c.log", dir);
	log = slurp(p);
	T_STR(log, "to-out\nto err\nto-out\nto err\n", "a restart appends");
	free(log);
	free(p);
	free(cmd);
	free(w);
	/* the pod's SIGTERM reaches the command; its last words are kept */
	w = rp_vkubelet_wrap(on, "'sh' '-c' 'trap \"echo got-term; exit 3\" TERM; echo ready; while :; do sleep 0.1; done'");
	cmd = rp_xasprintf("cd %s && rm -f logs/c.log && { %s >/dev/null 2>&1 & w=$!; i=0; "
			   "while ! grep -q ready logs/c.log 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
			   "kill -TERM $w; wait $w; }",
			   dir, w);
	st = system(cmd);
	T_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 3, "SIGTERM passed on: the command's own exit code");
	p = rp_xasprintf("%s/logs/c.log", dir);
	log = slurp(p);
	T_STR(log, "ready\ngot-term\n", "what it said on its way out is in the log");
	free(log);
	free(p);
	free(cmd);
	free(w);
	rp_config_free(off);
	rp_config_free(on);
	cmd = rp_xasprintf("rm -rf %s", dir);
	if (system(cmd)) {
	}
	free(cmd);
	return T_DONE();
}
