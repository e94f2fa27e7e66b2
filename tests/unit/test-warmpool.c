/* test-warmpool.c — scale.warm_pool (warmpool.h): the hour ranges parsed
 * strictly (a bad hour, an overlap, a count outside 0..runpod.max_nodes is
 * one line naming the key), formatted back to the same 24 floors, and
 * read by rp_decide_rule() as the rule's warm_pool. */
#include "config.h"
#include "decide.h"
#include "rp.h"
#include "warmpool.h"
#include "t.h"

#include <stdlib.h>

static int parse(const char *json, long max, int fl[RP_HOURS], char **why)
{
	cJSON *j = js(json);
	free(*why);
	*why = NULL;
	int r = rp_warm_pool_parse(j, max, fl, why);
	cJSON_Delete(j);
	return r;
}

static void bad(const char *json, long max, const char *want)
{
	int fl[RP_HOURS];
	char *why = NULL;
	T_OK(parse(json, max, fl, &why) < 0 && why && strstr(why, want), "%s refused: %s", json, why ? why : "accepted");
	free(why);
}

static void test_parse(void)
{
	int fl[RP_HOURS], want[RP_HOURS] = { 0 };
	char *why = NULL;
	T_INT(parse("{\"08-18\": 2, \"18-22\": 1}", 50, fl, &why), 0, "two ranges");
	for (int h = 8; h < 18; h++)
		want[h] = 2;
	want[18] = want[19] = want[20] = want[21] = 1;
	T_OK(!memcmp(fl, want, sizeof want), "08-17 keep 2, 18-21 keep 1, the rest none");
	T_INT(parse("{\"22-06\": 3}", 50, fl, &why), 0, "a range past midnight");
	T_OK(fl[22] == 3 && fl[23] == 3 && fl[0] == 3 && fl[5] == 3 && fl[6] == 0 && fl[21] == 0,
	     "22-06: hours 22, 23, 0 to 5");
	T_INT(parse("{\"0-24\": 1}", 50, fl, &why), 0, "the whole day");
	T_OK(fl[0] == 1 && fl[23] == 1, "0-24: every hour");
	T_INT(parse("{}", 50, fl, &why), 0, "empty: no floor");
	T_OK(fl[0] == 0 && fl[12] == 0, "no floor at any hour");
	T_INT(rp_warm_pool_parse(NULL, 50, fl, &why), 0, "unset: no floor");
	T_INT(parse("{\"08-09\": 50}", 50, fl, &why), 0, "a count of max_nodes");
	free(why);

	bad("{\"25-26\": 1}", 50, "'25-26': want hours A-B");
	bad("{\"08-25\": 1}", 50, "'08-25'");
	bad("{\"08-08\": 1}", 50, "'08-08'");
	bad("{\"8\": 1}", 50, "'8'");
	bad("{\"08-18x\": 1}", 50, "'08-18x'");
	bad("{\"-1-08\": 1}", 50, "'-1-08'");
	bad("{\"08--9\": 1}", 50, "'08--9'");
	bad("{\"08-18\": 2, \"17-20\": 1}", 50, "'17-20' overlaps another range at hour 17");
	bad("{\"20-04\": 2, \"03-05\": 1}", 50, "'03-05' overlaps another range at hour 03");
	bad("{\"08-18\": -1}", 50, "'08-18': want a whole number of nodes from 0 to runpod.max_nodes (50)");
	bad("{\"08-18\": 51}", 50, "from 0 to runpod.max_nodes (50)");
	bad("{\"08-18\": 1.5}", 50, "want a whole number");
	bad("{\"08-18\": \"2\"}", 50, "want a whole number");
	bad("[1]", 50, "want a map of hour ranges");
}

static void test_format(void)
{
	int fl[RP_HOURS] = { 0 }, back[RP_HOURS];
	char *s = rp_warm_pool_format(fl), *why = NULL;
	T_STR(s, "{}", "no floor: {}");
	free(s);
	for (int h = 9; h < 11; h++)
		fl[h] = 2;
	fl[11] = 3;
	fl[23] = fl[0] = 1;
	s = rp_warm_pool_format(fl);
	T_STR(s, "{\"00-01\":1,\"09-11\":2,\"11-12\":3,\"23-24\":1}", "runs of equal floors, zero-padded");
	T_INT(parse(s, 50, back, &why), 0, "parses back");
	T_OK(!memcmp(fl, back, sizeof back), "to the same 24 floors");
	free(s);
	free(why);
}

static void test_config(void)
{
	char *err = NULL;
	const char *y = "runpod:\n  max_nodes: 4\nscale:\n  warm_pool:\n    \"08-18\": 2\n    \"22-02\": 1\n";
	struct rp_config *c = rp_config_parse(y, strlen(y), "w.yaml", &err);
	T_OK(c && rp_config_check(c, &err) == 0, "a YAML map of ranges is accepted (%s)", err ? err : "");
	struct rp_decide_in in;
	rp_decide_rule(c, &in);
	T_OK(in.warm_pool[8] == 2 && in.warm_pool[17] == 2 && in.warm_pool[18] == 0 && in.warm_pool[23] == 1 &&
		     in.warm_pool[1] == 1 && in.warm_pool[2] == 0,
	     "rp_decide_rule reads it into the rule");
	T_INT(rp_cfg_set(c, "scale.warm_pool", "{\"08-18\": 5}", &err), 0, "--set takes JSON");
	T_INT(rp_config_check(c, &err), -1, "5 > runpod.max_nodes 4: refused");
	T_STR(err, "key 'scale.warm_pool' (flag): '08-18': want a whole number of nodes from 0 to runpod.max_nodes (4)",
	      "one line naming the key and where it came from");
	free(err);
	err = NULL;
	rp_config_free(c);

	y = "scale:\n  warm_pool:\n    \"08-18\": 2\n    \"10-12\": 1\n";
	c = rp_config_parse(y, strlen(y), "w.yaml", &err);
	T_INT(rp_config_check(c, &err), -1, "overlapping ranges in the file: refused");
	T_STR(err, "w.yaml:3: key 'scale.warm_pool': '10-12' overlaps another range at hour 10", "file:line, key, range");
	free(err);
	err = NULL;
	rp_config_free(c);

	c = rp_config_parse("", 0, "w.yaml", &err);
	rp_decide_rule(c, &in);
	int any = 0;
	for (int h = 0; h < RP_HOURS; h++)
		any |= in.warm_pool[h];
	T_OK(c && rp_config_check(c, &err) == 0 && !any, "the default: no floor");
	rp_config_free(c);
}

int main(void)
{
	rp_init("test-warmpool");
	test_parse();
	test_format();
	test_config();
	return T_DONE();
}
