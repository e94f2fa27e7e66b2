/* egress.h — what each burst pod sent out, measured: its network
 * counters read over SSH, kept as a counter that survives pod restarts and
 * ours, ledgered, exported and priced.
 *
 * Promises:
 *  - A pod's transmitted bytes are read from its own kernel: the file
 *    ssh.egress_counters (default /proc/net/dev) read over SSH with
 *    `cat`, tx_bytes summed over every interface except lo.  Text that is
 *    not in that format is a failed sample, never a 0.
 *  - The counter: per pod id, the last raw reading and the running total.
 *    A new reading adds raw - last, or raw when raw < last (the pod
 *    restarted and its counters began again at 0): the total never
 *    decreases.  A pod's first reading adds all of raw (everything since
 *    it booted).
 *  - rp_egress_sample() (rp-join --egress, once a tick) visits the pods
 *    the ledger says are ours and up (last event ready, joined or
 *    join_failed, with an SSH address), ssh.concurrency at a time.  It
 *    trusts only host keys already in known_hosts (recorded at join):
 *    nothing is learnt on first use here.  The whole run holds
 *    $RP_STATE_DIR/egress.lock (a second sampler exits 75 at once), so two
 *    samplers never add the same bytes twice.
 *  - The previous reading of a pod is the newer (by its time) of its entry
 *    in $RP_STATE_DIR/egress.json and its last `egress` line in the
 *    ledger: a restarted process, a replica taking over (fleetlog.h) or a
 *    lost state directory goes on from the last total, never from 0.
 *  - Each reading is first ledgered, one line
 *    {"type":"egress","id","name","gpu","bytes":total,"raw"}, then
 *    egress.json is replaced (rp_write_atomic) with every pod still up;
 *    an `egress` record (the same fields plus "delta" and "reset") goes
 *    to stdout.  Ledger lines of type egress carry no "event": the pod
 *    lifecycle readers skip them.
 *  - Exit: 0 every pod read (or none up); 3 some not read; 75 none read,
 *    or another sampler runs; 1 when the ledger or the state file cannot
 *    be read or written.  A pod missed once is caught up by its next
 *    reading (the counter is cumulative).
 *  - rp_egress_prom() appends runpod_egress_bytes_total{pod,id,gpu} (a
 *    counter, with HELP and TYPE) from egress.json: nothing when the file
 *    is missing, empty or unreadable.
 *  - rp_egress_window() sums, from the ledger, each pod's total at its
 *    last line at or before until minus its total at its last line before
 *    since.
 */
#ifndef RP_EGRESS_H
#define RP_EGRESS_H
#include <stddef.h>
#include "config.h"
#include "rp.h"

/* tx_bytes of /proc/net/dev text, summed over the interfaces but lo:
 * 0 and *tx; -1 and why[n] when the text is not in that format. */
int rp_egress_parse(const char *text, unsigned long long *tx, char *why, size_t n);
/* What a reading adds to the total: raw < last ? raw : raw - last. */
unsigned long long rp_egress_delta(unsigned long long last, unsigned long long raw);

/* One sample of every pod that is up (see above); the exit code.  *err
 * (malloc'd) for exit 1. */
int rp_egress_sample(const struct rp_config *cfg, char **err);

/* The counter in the Prometheus text format (0.0.4), appended to b. */
void rp_egress_prom(struct rp_buf *b);

/* Bytes sent in (since, until] by the pods of the ledger at path (NULL:
 * the state directory's), into *bytes; *lines gets how many egress lines
 * the ledger has (0: never measured).  0, or -1 + *err. */
int rp_egress_window(const char *path, double since, double until, double *bytes, long *lines, char **err);

#endif
