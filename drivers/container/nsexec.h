/*
 * Container options of tsbench-launch (see nsexec.c). The launcher keeps its
 * own timing and report protocol; these functions only replace its fork()
 * with a clone into fresh namespaces and cgroups.
 */
#ifndef TSBENCH_NSEXEC_H
#define TSBENCH_NSEXEC_H

#include <stddef.h>
#include <sys/types.h>

/* One line on the launcher's report fd (defined in launcher.c). */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Records that a step of the launcher's own work just ended: one clock read
 * into a buffer shared with the launcher, reported as "mark <step> <mono_ns>"
 * after the reap (defined in launcher.c). step must be a string literal.
 */
void mark(const char *step);

/*
 * Consumes the container option at argv[*i] (and its value), advancing *i past
 * it. Returns 1 when it was one, 0 when argv[*i] is not a container option,
 * -1 on a bad value (message on stderr).
 */
int container_option(int argc, char **argv, int *i);

/* Whether any container option was given. */
int container_enabled(void);

/*
 * Checks the options and opens the cgroup files, before the launcher takes its
 * start time (as it creates its error pipe before). 0 or -1 with a message in msg.
 */
int container_prepare(char *msg, size_t n);

/*
 * Clones the workload into its namespaces and cgroups. The child sets up its
 * root and execs cmd; a failure there is written as text to errfd and the
 * child exits 127. Returns the child's pid (in the parent), or -1 with errno set.
 */
pid_t container_spawn(char **cmd, int errfd, int report_fd);

#endif
