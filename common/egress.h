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
 *    Each holds a reading's raw and total together, so going on from an
 *    older ledgered line still adds everything the counters grew since;
 *    only a pod restart between that line and a lost state file loses
 *    what was read since the line (less than RP_EGRESS_LEDGER_BYTES).
 *  - Each reading replaces the pod's entry in egress.json
 *    (rp_write_atomic; the pods still up); an `egress` record (the fields
 *    below plus "delta", "reset" and "ledgered") goes to stdout.  It is
 *    ledgered -- one line {"type":"egress","id","name","gpu","bytes":total,
 *    "raw"} with the reading's time, before egress.json is written -- only
 *    when it matters (rp_egress_ledger_due): the pod's first line, a reset,
 *    a total RP_EGRESS_LEDGER_BYTES or more above the pod's last ledgered
 *    line, a last line RP_EGRESS_LEDGER_EVERY or older, or the final
 *    reading of a drain.  A quiet pod so costs one line an hour, not one a
 *    tick.  A pod that leaves egress.json (no longer up) has its entry
 *    ledgered first when no line has that reading yet: every reading taken
 *    ends in the ledger or is followed by a ledgered one.  Ledger lines of
 *    type egress carry no "event": the pod lifecycle readers skip them.
 *  - Exit: 0 every pod read (or none up); 3 some not read; 75 none read,
 *    or another sampler runs; 1 when the ledger or the state file cannot
 *    be read or written.  A pod missed once is caught up by its next
 *    reading (the counter is cumulative).
 *  - rp_egress_prom() appends runpod_egress_bytes_total{pod,id,gpu} (a
 *    counter, with HELP and TYPE) from egress.json: nothing when the file
 *    is missing, empty or unreadable.
 *  - rp_egress_sample_pod() is one pod's final reading (rp-drain, after
 *    the workload stopped, before the terminate): the same reading, counter
 *    and trust as above, always ledgered.  Only for a pod measured before
 *    (an egress line or an egress.json entry): with no reading of it,
 *    egress is not metered there and nothing is read.  It waits for
 *    egress.lock up to ssh.connect_timeout, connects within it and gives
 *    the `cat` as long: a sampler holding the lock longer, or a pod not
 *    read, is an error (*err says so; the caller warns and goes on), never
 *    a wait beyond those three bounds.
 *  - rp_egress_window() sums each pod's total at its last reading at or
 *    before until minus its total at its last reading at or before since.
 *    The readings are the ledger's egress lines plus, for the state
 *    directory's ledger (path NULL), each pod's newest reading in
 *    egress.json.  A reading not ledgered moves its bytes to the window of
 *    the next reading that is (less than RP_EGRESS_LEDGER_BYTES per pod and
 *    bound): never lost or counted twice, adjacent windows add up.
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

/* A reading is ledgered when its total moved this much since the pod's
 * last line (one priced GB), or that line is this old (seconds). */
#define RP_EGRESS_LEDGER_BYTES 1e9
#define RP_EGRESS_LEDGER_EVERY 3600.0
/* Is a reading at t of total (reset: counters began again) due in the
 * ledger, after the pod's last line at last_t (< 0: none) of last_bytes? */
int rp_egress_ledger_due(double last_t, double last_bytes, double t, double total, int reset);

/* One sample of every pod that is up (see above); the exit code.  *err
 * (malloc'd) for exit 1. */
int rp_egress_sample(const struct rp_config *cfg, char **err);

/* The final reading of pod id at host:port (NULL: the ledger's address;
 * port 0: ssh.port), ledgered: 0 with *total the pod's total, or -1 when
 * it was never measured (nothing read); 75 + *err not read (lock busy past
 * the wait, unreachable, counters unreadable); 1 + *err ledger or state
 * file.  Bounds as above. */
int rp_egress_sample_pod(const struct rp_config *cfg, const char *id, const char *host, int port, double *total,
			 char **err);

/* The counter in the Prometheus text format (0.0.4), appended to b. */
void rp_egress_prom(struct rp_buf *b);

/* Bytes sent in (since, until] by the pods of the ledger at path (NULL:
 * the state directory's), into *bytes; *lines gets how many egress lines
 * the ledger has (0: never measured).  0, or -1 + *err. */
int rp_egress_window(const char *path, double since, double until, double *bytes, long *lines, char **err);

#endif
