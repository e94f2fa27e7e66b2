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

static void load(void)
{
	/* No Kafka SASL is configured: keep Cyrus SASL (which rd_kafka_new
	 * initialises) from loading every plugin and its Berkeley DB, half
	 * a MiB resident for nothing. */
	setenv("SASL_PATH", "/nonexistent", 0);
	/* The soname built against, only: the unversioned librdkafka.so (a
	 * -dev symlink) may be another ABI. */
	void *h = dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		rp_fatal(RP_EXIT_FAIL, "cannot load librdkafka (Debian package librdkafka1): %s", dlerror());
#define X(f)                                                                                     \
	if (!(*(void **)&rp_rdk_##f = dlsym(h, #f)))                                             \
		rp_fatal(RP_EXIT_FAIL, "librdkafka has no %s: not the version rp was built for", #f);
	RP_RDK_FNS
#undef X
}

void rp_rdk_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, load);
}
