/* podlock.h — "a joiner is at work on this pod", told by a lock, so the
 * reaper can tell a slow join from a dead one.
 *
 * Promises:
 *  - The lock of pod ID is $RP_STATE_DIR/join/ID.lock, held with
 *    flock(LOCK_EX) by the one process that owns the pod's join.  The
 *    kernel drops it when that process ends in any way (exit, kill -9,
 *    OOM kill, reboot), so a held lock means a live joiner, a free one
 *    means none.  The descriptor is close-on-exec: no child keeps it.
 *    The lock is state.h's rp_lock(): O_NOFOLLOW (a symlink at the path
 *    is refused), created 0600 in a directory of RP_STATE_DIR_MODE.
 *  - rp_podlock_take() hands out a lock only on the file that is at the
 *    path (a finished joiner unlinks the file while it still holds it, so
 *    a lock won on an unlinked file is let go and taken again).
 *  - rp_podlock_drop() unlinks the file, then lets the lock go.
 *  - rp_podlock_held() only looks: it never blocks, never keeps the lock,
 *    creates nothing.  It may hold a shared lock for the time of one
 *    flock(2) call, so a taker that finds the lock busy retries briefly
 *    (rp_podlock_take with a wait) before concluding a joiner has it.
 *  - rp_podlock_clear() removes the file of a lock nobody holds (the
 *    reaper's tidy-up after a dead joiner); a held lock is left alone.
 *  - ID must pass rp_safe_name(): it becomes a file name.  take refuses
 *    another (EINVAL); held answers 0 for it (nobody can hold it).
 */
#ifndef RP_PODLOCK_H
#define RP_PODLOCK_H

/* Path of ID's lock (malloc'd; for an ID rp_safe_name() refuses, the
 * join directory, so a message can still name where the locks are). */
char *rp_podlock_path(const char *id);
/* Take ID's lock, retrying for up to wait seconds while it is busy.
 * A descriptor >= 0; -1 with errno EWOULDBLOCK (busy: another process
 * holds it) or another errno (cannot make or lock the file). */
int rp_podlock_take(const char *id, double wait);
/* Unlink ID's lock file and release the lock (fd < 0: nothing). */
void rp_podlock_drop(int fd, const char *id);
/* 1 held by someone, 0 free (or no file), -1 cannot tell (errno). */
int rp_podlock_held(const char *id);
/* Remove ID's lock file if it exists and nobody holds it. */
void rp_podlock_clear(const char *id);

#endif
