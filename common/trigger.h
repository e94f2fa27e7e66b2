/* trigger.h — the early trigger: a tick of the loop (scripts/rp-autoscale)
 * started as soon as a poll says it would scale up, rather than at the
 * timer's next period; run by rp-lagwatch --watch INTERVAL --trigger CMD
 * [--period PERIOD] (with a period it is the timer too: deploy/).
 *
 * Promises:
 *  - rp_trigger_lock() takes $RP_STATE_DIR/autoscale.lock, the lock every
 *    tick takes (flock(1) in rp-autoscale, rp_lock() here: state.h),
 *    exclusive and without waiting: a descriptor, RP_TRIGGER_BUSY (a tick
 *    is running), or -1 with errno.
 *  - rp_trigger_run() runs /bin/sh -c CMD with that locked descriptor as
 *    fd 9, where rp-autoscale finds it and keeps it, waits for CMD and only
 *    then lets the lock go: two ticks never overlap, and no other tick
 *    slips in between the trigger's decision and its tick.  CMD reads
 *    /dev/null; its stdout and stderr are the caller's.
 *  - rp_trigger_loop() polls every interval until *stop
 *    (rp_watch_early_poll(), watch.h).  Only when the poll is hot does it
 *    take the lock (busy: a tick is running, nothing done), and then,
 *    holding it, rp_watch_early_decide(): a first hot poll is counted
 *    (saved for the hysteresis as a tick's poll is saved) and an up starts
 *    the tick at once; each prints one "trigger" record (ts, what:
 *    "count" or "tick", reason).  The tick decides again itself
 *    (rp-lagwatch --once): hysteresis and cooldown are decide.c's; the
 *    trigger only chooses when a poll happens.  A cool poll is not
 *    counted (the timer's ticks are).  After an early tick that exited
 *    non-zero, did not start, or did not poll (the decision state's
 *    last_poll did not move: a standby replica whose tick found the Lease
 *    held elsewhere, or CMD did not keep fd 9), no early tick for one
 *    period (with a period), else 15 s (the shipped timer's period): the
 *    timer retries.  A tick that did not poll is warned about once, then
 *    logged at debug until an early tick polls again (a standby replica
 *    stands by for as long as the queue is hot).  When a tick ran past the
 *    interval, the next poll comes at once.  An input unknown (Kafka,
 *    Kubernetes) is logged once, and again when its reason changes.
 *  - With a period (> 0) the loop is the timer as well: at its start, and
 *    whenever period seconds have passed since the last tick it started
 *    (early or not) began, it starts CMD as a tick whatever the poll says
 *    (that iteration does no early poll: the tick polls), under the same
 *    lock, taken the same way and handed over on fd 9; busy: the running
 *    tick stands for it, the next one a period later.  No record; exit
 *    status 0, 3 and 75 (a tick's normal ends) are logged at debug, any
 *    other at warn, and it never quiets the early ticks.  Period 0: no
 *    such tick (the timer is systemd's).
 *  - After each round the loop reaps every child process that has ended:
 *    as a container's PID 1 (deploy/) it inherits the orphans a tick
 *    leaves, and no other process would wait for them.
 */
#ifndef RP_TRIGGER_H
#define RP_TRIGGER_H
#include <signal.h>
#include "watch.h"

enum { RP_TRIGGER_BUSY = -2 };

int rp_trigger_lock(void);
/* CMD's exit status (0-255, 128+N if killed by signal N), or -1 with
 * errno (fork failed).  fd is released in any case. */
int rp_trigger_run(int fd, const char *cmd);
/* The watcher's loop; returns when *stop is set or stdout fails.
 * period: seconds between the ticks it starts itself, 0 none. */
void rp_trigger_loop(struct rp_watch *w, const char *cmd, double interval, double period,
		     volatile sig_atomic_t *stop);

#endif
