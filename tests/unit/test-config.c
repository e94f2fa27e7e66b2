/* Config: valid file, every error case, durations, secret file modes. */
#include "t.h"
#include "config.h"
#include "rp.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-test-config.XXXXXX";

static char *write_file(const char *name, const char *text, int mode)
{
	char *p = rp_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
	return p;
}

static char *load_err(const char *text)
{
	char *p = write_file("c.yaml", text, 0644), *err = NULL;
	struct rp_config *c = rp_config_load(p, &err);
	rp_config_free(c);
	free(p);
	return err;
}

int main(void)
{
	char *err = NULL;
	double d;
	rp_init("test-config");
	if (!mkdtemp(dir))
		return 2;
	unsetenv("RP_CONFIG");
	unsetenv("RUNPOD_API_KEY");

	/* durations */
	T_OK(rp_parse_duration("60s", &d) == 0 && d == 60, "60s");
	T_OK(rp_parse_duration("5m", &d) == 0 && d == 300, "5m");
	T_OK(rp_parse_duration("1h", &d) == 0 && d == 3600, "1h");
	T_OK(rp_parse_duration("1h30m", &d) == 0 && d == 5400, "1h30m");
	T_OK(rp_parse_duration("250ms", &d) == 0 && d > 0.2499 && d < 0.2501, "250ms");
	T_OK(rp_parse_duration("42", &d) == 0 && d == 42, "bare seconds");
	T_OK(rp_parse_duration("", &d) < 0, "empty refused");
	T_OK(rp_parse_duration("5x", &d) < 0, "bad unit refused");
	T_OK(rp_parse_duration("-5s", &d) < 0, "negative refused");
	T_OK(rp_parse_duration("5m10", &d) < 0, "trailing bare number refused");

	/* defaults from the seed, when there is no file */
	struct rp_config *c = rp_config_load(NULL, &err);
	T_OK(c != NULL, "defaults load without /etc/rp/config.yaml (%s)", err ? err : "");
	/* issue 20: the defaults that won rp-cost simulate --compare, not the seed's */
	T_INT(rp_cfg_int(c, "kafka.lag_threshold"), 4, "lag threshold default 4 (the seed's was 5)");
	T_OK(rp_cfg_bool(c, "runpod.spot") && rp_cfg_bool(c, "runpod.spot_fallback"), "spot with fallback by default");
	T_STR(rp_cfg_str(c, "runpod.order"), "value", "order value by default");
	{
		const cJSON *g;
		int n = 0, zero = 0;
		cJSON_ArrayForEach(g, rp_cfg_json(c, "runpod.gpu_types"))
			n++, zero += rp_gpu_throughput(c, g->valuestring) <= 0;
		T_OK(n > 0 && !zero, "default gpu_types: %d, every one encodes (none of throughput 0)", n);
	}
	T_OK(rp_cfg_num(c, "prometheus.threshold") == 30, "p95 threshold default");
	T_OK(rp_cfg_dur(c, "scale.idle") == 60, "idle default 60s");
	T_INT(rp_cfg_int(c, "runpod.max_nodes"), 50, "max nodes default");
	T_STR(cJSON_GetArrayItem(rp_cfg_json(c, "kafka.group"), 0)->valuestring, "ome-transcoder-consumer", "group default");
	T_STR(cJSON_GetArrayItem(rp_cfg_json(c, "kafka.topic"), 0)->valuestring, "video-transcode", "topic default");
	T_STR(rp_cfg_str(c, "s3.bucket"), "checkpoint", "bucket default");
	T_STR(cJSON_GetArrayItem(rp_cfg_json(c, "kube.labels"), 1)->valuestring, "gpu-type=runpod", "labels default");
	T_STR(rp_cfg_where(c, "scale.idle"), "default", "origin default");

	/* flags override */
	T_OK(rp_cfg_set(c, "scale.idle", "2m", &err) == 0 && rp_cfg_dur(c, "scale.idle") == 120, "flag sets duration");
	T_STR(rp_cfg_where(c, "scale.idle"), "flag", "origin flag");
	T_OK(rp_cfg_set(c, "scale.idle", "soon", &err) < 0, "bad duration flag refused");
	T_OK(err && strstr(err, "scale.idle"), "error names the key (%s)", err ? err : "");
	free(err);
	err = NULL;
	T_OK(rp_cfg_set(c, "nope.key", "1", &err) < 0 && strstr(err, "nope.key"), "unknown flag key refused");
	free(err);
	err = NULL;
	T_OK(rp_cfg_append(c, "kafka.group", "g2", &err) == 0 &&
	     cJSON_GetArraySize(rp_cfg_json(c, "kafka.group")) == 1, "first append replaces the list");
	T_OK(rp_cfg_append(c, "kafka.group", "g3", &err) == 0 &&
	     cJSON_GetArraySize(rp_cfg_json(c, "kafka.group")) == 2, "second append adds");
	rp_config_free(c);

	/* a valid file */
	char *p = write_file("ok.yaml",
			     "cluster: prod\n"
			     "runpod:\n  max_nodes: 10\n  spot: true\n  gpu_types: [\"NVIDIA RTX A6000\"]\n"
			     "kafka:\n  group: g1\n  lag_threshold: 7\n"
			     "scale:\n  idle: 90s\n"
			     "kube:\n  labels:\n    a: b\n"
			     "cost:\n  prices:\n    X: {on_demand: 1.5, spot: 0.5}\n", 0644);
	c = rp_config_load(p, &err);
	T_OK(c != NULL, "valid file loads (%s)", err ? err : "");
	T_STR(rp_cfg_str(c, "cluster"), "prod", "cluster");
	T_INT(rp_cfg_int(c, "runpod.max_nodes"), 10, "max_nodes");
	T_OK(rp_cfg_bool(c, "runpod.spot"), "spot bool");
	T_OK(rp_cfg_dur(c, "scale.idle") == 90, "idle 90s");
	T_STR(cJSON_GetArrayItem(rp_cfg_json(c, "kafka.group"), 0)->valuestring, "g1", "scalar becomes a list");
	T_STR(cJSON_GetArrayItem(rp_cfg_json(c, "kube.labels"), 0)->valuestring, "a=b", "label map becomes k=v");
	const cJSON *x = cJSON_GetObjectItem(rp_cfg_json(c, "cost.prices"), "X");
	T_OK(cJSON_IsNumber(cJSON_GetObjectItem(x, "spot")) && cJSON_GetObjectItem(x, "spot")->valuedouble == 0.5,
	     "map numbers typed");
	char *want = rp_xasprintf("%s:8", p);
	T_STR(rp_cfg_where(c, "kafka.lag_threshold"), want, "origin file:line");
	free(want);
	rp_config_free(c);

	/* via RP_CONFIG */
	setenv("RP_CONFIG", p, 1);
	c = rp_config_load(NULL, &err);
	T_OK(c && !strcmp(rp_cfg_str(c, "cluster"), "prod"), "RP_CONFIG is read");
	rp_config_free(c);
	setenv("RP_CONFIG", "/nonexistent/rp.yaml", 1);
	c = rp_config_load(NULL, &err);
	T_OK(!c && err && strstr(err, "/nonexistent/rp.yaml"), "missing RP_CONFIG file is an error");
	free(err);
	err = NULL;
	unsetenv("RP_CONFIG");
	free(p);

	/* error cases: each names file, line and key */
	err = load_err("cluster: a\nkafka:\n  grup: x\n");
	T_OK(err && strstr(err, ":3:") && strstr(err, "kafka.grup"), "unknown key with line (%s)", err ? err : "");
	free(err);
	err = load_err("runpod:\n  max_nodes: many\n");
	T_OK(err && strstr(err, ":2:") && strstr(err, "runpod.max_nodes") && strstr(err, "integer"), "wrong type (%s)", err ? err : "");
	free(err);
	err = load_err("runpod:\n  max_nodes: -3\n");
	T_OK(err && strstr(err, "negative"), "negative refused (%s)", err ? err : "");
	free(err);
	err = load_err("scale:\n  idle: 10 minutes\n");
	T_OK(err && strstr(err, "scale.idle") && strstr(err, "duration"), "bad duration (%s)", err ? err : "");
	free(err);
	err = load_err("runpod:\n  spot: maybe\n");
	T_OK(err && strstr(err, "runpod.spot"), "bad bool (%s)", err ? err : "");
	free(err);
	err = load_err("kafka: 3\n");
	T_OK(err && strstr(err, "kafka") && strstr(err, "mapping"), "section must be a mapping (%s)", err ? err : "");
	free(err);
	err = load_err("cluster: [a, b]\n");
	T_OK(err && strstr(err, "cluster"), "list where a value is wanted (%s)", err ? err : "");
	free(err);
	err = load_err("cluster: a\ncluster: b\n");
	T_OK(err && strstr(err, "duplicate"), "duplicate key (%s)", err ? err : "");
	free(err);
	err = load_err("cluster: [unclosed\n");
	T_OK(err && strstr(err, "invalid YAML"), "syntax error (%s)", err ? err : "");
	free(err);
	err = load_err("a: &x 1\nb: *x\n");
	T_OK(err != NULL, "aliases refused");
	free(err);

	/* secrets */
	char *k600 = write_file("key600", "sekrit-key-123\n", 0600);
	char *k644 = write_file("key644", "sekrit-key-123\n", 0644);
	char *cfgtext = rp_xasprintf("runpod:\n  api_key_file: %s\n", k600);
	p = write_file("s.yaml", cfgtext, 0644);
	c = rp_config_load(p, &err);
	char *s = rp_cfg_secret(c, "runpod.api_key_file", "RUNPOD_API_KEY", &err);
	T_STR(s, "sekrit-key-123", "secret read from a 0600 file, trimmed");
	free(s);
	rp_config_free(c);
	free(cfgtext);
	free(p);
	cfgtext = rp_xasprintf("runpod:\n  api_key_file: %s\n", k644);
	p = write_file("s2.yaml", cfgtext, 0644);
	c = rp_config_load(p, &err);
	s = rp_cfg_secret(c, "runpod.api_key_file", "RUNPOD_API_KEY", &err);
	T_OK(!s && err && strstr(err, "0644") && strstr(err, "runpod.api_key_file"), "0644 secret file refused (%s)", err ? err : "");
	free(err);
	err = NULL;
	rp_config_free(c);
	c = rp_config_load(NULL, &err);
	s = rp_cfg_secret(c, "runpod.api_key_file", "RUNPOD_API_KEY", &err);
	T_OK(!s && err && strstr(err, "RUNPOD_API_KEY"), "no secret at all is an error naming both ways");
	free(err);
	err = NULL;
	setenv("RUNPOD_API_KEY", "env-key-456", 1);
	s = rp_cfg_secret(c, "runpod.api_key_file", "RUNPOD_API_KEY", &err);
	T_STR(s, "env-key-456", "secret from the environment");
	free(s);
	rp_config_free(c);
	free(cfgtext);
	free(p);
	free(k600);
	free(k644);
	char *cmd = rp_xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	free(cmd);
	return T_DONE();
}
