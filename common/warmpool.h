/* warmpool.h — scale.warm_pool: a floor of burst nodes by hour of day (UTC).
 *
 * The value is a map of hour ranges to node counts, e.g.
 * {"08-18": 2, "18-22": 1}: "A-B" is the hours A to B (UTC, 0 <= A <= 23,
 * 1 <= B <= 24, A != B), start included, end not; B < A wraps past
 * midnight ("22-06").  Hours no range names have no floor.
 *
 * Promises:
 *  - rp_warm_pool_parse(): the 24 floors of a map (NULL or {} is no floor
 *    at all).  Refused, with one line naming the range: a value that is
 *    not a map, a range that is not "A-B" with hours in bounds, ranges
 *    that overlap, a count that is not a whole number from 0 to
 *    max_nodes.
 *  - rp_warm_pool_format(): the map of 24 floors, one range per run of
 *    equal non-zero floors, hours zero-padded, no wrap; it parses back to
 *    the same 24 floors.  "{}" when there is no floor.
 *  - rp_warm_pool_hour(): the hour of day (UTC) of an epoch time, the
 *    index rp_decide reads its floor at.
 */
#ifndef RP_WARMPOOL_H
#define RP_WARMPOOL_H
#include <cjson/cJSON.h>

enum { RP_HOURS = 24 };

/* 0, or -1 + *why (malloc'd, one line). */
int rp_warm_pool_parse(const cJSON *map, long max_nodes, int fl[RP_HOURS], char **why);
/* malloc'd JSON text. */
char *rp_warm_pool_format(const int fl[RP_HOURS]);
int rp_warm_pool_hour(double t);

#endif
