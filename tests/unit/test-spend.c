/* test-spend.c — rp-cost metrics and the --by names, now reachable outside
 * the main: label values escaped, running pods only, the last decision
 * record's lag and p95, an unreadable decision file a usage error. */
#include "cost.h"
#include "rp.h"
#include "spend.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-test-spend.XXXXXX";

static char *write_file(const char *name, const char *text)
{
	char *p = rp_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

int main(void)
{
	rp_init("test-spend");
	if (!mkdtemp(dir))
		return 1;
	T_INT(rp_spend_by("pod"), RP_BY_POD, "--by pod");
	T_INT(rp_spend_by("gpu"), RP_BY_GPU, "--by gpu");
	T_INT(rp_spend_by("day"), RP_BY_DAY, "--by day");
	T_INT(rp_spend_by("week"), -1, "--by week refused");
	T_OK(rp_cost_cents(1.005000001) == 1.01 && rp_cost_r4(0.123456) == 0.1235, "money to the cent, figures to 4 places");

	char *l = write_file("ledger.jsonl",
			     "{\"type\":\"ledger\",\"event\":\"launched\",\"ts\":\"2026-11-28T10:00:00.000Z\",\"id\":\"a\","
			     "\"name\":\"t-\\\"q\\\"\",\"gpu\":\"G\",\"gpu_count\":1,\"spot\":false,\"cost_per_hr\":2}\n"
			     "{\"type\":\"ledger\",\"event\":\"launched\",\"ts\":\"2026-11-28T09:00:00.000Z\",\"id\":\"b\","
			     "\"name\":\"t-b\",\"gpu\":\"G\",\"gpu_count\":1,\"spot\":true,\"cost_per_hr\":1}\n"
			     "{\"type\":\"ledger\",\"event\":\"terminated\",\"ts\":\"2026-11-28T10:00:00.000Z\",\"id\":\"b\"}\n");
	char *d = write_file("dec.jsonl", "{\"type\":\"decision\",\"action\":\"up\",\"count\":1,\"lag\":9,\"p95_s\":1}\n"
					  "{\"type\":\"lag\",\"lag\":1}\n"
					  "{\"type\":\"decision\",\"action\":\"hold\",\"lag\":4,\"p95_s\":null}\n");
	double now;
	rp_parse_rfc3339("2026-11-28T12:00:00Z", &now);
	struct rp_buf b = { 0 };
	char *err = NULL;
	T_INT(rp_spend_metrics(l, now, d, &b, &err), RP_EXIT_OK, "metrics");
	const char *m = b.data ? b.data : "";
	T_OK(strstr(m, "runpod_instance_cost_per_hour{pod=\"t-\\\"q\\\"\",id=\"a\",gpu=\"G\",spot=\"false\"} 2\n") != NULL,
	     "a running pod, its quotes escaped");
	T_OK(strstr(m, "id=\"b\"") == NULL, "a terminated pod has no gauge");
	T_OK(strstr(m, "rp_spend_dollars_total 5.0000\n") != NULL, "spend: 2 h x 2 + 1 h x 1");
	T_OK(strstr(m, "rp_burst_nodes 1\n") != NULL, "one running");
	T_OK(strstr(m, "rp_queue_lag 4\n") != NULL, "lag from the last decision");
	T_OK(strstr(m, "rp_p95_latency_seconds") == NULL, "no p95 when it was null");
	T_OK(strstr(m, "{action=\"hold\"}") != NULL, "the last action");
	rp_buf_free(&b);

	char *nod = rp_xasprintf("%s/none.jsonl", dir);
	T_INT(rp_spend_metrics(l, now, nod, &b, &err), RP_EXIT_USAGE, "an unreadable decision file");
	T_OK(err && strstr(err, "--decision") && strstr(err, "cannot read"), "says so (%s)", err ? err : "");
	free(err);
	err = NULL;
	rp_buf_free(&b);

	/* The decision is read as rp-launch reads it (records.h): a mistyped
	 * field is named with its line, not read as absent. */
	char *bad = write_file("bad.jsonl", "{\"type\":\"decision\",\"action\":\"hold\",\"lag\":4}\n"
					    "{\"type\":\"decision\",\"action\":\"hold\",\"lag\":\"4\"}\n");
	T_INT(rp_spend_metrics(l, now, bad, &b, &err), RP_EXIT_USAGE, "a decision with a string lag");
	T_OK(err && strstr(err, "bad.jsonl:2: decision record") && strstr(err, "lag"), "names line and field (%s)",
	     err ? err : "");
	free(err);
	rp_buf_free(&b);
	unlink(bad);
	free(bad);
	unlink(l);
	unlink(d);
	rmdir(dir);
	free(l);
	free(d);
	free(nod);
	return T_DONE();
}
