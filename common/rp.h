/* rp.h — the toolkit-wide contract: exit codes, the error shape, small
 * helpers every binary uses.
 *
 * Promises:
 *  - RP_EXIT_* are the only exit codes a binary returns (see rp(7)).
 *  - rp_fatal() prints "PROG: fatal: MESSAGE" on one line and exits with
 *    the code given; rp_warn() prints "PROG: warning: MESSAGE".
 *  - rp_x*alloc never return NULL (they die with exit 1 on OOM).
 *  - rp_finish() flushes stdout and turns a write error (EPIPE, ENOSPC)
 *    into a non-zero status: a tool never reports success for records it
 *    could not deliver.
 *  - A tool that handles several items (pods, hosts, nodes, orphans) turns
 *    their outcomes into its exit code in one place, rp_exit_code():
 *    no item, or every item done -> 0; some item done, or some item partly
 *    done -> 3; none done and every one temporary -> 75; otherwise -> 1.
 *    Under RP_EXIT_ANY_TEMP (rp-launch: "every candidate refused" is the
 *    only 1) none done and any one temporary -> 75.  Under RP_EXIT_WHOLE
 *    (the items are parts of one operation, rp-checkpoint: 3 is not used)
 *    every part done -> 0; any part temporary -> 75; otherwise -> 1.
 *    An item's outcome is
 *    an RP_EXIT_* code: 0 done, 3 partly done, 75 temporary, anything else
 *    (1, or 2 for one bad item) failed.  A tool-wide failure (bad input,
 *    payment) is decided by the tool before it combines.
 */
#ifndef RP_H
#define RP_H

#include <stddef.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

enum {
	RP_EXIT_OK = 0,      /* done */
	RP_EXIT_FAIL = 1,    /* failed */
	RP_EXIT_USAGE = 2,   /* usage or bad input */
	RP_EXIT_PARTIAL = 3, /* partly done: some records failed */
	RP_EXIT_TEMP = 75    /* temporary: try again next tick (EX_TEMPFAIL) */
};

/* The one exit-code combiner (rule in Promises above). */
enum { RP_EXIT_ALL_TEMP = 0, RP_EXIT_ANY_TEMP = 1, RP_EXIT_WHOLE = 2 };
struct rp_exit {
	int rule;                            /* RP_EXIT_ALL_TEMP, _ANY_TEMP, _WHOLE */
	size_t ok, partial, temp, failed;    /* items by outcome */
};
#define RP_EXIT_INIT(r) { (r), 0, 0, 0, 0 }
void rp_exit_add(struct rp_exit *e, int code);
int rp_exit_code(const struct rp_exit *e);

extern const char *rp_prog; /* set by rp_init() */

void rp_init(const char *argv0);
_Noreturn void rp_fatal(int code, const char *fmt, ...) __attribute__((noreturn))
	__attribute__((format(printf, 2, 3)));
void rp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void rp_usage_error(const char *usage, const char *fmt, ...) __attribute__((noreturn))
	__attribute__((format(printf, 2, 3)));
int rp_finish(int code);

void *rp_xmalloc(size_t n);
void *rp_xcalloc(size_t n, size_t m);
void *rp_xrealloc(void *p, size_t n);
char *rp_xstrdup(const char *s);
char *rp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; always NUL-terminated. */
struct rp_buf {
	char *data;
	size_t len, cap;
};
void rp_buf_add(struct rp_buf *b, const void *p, size_t n);
void rp_buf_addf(struct rp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rp_buf_adds(struct rp_buf *b, const char *s);
void rp_buf_free(struct rp_buf *b);

/* Time. */
double rp_now(void);         /* wall clock, seconds since the epoch */
double rp_mono(void);        /* monotonic seconds */
void rp_sleep(double secs);
/* RFC 3339 UTC with milliseconds: 2026-11-28T08:15:20.123Z; buf >= 32. */
char *rp_rfc3339(double t, char *buf, size_t n);
/* Parse RFC 3339 (Z or +hh:mm); -1 on error. */
int rp_parse_rfc3339(const char *s, double *out);

/* Files. */
int rp_mkdir_p(const char *path, unsigned mode);
/* The atomic replace, defined in state.c (see state.h for its promise):
 * declared here too until every caller includes state.h. */
int rp_write_atomic(const char *path, const void *data, size_t n, unsigned mode);
/* Read whole file (cap bytes max); NULL on error (errno set). */
char *rp_read_file(const char *path, size_t cap, size_t *len);

/* Short random id of n lowercase hex/alnum chars (n < 32). */
void rp_rand_id(char *out, size_t n);
/* Hex sha256 of data into out[65]. */
void rp_sha256_hex(const void *data, size_t n, char out[65]);

/* $RP_STATE_DIR or /var/lib/rp: defined in state.c (see state.h), which
 * owns every path under it; declared here too until every caller includes
 * state.h. */
const char *rp_state_dir(void);

/* Safe identifier: [A-Za-z0-9._-]+, not "." or "..", <= 128 bytes. */
int rp_safe_name(const char *s);

#endif
