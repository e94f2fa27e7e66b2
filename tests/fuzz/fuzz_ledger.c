/* fuzz_ledger — the two ledger readers over the same bytes: the generic
 * one (rp_ledger_read) and rp-cost's streaming scan (rp_cost_scan, a flat
 * scanner with a cJSON fallback).  Both must come back with an answer:
 * every record an object, a torn line only at the end, every pod's life
 * non-negative and ending no earlier than it began. */
#include <math.h>

#include "fuzz.h"
#include "cost.h"
#include "ledger.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_ledger");
	fz_buffer_stderr();
	return 0;
}

static int on_rec(const cJSON *rec, long line, void *arg)
{
	long *last = arg;
	FZ_CHECK(cJSON_IsObject(rec));
	FZ_CHECK(line > *last);
	*last = line;
	return 0;
}

static void on_pod(const struct rp_cost_pod *p, void *arg)
{
	long *n = arg;
	FZ_CHECK(p->id[0]);
	FZ_CHECK(memchr(p->id, 0, sizeof p->id) && memchr(p->name, 0, sizeof p->name) &&
		 memchr(p->gpu, 0, sizeof p->gpu));
	FZ_CHECK(!(p->end < p->start));
	FZ_CHECK(rp_cost_hours(p, 0, 4e9) >= 0);
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fz_stream(data, size);
	long last = 0, torn = -1, pods = 0;
	char *err = NULL;
	int rc = rp_ledger_fread(f, "fuzz.jsonl", on_rec, &last, &torn, &err);
	FZ_CHECK(rc == 0 ? !err && torn >= 0 && (!torn || torn > last) : err && *err);
	free(err);
	err = NULL;
	torn = -1;
	rewind(f);
	rc = rp_cost_fscan(f, "fuzz.jsonl", 1.8e9, on_pod, &pods, &torn, &err);
	FZ_CHECK(rc == 0 ? !err && torn >= 0 : err && *err);
	free(err);
	fclose(f);
	return 0;
}
