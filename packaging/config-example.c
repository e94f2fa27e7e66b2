/* config-example.c — the build step that writes the example configuration
 * (share/doc/rp/examples/config.yaml) from the schema in common/config.c. */
#include "config.h"

#include <stdio.h>

int main(void)
{
	if (rp_config_example(stdout) < 0 || fflush(stdout) != 0) {
		fputs("config-example: the schema and its descriptions disagree (common/config.c)\n", stderr);
		return 1;
	}
	return 0;
}
