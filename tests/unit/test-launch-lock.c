/* test-launch-lock.c — the join lock the reaper reads (podlock.h): held
 * while its holder lives, free when it dies by SIGKILL, never handed out
 * on an unlinked file, looked at without being taken. */
#include "t.h"
#include "podlock.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int exists(const char *id)
{
	char *p = rp_podlock_path(id);
	int r = access(p, F_OK) == 0;
	free(p);
	return r;
}

/* A child that looks at ID's lock the slow way: a shared flock, held
 * until *go is written to, then for `hold` more seconds. */
static pid_t looker(const char *id, double hold, int *go)
{
	int pp[2], gp[2];
	if (pipe(pp) < 0 || pipe(gp) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0) {
		close(pp[0]);
		close(gp[1]);
		char *p = rp_podlock_path(id);
		int fd = open(p, O_RDONLY);
		char ok = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0 ? 'y' : 'n';
		if (write(pp[1], &ok, 1) != 1 || read(gp[0], &ok, 1) != 1)
			_exit(2);
		rp_sleep(hold);
		_exit(0);
	}
	close(pp[1]);
	close(gp[0]);
	*go = gp[1];
	char got = 0;
	int r = (int)read(pp[0], &got, 1);
	close(pp[0]);
	return r == 1 && got == 'y' ? c : -1;
}

/* A child that takes ID's lock, says so on the pipe, then sleeps (or
 * drops it after `hold` seconds and exits). */
static pid_t holder(const char *id, double hold)
{
	int pp[2];
	if (pipe(pp) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0) {
		close(pp[0]);
		int fd = rp_podlock_take(id, 0);
		char ok = fd >= 0 ? 'y' : 'n';
		if (write(pp[1], &ok, 1) != 1)
			_exit(2);
		if (hold < 0)
			for (;;)
				pause();
		rp_sleep(hold);
		rp_podlock_drop(fd, id);
		_exit(0);
	}
	close(pp[1]);
	char got = 0;
	if (read(pp[0], &got, 1) != 1 || got != 'y') {
		close(pp[0]);
		return -1;
	}
	close(pp[0]);
	return c;
}

int main(void)
{
	char dir[] = "/tmp/rp-test-podlock.XXXXXX";
	rp_init("test-launch-lock");
	if (!mkdtemp(dir))
		return 2;
	setenv("RP_STATE_DIR", dir, 1);

	char *p = rp_podlock_path("pod1");
	char *want = rp_xasprintf("%s/join/pod1.lock", dir);
	T_STR(p, want, "the lock lives in the state dir's join/");
	free(p);
	free(want);

	/* No file: nobody holds it, and looking creates nothing. */
	T_INT(rp_podlock_held("pod1"), 0, "no lock file: free");
	T_INT(exists("pod1"), 0, "looking creates no file");

	/* Taken: held, a second taker is refused at once or after its wait. */
	int fd = rp_podlock_take("pod1", 0);
	T_OK(fd >= 0, "take");
	T_INT(rp_podlock_held("pod1"), 1, "taken: held");
	T_INT(rp_podlock_held("pod1"), 1, "looking did not take it away");
	errno = 0;
	T_INT(rp_podlock_take("pod1", 0), -1, "a second taker is refused");
	T_INT(errno, EWOULDBLOCK, "... as busy");
	double t0 = rp_mono();
	T_INT(rp_podlock_take("pod1", 0.3), -1, "a second taker with a wait is refused too");
	double waited = rp_mono() - t0;
	T_OK(waited >= 0.25 && waited < 5, "... after its wait (%.2f s)", waited);
	rp_podlock_clear("pod1");
	T_INT(exists("pod1"), 1, "clear leaves a held lock's file alone");

	/* Dropped: the file goes with it, and the lock is free. */
	rp_podlock_drop(fd, "pod1");
	T_INT(exists("pod1"), 0, "drop removes the file");
	T_INT(rp_podlock_held("pod1"), 0, "dropped: free");
	rp_podlock_drop(-1, "pod1"); /* nothing to drop: no harm */

	/* Another process holds it: held; SIGKILL it: free, file left behind. */
	pid_t c = holder("pod2", -1);
	T_OK(c > 0, "a child takes pod2's lock");
	T_INT(rp_podlock_held("pod2"), 1, "a live holder: held");
	T_INT(rp_podlock_take("pod2", 0), -1, "and we cannot take it");
	if (c > 0) {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
	T_INT(exists("pod2"), 1, "the holder killed with SIGKILL leaves its file");
	T_INT(rp_podlock_held("pod2"), 0, "but nobody holds it any more");
	rp_podlock_clear("pod2");
	T_INT(exists("pod2"), 0, "clear removes a dead holder's file");

	/* A waiter that wins the file its holder unlinked takes the new one. */
	c = holder("pod3", 0.3);
	T_OK(c > 0, "a child takes pod3's lock for 0.3 s");
	fd = rp_podlock_take("pod3", 10);
	T_OK(fd >= 0, "we take it once the child drops it");
	struct stat a, b;
	p = rp_podlock_path("pod3");
	T_OK(fd >= 0 && fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_ino == b.st_ino,
	     "the lock we hold is the file at the path, not the unlinked one");
	free(p);
	T_INT(rp_podlock_held("pod3"), 1, "and it reads as held");
	if (c > 0)
		waitpid(c, NULL, 0);
	rp_podlock_drop(fd, "pod3");

	/* A reaper looking (a shared lock, briefly) does not make a taker give
	 * up: it retries within its wait. */
	int lf = rp_podlock_take("pod5", 0);
	rp_podlock_drop(-1, "pod5");
	close(lf); /* the file stays, nobody holds it */
	int go = -1;
	c = looker("pod5", 0.2, &go);
	T_OK(c > 0, "a looker holds pod5's lock shared");
	T_INT(rp_podlock_take("pod5", 0), -1, "a taker without a wait finds it busy");
	if (go >= 0 && write(go, "g", 1) != 1)
		T_OK(0, "tell the looker to go");
	t0 = rp_mono();
	fd = rp_podlock_take("pod5", 5);
	waited = rp_mono() - t0;
	T_OK(fd >= 0, "a taker with a wait gets it once the look is over (%.2f s)", waited);
	if (go >= 0)
		close(go);
	if (c > 0)
		waitpid(c, NULL, 0);
	rp_podlock_drop(fd, "pod5");

	/* Ids that are not file names: refused by take, free to a look. */
	errno = 0;
	T_INT(rp_podlock_take("../x", 0), -1, "take refuses ../x");
	T_INT(errno, EINVAL, "... as EINVAL");
	T_INT(rp_podlock_held("../x"), 0, "held: nobody can hold ../x");
	T_INT(rp_podlock_take("", 0), -1, "take refuses an empty id");

	/* A lock that cannot be read: "cannot tell", never "free". */
	p = rp_podlock_path("pod4");
	T_OK(symlink("/etc/passwd", p) == 0, "pod4's lock path is a symlink");
	T_INT(rp_podlock_held("pod4"), -1, "a symlink: cannot tell");
	T_INT(rp_podlock_take("pod4", 0), -1, "and take will not follow it");
	unlink(p);
	free(p);

	char *jd = rp_xasprintf("%s/join", dir);
	rmdir(jd);
	free(jd);
	rmdir(dir);
	return T_DONE();
}
