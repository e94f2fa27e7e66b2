/* fuzz_duration — rp_parse_duration ("60s", "1h30m", "250ms", "90"):
 * an accepted duration is finite, >= 0 and at most 1e9 s; a rejected one
 * leaves the output untouched. */
#include <math.h>

#include "fuzz.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	double v = -12345;
	if (rp_parse_duration(s, &v) == 0)
		FZ_CHECK(isfinite(v) && v >= 0 && v <= 1e9);
	else
		FZ_CHECK(v == -12345);
	free(s);
	return 0;
}
