/* fuzz_costline — rp-cost's fast ledger scanner against cJSON.  cost.c
 * reads lifecycle lines with a flat scanner (no full parse) and falls
 * back to cJSON when it is unsure; either way a "launched" line must
 * give the pod cJSON sees in it: same id, name, GPU, count, spot flag,
 * price and start.  Input: one ledger line. */
#include <limits.h>
#include <math.h>

#include "fuzz.h"
#include "cost.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_costline");
	fz_buffer_stderr();
	return 0;
}

struct want {
	cJSON *o;
	int expect, seen;
};

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void on_pod(const struct rp_cost_pod *p, void *arg)
{
	struct want *w = arg;
	const cJSON *o = w->o;
	char exp[96];
	w->seen++;
	if (!w->expect)
		return;
	FZ_CHECK(!strcmp(p->id, jstr(o, "id")));
	snprintf(exp, sizeof exp, "%s", jstr(o, "name") ? jstr(o, "name") : "");
	FZ_CHECK(!strcmp(p->name, exp));
	snprintf(exp, 64, "%s", jstr(o, "gpu") ? jstr(o, "gpu") : "");
	FZ_CHECK(!strcmp(p->gpu, exp));
	const cJSON *gc = cJSON_GetObjectItemCaseSensitive(o, "gpu_count");
	if (!cJSON_IsNumber(gc))
		FZ_CHECK(p->gpu_count == 1);
	else if (fabs(gc->valuedouble) < INT_MAX)
		FZ_CHECK(p->gpu_count == gc->valueint);
	FZ_CHECK(p->spot == cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "spot")));
	const cJSON *cp = cJSON_GetObjectItemCaseSensitive(o, "cost_per_hr");
	FZ_CHECK(p->cost_per_hr == (cJSON_IsNumber(cp) ? cp->valuedouble : 0));
	double t0;
	FZ_CHECK(rp_parse_rfc3339(jstr(o, "ts"), &t0) == 0 && p->start == t0);
	FZ_CHECK(p->running && p->end >= p->start);
}

/* The writer never repeats a key; cJSON keeps the first, the scanner the
 * last, so such lines are outside the promise. */
static int dup_keys(const cJSON *o)
{
	for (const cJSON *a = o->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (!strcmp(a->string, b->string))
				return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One line of JSON as the writer makes it: cJSON also takes control
	 * bytes for blanks, which no JSON writer emits; the scanner does not. */
	for (size_t i = 0; i < size; i++)
		if (data[i] < 0x20 && data[i] != '\t')
			return 0;
	char *line = fz_str(data, size);
	cJSON *o = cJSON_Parse(line);
	const char *ev = jstr(o, "event"), *id = jstr(o, "id"), *ts = jstr(o, "ts");
	double t0;
	int expect = cJSON_IsObject(o) && !dup_keys(o) && ev && !strcmp(ev, "launched") &&
		     strstr(line, "\"launched\"") && id && *id && strlen(id) < 64 && ts && strlen(ts) < 40 &&
		     rp_parse_rfc3339(ts, &t0) == 0;
	struct want w = { o, expect, 0 };
	long torn = -1;
	char *err = NULL;
	FILE *f = fz_stream(data, size);
	int rc = rp_cost_fscan(f, "fuzz.jsonl", 4e9, on_pod, &w, &torn, &err);
	fclose(f);
	FZ_CHECK(rc == 0 && !err);
	if (expect)
		FZ_CHECK(w.seen == 1 && torn == 0);
	cJSON_Delete(o);
	free(line);
	return 0;
}
