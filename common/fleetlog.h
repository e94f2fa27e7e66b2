/* fleetlog.h — the ledger replicated to a Kafka topic, so every replica
 * (and one restarted with an empty state directory) sees the whole fleet.
 *
 * Why Kafka: the platform already runs it as a replicated log (three
 * brokers: it survives any one host); a ledger is an append-only log, a
 * topic is one; an idempotent producer with acks=all makes a line durable
 * on the in-sync replicas exactly once per send before the call returns;
 * and each replica reads it back from its own offset, so the local file is
 * a replica of the topic that catches up by reading what it lacks.  (A
 * ConfigMap is capped at 1 MiB and rewritten whole; s3rver ignores the
 * conditional PUT an S3 append would need.)
 *
 * Promises:
 *  - fleet.store "local" (the default, one host): every call here is a
 *    no-op and the ledger is the local file alone, as before.
 *  - fleet.store "kafka": rp_fleetlog_publish() (called by ledger.c's
 *    append before the local write) stamps a line with "lid" (a unique
 *    line id) and "replica" (RP_IDENTITY, else the host name), produces it
 *    to partition 0 of fleet.topic with enable.idempotence (acks=all) and
 *    waits for the broker's acknowledgement (at most fleet.timeout).  A
 *    line that already has a lid (one read back from the topic) is not
 *    produced again.  A line the store did not acknowledge goes to the
 *    outbox ($RP_STATE_DIR/fleet-outbox.jsonl); the call returns -1 with
 *    errno EAGAIN (the caller writes it locally all the same: nothing is
 *    lost, and a create stops there).
 *  - rp_fleetlog_sync() first sends the outbox (in order; it is emptied
 *    only after every line was acknowledged), then reads the topic from
 *    the offset the local file has reached ($RP_STATE_DIR/fleet.json; 0
 *    with an empty state directory) to its end and appends every line
 *    whose lid the local ledger does not have yet.  One sync at a time per
 *    state directory (fleet.lock).  0, or RP_EXIT_TEMP + *err when the
 *    store did not answer (the local file is then as it was).  With
 *    RP_FLEET_SYNCED set (rp-autoscale sets it once its tick synced: only
 *    the lease holder writes, so nothing new arrives meanwhile) it
 *    returns 0 at once.
 *  - rp_fleetlog_identity() is the replica name stamped on lines.
 *  - rp_fleetlog_last_wave() reads the local ledger (as the last sync
 *    left it) for the newest `launching` line another replica wrote: its
 *    time and how many `launching` lines that replica wrote in the minute
 *    before it (its wave).  rp-lagwatch counts that wave in its cooldown
 *    as if it had asked for it itself, so a replica taking over does not
 *    launch the same wave again.
 */
#ifndef RP_FLEETLOG_H
#define RP_FLEETLOG_H
#include <cjson/cJSON.h>
#include "config.h"

/* Remember the settings (no network).  rp_cli_config() calls it. */
void rp_fleetlog_init(const struct rp_config *cfg);
/* 1 when the ledger is replicated (fleet.store kafka). */
int rp_fleetlog_enabled(void);
const char *rp_fleetlog_identity(void);
/* Stamp and produce rec (see above): 0 acknowledged or not replicated;
 * -1 + *err (errno EAGAIN) not acknowledged: queued in the outbox. */
int rp_fleetlog_publish(cJSON *rec, char **err);
/* Outbox out, missing lines in (see above). */
int rp_fleetlog_sync(char **err);
/* 1 and *t, *n when another replica launched (see above); else 0. */
int rp_fleetlog_last_wave(double *t, int *n);

#endif
