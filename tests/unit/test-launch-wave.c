/* test-launch-wave.c — the create state machine's steps (wave.h), without
 * a network: what a create's answer does to its slot, the look by name
 * before any retry of an unanswered create, what a terminated pod's slot
 * does next, the ledger lines on the way, and the exit code. */
#include "ledger.h"
#include "record.h"
#include "rp.h"
#include "runpod.h"
#include "t.h"
#include "wave.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-tlw.XXXXXX";

static struct rp_config *config(void)
{
	char *err = NULL, *p = rp_xasprintf("%s/c.yaml", dir);
	FILE *f = fopen(p, "w");
	fputs("cluster: demo\n", f);
	fclose(f);
	struct rp_config *c = rp_config_load(p, &err);
	unlink(p);
	free(p);
	return c;
}

/* How many ledger lines have this event (and mention `has`, if given). */
static int lines(const char *event, const char *has)
{
	char *p = rp_xasprintf("%s/ledger.jsonl", dir), buf[4096];
	char *ev = rp_xasprintf("\"event\":\"%s\"", event);
	int n = 0;
	FILE *f = fopen(p, "r");
	while (f && fgets(buf, sizeof buf, f))
		n += strstr(buf, ev) && (!has || strstr(buf, has));
	if (f)
		fclose(f);
	free(p);
	free(ev);
	return n;
}

static void wave_init(struct rp_wave *w, struct rp_config *cfg, struct rp_slot *slots, size_t n)
{
	memset(w, 0, sizeof *w);
	w->cfg = cfg;
	w->ncand = 3;
	w->cands = rp_xcalloc(w->ncand, sizeof *w->cands);
	static const char *gpus[] = { "A", "B", "C" };
	for (size_t i = 0; i < w->ncand; i++) {
		w->cands[i].gpu = gpus[i];
		w->cands[i].price = 0.5;
		w->cands[i].rank = (int)i;
	}
	w->prefix = rp_xstrdup("demo-burst-");
	w->gpu_count = 1;
	memset(slots, 0, n * sizeof *slots);
	for (size_t i = 0; i < n; i++)
		snprintf(slots[i].name, sizeof slots[i].name, "demo-burst-slot%zu", i);
	w->slots = slots;
	w->n = n;
}

static void wave_free(struct rp_wave *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->slots[i].id);
		cJSON_Delete(w->slots[i].pod);
	}
	rp_launch_cands_free(w->cands, w->ncand);
	free(w->prefix);
	free(w->invalid_err);
	free(w->payment_err);
}

static cJSON *pod(const char *id, const char *name)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "id", id);
	cJSON_AddStringToObject(p, "name", name);
	cJSON_AddStringToObject(p, "desiredStatus", "RUNNING");
	return p;
}

static int exit_of(const int *states, const int *fails, size_t n)
{
	struct rp_wave w = { 0 };
	struct rp_slot s[4] = { { 0 } };
	for (size_t i = 0; i < n; i++) {
		s[i].state = states[i];
		s[i].fail = fails[i];
	}
	w.slots = s;
	w.n = n;
	return rp_wave_exit(&w);
}

int main(int argc, char **argv)
{
	(void)argc;
	rp_init(argv[0]);
	if (!mkdtemp(dir))
		return 1;
	setenv("RP_STATE_DIR", dir, 1);
	struct rp_config *cfg = config();
	T_OK(cfg != NULL, "config loads");
	struct rp_wave w;
	struct rp_slot sl[4];

	/* A slot's failure reason: the first stays, 402 and 422 win. */
	struct rp_slot f = { 0 };
	rp_wave_slot_fail(&f, RP_FAIL_CAPACITY);
	T_INT(f.state, RP_SLOT_FAIL, "slot_fail ends the slot");
	T_INT(f.fail, RP_FAIL_CAPACITY, "first reason kept");
	rp_wave_slot_fail(&f, RP_FAIL_TEMP);
	T_INT(f.fail, RP_FAIL_CAPACITY, "a later temporary reason does not replace it");
	rp_wave_slot_fail(&f, RP_FAIL_PAYMENT);
	T_INT(f.fail, RP_FAIL_PAYMENT, "402 replaces it");
	rp_wave_slot_fail(&f, RP_FAIL_INVALID);
	T_INT(f.fail, RP_FAIL_INVALID, "422 replaces it");

	/* Refusals: the pool is dead for the run, the slot tries the next. */
	wave_init(&w, cfg, sl, 4);
	rp_wave_after_create(&w, &sl[0], RP_RUNPOD_CAPACITY, NULL, "no instances");
	T_INT(sl[0].state, RP_SLOT_CREATE, "capacity: the slot creates again");
	T_OK(w.cands[0].dead && !strcmp(w.cands[0].why, "no instances"), "capacity: the pool is dead with its reason");
	T_INT(sl[0].fail, RP_FAIL_CAPACITY, "capacity: remembered as capacity");
	T_INT(w.stop, 0, "capacity: the launch goes on");
	sl[1].cand = 1;
	rp_wave_after_create(&w, &sl[1], RP_RUNPOD_REFUSED, NULL, "400 rule");
	T_INT(sl[1].fail, RP_FAIL_REFUSED, "refused: remembered as refused");
	T_OK(w.cands[1].dead, "refused: the pool is dead");
	sl[1].cand = 2;
	rp_wave_after_create(&w, &sl[1], RP_RUNPOD_CAPACITY, NULL, "full");
	T_INT(sl[1].fail, RP_FAIL_REFUSED, "capacity after a refusal keeps the refusal");
	rp_wave_after_create(&w, &sl[2], RP_RUNPOD_RATE, NULL, "429");
	T_INT(sl[2].state, RP_SLOT_FAIL, "429 after its waits: the slot fails");
	T_INT(sl[2].fail, RP_FAIL_TEMP, "429: temporary");
	T_INT(w.stop, 0, "429: the others go on");

	/* An unanswered create: never retried before a look by name. */
	sl[3].cand = 0;
	w.cands[0].dead = 0;
	rp_wave_after_create(&w, &sl[3], RP_RUNPOD_UNKNOWN, NULL, "timeout");
	T_INT(sl[3].state, RP_SLOT_UNKNOWN, "unknown: the slot waits for a look, not a create");
	T_INT(sl[3].unknown_tries, 1, "unknown: one try counted");
	T_INT(w.cands[0].dead, 0, "unknown: the pool is not blamed");
	cJSON *none = cJSON_CreateArray();
	rp_wave_resolve_unknown(&w, &sl[3], none, 100.0);
	T_INT(sl[3].state, RP_SLOT_CREATE, "not found by name: created again");
	T_STR(sl[3].name, "demo-burst-slot3", "... under the same name");
	T_OK(sl[3].not_before == 101.0, "... after a pause (%.1f)", sl[3].not_before);
	sl[3].state = RP_SLOT_UNKNOWN;
	sl[3].unknown_tries = 3;
	rp_wave_resolve_unknown(&w, &sl[3], none, 100.0);
	T_INT(sl[3].state, RP_SLOT_FAIL, "not found after three tries: the slot fails");
	T_INT(sl[3].fail, RP_FAIL_TEMP, "... temporarily");

	/* The list fails: nothing is created; after five looks, launch_failed. */
	wave_free(&w);
	wave_init(&w, cfg, sl, 2);
	sl[0].state = RP_SLOT_UNKNOWN;
	sl[0].unknown_tries = 1;
	for (int i = 0; i < 4; i++)
		rp_wave_resolve_unknown(&w, &sl[0], NULL, 100.0);
	T_INT(sl[0].state, RP_SLOT_UNKNOWN, "no list: still unknown, never created again");
	T_INT(lines("launch_failed", "demo-burst-slot0"), 0, "no list: no launch_failed yet");
	rp_wave_resolve_unknown(&w, &sl[0], NULL, 100.0);
	T_INT(sl[0].state, RP_SLOT_FAIL, "no list after five looks: the slot fails");
	T_INT(lines("launch_failed", "demo-burst-slot0"), 1, "... ledgered launch_failed by name (for --reap)");

	/* Found by name: adopted, and ledgered launched before any wait. */
	sl[1].state = RP_SLOT_UNKNOWN;
	sl[1].unknown_tries = 1;
	cJSON *found = cJSON_CreateArray();
	cJSON_AddItemToArray(found, pod("pX", "demo-burst-other"));
	cJSON_AddItemToArray(found, pod("p1", "demo-burst-slot1"));
	rp_wave_resolve_unknown(&w, &sl[1], found, 100.0);
	T_INT(sl[1].state, RP_SLOT_WAIT, "found by name: adopted, waiting for ready");
	T_STR(sl[1].id, "p1", "... the pod of that name");
	T_INT(sl[1].creates, 1, "... counted as created");
	T_OK(sl[1].cost == 0.5, "... its cost from the candidate (%.2f)", sl[1].cost);
	T_INT(lines("launched", "\"id\":\"p1\""), 1, "... ledgered launched");
	T_OK(sl[1].deadline > rp_mono(), "... with a readiness deadline ahead");
	cJSON_Delete(found);

	/* A pod that failed during boot: the next candidate, a new name. */
	char old[160];
	snprintf(old, sizeof old, "%s", sl[1].name);
	sl[1].kill = 1;
	rp_wave_killed(&w, &sl[1]);
	T_INT(sl[1].state, RP_SLOT_CREATE, "boot failure: the slot creates again");
	T_INT(sl[1].cand, 1, "... on the next candidate");
	T_OK(strcmp(sl[1].name, old) && !strncmp(sl[1].name, "demo-burst-", 11), "... under a new name (%s)", sl[1].name);
	T_OK(!sl[1].id && !sl[1].kill, "... forgetting the old pod");
	sl[1].state = RP_SLOT_WAIT;
	sl[1].id = rp_xstrdup("p2");
	sl[1].kill = 2;
	rp_wave_killed(&w, &sl[1]);
	T_INT(sl[1].state, RP_SLOT_FAIL, "not ready in time: the slot fails");
	sl[0].state = RP_SLOT_WAIT;
	sl[0].id = rp_xstrdup("p3");
	sl[0].kill = 1;
	w.stop = 1;
	rp_wave_killed(&w, &sl[0]);
	T_INT(sl[0].state, RP_SLOT_FAIL, "boot failure in a stopped launch: the slot fails");

	/* 402 and 422 stop every further create. */
	wave_free(&w);
	wave_init(&w, cfg, sl, 2);
	rp_wave_after_create(&w, &sl[0], RP_RUNPOD_PAYMENT, NULL, "balance");
	T_OK(w.stop && w.payment && !strcmp(w.payment_err, "balance"), "402: the launch stops");
	T_INT(sl[0].fail, RP_FAIL_PAYMENT, "402: the slot's reason");
	rp_wave_after_create(&w, &sl[1], RP_RUNPOD_INVALID, NULL, "gpuTypeId");
	T_OK(w.stop && w.invalid && !strcmp(w.invalid_err, "gpuTypeId"), "422: the launch stops");
	T_INT(rp_wave_exit(&w), RP_EXIT_USAGE, "422 exits 2");
	w.invalid = 0;
	T_INT(rp_wave_exit(&w), RP_EXIT_FAIL, "402 exits 1");

	/* Created, but the launched line cannot be written: kill it, stop. */
	wave_free(&w);
	wave_init(&w, cfg, sl, 1);
	setenv("RP_STATE_DIR", "/dev/null/nowhere", 1);
	rp_wave_after_create(&w, &sl[0], RP_RUNPOD_CREATED, pod("p9", "demo-burst-slot0"), NULL);
	setenv("RP_STATE_DIR", dir, 1);
	T_STR(sl[0].id, "p9", "created: adopted");
	T_OK(sl[0].kill && w.stop && w.ledger_broken, "no launched line: terminated at once, nothing more created");
	T_INT(rp_wave_exit(&w), RP_EXIT_FAIL, "a broken ledger exits 1");
	wave_free(&w);

	/* The exit code. */
	enum { R = RP_SLOT_READY, F = RP_SLOT_FAIL };
	T_INT(exit_of((int[]){ R, R }, (int[]){ 0, 0 }, 2), RP_EXIT_OK, "all ready: 0");
	T_INT(exit_of((int[]){ 0 }, (int[]){ 0 }, 0), RP_EXIT_OK, "nothing wanted: 0");
	T_INT(exit_of((int[]){ R, F }, (int[]){ 0, RP_FAIL_REFUSED }, 2), RP_EXIT_PARTIAL, "some ready: 3");
	T_INT(exit_of((int[]){ F, F }, (int[]){ RP_FAIL_CAPACITY, RP_FAIL_TEMP }, 2), RP_EXIT_TEMP, "none, capacity: 75");
	T_INT(exit_of((int[]){ F, F }, (int[]){ RP_FAIL_REFUSED, RP_FAIL_REFUSED }, 2), RP_EXIT_FAIL, "none, all refused: 1");
	T_INT(exit_of((int[]){ F, F }, (int[]){ RP_FAIL_REFUSED, RP_FAIL_TEMP }, 2), RP_EXIT_TEMP, "refused and temporary: 75");
	T_INT(exit_of((int[]){ F }, (int[]){ RP_FAIL_NONE }, 1), RP_EXIT_TEMP, "no reason: 75");

	cJSON_Delete(none);
	rp_config_free(cfg);
	char *lp = rp_xasprintf("%s/ledger.jsonl", dir);
	unlink(lp);
	free(lp);
	rmdir(dir);
	return T_DONE();
}
