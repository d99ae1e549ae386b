/* runstat.c: runs a command N times and prints its wall time (median, min, max in ms) and peak RSS (KiB), for tests/bench/run.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	char *end;
	long n = argc > 3 ? strtol(argv[1], &end, 10) : 0;
	double *ms;
	long max_rss = 0;

	if (argc < 4 || *end || n < 1 || n > 100000 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: runstat N -- COMMAND [ARG]...\n"
				"prints: median_ms min_ms max_ms peak_rss_kib (the command's output goes to /dev/null)\n");
		return 64;
	}
	ms = calloc((size_t)n, sizeof(*ms));
	if (!ms)
		return 70;
	for (long i = 0; i < n; i++) {
		struct timespec t0, t1;
		struct rusage ru;
		int status;
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "runstat: cannot fork: %s\n", strerror(errno));
			return 70;
		}
		if (pid == 0) {
			if (!freopen("/dev/null", "w", stdout))
				_exit(127);
			execvp(argv[3], argv + 3);
			fprintf(stderr, "runstat: cannot run '%s': %s\n", argv[3], strerror(errno));
			_exit(127);
		}
		if (wait4(pid, &status, 0, &ru) < 0) {
			fprintf(stderr, "runstat: cannot wait for '%s': %s\n", argv[3], strerror(errno));
			return 70;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* exit 2 is plan --detailed-exitcode's "changes": the caller checks convergence first */
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 2)) {
			fprintf(stderr, "runstat: '%s' failed (status %d)\n", argv[3], status);
			return 1;
		}
		ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ru.ru_maxrss > max_rss)
			max_rss = ru.ru_maxrss;
	}
	qsort(ms, (size_t)n, sizeof(*ms), by_value);
	printf("%.2f %.2f %.2f %ld\n", n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2, ms[0], ms[n - 1],
	       max_rss);
	free(ms);
	return 0;
}
