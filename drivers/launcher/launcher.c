/*
 * tsbench-launch: start one workload, time it, reap it, report.
 *
 *   tsbench-launch [--report-fd N] [CONTAINER-OPTION...] -- PROGRAM [ARG...]
 *   tsbench-launch [--report-fd N] -- CONTAINER-OPTION... -- PROGRAM [ARG...]
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
 *   mark <step> <mono_ns>        (after the reap, in order; see "Marks" below)
 *   exit <code> <mono_ns> <utime_us> <stime_us> <maxrss_kb>
 *   signal <signo> <mono_ns> <utime_us> <stime_us> <maxrss_kb>
 *   error <message>
 * The launcher exits with the workload's code (128 + signal when killed).
 *
 * Nothing of tsbench's own is in the window between the two clock reads
 * beyond what starting a process needs (docs/performance.md, "The floor"):
 *   - natively the child is made with vfork(), as posix_spawn does and so
 *     hyperfine -N: no copy of the launcher's address space to make and to
 *     tear down again at the exec;
 *   - --go-fd N: the launcher reads one byte from fd N before its first clock
 *     read. tsbench (drivers/process.ts) writes it once it has finished setting
 *     up after the spawn, so its own work runs before the window, not beside it
 *     on the other CPU of a small machine;
 *   - a failed exec or container set-up is read from the error pipe after the
 *     reap, not waited for while the workload starts.
 *
 * Marks: the instants of the launcher's own work inside the window (the
 * child about to exec; in a container each set-up step of nsexec.c) are one
 * clock_gettime(CLOCK_MONOTONIC) each, stored in a page shared with the child
 * and reported as "mark" lines only after the reap. drivers/process.ts turns
 * them into the timeline's phases.
 * Policy (what to run, with which limits) lives in TypeScript; this stays a
 * thin executor.
 *
 * Container options (drivers/container/nsexec.c: --ns, --merged, --cgroup-tasks,
 * ...) replace the fork with a clone into fresh namespaces and cgroups; the
 * timestamps are taken at the very same points, so native and container
 * figures compare fairly. Without them nothing else changes. The second form
 * exists because drivers/process.ts always puts `--report-fd 3 --` first: right
 * after that `--`, an argument starting with `--` cannot be a program, so the
 * launcher reads container options up to the next `--`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../container/nsexec.h"

static int report_fd = -1;
static volatile pid_t child = -1;

void report(const char *fmt, ...)
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

/*
 * The marks, in a MAP_SHARED page made (and touched) before the window opens:
 * a child that does not share our memory (a container's clone) writes into it
 * too. The names are string literals, at the same address in the child.
 */
#define MAX_MARKS 40
struct marks {
	int n;
	struct {
		const char *step;
		unsigned long long ns;
	} at[MAX_MARKS];
};
static struct marks *marks;

void mark(const char *step)
{
	if (marks == NULL || marks->n >= MAX_MARKS)
		return;
	int k = marks->n;
	marks->at[k].step = step;
	marks->at[k].ns = mono_ns();
	marks->n = k + 1;
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
	int rc;
	int go_fd = -1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--report-fd") == 0 && i + 1 < argc) {
			report_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--go-fd") == 0 && i + 1 < argc) {
			go_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if ((rc = container_option(argc, argv, &i)) != 0) {
			if (rc < 0)
				return 2;
		} else {
			fprintf(stderr, "tsbench-launch: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i < argc && strncmp(argv[i], "--", 2) == 0) {
		for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
			if ((rc = container_option(argc, argv, &i)) <= 0) {
				if (rc == 0)
					fprintf(stderr, "tsbench-launch: unknown option %s\n", argv[i]);
				return 2;
			}
		}
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: tsbench-launch [--report-fd N] [--go-fd N] -- PROGRAM [ARG...]\n");
		return 2;
	}
	char **cmd = &argv[i];

	/*
	 * Die with tsbench: a SIGKILLed harness leaves no launcher, and so no
	 * workload (the child below, and nsexec's container init, die with the
	 * launcher the same way). TSBENCH_PARENT is the pid tsbench started us
	 * from (drivers/process.ts): if it died before the prctl, stop here.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	const char *parent = getenv("TSBENCH_PARENT");
	if (parent != NULL) {
		if (atoi(parent) != (int)getppid()) {
			report("error tsbench (pid %s) is gone\n", parent);
			return 127;
		}
		unsetenv("TSBENCH_PARENT");
	}

	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	/* The child reports a failed exec (or container set-up) as text through this close-on-exec pipe. */
	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		report("error pipe: %s\n", strerror(errno));
		return 127;
	}
	const int container = container_enabled();
	char msg[512];
	if (container && container_prepare(msg, sizeof msg) != 0) {
		report("error %s\n", msg);
		return 127;
	}

	marks = mmap(NULL, sizeof *marks, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (marks == MAP_FAILED)
		marks = NULL;
	else
		marks->n = 0; /* touch it now: no page fault of ours in the window */
	/* tsbench is done with its own work: the window may open. EOF or an error opens it too. */
	if (go_fd >= 0) {
		char go;
		while (read(go_fd, &go, 1) < 0 && errno == EINTR) {
		}
	}

	unsigned long long t0 = mono_ns();
	pid_t pid = container ? container_spawn(cmd, errpipe[1], report_fd) : vfork();
	if (pid < 0) {
		report("error %s: %s\n", container ? "clone" : "fork", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		/*
		 * The vfork child: it borrows our memory and our stack until it
		 * execs, while we wait, so it only makes system calls and marks.
		 * Die with the launcher, whatever kills it.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (report_fd >= 0)
			close(report_fd);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		mark("exec");
		execvp(cmd[0], cmd);
		const char *why = strerror(errno);
		static const char prefix[] = "exec ";
		ssize_t w = write(errpipe[1], prefix, sizeof prefix - 1);
		w = write(errpipe[1], cmd[0], strlen(cmd[0]));
		w = write(errpipe[1], ": ", 2);
		w = write(errpipe[1], why, strlen(why));
		(void)w;
		_exit(127);
	}
	child = pid;
	close(errpipe[1]);
	report("start %llu %d\n", t0, (int)pid);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			report("error waitpid: %s\n", strerror(errno));
			return 127;
		}
	}
	unsigned long long t1 = mono_ns();

	/* The child has exited: what it said of a failed exec or set-up is all in the pipe. */
	ssize_t got = read(errpipe[0], msg, sizeof msg - 1);
	if (got > 0) {
		msg[got] = 0;
		report("error %s\n", msg);
	}
	close(errpipe[0]);
	for (int k = 0; marks != NULL && k < marks->n; k++)
		report("mark %s %llu\n", marks->at[k].step, marks->at[k].ns);
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
