/*
 * tsbench-syscalls: nanoseconds per system call, from inside an instance, on
 * the instance's own clock. The syscall scenario (bench/scenarios/syscall.ts)
 * runs this very same static binary everywhere: natively from dist/bin, in
 * every image at /sbin/tsbench-syscalls (drivers/image).
 *
 *   tsbench-syscalls [--round-ms MS] [--rounds N] [--file PATH] [--no-pin] [CALL...]
 *
 * CALLs (all of them when none is named), each one "call" of the figure:
 *   getppid        syscall(SYS_getppid): no arguments, no work, not cached by
 *                  the C library; allowed outright by Docker's seccomp profile
 *                  (on Linux >= 5.11 the kernel's seccomp action cache lets it
 *                  through without running the filter)
 *   personality    syscall(SYS_personality, 0xffffffff), a query: Docker's
 *                  profile allows it only for some argument values, so the
 *                  seccomp filter runs at every call
 *   openReadClose  open(FILE), read(up to 256 bytes), close: FILE is a small
 *                  file of the instance's root file system, /etc/os-release
 *                  resolved to its real path (every image and every host has it)
 *   mmapTouch      mmap one anonymous private page, write a byte to it (the
 *                  page fault), munmap it
 *   pipeRoundTrip  one byte to a child process over one pipe and back over
 *                  another: two context switches
 *
 * Each call runs for a fixed TIME, not a fixed count, so that a target where a
 * call costs tens of microseconds (gVisor's ptrace platform) takes as long as
 * native: a warm-up round, then N rounds of at least MS milliseconds each, the
 * calls made in batches whose size doubles until a batch takes 1/64 of a round,
 * so that reading the clock (CLOCK_MONOTONIC, a vDSO read, no system call) is
 * noise. A round's figure is its elapsed time / its calls.
 *
 * The process (and the pipe's child, which inherits it) is pinned to the CPU
 * it starts on, so that a pipe round trip is two context switches on one CPU
 * on every target, not a wakeup of another CPU; --no-pin leaves it to the
 * scheduler.
 *
 * Output, one line each (bench/scenarios/parsers/syscalls.ts):
 *   setup roundMs=MS rounds=N pin=cpuK|none|failed:ERRNO file=PATH
 *   call=NAME medianNs=X minNs=X maxNs=X rounds=N calls=TOTAL failed=COUNT
 * `failed` counts calls that returned an error (personality where a filter
 * or a sandbox refuses it: then the figure is not the call's cost). A call of
 * the other four that fails is an error: exit 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 1000
#define MAX_BATCH (1L << 40)

static const char *file_path = "/etc/os-release";
static char file_real[PATH_MAX];
static long page_size;
static int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
static pid_t child = -1;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "tsbench-syscalls: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "", strerror(errno));
	if (child > 0)
		kill(child, SIGKILL);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Each op makes n calls and returns how many failed (only personality may fail; the others die). */

static long op_getppid(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}

static long op_personality(long n)
{
	long failed = 0;
	for (long i = 0; i < n; i++)
		if (syscall(SYS_personality, 0xffffffffUL) == -1)
			failed++;
	return failed;
}

static long op_open_read_close(long n)
{
	char buf[256];
	for (long i = 0; i < n; i++) {
		int fd = open(file_real, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open", file_real);
		if (read(fd, buf, sizeof buf) < 0)
			die("read", file_real);
		close(fd);
	}
	return 0;
}

static long op_mmap_touch(long n)
{
	for (long i = 0; i < n; i++) {
		volatile char *p = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap", NULL);
		*p = 1;
		if (munmap((void *)p, (size_t)page_size) != 0)
			die("munmap", NULL);
	}
	return 0;
}

static long op_pipe_round_trip(long n)
{
	char c = 'x';
	for (long i = 0; i < n; i++) {
		if (write(to_child[1], &c, 1) != 1)
			die("write", "to the pipe's child");
		if (read(from_child[0], &c, 1) != 1)
			die("read", "from the pipe's child");
	}
	return 0;
}

/* The pipe's child: echoes each byte until the parent closes its end. */
static void start_echo_child(void)
{
	if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0)
		die("pipe2", NULL);
	child = fork();
	if (child < 0)
		die("fork", NULL);
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		char c;
		while (read(to_child[0], &c, 1) == 1)
			if (write(from_child[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(from_child[1]);
}

static void stop_echo_child(void)
{
	close(to_child[1]);
	close(from_child[0]);
	int status;
	if (waitpid(child, &status, 0) != child)
		die("waitpid", "the pipe's child");
	child = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = EIO;
		die("the pipe's child", "failed");
	}
}

struct call {
	const char *name;
	long (*op)(long n);
	void (*setup)(void);
	void (*teardown)(void);
};

static const struct call CALLS[] = {
	{ "getppid", op_getppid, NULL, NULL },
	{ "personality", op_personality, NULL, NULL },
	{ "openReadClose", op_open_read_close, NULL, NULL },
	{ "mmapTouch", op_mmap_touch, NULL, NULL },
	{ "pipeRoundTrip", op_pipe_round_trip, start_echo_child, stop_echo_child },
};
#define NCALLS (sizeof CALLS / sizeof CALLS[0])

/* One round: batches until round_ns has passed; ns per call, the calls made, the failures counted. */
static double round_of(const struct call *c, double round_ns, long *batch, long *calls, long *failed)
{
	long made = 0;
	double t0 = now_ns(), t = t0;
	do {
		long b = *batch;
		double start = t;
		*failed += c->op(b);
		t = now_ns();
		made += b;
		if (t - start < round_ns / 64 && b < MAX_BATCH)
			*batch = b * 2;
	} while (t - t0 < round_ns);
	*calls += made;
	return (t - t0) / (double)made;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: tsbench-syscalls [--round-ms MS] [--rounds N (1-%d)] [--file PATH] [--no-pin] [CALL...]\n  CALLs:", MAX_ROUNDS);
	for (size_t i = 0; i < NCALLS; i++)
		fprintf(stderr, " %s", CALLS[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

static long positive(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	long round_ms = 50, rounds = 5;
	int pin = 1;
	const struct call *chosen[NCALLS];
	size_t nchosen = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--round-ms") && i + 1 < argc)
			round_ms = positive(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = positive(argv[++i]);
		else if (!strcmp(argv[i], "--file") && i + 1 < argc)
			file_path = argv[++i];
		else if (!strcmp(argv[i], "--no-pin"))
			pin = 0;
		else {
			size_t k = 0;
			while (k < NCALLS && strcmp(argv[i], CALLS[k].name))
				k++;
			if (k == NCALLS || nchosen == NCALLS)
				usage();
			chosen[nchosen++] = &CALLS[k];
		}
	}
	if (rounds > MAX_ROUNDS || round_ms > 3600 * 1000)
		usage();
	if (nchosen == 0)
		for (size_t k = 0; k < NCALLS; k++)
			chosen[nchosen++] = &CALLS[k];
	page_size = sysconf(_SC_PAGESIZE);
	if (realpath(file_path, file_real) == NULL)
		die("realpath", file_path);

	char pinned[64] = "none";
	if (pin) {
		int cpu = sched_getcpu();
		cpu_set_t set;
		CPU_ZERO(&set);
		if (cpu >= 0)
			CPU_SET(cpu, &set);
		if (cpu >= 0 && sched_setaffinity(0, sizeof set, &set) == 0)
			snprintf(pinned, sizeof pinned, "cpu%d", cpu);
		else
			snprintf(pinned, sizeof pinned, "failed:%s", strerrorname_np(errno) ? strerrorname_np(errno) : "unknown");
	}
	printf("setup roundMs=%ld rounds=%ld pin=%s file=%s\n", round_ms, rounds, pinned, file_real);
	fflush(stdout);

	static double ns[MAX_ROUNDS];
	double round_ns = (double)round_ms * 1e6;
	for (size_t k = 0; k < nchosen; k++) {
		const struct call *c = chosen[k];
		if (c->setup)
			c->setup();
		long batch = 1, calls = 0, failed = 0;
		round_of(c, round_ns, &batch, &calls, &failed); /* warm-up: sizes the batch, faults in what the call touches */
		calls = 0;
		failed = 0;
		for (long r = 0; r < rounds; r++)
			ns[r] = round_of(c, round_ns, &batch, &calls, &failed);
		if (c->teardown)
			c->teardown();
		qsort(ns, (size_t)rounds, sizeof *ns, cmp_double);
		double median = rounds % 2 ? ns[rounds / 2] : (ns[rounds / 2 - 1] + ns[rounds / 2]) / 2;
		printf("call=%s medianNs=%.1f minNs=%.1f maxNs=%.1f rounds=%ld calls=%ld failed=%ld\n", c->name, median, ns[0], ns[rounds - 1], rounds, calls,
		       failed);
		fflush(stdout);
	}
	return 0;
}
