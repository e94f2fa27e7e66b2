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
#include <sys/mman.h>
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

/* The input as a file the library can open by name, without touching the
 * disk: an in-memory file rewritten per input, opened as /proc/self/fd/N
 * (each open starts at offset 0).  Returns a static path. */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("rp-fuzz", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz file");
		abort();
	}
	return path;
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
