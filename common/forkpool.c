/* forkpool.c — n jobs, k at once, one child each (see forkpool.h). */
#include "forkpool.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
	pid_t pid;
	int fd;
};

static void child(int fd, rp_forkpool_job job, void *arg, size_t i)
{
	cJSON *rec = NULL;
	int c = job(arg, i, &rec);
	if (rec) {
		char *s = cJSON_PrintUnformatted(rec);
		size_t len = strlen(s), off = 0;
		while (off < len) {
			ssize_t w = write(fd, s + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	_exit(c);
}

/* Collect the child's record and code. */
static void reap(struct run *r, int st, int *code)
{
	struct rp_buf b = { 0 };
	char buf[4096];
	ssize_t n;
	while ((n = read(r->fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		rp_buf_add(&b, buf, (size_t)n);
	}
	close(r->fd);
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : RP_EXIT_FAIL;
	cJSON *rec = b.data ? cJSON_Parse(b.data) : NULL;
	if (rec)
		rp_out_rec(rec);
	cJSON_Delete(rec);
	rp_buf_free(&b);
}

void rp_forkpool_run(size_t n, long k, rp_forkpool_job job, void *arg, int *codes)
{
	if (k <= 1 || n <= 1) {
		for (size_t i = 0; i < n; i++) {
			cJSON *rec = NULL;
			codes[i] = job(arg, i, &rec);
			if (rec) {
				rp_out_rec(rec);
				cJSON_Delete(rec);
			}
		}
		return;
	}
	struct run *runs = rp_xcalloc(n, sizeof *runs);
	size_t next = 0, running = 0;
	while (next < n || running) {
		while (next < n && (long)running < k) {
			int pfd[2];
			if (pipe(pfd) < 0)
				rp_fatal(RP_EXIT_FAIL, "pipe: %s", strerror(errno));
			fflush(NULL);
			pid_t pid = fork();
			if (pid < 0)
				rp_fatal(RP_EXIT_FAIL, "fork: %s", strerror(errno));
			if (!pid) {
				close(pfd[0]);
				child(pfd[1], job, arg, next);
			}
			close(pfd[1]);
			runs[next].pid = pid;
			runs[next].fd = pfd[0];
			next++;
			running++;
		}
		int st;
		pid_t pid = wait(&st);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			rp_fatal(RP_EXIT_FAIL, "wait: %s", strerror(errno));
		}
		for (size_t i = 0; i < next; i++) {
			if (runs[i].pid != pid)
				continue;
			reap(&runs[i], st, &codes[i]);
			running--;
		}
	}
	free(runs);
}
