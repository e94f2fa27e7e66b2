/* test-state.c — the state directory (state.h): every path from the one
 * table, one directory mode, the lock (shared/shared, exclusive excludes,
 * no wait, a timeout, a symlink refused, a signal does not end a wait)
 * and the atomic replace (nothing left behind, old content kept on
 * failure, unpredictable temporary names). */
#include "t.h"
#include "state.h"
#include "rp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static unsigned mode_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

/* Files in dir whose name contains s. */
static int count_in(const char *dir, const char *s)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strstr(de->d_name, s) != NULL;
	if (d)
		closedir(d);
	return n;
}

/* Run rp_lock(path, flags, wait) in a child: its exit status is 0 when it
 * got the lock, 1 when busy (EWOULDBLOCK), 2 otherwise. */
static int child_lock(const char *path, int flags, double wait)
{
	pid_t c = fork();
	if (c == 0) {
		alarm(10); /* a wait that should not block: killed, not hung */
		int fd = rp_lock(path, flags, wait);
		_exit(fd >= 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void paths(void)
{
	char *p = rp_state_path(RP_STATE_LEDGER, NULL), *w = rp_xasprintf("%s/ledger.jsonl", root);
	T_STR(p, w, "the ledger is $RP_STATE_DIR/ledger.jsonl");
	free(p);
	free(w);
	p = rp_state_path(RP_STATE_JOIN_LOCK, "pod1");
	w = rp_xasprintf("%s/join/pod1.lock", root);
	T_STR(p, w, "a join lock is $RP_STATE_DIR/join/ID.lock");
	free(p);
	free(w);
	p = rp_state_path(RP_STATE_JOIN_LOCK, NULL);
	w = rp_xasprintf("%s/join", root);
	T_STR(p, w, "no name: the subdirectory");
	free(p);
	free(w);
	p = rp_state_path(RP_STATE_CKPT_QUEUE_LOCK, NULL);
	w = rp_xasprintf("%s/checkpoint-queue/.lock", root);
	T_STR(p, w, "the retry queue's lock");
	free(p);
	free(w);
	errno = 0;
	p = rp_state_path(RP_STATE_TUNNEL_PID, "../../etc/passwd");
	T_OK(!p && errno == EINVAL, "a name with a slash is refused (EINVAL)");
	free(p);
	p = rp_state_path(RP_STATE_JOIN_LOCK, "..");
	T_OK(!p, "'..' is refused");
	free(p);
	int all = 1;
	for (int f = 0; f < RP_STATE_NFILES; f++) {
		char *q = rp_state_path((enum rp_state_file)f, "x");
		all &= q && !strncmp(q, root, strlen(root)) && q[strlen(root)] == '/' && rp_state_name(f);
		free(q);
	}
	T_OK(all, "every file of the table is under $RP_STATE_DIR");
	unsigned m = rp_state_mode(RP_STATE_LEDGER);
	T_INT(m, 0640, "the ledger is 0640 (group rp reads it)");
	T_INT(rp_state_mode(RP_STATE_KNOWN_HOSTS), 0600, "known_hosts is 0600");
	setenv("RP_STATE_DIR", "", 1);
	T_STR(rp_state_dir(), "/var/lib/rp", "empty RP_STATE_DIR: /var/lib/rp");
	unsetenv("RP_STATE_DIR");
	T_STR(rp_state_dir(), "/var/lib/rp", "unset RP_STATE_DIR: /var/lib/rp");
	setenv("RP_STATE_DIR", root, 1);
}

static void dirs(const char *base)
{
	char *d = rp_xasprintf("%s/a/b/state", base);
	setenv("RP_STATE_DIR", d, 1);
	T_INT(rp_state_mkdir_for(RP_STATE_JOIN_LOCK), 0, "mkdir -p of the state dir and join/");
	T_INT(mode_of(d), RP_STATE_DIR_MODE, "the state dir is 0750");
	char *j = rp_xasprintf("%s/join", d);
	T_INT(mode_of(j), 0750, "join/ is 0750 too");
	T_INT(rp_state_mkdir(d), 0, "an existing dir of ours is fine");

	char *l = rp_xasprintf("%s/link", base);
	symlink(d, l);
	errno = 0;
	T_OK(rp_state_mkdir(l) < 0 && errno == ELOOP, "a symlink as the state dir is refused (ELOOP)");
	setenv("RP_STATE_DIR", l, 1);
	T_OK(rp_state_mkdir_for(RP_STATE_IDLE) < 0, "... also through rp_state_mkdir_for");

	char *f = rp_xasprintf("%s/file", base);
	close(open(f, O_CREAT | O_WRONLY, 0600));
	errno = 0;
	T_OK(rp_state_mkdir(f) < 0 && errno == ENOTDIR, "a file as the state dir is refused (ENOTDIR)");

	if (geteuid() == 0) {
		char *o = rp_xasprintf("%s/theirs", base);
		mkdir(o, 0750);
		T_INT(chown(o, 4242, 4242), 0, "chown a dir to another user");
		errno = 0;
		T_OK(rp_state_mkdir(o) < 0 && errno == EPERM, "a dir owned by another user is refused (EPERM)");
		free(o);
	}
	setenv("RP_STATE_DIR", root, 1);
	free(d);
	free(j);
	free(l);
	free(f);
}

static void locks(const char *base)
{
	char *p = rp_xasprintf("%s/x.lock", base);
	int fd = rp_lock(p, RP_LOCK_SH, -1);
	T_OK(fd >= 0, "take a shared lock (creating the file)");
	T_INT(mode_of(p), 0600, "the lock file is created 0600");
	T_OK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec");
	T_INT(child_lock(p, RP_LOCK_SH, 0), 0, "shared + shared: granted");
	T_INT(child_lock(p, RP_LOCK_EX, 0), 1, "shared held: exclusive without waiting is busy");
	rp_unlock(fd);
	T_INT(child_lock(p, RP_LOCK_EX, 0), 0, "released: exclusive granted");

	fd = rp_lock(p, RP_LOCK_EX, 0);
	T_OK(fd >= 0, "take it exclusive, no wait");
	T_INT(child_lock(p, RP_LOCK_SH, 0), 1, "exclusive held: shared is busy");
	T_INT(child_lock(p, RP_LOCK_EX, 0), 1, "exclusive held: exclusive is busy");
	double t0 = rp_mono();
	T_INT(child_lock(p, RP_LOCK_EX, 0.3), 1, "a timeout ends busy");
	double dt = rp_mono() - t0;
	T_OK(dt >= 0.25 && dt < 5, "... after the timeout (%.2f s)", dt);

	/* A wait with a timeout gets the lock when it is let go in time. */
	pid_t c = fork();
	if (c == 0) {
		alarm(10);
		_exit(rp_lock(p, RP_LOCK_EX, 5) >= 0 ? 0 : 1);
	}
	rp_sleep(0.2);
	rp_unlock(fd);
	int st = 0;
	waitpid(c, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a timed wait is granted once the lock goes");

	/* A signal during a blocking wait does not end the wait. */
	fd = rp_lock(p, RP_LOCK_EX, -1);
	int pp[2];
	T_INT(pipe(pp), 0, "pipe");
	c = fork();
	if (c == 0) {
		struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
		sigaction(SIGUSR1, &sa, NULL);
		alarm(10);
		close(pp[0]);
		if (write(pp[1], "r", 1) != 1)
			_exit(3);
		int f = rp_lock(p, RP_LOCK_EX, -1);
		_exit(f >= 0 ? 0 : errno == EINTR ? 4 : 2);
	}
	close(pp[1]);
	char r;
	T_INT(read(pp[0], &r, 1), 1, "the waiter is ready");
	close(pp[0]);
	for (int i = 0; i < 5; i++) {
		rp_sleep(0.1);
		kill(c, SIGUSR1);
	}
	rp_sleep(0.1);
	T_INT(waitpid(c, &st, WNOHANG), 0, "signalled during the wait: still waiting");
	rp_unlock(fd);
	waitpid(c, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "and granted once the lock goes (status %d)",
	     WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* A symlink at the lock path is refused; its target is untouched. */
	char *tgt = rp_xasprintf("%s/target", base), *ln = rp_xasprintf("%s/ln.lock", base);
	symlink(tgt, ln);
	errno = 0;
	fd = rp_lock(ln, RP_LOCK_EX, 0);
	T_OK(fd < 0 && errno == ELOOP, "a symlink at the lock path is refused (ELOOP)");
	T_OK(access(tgt, F_OK) < 0, "its target was not created");
	rp_unlock(fd);

	/* NOCREATE: an existing file only; GROUP: 0640. */
	char *nf = rp_xasprintf("%s/none.lock", base);
	errno = 0;
	T_OK(rp_lock(nf, RP_LOCK_SH | RP_LOCK_NOCREATE, 0) < 0 && errno == ENOENT,
	     "NOCREATE on a missing file: ENOENT");
	T_OK(access(nf, F_OK) < 0, "... and nothing created");
	fd = rp_lock(nf, RP_LOCK_EX | RP_LOCK_GROUP, 0);
	T_INT(mode_of(nf), 0640, "GROUP: created 0640");
	rp_unlock(fd);
	free(p);
	free(tgt);
	free(ln);
	free(nf);
}

static void replace(const char *base)
{
	char *d = rp_xasprintf("%s/atomic", base);
	mkdir(d, 0700);
	char *p = rp_xasprintf("%s/f.json", d);
	T_INT(rp_write_atomic(p, "old\n", 4, 0600), 0, "write a new file");
	T_INT(rp_write_atomic(p, "new\n", 4, 0600), 0, "replace it");
	char *s = rp_read_file(p, 100, NULL);
	T_STR(s, "new\n", "the new content");
	free(s);
	T_INT(mode_of(p), 0600, "mode 0600");
	T_INT(count_in(d, ".tmp"), 0, "no temporary left on success");

	/* A write that fails (the file size limit) leaves the old file. */
	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = { 2, 2 };
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		int r = rp_write_atomic(p, "longer than two bytes\n", 22, 0600);
		_exit(r < 0 && errno == EFBIG ? 0 : 1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a failed write returns -1 (EFBIG)");
	s = rp_read_file(p, 100, NULL);
	T_STR(s, "new\n", "the old content is intact");
	free(s);
	T_INT(count_in(d, ".tmp"), 0, "no temporary left on failure");

	/* The temporaries' names, seen by inotify: unpredictable. */
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	inotify_add_watch(in, d, IN_CREATE);
	rp_write_atomic(p, "a", 1, 0600);
	rp_write_atomic(p, "b", 1, 0600);
	char buf[4096], names[2][256] = { "", "" };
	int n = 0;
	ssize_t len = read(in, buf, sizeof buf);
	for (ssize_t off = 0; len > 0 && off < len;) {
		struct inotify_event *ev = (struct inotify_event *)(buf + off);
		if (ev->len && strstr(ev->name, ".tmp") && n < 2)
			snprintf(names[n++], sizeof names[0], "%s", ev->name);
		off += (ssize_t)sizeof *ev + ev->len;
	}
	close(in);
	T_INT(n, 2, "two temporaries made in the same directory");
	T_OK(n == 2 && strcmp(names[0], names[1]), "two calls use different names ('%s', '%s')", names[0],
	     names[1]);
	char pid[32];
	snprintf(pid, sizeof pid, ".%ld", (long)getpid());
	T_OK(n == 2 && !strstr(names[0], pid), "the name is not made of the pid");
	free(p);
	free(d);
}

int main(void)
{
	char tmpl[] = "/tmp/test-state.XXXXXX";
	if (!mkdtemp(tmpl))
		return 1;
	umask(022);
	snprintf(root, sizeof root, "%s/state", tmpl);
	setenv("RP_STATE_DIR", root, 1);
	paths();
	dirs(tmpl);
	locks(tmpl);
	replace(tmpl);
	char *rm = rp_xasprintf("rm -rf '%s'", tmpl);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", tmpl);
	free(rm);
	return T_DONE();
}
