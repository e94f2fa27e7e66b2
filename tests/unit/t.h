/* t.h — a tiny TAP-like assertion header for the C unit tests. */
#ifndef RP_T_H
#define RP_T_H
#include <stdio.h>
#include <string.h>
static int t_n, t_fail;
#define T_OK(cond, ...) do { t_n++; if (cond) { printf("ok %d - ", t_n); } \
	else { t_fail++; printf("not ok %d - %s:%d: ", t_n, __FILE__, __LINE__); } \
	printf(__VA_ARGS__); printf("\n"); } while (0)
#define T_STR(got, want, desc) do { const char *g_ = (got), *w_ = (want); \
	T_OK(g_ && w_ && !strcmp(g_, w_), "%s (got '%s', want '%s')", desc, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } while (0)
#define T_INT(got, want, desc) do { long long g_ = (long long)(got), w_ = (long long)(want); \
	T_OK(g_ == w_, "%s (got %lld, want %lld)", desc, g_, w_); } while (0)
#define T_DONE() (printf("# %d assertions, %d failed\n", t_n, t_fail), t_fail ? 1 : 0)

#ifdef cJSON__h
#include <stdlib.h>
/* A JSON fixture written in the test; a typo in it stops the test (exit 2),
 * it never passes as "no object". */
static inline cJSON *js(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	if (!j) {
		printf("bad test JSON: %s\n", s);
		exit(2);
	}
	return j;
}
#endif
#endif
