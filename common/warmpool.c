/* warmpool.c — scale.warm_pool's syntax (see warmpool.h). */
#include "warmpool.h"
#include "rp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "A-B": two decimal hours; 0 or -1. */
static int range(const char *s, int *a, int *b)
{
	int n = 0;
	if (sscanf(s, "%2d-%2d%n", a, b, &n) != 2 || s[n] || !strchr("0123456789", s[0]))
		return -1;
	const char *dash = strchr(s, '-');
	if (!strchr("0123456789", dash[1]))
		return -1; /* "%d" would take a sign */
	return *a >= 0 && *a <= 23 && *b >= 1 && *b <= 24 && *a != *b ? 0 : -1;
}

int rp_warm_pool_parse(const cJSON *map, long max_nodes, int fl[RP_HOURS], char **why)
{
	char set[RP_HOURS] = { 0 };
	memset(fl, 0, RP_HOURS * sizeof *fl);
	*why = NULL;
	if (!map)
		return 0;
	if (!cJSON_IsObject(map)) {
		*why = rp_xstrdup("want a map of hour ranges to node counts, e.g. {\"08-18\": 2}");
		return -1;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, map)
	{
		int a, b;
		if (range(e->string, &a, &b) < 0) {
			*why = rp_xasprintf("'%.40s': want hours A-B (UTC, 0-23 to 1-24, e.g. 08-18)", e->string);
			return -1;
		}
		double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
		if (v < 0 || v != floor(v) || v > (double)max_nodes) {
			*why = rp_xasprintf("'%s': want a whole number of nodes from 0 to runpod.max_nodes (%ld)", e->string,
					    max_nodes);
			return -1;
		}
		for (int h = a; h != b; h = (h + 1) % RP_HOURS) {
			if (set[h]) {
				*why = rp_xasprintf("'%s' overlaps another range at hour %02d", e->string, h);
				return -1;
			}
			set[h] = 1;
			fl[h] = (int)v;
			if (b == RP_HOURS && h == RP_HOURS - 1)
				break;
		}
	}
	return 0;
}

char *rp_warm_pool_format(const int fl[RP_HOURS])
{
	cJSON *m = cJSON_CreateObject();
	for (int h = 0; h < RP_HOURS;) {
		int e = h + 1;
		while (e < RP_HOURS && fl[e] == fl[h])
			e++;
		if (fl[h] > 0) {
			char k[32];
			snprintf(k, sizeof k, "%02d-%02d", h, e);
			cJSON_AddNumberToObject(m, k, fl[h]);
		}
		h = e;
	}
	char *s = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return s;
}

int rp_warm_pool_hour(double t)
{
	double h = fmod(floor(t / 3600), RP_HOURS);
	return h < 0 ? (int)h + RP_HOURS : (int)h;
}
