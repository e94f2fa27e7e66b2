/* ledger.h — the append-only record of every pod event.
 *
 * Promises:
 *  - The ledger is $RP_STATE_DIR/ledger.jsonl: one JSON object per line,
 *    {"type":"ledger","event":E,"ts":…, "id":…, …}.  Events: launching, launched,
 *    ready, launch_failed, joined, join_failed, drained, terminated,
 *    terminate_failed, reaped, preempted.  The same file carries the pods'
 *    egress readings, {"type":"egress",…} lines with no "event"
 *    (egress.h): readers of the pod events skip them.
 *  - rp_ledger_append() returns only after the line is on disk (write +
 *    fsync under state.h's exclusive rp_lock; the file is 0640), so
 *    nothing that costs money happens before its line is durable.  A line is written with one write(2).
 *  - With fleet.store kafka the line goes to the shared store first
 *    (fleetlog.h); one the store did not acknowledge is still written here
 *    (and queued), and append returns -1 with errno EAGAIN.
 *  - The reader tolerates (and reports) a torn last line; a malformed line
 *    elsewhere is an error naming its line number.
 *  - Ours per the ledger, the one test before any terminate (rp-drain's
 *    targets, the reaper's orphans): rp_ledger_ours() says a RunPod pod
 *    is ours only when this ledger shows this cluster launched it: a
 *    `launched` line with its id, a name of ours (fleet.h's
 *    rp_fleet_is_ours: "<cluster>-burst-...") and our cluster (a line
 *    without "cluster" is judged by its name); or, for a create whose
 *    answer was lost, no `launched` line has its id but a `launching`
 *    line of ours has its RunPod name and no `launched` line gave that
 *    name another id.  When RunPod's name for the pod is known it must be
 *    the ledger's.  For a Node, the ledger's node <-> pod mapping must
 *    agree with the Node: the node of the pod's last `joined` or
 *    `join_failed` line, else (no join ledgered) the node named after the
 *    pod (rp-join's rule), must be that Node.  Anything else is not ours:
 *    the caller leaves the pod alone, says so in one line and exits 3.
 *    A pod ledgered terminated, reaped or drained that still runs stays
 *    ours (stopping it again is the reaper's rule); the last event is
 *    given for callers that care.  With a replicated ledger (fleetlog.h)
 *    the caller syncs the fleet view first, as the reaper does.
 */
#ifndef RP_LEDGER_H
#define RP_LEDGER_H
#include <stdio.h>
#include <cjson/cJSON.h>

/* Path of the ledger (static buffer). */
const char *rp_ledger_path(void);
/* Make an event record: {"type":"ledger","event":event,"ts":now}. */
cJSON *rp_ledger_event(const char *event);
/* Append (adds ts if missing). 0 ok; -1 with *err. */
int rp_ledger_append(cJSON *rec, char **err);

/* Called for each record; return non-zero to stop. */
typedef int (*rp_ledger_cb)(const cJSON *rec, long line, void *arg);
/* Read path (NULL: the default ledger). 0 ok (a missing ledger is empty),
 * -1 + *err on I/O error or a malformed line that is not the last.
 * *torn is set to the line number of a torn last line, else 0. */
int rp_ledger_read(const char *path, rp_ledger_cb cb, void *arg, long *torn, char **err);
/* The same over an open stream (not closed); path names it in errors. */
int rp_ledger_fread(FILE *f, const char *path, rp_ledger_cb cb, void *arg, long *torn, char **err);

/* Our spot pods as the ledger knows them: an object pod id -> {"name":
 * from its launched line, "event": the last event about that pod
 * ("launched", "ready", "joined", ..., "terminated")},
 * for every pod whose `launched` line says spot:true (v2 pods carry no
 * spot flag: the ledger is how we know).  NULL + *err when the ledger
 * cannot be read (a missing ledger is empty). */
cJSON *rp_ledger_spot_pods(const char *path, char **err);
/* Whether the ledger knows a pod that may still exist: one whose last line
 * is not terminated or reaped.  A pod is followed by its id; a line with a
 * name and no id (launching, launch_failed) by its name until a line names
 * both; a name whose last line is launching (a create under way or
 * unanswered) is alive, one whose last line is launch_failed is not.  Lines
 * with neither are ignored.  1 some, 0 none (a missing ledger), -1 + *err
 * unreadable. */
int rp_ledger_any_alive(const char *path, char **err);

struct rp_config;
/* What the ledger launched (see Promises): read path (NULL: the default
 * ledger) once.  NULL + *err when it cannot be read (a missing ledger is
 * empty: nothing is ours).  Free with cJSON_Delete. */
cJSON *rp_ledger_launches(const char *path, char **err);
/* 1: pod id (RunPod name, NULL when unknown) is ours per launches; for a
 * Node target node is its name (NULL: no node), and must agree.  *ln
 * (optional) gets the node the ledger maps the pod to (NULL when none),
 * *last (optional) the pod's last event.  0: not ours, why[n] one
 * phrase saying what the ledger lacks.  Pure. */
int rp_ledger_ours(const cJSON *launches, const struct rp_config *cfg, const char *id, const char *name,
		   const char *node, const char **ln, const char **last, char *why, size_t n);

#endif
