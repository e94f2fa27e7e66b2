/* test-drainset.c — rp-drain's target selection without an API: targets
 * merge by node, input records name targets (down decisions, lost lists,
 * node records), spot preemption is recognised, scale.step is read. */
#include "drainset.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static long idle_asked = -1;

/* Stands in for idle.json: two idle nodes, idle-a first. */
static void fake_idle(struct rp_drain_set *s, long count)
{
	idle_asked = count;
	rp_drain_set_add(s, "idle-a", NULL, 0, 0);
	if (count != 1)
		rp_drain_set_add(s, "idle-b", NULL, 0, 0);
}

static char why[160];
static int take(struct rp_drain_set *s, const char *rec)
{
	cJSON *r = js(rec);
	why[0] = 0;
	int c = rp_drain_set_record(s, r, why, sizeof why);
	cJSON_Delete(r);
	return c;
}

static const char *names(const struct rp_drain_set *s)
{
	static char buf[512];
	buf[0] = 0;
	for (size_t i = 0; i < s->n; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s%s%s", i ? " " : "",
			 s->t[i].node ? s->t[i].node : s->t[i].pod_id, s->t[i].named ? "!" : "",
			 s->t[i].as_lost ? "?" : "");
	return buf;
}

int main(void)
{
	rp_init("test-drainset");
	struct rp_drain_set s;
	rp_drain_set_init(&s, NULL, NULL, NULL);
	s.idle = fake_idle;

	/* merging */
	T_OK(rp_drain_set_add(&s, "n1", NULL, 0, 0) != NULL, "a new node is a new target");
	T_OK(rp_drain_set_add(&s, "n1", NULL, 0, 1) == NULL, "the same node again is not");
	T_STR(names(&s), "n1!", "but named on the command line sticks");
	rp_drain_set_add_lost(&s, "n1");
	T_STR(names(&s), "n1!", "lost after named: still drained whatever its state");
	rp_drain_set_add_lost(&s, "n2");
	rp_drain_set_add(&s, "n2", NULL, 0, 0);
	T_STR(names(&s), "n1! n2?", "found only as lost: drained only if still lost");
	T_OK(rp_drain_set_add(&s, NULL, "pw", 1, 0) != NULL && rp_drain_set_add(&s, NULL, "pw", 1, 0) == NULL,
	     "a worker pod is a target once, by its id");
	rp_drain_set_free(&s);

	/* records */
	rp_drain_set_init(&s, NULL, NULL, NULL);
	s.idle = fake_idle;
	/* A decision is read by records.h's checked reader, as rp-launch does. */
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"nodes\":[\"d1\",\"d2\",7]}"), -1,
	      "a decision naming a non-string node is refused");
	T_STR(why, "nodes must be an array of strings", "refused: why names the field");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"nodes\":\"d1\"}"), -1,
	      "a decision whose nodes is a string is refused");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":\"1\"}"), -1,
	      "a decision whose count is a string is refused");
	T_STR(why, "count must be a whole number 0..10000", "refused count: why");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"nodes\":[],\"lost\":[1]}"), -1,
	      "a decision whose lost names a number is refused");
	T_INT(take(&s, "{\"type\":\"node\",\"id\":\"w9\",\"bootstrap\":\"worker\",\"ssh_port\":\"22\"}"), -1,
	      "a node record whose ssh_port is a string is refused");
	T_STR(why, "ssh_port must be a whole number 0..65535", "refused node: why");
	T_STR(names(&s), "", "a refused decision names nothing");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"nodes\":[\"d1\",\"d2\"]}"), 1,
	      "a down decision is consumed");
	T_STR(names(&s), "d1 d2", "its named nodes are targets");
	T_INT(idle_asked, -1, "with nodes named, idle.json is not asked");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":1}"), 1, "a down decision without nodes");
	T_INT(idle_asked, 1, "asks for its count of idle nodes");
	T_STR(names(&s), "d1 d2 idle-a", "and takes them");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"hold\",\"nodes\":[\"h1\"],\"lost\":[\"l1\",\"d1\"]}"), 0,
	      "a hold decision passes through");
	T_STR(names(&s), "d1 d2 idle-a l1?", "its nodes are not drained, its lost ones are");
	T_INT(take(&s, "{\"type\":\"node\",\"node\":\"k1\",\"id\":\"p1\"}"), 1, "a node record is consumed");
	T_INT(take(&s, "{\"type\":\"node\",\"id\":\"p1\"}"), 1, "a node record without a node: consumed, skipped");
	T_INT(take(&s, "{\"type\":\"node\",\"bootstrap\":\"worker\",\"id\":\"w1\",\"ssh_host\":\"h\",\"ssh_port\":2222}"),
	      1, "a worker node record is consumed");
	T_INT(take(&s, "{\"type\":\"node\",\"bootstrap\":\"worker\"}"), 1, "a worker record without an id: skipped");
	T_STR(names(&s), "d1 d2 idle-a l1? k1 w1", "node and worker records are targets");
	T_OK(s.t[5].worker && !strcmp(s.t[5].host, "h") && s.t[5].port == 2222, "the worker's SSH address is kept");
	T_INT(take(&s, "{\"type\":\"pod\",\"id\":\"p9\"}"), 0, "other records pass through");
	T_INT(take(&s, "{\"type\":\"decision\",\"action\":\"up\",\"count\":3}"), 0, "an up decision passes through");
	T_STR(names(&s), "d1 d2 idle-a l1? k1 w1", "and names nothing");
	rp_drain_set_free(&s);

	/* preemption */
	cJSON *p;
	T_INT(rp_drain_is_preempted(p = js("{\"status\":\"EXITED\",\"interruptible\":true}")), 1, "EXITED spot pod");
	cJSON_Delete(p);
	T_INT(rp_drain_is_preempted(p = js("{\"status\":\"EXITED\",\"lastStatusChange\":\"Outbid at 09:00\"}")), 1,
	      "EXITED, outbid");
	cJSON_Delete(p);
	T_INT(rp_drain_is_preempted(p = js("{\"status\":\"EXITED\",\"interruptible\":false}")), 0,
	      "an on-demand pod that exited is not preempted");
	cJSON_Delete(p);
	T_INT(rp_drain_is_preempted(p = js("{\"status\":\"RUNNING\",\"interruptible\":true}")), 0,
	      "a running spot pod is not");
	cJSON_Delete(p);

	/* scale.step */
	int pct;
	T_INT(rp_drain_step("3", 100, &pct), 3, "N: N at once");
	T_INT(pct, 0, "and needs no count of nodes");
	T_INT(rp_drain_step("0.5", 0, NULL), 1, "at least one");
	T_INT(rp_drain_step("25%", 10, &pct), 3, "25% of 10 nodes: 3 (rounded up)");
	T_INT(pct, 1, "a percentage");
	T_INT(rp_drain_step("25%", 0, NULL), 1, "no nodes counted: still one");
	T_INT(rp_drain_step("0", 5, NULL), -1, "0 is refused");
	T_INT(rp_drain_step("5x", 5, NULL), -1, "junk after the number is refused");
	T_INT(rp_drain_step("", 5, NULL), -1, "empty is refused");
	T_INT(rp_drain_step(NULL, 5, NULL), -1, "unset is refused");
	return T_DONE();
}
