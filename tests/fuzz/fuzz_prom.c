/* fuzz_prom — the Prometheus /api/v1/query answer parser (rp_prom_parse):
 * every answer is OK with a value that is not NaN, NONE with a note, or
 * ERROR with a one-line note. */
#include <math.h>

#include "fuzz.h"
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fz_str(data, size);
	double v = -1;
	char *note = NULL;
	int rc = rp_prom_parse(body, "sum(rate(x[5m]))", &v, &note);
	FZ_CHECK(rc == RP_PROM_OK || rc == RP_PROM_NONE || rc == RP_PROM_ERROR);
	if (rc == RP_PROM_OK)
		FZ_CHECK(!isnan(v));
	else
		FZ_CHECK(note && *note);
	free(note);
	free(body);
	return 0;
}
