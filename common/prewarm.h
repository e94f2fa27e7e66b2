/* prewarm.h — scale.prewarm: the pre-warm floor, written by rp-cost
 * prewarm from the history and read by rp-lagwatch at every tick.
 *
 * $RP_STATE_DIR/prewarm.json is {"from": T0, "lead": S, "floors": [n0,
 * n1, ...]}: floors[i] burst nodes are wanted from T0 + i hours to
 * T0 + (i + 1) hours (T0 Unix seconds, the start of an hour), and they
 * are launched S seconds (one median boot) ahead, as the simulator's
 * prewarm policy launches its floor: the floor at time t is
 * floors[(t + S - T0) / 3600] (rp_prewarm_at()), so an hour's floor is
 * asked for S seconds before the hour starts and let go S seconds before
 * it ends.  The floors are rp_policy_prewarm_at()'s.
 *
 * Promises:
 *  - rp_prewarm_save(): the file whole or not at all (rp_write_atomic,
 *    mode from state.h's table); 0, or -1 with errno.
 *  - rp_prewarm_floor(): the floor at now, >= 0; -1 + *why (malloc'd, one
 *    line) when the file is missing or unreadable, is not that object
 *    (a floor not a whole number >= 0 included), or does not cover
 *    now + lead (stale: rp-cost prewarm has not run for a day).  The
 *    caller then keeps no pre-warm floor: never an error of its own.
 *  - rp_prewarm_at(): the one reading of "the floor at now + lead":
 *    floors[(now + lead - from) / 3600], or -1 when that lies outside the
 *    n floors.  rp_prewarm_floor() reads the file through it, the
 *    simulator's prewarm policy its own table (sim.h), so both hand
 *    rp_decide the same in->prewarm.
 */
#ifndef RP_PREWARM_H
#define RP_PREWARM_H
#include <stddef.h>

int rp_prewarm_save(double from, double lead, const int *floors, int n);
int rp_prewarm_floor(double now, char **why);
int rp_prewarm_at(const int *floors, size_t n, double from, double lead, double now);

#endif
