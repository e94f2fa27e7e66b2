/* The one exit-code combiner: rp_exit_add / rp_exit_code (rp.h). */
#include "t.h"
#include "rp.h"

static int combine(int rule, const int *codes, size_t n)
{
	struct rp_exit e = RP_EXIT_INIT(rule);
	for (size_t i = 0; i < n; i++)
		rp_exit_add(&e, codes[i]);
	return rp_exit_code(&e);
}

#define C(rule, ...) combine(rule, (const int[]){ __VA_ARGS__ }, \
	sizeof (const int[]){ __VA_ARGS__ } / sizeof(int))

int main(void)
{
	rp_init("test-exit");
	struct rp_exit none = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	T_INT(rp_exit_code(&none), 0, "no item: done");
	T_INT(C(RP_EXIT_ALL_TEMP, 0, 0, 0), 0, "every item done: 0");
	T_INT(C(RP_EXIT_ALL_TEMP, 0, 1), 3, "some done, one failed: 3");
	T_INT(C(RP_EXIT_ALL_TEMP, 75, 0), 3, "some done, one temporary: 3");
	T_INT(C(RP_EXIT_ALL_TEMP, 3), 3, "one item partly done: 3");
	T_INT(C(RP_EXIT_ALL_TEMP, 1, 3, 75), 3, "none done but one partly done: 3");
	T_INT(C(RP_EXIT_ALL_TEMP, 75, 75), 75, "none done, every one temporary: 75");
	T_INT(C(RP_EXIT_ALL_TEMP, 75, 1), 1, "none done, one failed for good: 1");
	T_INT(C(RP_EXIT_ALL_TEMP, 1, 1), 1, "every item failed: 1");
	T_INT(C(RP_EXIT_ALL_TEMP, 2), 1, "one bad item is a failure, not a usage exit: 1");
	T_INT(C(RP_EXIT_ALL_TEMP, 2, 0), 3, "a bad item beside a done one: 3");
	T_INT(C(RP_EXIT_ANY_TEMP, 75, 1), 75, "any-temp rule: none done, one temporary: 75");
	T_INT(C(RP_EXIT_ANY_TEMP, 1, 1), 1, "any-temp rule: every one refused: 1");
	T_INT(C(RP_EXIT_ANY_TEMP, 0, 1), 3, "any-temp rule: some done: 3");
	T_INT(C(RP_EXIT_ANY_TEMP, 0), 0, "any-temp rule: all done: 0");
	T_INT(C(RP_EXIT_WHOLE, 0, 0), 0, "whole: every part done: 0");
	T_INT(C(RP_EXIT_WHOLE, 0, 1), 1, "whole: a part failed, some done: 1, never 3");
	T_INT(C(RP_EXIT_WHOLE, 1, 75, 0), 75, "whole: any part temporary: 75");
	T_INT(C(RP_EXIT_WHOLE, 1, 2), 1, "whole: parts failed: 1");
	struct rp_exit e = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	rp_exit_add(&e, 0);
	rp_exit_add(&e, 75);
	rp_exit_add(&e, 3);
	rp_exit_add(&e, 1);
	rp_exit_add(&e, 2);
	T_INT(e.ok, 1, "counted done");
	T_INT(e.temp, 1, "counted temporary");
	T_INT(e.partial, 1, "counted partly done");
	T_INT(e.failed, 2, "counted failed (1 and 2)");
	return T_DONE();
}
