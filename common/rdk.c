/* rdk.c — librdkafka, loaded on first use (see rdk.h). */
#include <librdkafka/rdkafka.h>
#include "rp.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

/* The pointers, under the names rdk.h's macros give the calls; without
 * those macros here, or __typeof__ would read the pointers themselves. */
#define RP_RDK_NO_MACROS
#include "rdk.h"

#define X(f) __typeof__(f) *rp_rdk_##f;
RP_RDK_FNS
#undef X

static char *load_err;

static void load(void)
{
	static const char *const names[] = { "librdkafka.so.1", "librdkafka.so" };
	void *h = NULL;
	/* No Kafka SASL is configured: keep Cyrus SASL (which rd_kafka_new
	 * initialises) from loading every plugin and its Berkeley DB, half
	 * a MiB resident for nothing. */
	setenv("SASL_PATH", "/nonexistent", 0);
	for (size_t i = 0; !h && i < sizeof names / sizeof names[0]; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		load_err = rp_xasprintf("cannot load librdkafka (Debian package librdkafka1): %s", dlerror());
		return;
	}
#define X(f)                                                                                     \
	if (!load_err && !(*(void **)&rp_rdk_##f = dlsym(h, #f)))                                \
		load_err = rp_xasprintf("librdkafka has no %s: not the version rp was built for", #f);
	RP_RDK_FNS
#undef X
}

int rp_rdk_load(char **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, load);
	if (load_err) {
		*err = rp_xstrdup(load_err);
		return -1;
	}
	return 0;
}
