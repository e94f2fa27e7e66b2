/* test-idle.c — since when a node has not been Ready, and when that makes
 * it lost (rp_fleet_notready_s, rp_fleet_lost): pure functions of a Node
 * object and the time. */
#include "fleet.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>

static cJSON *node(const char *json)
{
	cJSON *n = cJSON_Parse(json);
	if (!n) {
		printf("bad test JSON: %s\n", json);
		exit(2);
	}
	return n;
}

int main(void)
{
	double t0, since;
	if (rp_parse_rfc3339("2026-11-28T10:00:00Z", &t0) < 0)
		return 2;
	cJSON *ready = node("{\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\","
			    "\"lastTransitionTime\":\"2026-11-28T09:00:00Z\"},{\"type\":\"Ready\",\"status\":\"True\","
			    "\"lastTransitionTime\":\"2026-11-28T09:59:00Z\"}]}}");
	cJSON *down = node("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
			   "\"lastTransitionTime\":\"2026-11-28T09:58:00Z\"}]}}");
	cJSON *unknown = node("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\","
			      "\"lastTransitionTime\":\"2026-11-28T09:59:30.500Z\"}]}}");
	cJSON *fresh = node("{\"metadata\":{\"creationTimestamp\":\"2026-11-28T09:59:50Z\"},\"status\":{}}");
	cJSON *notime = node("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
	cJSON *future = node("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
			     "\"lastTransitionTime\":\"2026-11-28T10:05:00Z\"}]}}");
	cJSON *garbage = node("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
			      "\"lastTransitionTime\":\"yesterday\"}]}}");

	T_OK(rp_fleet_notready_s(ready, t0, &since) == -1 && since == -1, "Ready True: -1, no since");
	T_OK(rp_fleet_notready_s(down, t0, &since) == 120, "Ready False since 09:58: 120 s");
	T_OK(since == t0 - 120, "since = lastTransitionTime");
	T_OK(rp_fleet_notready_s(unknown, t0, NULL) == 29.5, "Ready Unknown (kubelet silent) counts too: 29.5 s");
	T_OK(rp_fleet_notready_s(fresh, t0, NULL) == 10, "no Ready condition yet: from creationTimestamp, 10 s");
	T_OK(rp_fleet_notready_s(notime, t0, &since) == 0 && since == t0, "no lastTransitionTime: 0, never a false long ago");
	T_OK(rp_fleet_notready_s(future, t0, NULL) == 0, "a transition ahead of our clock: 0");
	T_OK(rp_fleet_notready_s(garbage, t0, NULL) == 0, "an unreadable time: 0");

	T_INT(rp_fleet_lost(ready, t0, 0), 0, "a Ready node is never lost, even with grace 0");
	T_INT(rp_fleet_lost(down, t0, 119), 1, "NotReady 120 s, grace 119 s: lost");
	T_INT(rp_fleet_lost(down, t0, 120), 0, "NotReady exactly the grace: not yet (longer than)");
	T_INT(rp_fleet_lost(down, t0, 121), 0, "within the grace: a blink costs nothing");
	T_INT(rp_fleet_lost(unknown, t0, 120), 0, "Unknown for 29.5 s, grace 2 min: not lost");
	T_INT(rp_fleet_lost(unknown, t0 + 200, 120), 1, "Unknown for 229.5 s: lost");
	T_INT(rp_fleet_lost(notime, t0, 0), 0, "no time: never lost");

	cJSON_Delete(ready);
	cJSON_Delete(down);
	cJSON_Delete(unknown);
	cJSON_Delete(fresh);
	cJSON_Delete(notime);
	cJSON_Delete(future);
	cJSON_Delete(garbage);
	return T_DONE();
}
