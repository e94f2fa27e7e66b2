/* state.c — the state directory's table, its lock and its atomic replace
 * (see state.h). */
#include "state.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one table of the files under $RP_STATE_DIR.  name: a format with
 * one %s for the per-name files; sub: their subdirectory. */
static const struct {
	const char *name, *sub;
	unsigned mode;
} files[RP_STATE_NFILES] = {
	[RP_STATE_LEDGER] = { "ledger.jsonl", NULL, 0640 },
	[RP_STATE_LAUNCH_LOCK] = { "launch.lock", NULL, 0600 },
	[RP_STATE_IDLE] = { "idle.json", NULL, 0600 },
	[RP_STATE_IDLE_LOCK] = { "idle.lock", NULL, 0600 },
	[RP_STATE_KNOWN_HOSTS] = { "known_hosts", NULL, 0600 },
	[RP_STATE_LAGWATCH] = { "lagwatch.json", NULL, 0600 },
	[RP_STATE_LAGWATCH_SAMPLES] = { "lagwatch-samples.json", NULL, 0600 },
	[RP_STATE_JOIN_LOCK] = { "join/%s.lock", "join", 0600 },
	[RP_STATE_TUNNEL_PID] = { "tunnel/%s.pid", "tunnel", 0644 },
	[RP_STATE_CKPT_QUEUE] = { "checkpoint-queue/%s", "checkpoint-queue", 0600 },
	[RP_STATE_CKPT_QUEUE_LOCK] = { "checkpoint-queue/.lock", "checkpoint-queue", 0600 },
	[RP_STATE_CKPT_CACHE] = { "checkpoint-cache/%s", "checkpoint-cache", 0600 },
	[RP_STATE_AUTOSCALE_LOCK] = { "autoscale.lock", NULL, 0644 },
	[RP_STATE_AUTOSCALE_DEGRADED] = { "autoscale.degraded", NULL, 0644 },
	[RP_STATE_TICKS] = { "ticks/%s", "ticks", 0644 },
	[RP_STATE_METRICS] = { "metrics/%s", "metrics", 0644 },
	[RP_STATE_LEASE] = { "lease.json", NULL, 0600 },
	[RP_STATE_FLEET] = { "fleet.json", NULL, 0600 },
	[RP_STATE_FLEET_OUTBOX] = { "fleet-outbox.jsonl", NULL, 0600 },
	[RP_STATE_FLEET_LOCK] = { "fleet.lock", NULL, 0600 },
	[RP_STATE_EGRESS] = { "egress.json", NULL, 0600 },
	[RP_STATE_EGRESS_LOCK] = { "egress.lock", NULL, 0600 },
	[RP_STATE_PREWARM] = { "prewarm.json", NULL, 0600 },
};

const char *rp_state_dir(void)
{
	const char *s = getenv("RP_STATE_DIR");
	return (s && *s) ? s : "/var/lib/rp";
}

static int valid(enum rp_state_file f)
{
	return (unsigned)f < RP_STATE_NFILES;
}

const char *rp_state_name(enum rp_state_file f)
{
	return valid(f) ? files[f].name : NULL;
}

unsigned rp_state_mode(enum rp_state_file f)
{
	return valid(f) ? files[f].mode : 0600;
}

char *rp_state_dir_of(enum rp_state_file f)
{
	if (valid(f) && files[f].sub)
		return rp_xasprintf("%s/%s", rp_state_dir(), files[f].sub);
	return rp_xstrdup(rp_state_dir());
}

char *rp_state_path(enum rp_state_file f, const char *name)
{
	if (!valid(f)) {
		errno = EINVAL;
		return NULL;
	}
	if (!strchr(files[f].name, '%'))
		return rp_xasprintf("%s/%s", rp_state_dir(), files[f].name);
	if (!name)
		return rp_state_dir_of(f);
	if (!rp_safe_name(name)) {
		errno = EINVAL;
		return NULL;
	}
	char *rel = rp_xasprintf(files[f].name, name);
	char *p = rp_xasprintf("%s/%s", rp_state_dir(), rel);
	free(rel);
	return p;
}

int rp_state_mkdir(const char *dir)
{
	if (rp_mkdir_p(dir, RP_STATE_DIR_MODE) < 0)
		return -1;
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int rp_state_mkdir_for(enum rp_state_file f)
{
	if (rp_state_mkdir(rp_state_dir()) < 0)
		return -1;
	if (!valid(f) || !files[f].sub)
		return 0;
	char *d = rp_state_dir_of(f);
	int r = rp_state_mkdir(d), e = errno;
	free(d);
	errno = e;
	return r;
}

int rp_lock(const char *path, int flags, double wait)
{
	int of = O_CLOEXEC | O_NOFOLLOW;
	if (flags & RP_LOCK_NOCREATE)
		of |= O_RDONLY;
	else
		of |= O_RDWR | O_CREAT;
	if (flags & RP_LOCK_APPEND)
		of |= O_APPEND;
	int fd = open(path, of, (flags & RP_LOCK_GROUP) ? 0640 : 0600);
	if (fd < 0)
		return -1;
	int how = (flags & RP_LOCK_EX) ? LOCK_EX : LOCK_SH;
	double end = wait > 0 ? rp_mono() + wait : 0;
	for (;;) {
		if (flock(fd, wait < 0 ? how : how | LOCK_NB) == 0)
			return fd;
		if (errno == EINTR)
			continue; /* a signal ends no wait */
		if (errno != EWOULDBLOCK || wait == 0 || rp_mono() >= end)
			break;
		rp_sleep(0.05);
	}
	rp_unlock(fd);
	return -1;
}

void rp_unlock(int fd)
{
	if (fd < 0)
		return;
	int e = errno;
	/* Unlock first: a child forked meanwhile shares the open file and
	 * would otherwise keep the lock alive after our close. */
	flock(fd, LOCK_UN);
	close(fd);
	errno = e;
}

static int fsync_dir(const char *path)
{
	char *d = rp_xstrdup(path), *sl = strrchr(d, '/');
	if (!sl)
		strcpy(d, ".");
	else if (sl == d)
		d[1] = 0;
	else
		*sl = 0;
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	if (r < 0 && errno == EINVAL)
		r = 0; /* a file system that cannot sync a directory */
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int rp_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
	char *tmp = NULL;
	int fd = -1;
	for (int i = 0; fd < 0 && i < 16; i++) {
		char r[13];
		rp_rand_id(r, 12);
		free(tmp);
		tmp = rp_xasprintf("%s.tmp.%s", path, r);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST) {
			free(tmp);
			return -1;
		}
	}
	if (fd < 0) {
		free(tmp);
		return -1; /* EEXIST sixteen times */
	}
	const char *p = data;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return fsync_dir(path);
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}
