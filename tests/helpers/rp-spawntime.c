/* rp-spawntime — time one program run, for the benchmarks.
 *
 *   rp-spawntime OUTFILE CMD [ARG]...
 *
 * Runs CMD (posix_spawnp: stdin, stdout and stderr are this process's)
 * and appends one line to OUTFILE: "WALL_US MAXRSS_KIB CPU_S", the wall
 * time from just before the spawn to just after wait4() returned, the
 * child's max RSS and its user + system CPU time (wait4's rusage).  Exit
 * status: CMD's (128+N when killed by signal N), 127 when it could not
 * be started.  A shell timing with `date +%s%N` and /usr/bin/time counts
 * the start-up of both (12 ms per run here) in every figure; this counts
 * only the program's own run.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	pid_t pid;
	int st, e;

	if (argc < 3) {
		fprintf(stderr, "usage: rp-spawntime OUTFILE CMD [ARG]...\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "a");
	if (!out) {
		fprintf(stderr, "rp-spawntime: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if ((e = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ))) {
		fprintf(stderr, "rp-spawntime: %s: %s\n", argv[2], strerror(e));
		return 127;
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "rp-spawntime: wait4: %s\n", strerror(errno));
			return 2;
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	fprintf(out, "%lld %ld %.6f\n", us, ru.ru_maxrss, cpu);
	if (fclose(out)) {
		fprintf(stderr, "rp-spawntime: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
