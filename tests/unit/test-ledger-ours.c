/* test-ledger-ours.c — rp_ledger_ours(): a pod is ours to terminate only
 * when the ledger shows this cluster launched it under <cluster>-burst-,
 * and, for a Node, when the ledger maps the pod to that Node. */
#include "t.h"
#include "config.h"
#include "ledger.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ours(const cJSON *m, const struct rp_config *c, const char *id, const char *name, const char *node,
		char *why)
{
	return rp_ledger_ours(m, c, id, name, node, NULL, NULL, why, 300);
}

int main(void)
{
	char path[] = "/tmp/rp-test-lours.XXXXXX", *err = NULL, why[300];
	rp_init("test-ledger-ours");
	struct rp_config *c = rp_config_parse("cluster: demo\n", 14, "t.yaml", &err);
	int fd = mkstemp(path);
	if (fd < 0 || !c)
		return 2;
	FILE *f = fdopen(fd, "w");
	fputs("{\"type\":\"ledger\",\"event\":\"launching\",\"name\":\"demo-burst-a\",\"cluster\":\"demo\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"a\",\"name\":\"demo-burst-a\",\"cluster\":\"demo\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"ready\",\"id\":\"a\",\"name\":\"demo-burst-a\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"joined\",\"id\":\"a\",\"node\":\"node-a\",\"bootstrap\":\"kubeadm\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"b\",\"name\":\"demo-burst-b\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"o\",\"name\":\"other-burst-o\",\"cluster\":\"other\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"x\",\"name\":\"demo-burst-x\",\"cluster\":\"demox\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launching\",\"name\":\"demo-burst-lost\",\"cluster\":\"demo\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"terminated\",\"id\":\"a2\",\"name\":\"demo-burst-a2\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"t\",\"name\":\"demo-burst-t\",\"cluster\":\"demo\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"terminated\",\"id\":\"t\",\"node\":\"forged\"}\n",
	      f);
	fclose(f);
	cJSON *m = rp_ledger_launches(path, &err);
	T_OK(m != NULL, "the ledger reads (%s)", err ? err : "");
	const char *ln = NULL, *last = NULL;
	T_OK(rp_ledger_ours(m, c, "a", NULL, NULL, &ln, &last, why, sizeof why), "a: launched here");
	T_STR(ln, "node-a", "a: the ledger maps it to node-a (its joined line)");
	T_STR(last, "joined", "a: its last event");
	T_OK(ours(m, c, "a", "demo-burst-a", "node-a", why), "a on node-a: agrees");
	T_OK(!ours(m, c, "a", NULL, "node-b", why), "a named by node-b: refused");
	T_OK(strstr(why, "maps pod a to node node-a, not node-b") != NULL, "... saying so (%s)", why);
	T_OK(!ours(m, c, "a", "demo-burst-zz", NULL, why), "a under another RunPod name: refused (%s)", why);
	T_OK(ours(m, c, "b", NULL, "demo-burst-b", why), "b: no cluster field, our name; never joined: its node is its name");
	T_OK(!ours(m, c, "b", NULL, "node-b", why), "b named by another node: refused");
	T_OK(!ours(m, c, "o", NULL, NULL, why), "o: another cluster's name (%s)", why);
	T_OK(!ours(m, c, "x", NULL, NULL, why), "x: our name, another cluster field (%s)", why);
	T_OK(!ours(m, c, "nope", NULL, NULL, why), "an id the ledger never launched: refused");
	T_OK(strstr(why, "no launch of pod nope") != NULL, "... saying so (%s)", why);
	T_OK(!ours(m, c, "a2", "demo-burst-a2", NULL, why), "a2: only a terminated line, never launched");
	T_OK(ours(m, c, "p9", "demo-burst-lost", NULL, why), "a create whose answer was lost: its launching line");
	T_OK(!ours(m, c, "p9", "demo-burst-a", NULL, why), "a launching name another id was launched under: refused");
	T_OK(!ours(m, c, "p9", NULL, NULL, why), "an unknown id without a name: refused");
	T_OK(ours(m, c, "t", NULL, NULL, why), "t: ledgered terminated yet alive: still ours (the reaper stops it)");
	T_OK(ours(m, c, "t", NULL, "demo-burst-t", why), "t: a drain's node field is not the join mapping");
	cJSON_Delete(m);
	unlink(path);
	m = rp_ledger_launches(path, &err);
	T_OK(m && !ours(m, c, "a", "demo-burst-a", NULL, why), "a missing ledger: nothing is ours");
	cJSON_Delete(m);
	rp_config_free(c);
	return T_DONE();
}
