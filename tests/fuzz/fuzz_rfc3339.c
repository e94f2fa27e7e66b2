/* fuzz_rfc3339 — rp_parse_rfc3339 (Z or +hh:mm, optional fraction): an
 * accepted time is finite, and formatting it back (rp_rfc3339, UTC with
 * milliseconds) parses to the same instant within a millisecond; a UTC
 * time that is not a leap second formats back to the same calendar date
 * (no 31 April, no 29 February in a common year). */
#include <math.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size);
	double t = -1;
	if (rp_parse_rfc3339(s, &t) == 0) {
		FZ_CHECK(isfinite(t));
		/* Years 0000..9999 with offsets: within what the formatter
		 * prints as a four-digit year. */
		if (t >= 0 && t < 253402300799.0) {
			char buf[64], *p = rp_rfc3339(t, buf, sizeof buf);
			double u = -1;
			FZ_CHECK(p && rp_parse_rfc3339(buf, &u) == 0);
			FZ_CHECK(fabs(u - t) <= 0.0011);
			if ((s[19] == 'Z' || s[19] == 'z' ||
			     (s[19] == '.' && strspn(s + 20, "0123456789") <= 3)) &&
			    strcmp(s + 17, "60") < 0 && !strpbrk(s + 19, "+-"))
				FZ_CHECK(!memcmp(buf, s, 10));
		}
	}
	free(s);
	return 0;
}
