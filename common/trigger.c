/* trigger.c — the early trigger: count a first hot poll or start a tick,
 * under the tick's lock, as soon as a poll says so (see trigger.h). */
#include "trigger.h"
#include "decide.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TICK_FD = 9 }; /* where rp-autoscale looks for its lock */
#define RETRY_S 15.0  /* the shipped timer's period (rp-autoscale.timer) */

int rp_trigger_lock(void)
{
	if (rp_state_mkdir(rp_state_dir()) < 0)
		return -1;
	char *path = rp_state_path(RP_STATE_AUTOSCALE_LOCK, NULL);
	int fd = rp_lock(path, RP_LOCK_EX, 0);
	free(path);
	if (fd < 0 && errno == EWOULDBLOCK)
		return RP_TRIGGER_BUSY;
	return fd;
}

int rp_trigger_run(int fd, const char *cmd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rp_unlock(fd);
		return -1;
	}
	if (pid == 0) {
		/* dup2 leaves the new descriptor open across exec (rp_lock's is
		 * O_CLOEXEC); it is the same open file: the lock goes with it. */
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if ((fd == TICK_FD ? fcntl(fd, F_SETFD, 0) == 0 : dup2(fd, TICK_FD) == TICK_FD) && in >= 0 &&
		    dup2(in, 0) == 0)
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	rp_unlock(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static void say(const char *what, const char *why)
{
	cJSON *r = rp_rec_new("trigger");
	cJSON_AddStringToObject(r, "what", what);
	cJSON_AddStringToObject(r, "reason", why);
	rp_out_rec(r);
	cJSON_Delete(r);
	rp_out_flush();
}

/* The timer's tick (period): under the lock, whatever the poll says. */
static void periodic(const char *cmd)
{
	int fd = rp_trigger_lock();
	if (fd == RP_TRIGGER_BUSY) {
		rp_debug("a tick is running: it stands for the period's");
		return;
	}
	if (fd < 0) {
		rp_loge("cannot take the tick's lock", "dir", rp_state_dir(), "error", strerror(errno));
		return;
	}
	rp_debug("the period is up: a tick");
	int rc = rp_trigger_run(fd, cmd);
	char b[16];
	snprintf(b, sizeof b, "%d", rc);
	if (rc < 0)
		rp_loge("cannot start a tick", "error", strerror(errno));
	else
		rp_log(rc == 0 || rc == RP_EXIT_PARTIAL || rc == RP_EXIT_TEMP ? RP_LOG_DEBUG : RP_LOG_WARN,
		       "periodic tick ended", "status", b, (char *)0);
}

void rp_trigger_loop(struct rp_watch *w, const char *cmd, double interval, double period,
		     volatile sig_atomic_t *stop)
{
	char why[512], unknown[512] = "";
	double quiet_until = 0, next_tick = 0; /* the period's next tick (0: at once) */
	/* who retries after an early tick that failed: this loop's own
	 * period, else the shipped timer's */
	double retry = period > 0 ? period : RETRY_S;
	int said_no_poll = 0; /* warned; quiet until an early tick polls */
	while (!*stop && !ferror(stdout)) {
		double t0 = rp_mono();
		int fd;
		if (period > 0 && t0 >= next_tick) {
			periodic(cmd);
			next_tick = t0 + period;
		} else if (!rp_watch_early_poll(w, why, sizeof why)) {
			/* an input unknown: said once, and when it changes */
			if (*why && strcmp(why, unknown))
				rp_logw("no early tick: input unknown", "why", why);
			snprintf(unknown, sizeof unknown, "%s", why);
		} else if ((fd = rp_trigger_lock()) == RP_TRIGGER_BUSY) {
			rp_debug("hot, and a tick is running: left to it");
		} else if (fd < 0) {
			rp_loge("cannot take the tick's lock", "dir", rp_state_dir(), "error", strerror(errno));
		} else {
			int r = rp_watch_early_decide(w, why, sizeof why);
			if (r == RP_EARLY_COUNTED) {
				say("count", why);
				rp_info("first hot poll counted", "reason", why);
			} else if (r == RP_EARLY_UP && t0 < quiet_until) {
				rp_debug("no early tick: the last one failed, the timer retries", "why", why);
			} else if (r == RP_EARLY_UP) {
				say("tick", why);
				rp_info("a tick would scale up: starting it now", "reason", why);
				struct rp_decide_state before, after;
				rp_decide_load(&before);
				int rc = rp_trigger_run(fd, cmd);
				fd = -1;
				next_tick = t0 + period;
				rp_decide_load(&after);
				char b[16], s[32];
				snprintf(b, sizeof b, "%d", rc);
				snprintf(s, sizeof s, "%.1f", rp_mono() - t0);
				if (rc < 0)
					rp_loge("cannot start a tick", "error", strerror(errno));
				else
					rp_log(rc ? RP_LOG_WARN : RP_LOG_INFO, "early tick ended", "status", b, "seconds", s,
					       (char *)0);
				if (rc == 0 && after.last_poll == before.last_poll) {
					/* it never decided: a standby replica (another
					 * holds the Lease), no lock (CMD did not keep fd
					 * 9), or the fleet store away: not again at once,
					 * and said once until an early tick polls */
					char q[32];
					snprintf(q, sizeof q, "%gs", retry);
					rp_log(said_no_poll ? RP_LOG_DEBUG : RP_LOG_WARN,
					       "the early tick did not poll (standing by, or CMD did not keep fd 9): no early tick for a while",
					       "cmd", cmd, "retry_in", q, (char *)0);
					said_no_poll = 1;
					rc = 1;
				} else if (rc == 0) {
					said_no_poll = 0;
				}
				if (rc)
					quiet_until = rp_mono() + retry;
			}
			rp_unlock(fd);
		}
		/* as a container's PID 1 (deploy/) the orphans of a tick are
		 * ours: nothing else would wait for them */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		double left;
		while (!*stop && (left = t0 + interval - rp_mono()) > 0)
			rp_sleep(left < 0.2 ? left : 0.2);
	}
}
