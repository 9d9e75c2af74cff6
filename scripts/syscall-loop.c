/*
 * tsbench-syscalls: nanoseconds per system call, for docs/performance.md's
 * seccomp figures. Not part of the image: run it natively, or in a container
 * through a volume (`tsbench exec --target container -v $PWD/dist/bin:/opt/tsb
 * -- /opt/tsb/tsbench-syscalls`).
 *
 *   tsbench-syscalls [CALLS [ROUNDS]]    default 2000000 calls, 7 rounds
 *
 * For each call it prints "NAME min_ns median_ns" over ROUNDS rounds of CALLS
 * calls, each timed with CLOCK_MONOTONIC (a vDSO read, no system call):
 *   getppid             no arguments, allowed outright by Docker's profile: on
 *                       Linux >= 5.11 the seccomp action cache lets it through
 *                       without running the filter
 *   personality         personality(0xffffffff), a query: Docker's profile allows it
 *                       only for some argument values, so the BPF filter runs
 *   fstat               fstat(0): an allowed call with real work behind it
 * Always through syscall(2), so that libc caches nothing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 2000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	if (calls <= 0 || rounds <= 0 || rounds > 100) {
		fprintf(stderr, "usage: tsbench-syscalls [CALLS [ROUNDS (1-100)]]\n");
		return 2;
	}
	static const char *const names[] = { "getppid", "personality", "fstat" };
	struct stat st;
	for (int which = 0; which < 3; which++) {
		double ns[100];
		for (int r = 0; r < rounds; r++) {
			double t0 = now_ns();
			for (long i = 0; i < calls; i++) {
				if (which == 0)
					syscall(SYS_getppid);
				else if (which == 1)
					syscall(SYS_personality, 0xffffffffUL);
				else
					syscall(SYS_fstat, 0, &st);
			}
			ns[r] = (now_ns() - t0) / (double)calls;
		}
		qsort(ns, (size_t)rounds, sizeof *ns, cmp);
		printf("%s %.1f %.1f\n", names[which], ns[0], ns[rounds / 2]);
	}
	return 0;
}
