/* reconcile.h — rp-cost report --reconcile: our ledger's spend per pod
 * against what RunPod billed (GET /v2/billing/pods), every difference
 * printed.
 *
 * Promises:
 *  - The window is [since, until] (without since: the first ledger pod's
 *    start), asked of RunPod as startTime/endTime with bucketSize day; the
 *    ledger side is cost.h's exact spend of each pod clipped to the same
 *    window, so both sides price the same time.
 *  - Per pod (the union of the ledger's and the billing's pod ids): one
 *    `reconcile` record {id, name?, ledger, billed, diff, status} for each
 *    pod whose amounts differ by at least one cent and more than 1 % of
 *    the larger (status billed_more, billed_less, not_billed: in the
 *    ledger, RunPod billed nothing; not_in_ledger: billed, our ledger
 *    never saw it); then one {by:"total", pods, differences, ledger,
 *    billed, diff} record.  Amounts are USD, to the cent.
 *  - Returns 0 (differences are data, not failure), RP_EXIT_USAGE for an
 *    unreadable ledger, or the API's code (75 temporary, 1 refused, 2 no
 *    key) with *err; nothing is printed then.
 */
#ifndef RP_RECONCILE_H
#define RP_RECONCILE_H
#include "config.h"
#include "spend.h"

int rp_reconcile(const struct rp_config *c, const struct rp_spend_q *q, char **err);

#endif
