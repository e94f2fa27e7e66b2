/* fuzz.h — what every fuzz target shares.
 *
 * A target is one LLVMFuzzerTestOneInput() over a real library function.
 * The same file builds two ways: with clang -fsanitize=fuzzer (libFuzzer's
 * main, tests/fuzz/run) and with any compiler plus standalone.c, which
 * runs it once over given files (tests/t/90-fuzz-regress.sh).
 *
 * FZ_CHECK() is a property the function promises: a violation aborts,
 * so libFuzzer records it like a crash.
 */
#ifndef RP_FUZZ_H
#define RP_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Sanitizer runtimes print this where their reports go (libFuzzer's
 * -close_fd_mask=2 closes plain stderr); absent in a plain build. */
void __sanitizer_report_error_summary(const char *summary) __attribute__((weak));

static inline void fz_failed(const char *file, int line, const char *cond)
{
	char msg[512];
	snprintf(msg, sizeof msg, "fuzz: property failed at %s:%d: %s", file, line, cond);
	if (__sanitizer_report_error_summary)
		__sanitizer_report_error_summary(msg);
	fprintf(stderr, "%s\n", msg);
	fflush(stderr);
	abort();
}
#define FZ_CHECK(cond)                                             \
	do {                                                       \
		if (!(cond))                                       \
			fz_failed(__FILE__, __LINE__, #cond);      \
	} while (0)

/* The input as a NUL-terminated string (malloc'd; stops at an inner NUL,
 * like any C string the function would be handed). */
static inline char *fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

/* The input as a read-only stream, without touching the disk or the
 * allocator: fmemopen over the input itself, buffered in a static buffer
 * (stdio would malloc one per stream; under ASan that costs more than the
 * parse).  An empty input is /dev/null (glibc's fmemopen refuses size 0).
 * fclose() it. */
static inline FILE *fz_stream(const uint8_t *data, size_t size)
{
	static char buf[8192];
	FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
	if (!f) {
		perror("fz_stream");
		abort();
	}
	setvbuf(f, buf, _IOFBF, sizeof buf);
	return f;
}

/* What the library says on stderr still gets formatted, but written in
 * big blocks: a syscall per warning line would dominate a fast target.
 * fz_failed() flushes before it aborts. */
static inline void fz_buffer_stderr(void)
{
	static char buf[1 << 16];
	setvbuf(stderr, buf, _IOFBF, sizeof buf);
}

/* Take one leading option byte off the input (0 when it is empty). */
static inline uint8_t fz_byte(const uint8_t **data, size_t *size)
{
	if (!*size)
		return 0;
	uint8_t b = **data;
	(*data)++;
	(*size)--;
	return b;
}

#endif
