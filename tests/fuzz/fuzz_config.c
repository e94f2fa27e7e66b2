/* fuzz_config — the config file parser: YAML (libyaml, yamltree.c) into
 * the schema walk of config.c, in memory (rp_config_parse).  A parsed
 * config must answer every getter it may be asked and dump itself. */
#include "fuzz.h"
#include "config.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_config");
	devnull = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct rp_config *c = rp_config_parse((const char *)data, size, "fuzz.yaml", &err);
	if (!c) {
		FZ_CHECK(err && *err && !strchr(err, '\n'));
		free(err);
		return 0;
	}
	FZ_CHECK(!err);
	rp_config_dump(c, devnull);
	FZ_CHECK(rp_cfg_dur(c, "scale.idle") >= 0);
	FZ_CHECK(rp_cfg_int(c, "runpod.max_nodes") >= 0);
	(void)rp_cfg_str(c, "cluster");
	(void)rp_cfg_json(c, "runpod.gpu_types");
	(void)rp_cfg_where(c, "scale.idle");
	/* A flag over the file's value, with the file's text as the value. */
	char *v = fz_str(data, size < 64 ? size : 64);
	if (rp_cfg_set(c, "scale.idle", v, &err) < 0)
		free(err);
	free(v);
	rp_config_free(c);
	return 0;
}
