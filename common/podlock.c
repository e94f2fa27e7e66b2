/* podlock.c — a joiner's per-pod liveness lock (see podlock.h). */
#include "podlock.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

char *rp_podlock_path(const char *id)
{
	char *p = rp_state_path(RP_STATE_JOIN_LOCK, id);
	return p ? p : rp_state_path(RP_STATE_JOIN_LOCK, NULL); /* unsafe id: the directory */
}

/* 1: fd is the file at path; 0: that file was unlinked or replaced; -1: errno. */
static int at_path(int fd, const char *path)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0)
		return -1;
	if (stat(path, &b) < 0)
		return errno == ENOENT ? 0 : -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int rp_podlock_take(const char *id, double wait)
{
	if (!id || !rp_safe_name(id)) {
		errno = EINVAL;
		return -1;
	}
	char *path = rp_podlock_path(id);
	double end = rp_mono() + wait;
	int fd = -1, e = 0;
	if (rp_state_mkdir_for(RP_STATE_JOIN_LOCK) < 0) {
		e = errno;
		goto out;
	}
	for (int moved = 0;;) {
		double left = end - rp_mono();
		fd = rp_lock(path, RP_LOCK_EX, left > 0 ? left : 0);
		if (fd < 0) {
			e = errno;
			break;
		}
		int s = at_path(fd, path);
		if (s == 1)
			break;
		e = errno;
		rp_unlock(fd);
		fd = -1;
		if (s < 0 || ++moved > 100)
			break;
		/* its holder unlinked it when done: take the new one */
	}
out:
	free(path);
	if (fd < 0)
		errno = e ? e : EAGAIN;
	return fd;
}

void rp_podlock_drop(int fd, const char *id)
{
	if (fd < 0)
		return;
	char *path = rp_podlock_path(id);
	unlink(path); /* while still held: a waiter that wins the old file lets it go */
	free(path);
	rp_unlock(fd);
}

int rp_podlock_held(const char *id)
{
	if (!id || !rp_safe_name(id))
		return 0; /* no lock can exist: rp_podlock_take refuses such an id */
	char *path = rp_podlock_path(id);
	int r = -1, e = EAGAIN;
	for (int tries = 0; tries < 8; tries++) {
		int fd = rp_lock(path, RP_LOCK_SH | RP_LOCK_NOCREATE, 0);
		if (fd < 0) {
			e = errno;
			r = e == ENOENT ? 0 : e == EWOULDBLOCK ? 1 : -1;
			break;
		}
		int s = at_path(fd, path);
		e = errno;
		rp_unlock(fd); /* lets our shared lock go at once */
		if (s != 0) {
			r = s == 1 ? 0 : -1;
			break;
		}
		/* replaced while we looked: look at the new one */
	}
	free(path);
	errno = e;
	return r;
}

void rp_podlock_clear(const char *id)
{
	if (!id || !rp_safe_name(id))
		return;
	char *path = rp_podlock_path(id);
	int there = access(path, F_OK) == 0;
	free(path);
	if (there)
		rp_podlock_drop(rp_podlock_take(id, 0), id);
}
