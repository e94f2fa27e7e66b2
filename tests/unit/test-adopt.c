/* test-adopt.c — which pods a dead replica left (rp_adopt_orphaned) and
 * how many of them the lag still wants (rp_adopt_want): pure rules. */
#include "adopt.h"
#include "rp.h"
#include "t.h"

int main(void)
{
	double now, age = -1;
	if (rp_parse_rfc3339("2026-11-28T10:00:00Z", &now) < 0)
		return 2;
	cJSON *a_launched = js("{\"event\":\"launched\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:59:00Z\"}");
	cJSON *a_ready = js("{\"event\":\"ready\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:59:30Z\"}");
	cJSON *a_launching = js("{\"event\":\"launching\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:58:00Z\"}");
	cJSON *a_failed = js("{\"event\":\"join_failed\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:58:00Z\"}");
	cJSON *a_joined = js("{\"event\":\"joined\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:58:00Z\"}");
	cJSON *a_reaped = js("{\"event\":\"reaped\",\"replica\":\"A\",\"ts\":\"2026-11-28T09:58:00Z\"}");
	cJSON *b_ready = js("{\"event\":\"ready\",\"replica\":\"B\",\"ts\":\"2026-11-28T09:50:00Z\"}");
	cJSON *no_rep = js("{\"event\":\"launched\",\"ts\":\"2026-11-28T09:50:00Z\"}");
	cJSON *no_ts = js("{\"event\":\"launched\",\"replica\":\"A\"}");
	cJSON *future = js("{\"event\":\"launched\",\"replica\":\"A\",\"ts\":\"2026-11-28T10:02:00Z\"}");

	T_INT(rp_adopt_orphaned(a_launched, "B", now, &age), 1, "A's launched line, read by B: A's in-flight pod");
	T_OK(age == 60, "its age from the line (60 s, got %g)", age);
	T_INT(rp_adopt_orphaned(a_ready, "B", now, NULL), 1, "ready: in flight");
	T_INT(rp_adopt_orphaned(a_launching, "B", now, NULL), 1, "launching: in flight");
	T_INT(rp_adopt_orphaned(a_failed, "B", now, NULL), 1, "join_failed: in flight (not joined)");
	T_INT(rp_adopt_orphaned(a_joined, "B", now, NULL), 0, "joined: not in flight");
	T_INT(rp_adopt_orphaned(a_reaped, "B", now, NULL), 0, "reaped: not in flight");
	T_INT(rp_adopt_orphaned(b_ready, "B", now, NULL), 0, "our own line: never left by another replica");
	T_INT(rp_adopt_orphaned(no_rep, "B", now, NULL), 0, "a line without a replica (one host's): no");
	T_INT(rp_adopt_orphaned(no_ts, "B", now, NULL), 0, "a line without a time: no");
	T_INT(rp_adopt_orphaned(NULL, "B", now, NULL), 0, "no line at all: no");
	T_INT(rp_adopt_orphaned(future, "B", now, &age), 1, "a line ahead of our clock is in flight...");
	T_OK(age == 0, "... aged 0, never a false long ago (got %g)", age);

	T_INT(rp_adopt_want(1, 0, 2, 50), 1, "lag wants 1, nothing there, 2 left: adopt 1 (the reaper takes 1)");
	T_INT(rp_adopt_want(2, 0, 2, 50), 2, "lag wants 2: adopt both");
	T_INT(rp_adopt_want(3, 0, 2, 50), 2, "lag wants 3: both (the decision launches the rest)");
	T_INT(rp_adopt_want(2, 2, 2, 50), 0, "2 wanted, 2 there already (a new wave): adopt none");
	T_INT(rp_adopt_want(3, 2, 2, 50), 1, "3 wanted, 2 there: adopt 1");
	T_INT(rp_adopt_want(0, 0, 2, 50), 0, "no lag: adopt none");
	T_INT(rp_adopt_want(5, 0, 4, 2), 2, "max_nodes 2 caps it");
	T_INT(rp_adopt_want(5, 3, 4, 2), 0, "over max_nodes already: none");
	T_INT(rp_adopt_want(2, 0, 0, 50), 0, "nothing left: none");

	cJSON_Delete(a_launched);
	cJSON_Delete(a_ready);
	cJSON_Delete(a_launching);
	cJSON_Delete(a_failed);
	cJSON_Delete(a_joined);
	cJSON_Delete(a_reaped);
	cJSON_Delete(b_ready);
	cJSON_Delete(no_rep);
	cJSON_Delete(no_ts);
	cJSON_Delete(future);
	return T_DONE();
}
