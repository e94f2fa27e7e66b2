/* records.h: the field tables, the builders (byte for byte what the tools
 * printed before) and the checked readers. */
#include "t.h"
#include "records.h"
#include "rp.h"

#include <math.h>
#include <stdlib.h>

static char why[160];

static char *print(cJSON *r)
{
	cJSON_DeleteItemFromObjectCaseSensitive(r, "ts");
	char *s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

static int dec(const char *json, struct rp_decision *d)
{
	cJSON *r = cJSON_Parse(json);
	why[0] = 0;
	int rc = rp_decision_read(r, d, why, sizeof why);
	cJSON_Delete(r);
	return rc;
}

static int pod(const char *json)
{
	struct rp_pod p;
	cJSON *r = cJSON_Parse(json);
	why[0] = 0;
	int rc = rp_pod_read(r, &p, why, sizeof why);
	cJSON_Delete(r);
	return rc;
}

int main(void)
{
	rp_init("test-records");
	/* the tables */
	T_STR(rp_rt_decision.type, "decision", "decision table's type");
	T_STR(rp_rt_pod.type, "pod", "pod table's type");
	T_INT(rp_recs_field(&rp_rt_decision, "count")->kind, RP_FK_COUNT, "decision count is a count");
	T_INT(rp_recs_field(&rp_rt_decision, "nodes")->kind, RP_FK_NAMES, "decision nodes are names");
	T_INT(rp_recs_field(&rp_rt_decision, "action")->kind, RP_FK_ACTION, "decision action is an action");
	T_INT(rp_recs_field(&rp_rt_pod, "ssh_port")->kind, RP_FK_PORT, "pod ssh_port is a port");
	T_INT(rp_recs_field(&rp_rt_pod, "ssh_host")->kind, RP_FK_STR, "pod ssh_host is a string");
	T_OK(!rp_recs_field(&rp_rt_pod, "nope"), "an unknown field is not in the table");

	/* builders: field order and JSON types as rp-lagwatch and rp-launch printed them */
	cJSON *idle = cJSON_Parse("[\"n1\"]"), *lost = cJSON_Parse("[\"n2\"]");
	struct rp_decision d = { .action = "down", .count = 1, .lag_known = 1, .lag = 12, .p95_known = 1,
				 .p95_s = 2.5, .nodes_known = 1, .burst_nodes = 3, .lost_nodes = 1,
				 .nodes = idle, .idle = idle, .lost = lost, .reason = "idle" };
	char *s = print(rp_decision_build(&d));
	T_STR(s, "{\"type\":\"decision\",\"action\":\"down\",\"count\":1,\"lag\":12,\"p95_s\":2.5,\"nodes\":[\"n1\"],"
		 "\"burst_nodes\":3,\"idle\":[\"n1\"],\"lost_nodes\":1,\"lost\":[\"n2\"],\"reason\":\"idle\"}",
	      "decision built in table order");
	free(s);
	struct rp_decision u = { .action = "hold", .p95_known = 1, .p95_s = INFINITY, .reason = "kafka down" };
	s = print(rp_decision_build(&u));
	T_STR(s, "{\"type\":\"decision\",\"action\":\"hold\",\"count\":0,\"lag\":null,\"p95_s\":\"+Inf\",\"nodes\":[],"
		 "\"burst_nodes\":null,\"idle\":[],\"lost_nodes\":null,\"lost\":[],\"reason\":\"kafka down\"}",
	      "unknown inputs are null, infinite p95 a string, absent names []");
	free(s);
	struct rp_pod p = { .id = "p1", .name = "c-burst-1", .gpu = "A", .gpu_count = 1, .spot = 1,
			    .cost_per_hr = 0.5, .ssh_host = "10.0.0.1", .ssh_port = 2222, .status = "RUNNING", .dc = "EU" };
	s = print(rp_pod_build(&p));
	T_STR(s, "{\"type\":\"pod\",\"id\":\"p1\",\"name\":\"c-burst-1\",\"gpu\":\"A\",\"gpu_count\":1,\"spot\":true,"
		 "\"cost_per_hr\":0.5,\"ssh_host\":\"10.0.0.1\",\"ssh_port\":2222,\"status\":\"RUNNING\",\"dc\":\"EU\"}",
	      "pod built in table order");
	free(s);

	/* a built record reads back */
	cJSON *b = rp_decision_build(&d);
	struct rp_decision r;
	T_INT(rp_decision_read(b, &r, why, sizeof why), 1, "a built decision reads back");
	T_STR(r.action, "down", "read action");
	T_INT(r.count, 1, "read count");
	T_INT(r.lag, 12, "read lag");
	T_INT(cJSON_GetArraySize(r.nodes), 1, "read nodes");
	T_INT(r.burst_nodes, 3, "read burst_nodes");
	cJSON_Delete(b);
	cJSON_Delete(idle);
	cJSON_Delete(lost);

	/* the checked decision reader */
	T_INT(dec("{\"type\":\"pod\",\"count\":\"x\"}", &r), 0, "another type is not read");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"extra\":{\"a\":1}}", &r), 1, "unknown fields are ignored");
	T_INT(r.count, -1, "an absent count reads -1");
	T_OK(!r.nodes && !r.lost, "absent names read NULL");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"down\",\"nodes\":null,\"lag\":null}", &r), 1, "null is absent");
	T_INT(dec("{\"type\":\"decision\"}", &r), -1, "no action: refused");
	T_STR(why, "action must be up, down or hold", "no action: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"up\"}", &r), -1, "up without count: refused");
	T_STR(why, "count must be a whole number 0..10000", "up without count: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"down\",\"count\":\"2\"}", &r), -1, "string count: refused");
	T_STR(why, "count must be a whole number 0..10000", "string count: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"count\":10001}", &r), -1, "count over the top: refused");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"down\",\"nodes\":\"n1\"}", &r), -1, "string nodes: refused");
	T_STR(why, "nodes must be an array of strings", "string nodes: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"down\",\"nodes\":[\"a\",{}]}", &r), -1, "an object in nodes: refused");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"lag\":1e300,\"burst_nodes\":-1e300}", &r), 1,
	      "a huge lag reads (no undefined cast)");
	T_INT(r.lag, 0, "a lag beyond a long reads 0");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"lag\":\"9\"}", &r), -1, "string lag: refused");
	T_STR(why, "lag must be a number", "string lag: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"p95_s\":\"-Inf\"}", &r), 1, "p95_s -Inf is a number");
	T_OK(isinf(r.p95_s) && r.p95_s < 0, "p95_s -Inf reads -inf");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"p95_s\":\"slow\"}", &r), -1, "p95_s text: refused");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"reason\":3}", &r), -1, "numeric reason: refused");
	T_STR(why, "reason must be a string", "numeric reason: why");
	T_INT(dec("{\"type\":\"decision\",\"action\":\"hold\",\"count\":\"x\",\"nodes\":1}", &r), -1, "two bad fields");
	T_STR(why, "count must be a whole number 0..10000", "the first bad field in table order is named");

	/* the checked pod reader */
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"ssh_host\":\"h\",\"ssh_port\":22,\"new\":[1]}"), 1, "a pod reads");
	T_INT(pod("{\"type\":\"pod\",\"id\":7}"), -1, "numeric id: refused");
	T_STR(why, "id must be a string", "numeric id: why");
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"ssh_port\":\"22\"}"), -1, "string port: refused");
	T_STR(why, "ssh_port must be a whole number 0..65535", "string port: why");
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"ssh_port\":70000}"), -1, "port over the top: refused");
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"ssh_host\":[\"h\"]}"), -1, "array host: refused");
	T_STR(why, "ssh_host must be a string", "array host: why");
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"spot\":\"yes\"}"), -1, "string spot: refused");
	T_STR(why, "spot must be true or false", "string spot: why");
	T_INT(pod("{\"type\":\"pod\",\"id\":\"p\",\"gpu_count\":\"1\"}"), -1, "string gpu_count: refused");

	/* node: built as rp-join printed it, read by rp-drain */
	cJSON *lab = cJSON_Parse("{\"gpu-type\":\"runpod\"}");
	struct rp_node nb = { .id = "p1", .node = "n1", .ready = 1, .bootstrap = "kubeadm", .labels = lab,
			      .ssh_host = "h", .ssh_port = 22, .fingerprint = "SHA256:x", .seconds = 4.5 };
	s = print(rp_node_build(&nb));
	T_STR(s, "{\"type\":\"node\",\"id\":\"p1\",\"node\":\"n1\",\"ready\":true,\"bootstrap\":\"kubeadm\","
		 "\"labels\":{\"gpu-type\":\"runpod\"},\"ssh_host\":\"h\",\"ssh_port\":22,\"fingerprint\":\"SHA256:x\","
		 "\"seconds\":4.5}", "node built in table order");
	free(s);
	cJSON_Delete(lab);
	struct rp_node nw = { .id = "p2", .bootstrap = "worker", .ssh_port = 22, .fingerprint = "", .error = "boom" };
	s = print(rp_node_build(&nw));
	T_STR(s, "{\"type\":\"node\",\"id\":\"p2\",\"ready\":false,\"bootstrap\":\"worker\",\"labels\":{},"
		 "\"ssh_port\":22,\"seconds\":0,\"error\":\"boom\"}", "a failed worker: no node, host or fingerprint; error last");
	free(s);
	struct rp_node nr;
	cJSON *nj = cJSON_Parse("{\"type\":\"node\",\"id\":\"p\",\"bootstrap\":\"worker\",\"ssh_host\":\"h\",\"ssh_port\":2200}");
	T_INT(rp_node_read(nj, &nr, why, sizeof why), 1, "a node reads");
	T_STR(nr.ssh_host, "h", "node ssh_host read");
	T_INT(nr.ssh_port, 2200, "node ssh_port read");
	cJSON_Delete(nj);
	nj = cJSON_Parse("{\"type\":\"node\",\"id\":\"p\",\"node\":[\"n\"]}");
	T_INT(rp_node_read(nj, &nr, why, sizeof why), -1, "array node name: refused");
	T_STR(why, "node must be a string", "array node name: why");
	cJSON_Delete(nj);
	nj = cJSON_Parse("{\"type\":\"node\",\"id\":\"p\",\"labels\":[]}");
	T_INT(rp_node_read(nj, &nr, why, sizeof why), -1, "array labels: refused");
	T_STR(why, "labels must be an object", "array labels: why");
	cJSON_Delete(nj);
	return T_DONE();
}
