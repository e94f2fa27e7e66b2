/* test-config-defaults: the defaults a config starts from (with_defaults
 * appends each schema key once instead of searching for one to replace:
 * that search made every load quadratic in the schema, the fuzzer's
 * bottleneck).  Each default is there once, marked "default", and a file
 * or flag value replaces it rather than hiding behind it. */
#include "config.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static const char *const keys[] = { "cluster", "runpod.max_nodes", "runpod.gpu_types", "ssh.port",
				    "scale.idle", "s3.retries", "cost.egress_per_gb", NULL };

int main(void)
{
	rp_init("test-config-defaults");
	char *err = NULL;
	struct rp_config *c = rp_config_parse("", 0, "empty.yaml", &err);
	T_OK(c && !err, "an empty file is all defaults");
	for (int i = 0; keys[i]; i++)
		T_STR(rp_cfg_where(c, keys[i]), "default", keys[i]);
	T_INT(rp_cfg_int(c, "runpod.max_nodes"), 50, "runpod.max_nodes default");
	T_OK(rp_cfg_dur(c, "scale.idle") == 60, "scale.idle default 60s");
	T_OK(rp_cfg_set(c, "scale.idle", "5s", &err) == 0, "a flag sets scale.idle");
	T_OK(rp_cfg_dur(c, "scale.idle") == 5, "the flag's value wins over the default");
	T_STR(rp_cfg_where(c, "scale.idle"), "flag", "and says it came from a flag");
	rp_config_free(c);

	const char *y = "cluster: burst\nscale:\n  idle: 90s\nrunpod:\n  max_nodes: 7\n";
	c = rp_config_parse(y, strlen(y), "c.yaml", &err);
	T_OK(c && !err, "a file with three keys parses");
	T_STR(rp_cfg_str(c, "cluster"), "burst", "the file's cluster wins");
	T_STR(rp_cfg_where(c, "cluster"), "c.yaml:1", "where: the file's line");
	T_OK(rp_cfg_dur(c, "scale.idle") == 90, "the file's scale.idle wins");
	T_STR(rp_cfg_where(c, "scale.idle"), "c.yaml:3", "where: line 3");
	T_INT(rp_cfg_int(c, "runpod.max_nodes"), 7, "the file's max_nodes wins");
	T_STR(rp_cfg_where(c, "ssh.port"), "default", "an untouched key stays default");

	/* The dump shows every key once, the file's values where given. */
	char *out = NULL;
	size_t outn = 0;
	FILE *f = open_memstream(&out, &outn);
	rp_config_dump(c, f);
	fclose(f);
	int lines = 0, idle = 0;
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	for (char *p = out; (p = strstr(p, "\nscale.idle ")); p++)
		idle++;
	T_OK(lines > 60, "the dump has a line per key (%d)", lines);
	T_INT(idle, 1, "scale.idle is dumped once");
	T_OK(strstr(out, "90") && strstr(out, "c.yaml:3"), "with the file's value and line");
	free(out);
	rp_config_free(c);

	/* Many loads: each one starts from fresh defaults, nothing carried. */
	for (int i = 0; i < 2000; i++) {
		c = rp_config_parse(y, strlen(y), "c.yaml", &err);
		if (!c || rp_cfg_int(c, "runpod.max_nodes") != 7)
			break;
		rp_config_free(c);
		c = NULL;
	}
	T_OK(!c, "2000 loads in a row all parse alike");
	rp_config_free(c);
	return T_DONE();
}
