/* podlock.c — a joiner's per-pod liveness lock (see podlock.h). */
#include "podlock.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

char *rp_podlock_path(const char *id)
{
	return rp_xasprintf("%s/join/%s.lock", rp_state_dir(), id);
}

static int xflock(int fd, int how)
{
	int r;
	while ((r = flock(fd, how)) < 0 && errno == EINTR)
		;
	return r;
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
	char *dir = rp_xasprintf("%s/join", rp_state_dir());
	char *path = rp_podlock_path(id);
	double end = rp_mono() + wait;
	int fd = -1, e = 0;
	if (rp_mkdir_p(dir, 0750) < 0) {
		e = errno;
		goto out;
	}
	for (int moved = 0;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0) {
			e = errno;
			break;
		}
		if (xflock(fd, LOCK_EX | LOCK_NB) == 0) {
			int s = at_path(fd, path);
			if (s == 1)
				break;
			e = errno;
			close(fd);
			fd = -1;
			if (s < 0 || ++moved > 100)
				break;
			continue; /* its holder unlinked it when done: take the new one */
		}
		e = errno;
		close(fd);
		fd = -1;
		if (e != EWOULDBLOCK || rp_mono() >= end)
			break;
		rp_sleep(0.05);
	}
out:
	free(dir);
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
	close(fd);
}

int rp_podlock_held(const char *id)
{
	if (!id || !rp_safe_name(id))
		return 0; /* no lock can exist: rp_podlock_take refuses such an id */
	char *path = rp_podlock_path(id);
	int r = -1, e = EAGAIN;
	for (int tries = 0; tries < 8; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			e = errno;
			r = e == ENOENT ? 0 : -1;
			break;
		}
		if (xflock(fd, LOCK_SH | LOCK_NB) < 0) {
			e = errno;
			close(fd);
			r = e == EWOULDBLOCK ? 1 : -1;
			break;
		}
		int s = at_path(fd, path);
		e = errno;
		close(fd); /* lets our shared lock go at once */
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
