/* test-config-errors: a config error is one line even when the text it
 * quotes is not.  fuzz_config found a folded block scalar whose value kept
 * a newline ("timeout: >-\n   >-\n    5s"), quoted raw into "expected a
 * duration ..., got '>-\n 5s'" (tests/fuzz/regress/config/
 * block-scalar-in-error).  Quoted keys and flag values are the same. */
#include "config.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static void one(const char *yaml, const char *want, const char *desc)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse(yaml, strlen(yaml), "e.yaml", &err);
	T_OK(!c && err, "%s: refused", desc);
	T_OK(err && !strpbrk(err, "\n\r\t"), "%s: one line (%s)", desc, err ? err : "");
	T_OK(err && strstr(err, want), "%s: still says '%s'", desc, want);
	rp_config_free(c);
	free(err);
}

int main(void)
{
	rp_init("test-config-errors");
	one("prometheus:\n  timeout: >-\n   >-\n    5s\n", "expected a duration", "a block scalar duration");
	one("scale:\n  idle: |\n    5s\n    6s\n", "e.yaml:2: key 'scale.idle'", "a literal block duration");
	one("runpod:\n  max_nodes: \"4\\n2\"\n", "expected an integer", "a quoted integer with a newline");
	one("\"clus\\nter\": x\n", "unknown key 'clus ter'", "a quoted key with a newline");
	one("runpod:\n  \"a\\rb\": 1\n", "unknown key 'runpod.a b'", "a nested key with a CR");

	char *err = NULL;
	struct rp_config *c = rp_config_parse("", 0, "e.yaml", &err);
	T_OK(rp_cfg_set(c, "scale.idle", "5s\nrm -rf /", &err) < 0 && err && !strchr(err, '\n'),
	     "a flag value with a newline: one-line error (%s)", err ? err : "");
	free(err);
	err = NULL;
	T_OK(rp_cfg_set(c, "no\nkey", "1", &err) < 0 && err && !strchr(err, '\n'),
	     "an unknown flag key with a newline: one-line error (%s)", err ? err : "");
	free(err);
	err = NULL;
	T_OK(rp_cfg_set(c, "scale.idle", "90s", &err) == 0 && rp_cfg_dur(c, "scale.idle") == 90,
	     "a good value still sets");
	rp_config_free(c);
	return T_DONE();
}
