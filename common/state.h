/* state.h — the state directory: where every file under $RP_STATE_DIR is,
 * the one way a file there is locked, the one way a file is replaced.
 *
 * Promises:
 *  - Every path under $RP_STATE_DIR (default /var/lib/rp) comes from
 *    rp_state_path(); the table in state.c names each file once, with its
 *    mode and its purpose (rp(7) FILES lists the same table).
 *  - The directory and its subdirectories have one mode, RP_STATE_DIR_MODE
 *    = 0750.  Why not 0700: the systemd units already make it 0750
 *    (StateDirectoryMode=0750, User and Group rp) and would undo a 0700 at
 *    every start; an operator in group rp reads the ledger (0640) with
 *    rp-cost, and a node exporter in group rp reads the default textfile
 *    directory $RP_STATE_DIR/metrics (the shipped unit points
 *    --metrics-dir elsewhere).  Why not wider: nothing in it is for other
 *    users.  Files with host keys, marks, queue entries and locks are 0600;
 *    the table in state.c gives each file's mode.  An existing directory's
 *    mode is left as it is (systemd owns it there).
 *  - rp_state_mkdir() creates with mkdir -p semantics and then refuses
 *    (ENOTDIR, ELOOP, EPERM) a path that is not a directory, is a symlink,
 *    or is owned by another user: nothing is written through a directory
 *    someone else controls.
 *  - rp_lock() is the only flock(2) in the C code.  It opens the path with
 *    O_NOFOLLOW|O_CLOEXEC (a symlink there is refused with ELOOP; no child
 *    inherits the lock), creating it 0600 unless told otherwise, and locks
 *    it shared or exclusive, waiting forever, not at all, or up to a
 *    timeout.  A signal that interrupts the wait does not end it (EINTR is
 *    retried).  The lock lives as long as the descriptor: rp_unlock() or
 *    the process's end (exit, kill -9) lets it go.
 *  - rp_write_atomic() replaces a file whole or not at all: it writes an
 *    O_CREAT|O_EXCL|O_NOFOLLOW temporary with an unpredictable name in the
 *    same directory, fsyncs it, renames it over the path and fsyncs the
 *    directory.  On failure the old file is intact and no temporary is left.
 */
#ifndef RP_STATE_H
#define RP_STATE_H
#include <stddef.h>

#define RP_STATE_DIR_MODE 0750

enum rp_state_file {
	RP_STATE_LEDGER,           /* ledger.jsonl */
	RP_STATE_LAUNCH_LOCK,      /* launch.lock */
	RP_STATE_IDLE,             /* idle.json */
	RP_STATE_IDLE_LOCK,        /* idle.lock */
	RP_STATE_KNOWN_HOSTS,      /* known_hosts */
	RP_STATE_LAGWATCH,         /* lagwatch.json */
	RP_STATE_LAGWATCH_SAMPLES, /* lagwatch-samples.json */
	RP_STATE_JOIN_LOCK,        /* join/NAME.lock */
	RP_STATE_TUNNEL_PID,       /* tunnel/NAME.pid */
	RP_STATE_CKPT_QUEUE,       /* checkpoint-queue/NAME */
	RP_STATE_CKPT_QUEUE_LOCK,  /* checkpoint-queue/.lock */
	RP_STATE_CKPT_CACHE,       /* checkpoint-cache/NAME */
	RP_STATE_AUTOSCALE_LOCK,   /* autoscale.lock (scripts/rp-autoscale) */
	RP_STATE_AUTOSCALE_DEGRADED, /* autoscale.degraded (scripts/rp-autoscale) */
	RP_STATE_TICKS,            /* ticks/NAME (scripts/rp-autoscale) */
	RP_STATE_METRICS,          /* metrics/NAME (scripts/rp-autoscale) */
	RP_STATE_LEASE,            /* lease.json: the Lease renewer's fence (lease.h) */
	RP_STATE_FLEET,            /* fleet.json: how far the ledger has read the fleet store */
	RP_STATE_FLEET_OUTBOX,     /* fleet-outbox.jsonl: lines the fleet store has not taken yet */
	RP_STATE_FLEET_LOCK,       /* fleet.lock */
	RP_STATE_EGRESS,           /* egress.json: each pod's transmitted bytes, last sample (egress.h) */
	RP_STATE_EGRESS_LOCK,      /* egress.lock */
	RP_STATE_PREWARM,          /* prewarm.json: rp-cost prewarm's floors for scale.prewarm (prewarm.h) */
	RP_STATE_NFILES
};

/* $RP_STATE_DIR, or /var/lib/rp when unset or empty. */
const char *rp_state_dir(void);
/* Path of file f (malloc'd).  For the per-name files (join, tunnel,
 * checkpoint-queue/-cache, ticks, metrics) name is the file's own part and
 * must pass rp_safe_name(), else NULL with EINVAL; name NULL gives the
 * subdirectory itself.  Other files ignore name. */
char *rp_state_path(enum rp_state_file f, const char *name);
/* The directory f lives in (malloc'd): $RP_STATE_DIR or a subdirectory. */
char *rp_state_dir_of(enum rp_state_file f);
/* Mode a file of kind f is created with (0600, or 0640 for the ledger). */
unsigned rp_state_mode(enum rp_state_file f);
/* The table's name for f ("join/%s.lock"), for rp(7) and the tests. */
const char *rp_state_name(enum rp_state_file f);

/* Create dir (mkdir -p, RP_STATE_DIR_MODE) and check that it is a
 * directory, not a symlink, owned by us.  0, or -1 with errno. */
int rp_state_mkdir(const char *dir);
/* rp_state_mkdir() of the directory file f lives in. */
int rp_state_mkdir_for(enum rp_state_file f);

/* rp_lock() flags: one of SH/EX, plus any of the others. */
enum {
	RP_LOCK_SH = 0,       /* shared */
	RP_LOCK_EX = 1,       /* exclusive */
	RP_LOCK_NOCREATE = 2, /* open an existing file read-only (ENOENT if none) */
	RP_LOCK_APPEND = 4,   /* O_APPEND: a data file that is its own lock */
	RP_LOCK_GROUP = 8     /* create 0640 instead of 0600 */
};
/* Lock path.  wait < 0: until granted; 0: one try; > 0: retry for up to
 * wait seconds.  A descriptor >= 0 (open O_RDWR, or O_RDONLY with
 * RP_LOCK_NOCREATE, positioned at 0); -1 with errno EWOULDBLOCK when the
 * lock is busy, ELOOP for a symlink, or what open/flock said. */
int rp_lock(const char *path, int flags, double wait);
/* Let the lock go (LOCK_UN: also for a child that inherited fd across
 * fork) and close fd (fd < 0: nothing).  errno is kept. */
void rp_unlock(int fd);

/* Replace path with data atomically; the file gets mode (less the umask).
 * 0, or -1 with errno: the old file intact and no temporary left, except
 * when only the directory's fsync failed (the new file is in place then,
 * but its rename may not survive a crash). */
int rp_write_atomic(const char *path, const void *data, size_t n, unsigned mode);

#endif
