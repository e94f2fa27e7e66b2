/* test-ledger-spot.c — rp_ledger_spot_pods(): our spot pods, known from
 * their launched line (v2 pods carry no spot flag), with the last event. */
#include "t.h"
#include "ledger.h"
#include "record.h"
#include "rp.h"

#include <stdlib.h>
#include <unistd.h>

static const char *ev(const cJSON *m, const char *id)
{
	return rp_rec_str(cJSON_GetObjectItemCaseSensitive(m, id), "event");
}

int main(void)
{
	char path[] = "/tmp/rp-test-lspot.XXXXXX", *err = NULL;
	rp_init("test-ledger-spot");
	int fd = mkstemp(path);
	if (fd < 0)
		return 2;
	FILE *f = fdopen(fd, "w");
	fputs("{\"type\":\"ledger\",\"event\":\"launching\",\"name\":\"d-burst-a\",\"spot\":true}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"a\",\"name\":\"d-burst-a\",\"spot\":true}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"b\",\"name\":\"d-burst-b\",\"spot\":false}\n"
	      "{\"type\":\"ledger\",\"event\":\"launched\",\"id\":\"c\",\"name\":\"d-burst-c\",\"spot\":true}\n"
	      "{\"type\":\"ledger\",\"event\":\"ready\",\"id\":\"a\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"joined\",\"id\":\"a\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"terminated\",\"id\":\"c\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"ready\",\"id\":\"b\"}\n"
	      "{\"type\":\"ledger\",\"event\":\"joined\",\"id\":\"z\"}\n",
	      f);
	fclose(f);
	cJSON *m = rp_ledger_spot_pods(path, &err);
	T_OK(m != NULL, "the ledger reads (%s)", err ? err : "");
	T_INT(cJSON_GetArraySize(m), 2, "two spot pods: a and c (b is on-demand, z never launched)");
	T_STR(ev(m, "a"), "joined", "a: its last event");
	T_STR(rp_rec_str(cJSON_GetObjectItemCaseSensitive(m, "a"), "name"), "d-burst-a", "a: its name from launched");
	T_STR(ev(m, "c"), "terminated", "c: terminated by us");
	T_OK(!cJSON_GetObjectItemCaseSensitive(m, "b"), "b: on-demand, not listed");
	cJSON_Delete(m);
	unlink(path);
	m = rp_ledger_spot_pods(path, &err);
	T_INT(cJSON_GetArraySize(m), 0, "a missing ledger: no spot pods, no error");
	cJSON_Delete(m);
	return T_DONE();
}
