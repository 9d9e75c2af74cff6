/*
 * tsbench-launch: start one workload, time it, reap it, report.
 *
 *   tsbench-launch [--report-fd N] -- PROGRAM [ARG...]
 *
 * Node's child_process adds a millisecond or more of event-loop latency
 * between a child's exit and the 'exit' callback, which would swamp the
 * figure we want to measure for a 1 ms process. So every target starts its
 * workload through this program, which does what hyperfine -N does:
 * clock_gettime(CLOCK_MONOTONIC) just before fork, fork + exec, waitpid,
 * clock_gettime again. CLOCK_MONOTONIC is the clock Node's
 * process.hrtime.bigint() and the guest agent use, so the host can put the
 * agent's own "ready" timestamp on the same time line.
 *
 * Report lines on the report fd (one write each):
 *   start <mono_ns> <pid>
 *   exit <code> <mono_ns> <utime_us> <stime_us> <maxrss_kb>
 *   signal <signo> <mono_ns> <utime_us> <stime_us> <maxrss_kb>
 *   error <message>
 * The launcher exits with the workload's code (128 + signal when killed).
 * Policy (what to run, with which limits) lives in TypeScript; this stays a
 * thin executor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;
static volatile pid_t child = -1;

static void report(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (report_fd < 0 || n <= 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	/* One write per line so that a reader never sees half a record. */
	ssize_t w = write(report_fd, line, (size_t)n);
	(void)w;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Pass termination requests on to the workload; we exit once it has. */
static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--report-fd") == 0 && i + 1 < argc) {
			report_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "tsbench-launch: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: tsbench-launch [--report-fd N] -- PROGRAM [ARG...]\n");
		return 2;
	}
	char **cmd = &argv[i];

	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	/* The child reports a failed exec through this close-on-exec pipe. */
	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		report("error pipe: %s\n", strerror(errno));
		return 127;
	}

	unsigned long long t0 = mono_ns();
	pid_t pid = fork();
	if (pid < 0) {
		report("error fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		close(errpipe[0]);
		/* Die with the launcher, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (report_fd >= 0)
			close(report_fd);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(cmd[0], cmd);
		int e = errno;
		ssize_t w = write(errpipe[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	child = pid;
	close(errpipe[1]);
	report("start %llu %d\n", t0, (int)pid);

	int exec_errno = 0;
	if (read(errpipe[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno)
		report("error exec %s: %s\n", cmd[0], strerror(exec_errno));
	close(errpipe[0]);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			report("error waitpid: %s\n", strerror(errno));
			return 127;
		}
	}
	unsigned long long t1 = mono_ns();
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	long long ut = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
	long long st = (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
	if (WIFSIGNALED(status)) {
		report("signal %d %llu %lld %lld %ld\n", WTERMSIG(status), t1, ut, st, ru.ru_maxrss);
		return 128 + WTERMSIG(status);
	}
	int code = WEXITSTATUS(status);
	report("exit %d %llu %lld %lld %ld\n", code, t1, ut, st, ru.ru_maxrss);
	return code;
}
