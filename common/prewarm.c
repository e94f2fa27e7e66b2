/* prewarm.c — the pre-warm floor's state file (see prewarm.h). */
#include "prewarm.h"
#include "rp.h"
#include "state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rp_prewarm_save(double from, double lead, const int *floors, int n)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "floors");
	cJSON_AddNumberToObject(o, "from", from);
	cJSON_AddNumberToObject(o, "lead", lead);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(floors[i]));
	char *text = cJSON_PrintUnformatted(o), *path = rp_state_path(RP_STATE_PREWARM, NULL);
	cJSON_Delete(o);
	int rc = -1;
	if (text && path && rp_state_mkdir_for(RP_STATE_PREWARM) == 0) {
		size_t len = strlen(text);
		text[len] = '\n'; /* cJSON's buffer: one byte past is the NUL */
		rc = rp_write_atomic(path, text, len + 1, rp_state_mode(RP_STATE_PREWARM));
	} else if (!text) {
		errno = ENOMEM;
	}
	int e = errno;
	free(text);
	free(path);
	errno = e;
	return rc;
}

int rp_prewarm_floor(double now, char **why)
{
	char *path = rp_state_path(RP_STATE_PREWARM, NULL);
	size_t len = 0;
	char *text = rp_read_file(path, 1 << 16, &len);
	int r = -1;
	if (!text) {
		*why = rp_xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	cJSON *o = cJSON_ParseWithLength(text, len);
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from"),
		    *lead = cJSON_GetObjectItemCaseSensitive(o, "lead"),
		    *fl = cJSON_GetObjectItemCaseSensitive(o, "floors");
	if (!cJSON_IsObject(o) || !cJSON_IsNumber(from) || !cJSON_IsNumber(lead) || !cJSON_IsArray(fl) ||
	    !isfinite(from->valuedouble) || !isfinite(lead->valuedouble)) {
		*why = rp_xasprintf("%s: not rp-cost prewarm's {\"from\", \"lead\", \"floors\"}", path);
		goto out;
	}
	/* which floor: rp_prewarm_at()'s, over the indexes of the array */
	int size = cJSON_GetArraySize(fl), *idx = rp_xcalloc(size > 0 ? (size_t)size : 1, sizeof *idx);
	for (int k = 0; k < size; k++)
		idx[k] = k;
	int i = rp_prewarm_at(idx, (size_t)size, from->valuedouble, lead->valuedouble, now);
	free(idx);
	const cJSON *n = i >= 0 ? cJSON_GetArrayItem(fl, i) : NULL;
	if (!n) {
		*why = rp_xasprintf("%s: stale, no floor for %.0fs from now (run rp-cost prewarm daily)", path,
				    lead->valuedouble);
		goto out;
	}
	if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e6 ||
	    n->valuedouble != floor(n->valuedouble)) {
		*why = rp_xasprintf("%s: floor %d is not a whole number of nodes", path, i);
		goto out;
	}
	r = (int)n->valuedouble;
out:
	cJSON_Delete(o);
	free(text);
	free(path);
	return r;
}

int rp_prewarm_at(const int *floors, size_t n, double from, double lead, double now)
{
	double i = floor((now + lead - from) / 3600);
	return i >= 0 && i < (double)n ? floors[(size_t)i] : -1;
}
