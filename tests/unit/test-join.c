/* test-join.c — the pure rules of a join (join.h): node names, taints,
 * labels, the API endpoint, the worker's environment, the JoinConfiguration,
 * the kubeadm script and verdict, nvidia-smi's csv; and the typed record
 * getters (record.h) that read pod records. */
#include "join.h"
#include "record.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void name_case(const char *name, const char *id, const char *want, const char *desc)
{
	char *got = rp_join_node_name(name, id);
	T_STR(got, want, desc);
	free(got);
}

static void nodes(void)
{
	name_case("Prod-Burst_ABC", "x", "prod-burst-abc", "lowercase, '_' becomes '-'");
	name_case("", "abc123", "abc123", "empty name: the id");
	name_case(NULL, "Abc123", "abc123", "no name: the id, lowercased");
	name_case("--a.b--", "x", "a.b", "leading and trailing non-alphanumerics trimmed");
	name_case("..x..", "y", "x", "dots trimmed at both ends");
	name_case("___", "x", "rp-node", "nothing left: rp-node");
	name_case("a b/c", "x", "a-b-c", "space and slash become '-'");
	char long_name[100];
	memset(long_name, 'a', 80);
	long_name[80] = 0;
	char *n = rp_join_node_name(long_name, "x");
	T_INT(strlen(n), 63, "at most 63 characters");
	free(n);
	memset(long_name, 'a', 62);
	long_name[62] = '-';
	long_name[63] = 'b';
	long_name[64] = 0;
	n = rp_join_node_name(long_name, "x");
	T_INT(strlen(n), 62, "cut at 63, then a trailing '-' trimmed");
	T_OK(n[61] == 'a', "ends alphanumeric");
	free(n);
}

static void taints(void)
{
	struct rp_taint t;
	T_INT(rp_join_taint_parse("gpu-type=runpod:NoSchedule", &t), 0, "key=value:effect");
	T_STR(t.key, "gpu-type", "key");
	T_STR(t.value, "runpod", "value");
	T_STR(t.effect, "NoSchedule", "effect");
	free((char *)t.key);
	T_INT(rp_join_taint_parse("rp.io/starting:NoExecute", &t), 0, "key:effect");
	T_STR(t.key, "rp.io/starting", "key with a prefix");
	T_OK(t.value == NULL, "no value");
	T_STR(t.effect, "NoExecute", "NoExecute");
	free((char *)t.key);
	T_INT(rp_join_taint_parse("k=v:PreferNoSchedule", &t), 0, "PreferNoSchedule");
	free((char *)t.key);
	T_INT(rp_join_taint_parse("k=v:NoScheduleX", &t), -1, "unknown effect refused");
	T_INT(rp_join_taint_parse("k=v:noschedule", &t), -1, "effects are case-sensitive");
	T_INT(rp_join_taint_parse("k=v", &t), -1, "no effect refused");
	T_INT(rp_join_taint_parse(":NoSchedule", &t), -1, "no key refused");
	T_INT(rp_join_taint_parse("=v:NoSchedule", &t), -1, "empty key refused");
	T_INT(rp_join_taint_parse("", &t), -1, "empty refused");
}

static void labels(void)
{
	cJSON *list = cJSON_Parse("[\"gpu-type=runpod\",\"nvidia.com/gpu=true\","
				  "\"node-role.kubernetes.io/burst=\",\"gpu-type=burst\"]");
	cJSON *l = NULL;
	char *self = NULL;
	const char *bad = NULL;
	T_INT(rp_join_labels(list, &l, &self, &bad), 0, "labels parsed");
	T_STR(cJSON_GetStringValue(cJSON_GetObjectItem(l, "gpu-type")), "burst", "a later key wins");
	T_STR(cJSON_GetStringValue(cJSON_GetObjectItem(l, "node-role.kubernetes.io/burst")), "",
	      "an empty value is a value");
	T_INT(cJSON_GetArraySize(l), 3, "three keys");
	T_STR(self, "nvidia.com/gpu=true,gpu-type=burst",
	      "the kubelet's labels leave out node-role.kubernetes.io and agree with the object (a later key wins)");
	cJSON_Delete(l);
	free(self);
	cJSON_Delete(list);
	list = cJSON_Parse("[\"a=b\",\"novalue\"]");
	T_INT(rp_join_labels(list, &l, &self, &bad), -1, "KEY without =VALUE refused");
	T_STR(bad, "novalue", "the bad entry is named");
	T_OK(l == NULL && self == NULL, "nothing handed back");
	cJSON_Delete(list);
	list = cJSON_Parse("[\"=v\"]");
	T_INT(rp_join_labels(list, &l, &self, &bad), -1, "empty key refused");
	cJSON_Delete(list);
	T_INT(rp_join_labels(NULL, &l, &self, &bad), 0, "no labels configured");
	T_OK(l && cJSON_GetArraySize(l) == 0 && self == NULL, "no labels: empty object, no kubelet list");
	cJSON_Delete(l);
}

static void endpoint_case(const char *conf, const char *server, const char *want, const char *desc)
{
	char *got = rp_join_endpoint(conf, server);
	T_STR(got, want, desc);
	free(got);
}

static void endpoints(void)
{
	endpoint_case("lb.example:6443", "https://10.0.0.1:6443", "lb.example:6443", "configured endpoint wins");
	endpoint_case("", "https://10.0.0.1:6443/", "10.0.0.1:6443", "empty: from the server, path dropped");
	endpoint_case(NULL, "https://api.example", "api.example:443", "no port: 443");
	endpoint_case(NULL, "https://[fd00::1]", "[fd00::1]:443", "IPv6 without port: 443 after the bracket");
	endpoint_case(NULL, "https://[fd00::1]:6443/x", "[fd00::1]:6443", "IPv6 with port kept");
	endpoint_case(NULL, "10.0.0.2:8443", "10.0.0.2:8443", "no scheme");
	endpoint_case(NULL, "https://api.example:0443/", "api.example:443", "the port read as a number (rp_hostport)");
	endpoint_case(NULL, "https://fd00::1:6443", "fd00::1:6443", "a bare IPv6 address: kept as written, not split");
}

static void worker_env(void)
{
	struct rp_buf b = { 0 };
	rp_join_env_line(&b, "A", "it's");
	rp_join_env_line(&b, "B", NULL);
	rp_join_env_line(&b, "C", "$(x) `y`");
	T_OK(b.data && !strcmp(b.data, "A='it'\\''s'\nC='$(x) `y`'\n"), "env lines: single-quoted, NULL skipped");
	rp_buf_free(&b);

	const char *y = "kafka:\n  bootstrap_servers: k1:9092,k2:9092\n  group: [g1]\n  topic: [t1, t2]\n"
			"s3:\n  endpoint: http://minio:9000\n  bucket: checkpoint\n";
	char *err = NULL;
	struct rp_config *c = rp_config_parse(y, strlen(y), "t.yaml", &err);
	T_OK(c != NULL, "config parsed (%s)", err ? err : "");
	if (!c)
		return;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	char *e = rp_join_worker_env(c);
	T_OK(strstr(e, "KAFKA_BOOTSTRAP='k1:9092,k2:9092'\n") != NULL, "KAFKA_BOOTSTRAP");
	T_OK(strstr(e, "KAFKA_GROUP='g1'\n") != NULL, "KAFKA_GROUP");
	T_OK(strstr(e, "KAFKA_TOPIC='t1,t2'\n") != NULL, "KAFKA_TOPIC: the list joined by commas");
	T_OK(strstr(e, "S3_ENDPOINT='http://minio:9000'\n") != NULL, "S3_ENDPOINT");
	T_OK(strstr(e, "S3_BUCKET='checkpoint'\n") != NULL, "S3_BUCKET");
	T_OK(!strstr(e, "AWS_"), "no keys found: no AWS_ lines");
	free(e);
	/* The controller's keys (environment or s3.*) never reach a worker. */
	setenv("AWS_ACCESS_KEY_ID", "AKIATESTJOIN", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-join-test", 1);
	e = rp_join_worker_env(c);
	T_OK(!strstr(e, "AWS_") && !strstr(e, "s3cr3t-join-test"), "the controller's keys are never sent to a worker");
	free(e);
	rp_config_free(c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	/* Its own keys, from worker.s3_*_key_file. */
	char ak[] = "/tmp/test-join-ak.XXXXXX", sk[] = "/tmp/test-join-sk.XXXXXX";
	int fa = mkstemp(ak), fs = mkstemp(sk);
	T_OK(fa >= 0 && fs >= 0 && write(fa, "AKIAWORKER\n", 11) == 11 && write(fs, "worker-secret\n", 14) == 14,
	     "worker key files written (0600)");
	close(fa);
	close(fs);
	char *y2 = rp_xasprintf("%sworker:\n  s3_access_key_file: %s\n  s3_secret_key_file: %s\n", y, ak, sk);
	c = rp_config_parse(y2, strlen(y2), "t.yaml", &err);
	T_OK(c != NULL, "config with worker keys parsed (%s)", err ? err : "");
	if (c) {
		e = rp_join_worker_env(c);
		T_OK(strstr(e, "AWS_ACCESS_KEY_ID='AKIAWORKER'\n") != NULL, "worker keys: the access key");
		T_OK(strstr(e, "AWS_SECRET_ACCESS_KEY='worker-secret'\n") != NULL, "worker keys: the secret key");
		free(e);
		rp_config_free(c);
	}
	free(y2);
	unlink(ak);
	unlink(sk);
}

static void join_config(void)
{
	char h[2][72] = { "sha256:aa", "sha256:bb" };
	struct rp_taint cfg_t = { "gpu-type", "runpod", "NoSchedule" };
	struct rp_boot_join base = { .endpoint = "10.0.0.10:6443", .token = "abcdef.0123456789abcdef",
				     .ca_hashes = h, .nhashes = 2, .node_name = "demo-burst-x",
				     .node_labels = "gpu-type=runpod" };
	char *y = rp_join_config_yaml(&base, "rp.io/starting:NoSchedule", &cfg_t, 1);
	const char *st = strstr(y, "- key: \"rp.io/starting\"");
	const char *ct = strstr(y, "- key: \"gpu-type\"");
	T_OK(st && ct && st < ct, "the startup taint first, then the configured taints");
	T_OK(strstr(y, "    token: \"abcdef.0123456789abcdef\"\n") != NULL,
	     "the token is in the configuration (it goes by stdin, never argv)");
	T_OK(strstr(y, "\"sha256:aa\"") && strstr(y, "\"sha256:bb\""), "every CA pin");
	T_OK(strstr(y, "unsafeSkipCAVerification: false") != NULL, "never unsafe");
	T_OK(strstr(y, "name: \"demo-burst-x\"") != NULL, "node name");
	T_OK(strstr(y, "apiServerEndpoint: \"10.0.0.10:6443\"\n") != NULL, "endpoint");
	free(y);
	y = rp_join_config_yaml(&base, NULL, NULL, 0);
	T_OK(!strstr(y, "rp.io/starting") && !strstr(y, "- key:"), "no startup taint, no taints: none listed");
	free(y);
	y = rp_join_config_yaml(&base, "", &cfg_t, 1);
	T_OK(!strstr(y, "rp.io/starting") && strstr(y, "- key: \"gpu-type\""), "empty startup taint: only configured");
	free(y);
}

static void kubeadm(void)
{
	char *s = rp_join_kubeadm_script(".rp-join/join-abc.yaml", NULL, 0);
	const char *um = strstr(s, "umask 077"), *cat = strstr(s, "cat > .rp-join/join-abc.yaml"),
		   *ch = strstr(s, "chmod 600 .rp-join/join-abc.yaml"),
		   *join = strstr(s, "kubeadm join --config .rp-join/join-abc.yaml"),
		   *rm = join ? strstr(join, "rm -f .rp-join/join-abc.yaml") : NULL;
	T_OK(um && cat && um < cat, "umask 077 before the file is written");
	T_OK(cat && ch && cat < ch && join && ch < join, "written from stdin, chmod 600, then kubeadm join");
	T_OK(rm != NULL, "removed after kubeadm whatever it says");
	T_OK(strstr(s, "exit 120") != NULL, "an upload failure is exit 120");
	T_OK(!strstr(s, "kubeadm reset"), "no reset on a first try");
	const char *ver = strstr(s, "kubeadm version -o short");
	T_OK(ver && um && ver < um && !strncmp(s, "v=$(kubeadm version -o short 2>/dev/null) || v=; printf '%s\\n' \"$v\"; ", 63),
	     "the same session says kubeadm's version first (its first line), before the configuration is read");
	free(s);
	s = rp_join_kubeadm_script(".rp-join/join-abc.yaml", NULL, 1);
	const char *reset = strstr(s, "kubeadm reset -f");
	join = strstr(s, "kubeadm join");
	T_OK(reset && join && reset < join, "a retry resets before joining");
	free(s);
	s = rp_join_kubeadm_script(".rp-join/join-abc.yaml", ".rp-join/bootstrap-abc.conf", 0);
	join = strstr(s, "kubeadm join --config .rp-join/join-abc.yaml");
	T_OK(join && strstr(join, "rm -f .rp-join/join-abc.yaml .rp-join/bootstrap-abc.conf"),
	     "through a tunnel: the bootstrap kubeconfig is removed with it after kubeadm");
	T_OK(strstr(s, "cannot write .rp-join/join-abc.yaml' >&2; rm -f .rp-join/join-abc.yaml .rp-join/bootstrap-abc.conf; exit 120") != NULL,
	     "... and when the configuration cannot be written");
	free(s);
	s = rp_join_upload_script(".rp-join/bootstrap-abc.conf");
	um = strstr(s, "umask 077");
	cat = strstr(s, "cat > .rp-join/bootstrap-abc.conf");
	ch = strstr(s, "chmod 600 .rp-join/bootstrap-abc.conf");
	T_OK(um && cat && ch && um < cat && cat < ch, "upload: umask 077, from stdin, chmod 600");
	T_OK(strstr(s, "exit 120") != NULL, "upload: a failure is exit 120");
	free(s);

	char out[] = "[preflight] running\nerror execution phase kubelet-start: timed out\n"
		     "To see the stack trace of this error execute with --v=5 or higher\n";
	const char *v = rp_join_verdict(out);
	T_OK(!strncmp(v, "error execution phase kubelet-start: timed out\n", 47), "verdict: the last line but the trace hint");
	T_STR(rp_join_verdict(""), "", "verdict of nothing");
	T_OK(!strcmp(rp_join_verdict("only\n\n"), "only\n\n"), "blank lines are not a verdict");
}

static void gpus(void)
{
	char csv[] = "name, memory.total [MiB]\nNVIDIA A100-SXM4-80GB, 81920 MiB\r\nNVIDIA RTX A6000,  49140 MiB\n";
	cJSON *g = rp_join_gpus(csv);
	T_INT(cJSON_GetArraySize(g), 2, "two GPUs, the header skipped");
	T_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(g, 0), "name")), "NVIDIA A100-SXM4-80GB",
	      "first name");
	T_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(g, 0), "memory")), "81920 MiB",
	      "memory, CR dropped");
	T_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(g, 1), "memory")), "49140 MiB",
	      "memory, spaces dropped");
	cJSON_Delete(g);
	char none[] = "";
	g = rp_join_gpus(none);
	T_INT(cJSON_GetArraySize(g), 0, "no output, no GPUs");
	cJSON_Delete(g);
}

static void record_getters(void)
{
	cJSON *r = cJSON_Parse("{\"type\":\"pod\",\"id\":\"p1\",\"n\":7,\"s\":\"22\",\"f\":22.5,\"big\":70000,"
			       "\"neg\":-1,\"z\":null,\"b\":true}");
	const char *s = NULL;
	long n = -5;
	T_INT(rp_rec_get_str(r, "id", &s), 1, "string: 1");
	T_STR(s, "p1", "string value");
	T_INT(rp_rec_get_str(r, "n", &s), -1, "a number where a string is wanted: -1");
	T_INT(rp_rec_get_str(r, "absent", &s), 0, "absent string: 0");
	T_INT(rp_rec_get_str(r, "z", &s), 0, "null string: 0");
	T_INT(rp_rec_get_int(r, "n", 0, 65535, &n), 1, "whole number: 1");
	T_INT(n, 7, "its value");
	n = -5;
	T_INT(rp_rec_get_int(r, "s", 0, 65535, &n), -1, "\"22\" as a string: -1 (no atoi)");
	T_INT(n, -5, "untouched on error");
	T_INT(rp_rec_get_int(r, "f", 0, 65535, &n), -1, "a fraction: -1");
	T_INT(rp_rec_get_int(r, "big", 0, 65535, &n), -1, "over max: -1");
	T_INT(rp_rec_get_int(r, "neg", 0, 65535, &n), -1, "under min: -1");
	T_INT(rp_rec_get_int(r, "b", 0, 65535, &n), -1, "a bool: -1");
	T_INT(rp_rec_get_int(r, "z", 0, 65535, &n), 0, "null: 0");
	T_INT(rp_rec_get_int(r, "absent", 0, 65535, &n), 0, "absent: 0");
	cJSON_Delete(r);
}

int main(void)
{
	rp_init("test-join");
	nodes();
	taints();
	labels();
	endpoints();
	worker_env();
	join_config();
	kubeadm();
	gpus();
	record_getters();
	return T_DONE();
}
