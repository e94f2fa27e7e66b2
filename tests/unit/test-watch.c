/* test-watch.c — what rp-lagwatch refuses before it polls (groups and
 * topics paired, offset policy, threshold), and the rule's settings read
 * once for rp-lagwatch and the simulator (rp_decide_rule). */
#include "config.h"
#include "decide.h"
#include "rp.h"
#include "t.h"
#include "watch.h"

#include <stdlib.h>

static struct rp_config *cfg(const char *yaml)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(yaml, strlen(yaml), "t.yaml", &err);
	if (!c)
		printf("# config: %s\n", err);
	free(err);
	return c;
}

/* NULL when it opens, else the error. */
static char *open_err(const char *yaml)
{
	struct rp_config *c = cfg(yaml);
	struct rp_watch_opts o = { .nodes = 0 };
	char *err = NULL;
	struct rp_watch *w = c ? rp_watch_open(c, &o, &err) : NULL;
	if (!c)
		err = rp_xasprintf("bad test config");
	rp_watch_close(w);
	rp_config_free(c);
	return err;
}

static void like(const char *yaml, const char *want, const char *desc)
{
	char *err = open_err(yaml);
	T_OK(want ? err && strstr(err, want) : !err, "%s (%s)", desc, err ? err : "opened");
	free(err);
}

int main(void)
{
	rp_init("test-watch");
	like("cluster: t\n", NULL, "the defaults open");
	like("kafka:\n  group: [a, b]\n  topic: [x, 'b:y']\n", NULL, "a plain topic and a bound one");
	like("kafka:\n  group: [a]\n  topic: ['c:y']\n", "kafka.topic 'c:y': group 'c' is not in kafka.group",
	     "a topic bound to an unknown group");
	like("kafka:\n  group: [a]\n  topic: [':y']\n", "kafka.topic ':y': want TOPIC or GROUP:TOPIC", "no group before the colon");
	like("kafka:\n  group: [a]\n  topic: ['a:']\n", "want TOPIC or GROUP:TOPIC", "no topic after the colon");
	like("kafka:\n  group: [a, b]\n  topic: ['a:x']\n", "kafka group 'b' has no topic", "a group left without a topic");
	like("kafka:\n  group: ['g:1']\n  topic: ['g:1:x']\n", NULL, "a group id with a colon: the last colon splits");
	like("kafka:\n  group: []\n", "no kafka.group configured", "no group");
	like("kafka:\n  offset_policy: newest\n", "kafka.offset_policy': want latest or earliest, got 'newest'",
	     "a bad offset policy");
	like("kafka:\n  lag_threshold: 0\n", "kafka.lag_threshold': must be at least 1", "threshold 0");

	struct rp_config *c = cfg("kafka:\n  lag_threshold: 7\nprometheus:\n  threshold: 12.5\n"
				  "runpod:\n  max_nodes: 9\nscale:\n  cooldown: 2m\n");
	struct rp_decide_in in;
	memset(&in, 0x55, sizeof in);
	rp_decide_rule(c, &in);
	T_INT(in.lag_threshold, 7, "rule: kafka.lag_threshold");
	T_OK(in.p95_threshold == 12.5, "rule: prometheus.threshold (%g)", in.p95_threshold);
	T_INT(in.max_nodes, 9, "rule: runpod.max_nodes");
	T_OK(in.cooldown == 120, "rule: scale.cooldown in seconds (%g)", in.cooldown);
	T_INT(in.lag_known + in.burst_nodes + in.idle_nodes + in.lost_nodes, 0, "observations zeroed");
	T_OK(in.p95_note == NULL, "no note");
	rp_config_free(c);
	return T_DONE();
}
