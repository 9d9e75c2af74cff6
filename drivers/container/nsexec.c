/*
 * tsbench-launch's container mode: clone the workload into fresh namespaces,
 * give it an overlay root with pivot_root, put it into its cgroups before it
 * runs a single instruction of its own, then exec it.
 *
 * This is a thin executor: every path, limit and name comes from argv, chosen
 * by the TypeScript driver beside it (drivers/container), which also creates
 * and removes the cgroups and the per-instance directories and reads the
 * accounting. docs/performance.md says where the time goes.
 *
 *   --ns pid,mnt,uts,ipc,net,cgroup   namespaces to create (cgroup is unshared
 *                                     after the cgroup move, so it is rooted there)
 *   --netns PATH                      join this network namespace (an nsfs file such as
 *                                     /run/netns/NAME, made and configured beforehand, as
 *                                     Docker's libnetwork prepares a sandbox) instead of
 *                                     creating one; not with --ns net
 *   --hostname NAME                   sethostname in the new uts namespace
 *   --rootfs-lower DIR --upper DIR --work DIR --merged DIR
 *                                     overlay root; mounted inside the new mount
 *                                     namespace after / is made rprivate
 *   --overlay-opts OPTS               extra overlay options, e.g. volatile
 *   --upper-tmpfs OPTS                mount a tmpfs (mount options OPTS) on the
 *                                     directory holding --upper, --work and --merged,
 *                                     and make those three in it
 *   --volume SRC:DST[:ro]             bind mount, repeatable
 *   --cgroup-tasks FILE               v1: the child writes "0" to FILE (a `tasks`
 *                                     file), moving itself, first thing; repeatable
 *   --cgroup-dir DIR                  v2: clone3(CLONE_INTO_CGROUP) into DIR (before
 *                                     Linux 5.7: the child writes "0" to DIR/cgroup.procs)
 *   --env NAME=VALUE                  the workload's whole environment, repeatable
 *   --no-pivot                        enter the overlay root with MS_MOVE + chroot instead of
 *                                     pivot_root, which refuses to move the initramfs's rootfs
 *                                     (EINVAL): for a container inside a VM booted from an
 *                                     initramfs (drivers/qemu/nested.ts); runc's --no-pivot
 *   --cgroupfs TYPE:OPTIONS:DIR       after the cgroup namespace: mount a cgroup hierarchy
 *                                     read-only at /sys/fs/cgroup/DIR (TYPE cgroup or cgroup2,
 *                                     OPTIONS its controllers, e.g. cpu,cpuacct), on a tmpfs
 *                                     made read-only afterwards; DIR empty: the hierarchy is
 *                                     /sys/fs/cgroup itself (pure v2). As Docker does, so the
 *                                     workload reads its own limits; repeatable
 *   --trace                           kept for old scripts: every step below is always recorded
 *                                     (mark() in launcher.c: one clock read into a shared buffer)
 *                                     and reported as "mark <step> <mono_ns>" after the reap
 *
 * Confinement (drivers/linux/confinement.ts chooses it: Docker's default, or none),
 * applied in this order after the namespaces, the root, the hostname and the cgroup
 * namespace are set up, so that the set-up itself keeps every privilege it needs:
 *   --mask PATH                       make PATH unreadable: /dev/null bound over a file, an
 *                                     empty read-only tmpfs over a directory; repeatable
 *   --readonly PATH                   bind PATH over itself read-only; repeatable
 *                                     (both skip a PATH the kernel lacks, as runc does)
 *   --caps HEX                        keep only these capabilities (a CapBnd-style mask) in the
 *                                     bounding, effective and permitted sets; empty the
 *                                     inheritable and ambient sets
 *   --no-new-privs                    prctl(PR_SET_NO_NEW_PRIVS)
 *   --seccomp-default ACTION          a seccomp filter (libseccomp) whose default is ACTION:
 *                                     allow, or errno:N; loaded last, just before exec, so the
 *                                     agent and its job run under it from their first instruction
 *   --seccomp-arch LIST               the filter's architectures, e.g. x86_64,x86,x32
 *   --seccomp-export FILE             compile the filter the --seccomp* options describe into
 *                                     FILE (libseccomp's BPF) and exit 0, launching nothing: the
 *                                     driver does it once per run, as crun caches its filters
 *   --seccomp-bpf FILE                load this compiled filter (from --seccomp-export) instead
 *                                     of compiling one at every start: 11-15 ms of libseccomp's
 *                                     work per container, measured, where loading takes µs
 *   --seccomp 'ACTION NAMES [aI:OP:V[:V2]]...'
 *                                     one rule: ACTION for the comma-separated system calls,
 *                                     when every argument condition holds (OP: eq ne lt le gt
 *                                     ge masked_eq, whose V is the mask and V2 the value);
 *                                     a name this architecture lacks is skipped; repeatable
 *
 * The workload's first instruction always runs inside its cgroups: on v2 the
 * child is born there (CLONE_INTO_CGROUP); on v1 the child moves itself before
 * it does anything else. Why itself, and through `tasks`: writing a pid to
 * cgroup.procs takes cgroup_threadgroup_rwsem for writing, which waits for an
 * RCU grace period whenever the lock was idle (6 to 16 ms measured on the
 * 2-core CI VM, more than the whole container start). A single-threaded task
 * moving itself with "0" through `tasks` is the one case the kernel exempts
 * from that lock (cgroup_procs_write_start: "if the thread is current, it
 * won't exit(2) under our hands"). The child is single-threaded: it is a
 * clone of the single-threaded launcher.
 */
#define _GNU_SOURCE
#include "nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#define MAX_LIST 32
/* Seccomp rules: Docker's default profile resolves to about ten. */
#define MAX_RULES 64

static struct {
	int enabled;
	unsigned long clone_flags; /* CLONE_NEW* given to clone */
	int cgroup_ns;             /* unshare(CLONE_NEWCGROUP) after the move */
	const char *hostname;
	const char *lower, *upper, *work, *merged, *overlay_opts, *upper_tmpfs;
	const char *volumes[MAX_LIST];
	int nvolumes;
	const char *tasks[MAX_LIST];
	int ntasks;
	int tasks_fd[MAX_LIST];
	const char *cgroup_dir;
	int cgroup_fd;
	const char *netns;
	int netns_fd;
	char *env[MAX_LIST * 2 + 1];
	int nenv;
	int trace;
	int no_pivot;
	const char *masked[MAX_LIST];
	int nmasked;
	const char *readonly[MAX_LIST];
	int nreadonly;
	int keep_caps; /* --caps given */
	unsigned long long caps;
	int no_new_privs;
	const char *seccomp_default, *seccomp_arch;
	const char *seccomp_export, *seccomp_bpf;
	struct sock_fprog bpf; /* --seccomp-bpf, read before the clone */
	const char *seccomp_rules[MAX_RULES];
	int nrules;
	const char *cgroupfs[MAX_LIST];
	int ncgroupfs;
} C = { .cgroup_fd = -1, .netns_fd = -1 };

/* The end of one step of the child's set-up (a mark: see nsexec.h), nothing written in the window. */
static void trace(const char *step)
{
	mark(step);
}

int container_enabled(void)
{
	return C.enabled;
}

static int add(const char **list, int *n, const char *v, const char *opt)
{
	if (*n >= MAX_LIST) {
		fprintf(stderr, "tsbench-launch: too many %s (at most %d)\n", opt, MAX_LIST);
		return -1;
	}
	list[(*n)++] = v;
	return 1;
}

static int parse_ns(const char *list)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "pid"))
			C.clone_flags |= CLONE_NEWPID;
		else if (!strcmp(t, "mnt"))
			C.clone_flags |= CLONE_NEWNS;
		else if (!strcmp(t, "uts"))
			C.clone_flags |= CLONE_NEWUTS;
		else if (!strcmp(t, "ipc"))
			C.clone_flags |= CLONE_NEWIPC;
		else if (!strcmp(t, "net"))
			C.clone_flags |= CLONE_NEWNET;
		else if (!strcmp(t, "cgroup"))
			C.cgroup_ns = 1;
		else {
			fprintf(stderr, "tsbench-launch: --ns: unknown namespace '%s' (pid, mnt, uts, ipc, net, cgroup)\n", t);
			return -1;
		}
	}
	return 1;
}

int container_option(int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	if (!strcmp(o, "--trace")) {
		C.trace = C.enabled = 1;
		return 1;
	}
	if (!strcmp(o, "--no-pivot")) {
		C.no_pivot = 1;
		return 1;
	}
	if (!strcmp(o, "--no-new-privs")) {
		C.no_new_privs = C.enabled = 1;
		return 1;
	}
	static const char *const with_value[] = { "--ns",	    "--hostname",     "--rootfs-lower",	 "--upper",	      "--work",
						  "--merged",	    "--overlay-opts", "--upper-tmpfs",	 "--volume",	      "--cgroup-tasks",
						  "--cgroup-dir",   "--env",	      "--mask",		 "--readonly",	      "--caps",
						  "--seccomp-default", "--seccomp-arch", "--seccomp",	 "--cgroupfs",	      "--netns",
						  "--seccomp-export", "--seccomp-bpf" };
	size_t k = 0;
	for (; k < sizeof with_value / sizeof *with_value; k++)
		if (!strcmp(o, with_value[k]))
			break;
	if (k == sizeof with_value / sizeof *with_value)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "tsbench-launch: %s needs a value\n", o);
		return -1;
	}
	const char *v = argv[++*i];
	C.enabled = 1;
	if (!strcmp(o, "--ns"))
		return parse_ns(v);
	if (!strcmp(o, "--hostname"))
		C.hostname = v;
	else if (!strcmp(o, "--netns"))
		C.netns = v;
	else if (!strcmp(o, "--rootfs-lower"))
		C.lower = v;
	else if (!strcmp(o, "--upper"))
		C.upper = v;
	else if (!strcmp(o, "--work"))
		C.work = v;
	else if (!strcmp(o, "--merged"))
		C.merged = v;
	else if (!strcmp(o, "--overlay-opts"))
		C.overlay_opts = v;
	else if (!strcmp(o, "--upper-tmpfs"))
		C.upper_tmpfs = v;
	else if (!strcmp(o, "--volume"))
		return add(C.volumes, &C.nvolumes, v, o);
	else if (!strcmp(o, "--cgroup-tasks"))
		return add(C.tasks, &C.ntasks, v, o);
	else if (!strcmp(o, "--cgroup-dir"))
		C.cgroup_dir = v;
	else if (!strcmp(o, "--env"))
		return add((const char **)C.env, &C.nenv, v, o);
	else if (!strcmp(o, "--cgroupfs"))
		return add(C.cgroupfs, &C.ncgroupfs, v, o);
	else if (!strcmp(o, "--mask"))
		return add(C.masked, &C.nmasked, v, o);
	else if (!strcmp(o, "--readonly"))
		return add(C.readonly, &C.nreadonly, v, o);
	else if (!strcmp(o, "--caps")) {
		char *end;
		errno = 0;
		C.caps = strtoull(v, &end, 16);
		if (errno || *end || end == v) {
			fprintf(stderr, "tsbench-launch: --caps %s: want a hex mask, e.g. a80425fb\n", v);
			return -1;
		}
		C.keep_caps = 1;
	} else if (!strcmp(o, "--seccomp-default"))
		C.seccomp_default = v;
	else if (!strcmp(o, "--seccomp-arch"))
		C.seccomp_arch = v;
	else if (!strcmp(o, "--seccomp-export"))
		C.seccomp_export = v;
	else if (!strcmp(o, "--seccomp-bpf"))
		C.seccomp_bpf = v;
	else if (!strcmp(o, "--seccomp")) {
		if (C.nrules >= MAX_RULES) {
			fprintf(stderr, "tsbench-launch: too many --seccomp (at most %d)\n", MAX_RULES);
			return -1;
		}
		C.seccomp_rules[C.nrules++] = v;
	}
	return 1;
}

static int export_seccomp(char *msg, size_t n);
static int read_seccomp_bpf(char *msg, size_t n);

int container_prepare(char *msg, size_t n)
{
	if (C.merged && !(C.clone_flags & CLONE_NEWNS)) {
		snprintf(msg, n, "--merged needs --ns mnt: the mounts must not leak to the host");
		return -1;
	}
	if (C.merged && (!C.lower || !C.upper || !C.work)) {
		snprintf(msg, n, "--merged needs --rootfs-lower, --upper and --work");
		return -1;
	}
	if (C.nvolumes > 0 && !C.merged) {
		snprintf(msg, n, "--volume needs an overlay root (--merged)");
		return -1;
	}
	for (int k = 0; k < C.ntasks; k++) {
		C.tasks_fd[k] = open(C.tasks[k], O_WRONLY | O_CLOEXEC);
		if (C.tasks_fd[k] < 0) {
			snprintf(msg, n, "open %s: %s", C.tasks[k], strerror(errno));
			return -1;
		}
	}
	if (C.cgroup_dir) {
		C.cgroup_fd = open(C.cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (C.cgroup_fd < 0) {
			snprintf(msg, n, "open %s: %s", C.cgroup_dir, strerror(errno));
			return -1;
		}
	}
	if (C.netns && (C.clone_flags & CLONE_NEWNET)) {
		snprintf(msg, n, "--netns joins a network namespace: drop net from --ns");
		return -1;
	}
	if (C.netns) {
		C.netns_fd = open(C.netns, O_RDONLY | O_CLOEXEC);
		if (C.netns_fd < 0) {
			snprintf(msg, n, "open %s: %s", C.netns, strerror(errno));
			return -1;
		}
	}
	if ((C.nrules || C.seccomp_arch) && !C.seccomp_default) {
		snprintf(msg, n, "--seccomp and --seccomp-arch need --seccomp-default");
		return -1;
	}
	if ((C.seccomp_default || C.seccomp_bpf) && !C.no_new_privs && C.keep_caps && !(C.caps >> CAP_SYS_ADMIN & 1)) {
		snprintf(msg, n, "a seccomp filter without CAP_SYS_ADMIN needs --no-new-privs");
		return -1;
	}
	if (C.seccomp_export) {
		if (!C.seccomp_default) {
			snprintf(msg, n, "--seccomp-export needs the filter: --seccomp-default and the --seccomp rules");
			return -1;
		}
		if (export_seccomp(msg, n) != 0)
			return -1;
		exit(0);
	}
	if (C.seccomp_bpf && C.seccomp_default) {
		snprintf(msg, n, "--seccomp-bpf loads a compiled filter: drop --seccomp-default and the --seccomp rules");
		return -1;
	}
	if (C.seccomp_bpf && read_seccomp_bpf(msg, n) != 0)
		return -1;
	C.env[C.nenv] = NULL;
	return 0;
}

/* ---- the child ---------------------------------------------------------- */

static int err_fd = -1;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	char msg[512];
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg - 80, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof msg - 80)
		n = sizeof msg - 80;
	n += snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(e));
	(void)!write(err_fd, msg, (size_t)n);
	_exit(127);
}

static char *under(char *buf, size_t n, const char *root, const char *path)
{
	if ((size_t)snprintf(buf, n, "%s%s", root, path) >= n) {
		errno = ENAMETOOLONG;
		die("path %s%s", root, path);
	}
	return buf;
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) != 0)
		die("mount %s on %s", type ? type : src ? src : "(remount)", dst);
}

/* mkdir -p of path (absolute, under the overlay so it lands in the upper layer). */
static void mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			die("mkdir %s", path);
		*p = '/';
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s", path);
}

static void make_dev(const char *root)
{
	char p[4096];
	/* /dev/shm is a directory of this tmpfs, not a mount of its own: one mount less to make and to tear down. */
	do_mount("tmpfs", under(p, sizeof p, root, "/dev"), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64m");
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = { { "/dev/null", 1, 3 },	{ "/dev/zero", 1, 5 },	  { "/dev/full", 1, 7 },
		      { "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 } };
	for (size_t k = 0; k < sizeof nodes / sizeof *nodes; k++)
		if (mknod(under(p, sizeof p, root, nodes[k].name), S_IFCHR | 0666, makedev(nodes[k].major, nodes[k].minor)) != 0)
			die("mknod %s", p);
	if (mkdir(under(p, sizeof p, root, "/dev/pts"), 0755) != 0)
		die("mkdir %s", p);
	do_mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	if (mkdir(under(p, sizeof p, root, "/dev/shm"), 01777) != 0)
		die("mkdir %s", p);
	static const char *const links[][2] = { { "pts/ptmx", "/dev/ptmx" },	     { "/proc/self/fd", "/dev/fd" },
						{ "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
						{ "/proc/self/fd/2", "/dev/stderr" } };
	for (size_t k = 0; k < sizeof links / sizeof *links; k++)
		if (symlink(links[k][0], under(p, sizeof p, root, links[k][1])) != 0)
			die("symlink %s", p);
}

static void bind_volume(const char *root, const char *spec)
{
	char src[4096], dst[4096];
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || colon[1] != '/') {
		errno = EINVAL;
		die("--volume %s (want SRC:/DST[:ro])", spec);
	}
	snprintf(src, sizeof src, "%.*s", (int)(colon - spec), spec);
	const char *guest = colon + 1;
	const char *mode = strchr(guest, ':');
	int ro = mode && !strcmp(mode, ":ro");
	char g[4096];
	snprintf(g, sizeof g, "%.*s", mode ? (int)(mode - guest) : (int)strlen(guest), guest);
	under(dst, sizeof dst, root, g);
	struct stat st;
	if (stat(src, &st) != 0)
		die("volume %s", src);
	if (S_ISDIR(st.st_mode))
		mkdirs(dst);
	else {
		char parent[4096];
		snprintf(parent, sizeof parent, "%s", dst);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = 0;
			mkdirs(parent);
		}
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create %s", dst);
		close(fd);
	}
	do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL);
	if (ro)
		do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/* The directory part of path (static buffer). */
static const char *parent_of(const char *path)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	char *slash = strrchr(buf, '/');
	if (slash && slash != buf)
		*slash = 0;
	return buf;
}

/* The tmpfs holding the upper layer: it vanishes with the mount namespace. */
static void upper_tmpfs(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", parent_of(C.upper));
	if (strcmp(dir, parent_of(C.work)) != 0 || strcmp(dir, parent_of(C.merged)) != 0) {
		errno = EINVAL;
		die("--upper-tmpfs: --upper, --work and --merged must be in one directory");
	}
	do_mount("tsbench-upper", dir, "tmpfs", MS_NOSUID | MS_NODEV, C.upper_tmpfs);
	const char *dirs[] = { C.upper, C.work, C.merged };
	for (size_t k = 0; k < 3; k++)
		if (mkdir(dirs[k], 0755) != 0)
			die("mkdir %s", dirs[k]);
	trace("upper-tmpfs");
}

static void setup_root(void)
{
	char p[4096];
	umask(0);
	/* Nothing we mount may propagate back to the host. */
	do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	trace("private");
	if (C.upper_tmpfs)
		upper_tmpfs();
	char data[8192];
	if ((size_t)snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s%s%s", C.lower, C.upper, C.work,
			     C.overlay_opts ? "," : "", C.overlay_opts ? C.overlay_opts : "") >= sizeof data) {
		errno = ENAMETOOLONG;
		die("overlay options");
	}
	do_mount("overlay", C.merged, "overlay", 0, data);
	trace("overlay");
	do_mount("proc", under(p, sizeof p, C.merged, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	trace("proc");
	make_dev(C.merged);
	trace("dev");
	/* sysfs shows the mounter's network namespace: ours (lo only), the one joined, or the host's. */
	do_mount("sysfs", under(p, sizeof p, C.merged, "/sys"), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	trace("sys");
	for (int k = 0; k < C.nvolumes; k++)
		bind_volume(C.merged, C.volumes[k]);
	if (C.nvolumes)
		trace("volumes");
	if (chdir(C.merged) != 0)
		die("chdir %s", C.merged);
	if (C.no_pivot) {
		/* The initramfs's rootfs can be neither pivoted away nor unmounted: move the
		 * new root over it and chroot there (the old root stays below, out of reach
		 * of the workload's paths, and goes with the mount namespace). */
		if (mount(".", "/", NULL, MS_MOVE, NULL) != 0)
			die("move %s to /", C.merged);
		if (chroot(".") != 0)
			die("chroot %s", C.merged);
		if (chdir("/") != 0)
			die("chdir /");
		umask(022);
		trace("chroot");
		return;
	}
	/* pivot_root(".", "."): the old root ends up stacked on the new one; detach it. */
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		die("pivot_root %s", C.merged);
	if (umount2(".", MNT_DETACH) != 0)
		die("umount the old root");
	if (chdir("/") != 0)
		die("chdir /");
	umask(022);
	trace("pivot");
}

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		die("get the flags of lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		die("bring lo up");
	close(s);
	trace("lo");
}

/* v1: "0" moves the writer itself; see the top of this file. */
static void join_cgroups(void)
{
	for (int k = 0; k < C.ntasks; k++) {
		if (write(C.tasks_fd[k], "0", 1) != 1)
			die("move into %s", C.tasks[k]);
		close(C.tasks_fd[k]);
	}
	if (C.ntasks)
		trace("cgroups");
}

/* /sys/fs/cgroup as Docker shows it: the container's own cgroups (the namespace's root), read-only. */
static void mount_cgroupfs(void)
{
	const int ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	int tmpfs = 0;
	for (int k = 0; k < C.ncgroupfs; k++) {
		char spec[512], path[600];
		snprintf(spec, sizeof spec, "%s", C.cgroupfs[k]);
		char *opts = strchr(spec, ':'), *dir = opts ? strchr(opts + 1, ':') : NULL;
		if (!dir) {
			errno = EINVAL;
			die("--cgroupfs %s (want TYPE:OPTIONS:DIR)", C.cgroupfs[k]);
		}
		*opts++ = 0;
		*dir++ = 0;
		if (*dir && !tmpfs) {
			do_mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
			tmpfs = 1;
		}
		snprintf(path, sizeof path, "/sys/fs/cgroup%s%s", *dir ? "/" : "", dir);
		if (*dir && mkdir(path, 0755) != 0)
			die("mkdir %s", path);
		do_mount(spec, path, spec, ro, *opts ? opts : NULL);
	}
	if (tmpfs)
		do_mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | ro, "mode=755");
	if (C.ncgroupfs)
		trace("cgroupfs");
}

/* ---- confinement -------------------------------------------------------- */

/* As runc's maskPath: a file gets /dev/null bound over it, a directory an empty read-only tmpfs. */
static void mask_paths(void)
{
	for (int k = 0; k < C.nmasked; k++) {
		const char *p = C.masked[k];
		struct stat st;
		if (stat(p, &st) != 0) {
			if (errno == ENOENT)
				continue;
			die("mask %s", p);
		}
		if (S_ISDIR(st.st_mode))
			do_mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
		else
			do_mount("/dev/null", p, NULL, MS_BIND, NULL);
	}
	for (int k = 0; k < C.nreadonly; k++) {
		const char *p = C.readonly[k];
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0) {
			if (errno == ENOENT)
				continue;
			die("bind %s", p);
		}
		/* Keep the flags of the mount it lies on (proc: nosuid, nodev, noexec). */
		struct statvfs sv;
		unsigned long keep = 0;
		if (statvfs(p, &sv) == 0)
			keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
			       (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
		do_mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
	}
	if (C.nmasked || C.nreadonly)
		trace("paths");
}

/* Bounding set first (dropping needs CAP_SETPCAP), then ambient, then the three others with capset. */
static void drop_caps(void)
{
	for (int c = 0; c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (!(C.caps >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
			die("drop capability %d from the bounding set", c);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		die("clear the ambient capabilities");
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		die("capget");
	for (int w = 0; w < 2; w++) {
		uint32_t keep = (uint32_t)(C.caps >> (32 * w));
		data[w].permitted &= keep;
		data[w].effective &= keep;
		data[w].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		die("capset");
	trace("caps");
}

static uint32_t seccomp_action(const char *word)
{
	if (!strcmp(word, "allow"))
		return SCMP_ACT_ALLOW;
	if (!strncmp(word, "errno:", 6))
		return SCMP_ACT_ERRNO((uint16_t)atoi(word + 6));
	errno = EINVAL;
	die("seccomp action '%s' (allow or errno:N)", word);
}

static enum scmp_compare seccomp_op(const char *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = { { "ne", SCMP_CMP_NE }, { "eq", SCMP_CMP_EQ }, { "lt", SCMP_CMP_LT },
		    { "le", SCMP_CMP_LE }, { "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE },
		    { "masked_eq", SCMP_CMP_MASKED_EQ } };
	for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
		if (!strcmp(op, ops[k].name))
			return ops[k].op;
	errno = EINVAL;
	die("seccomp comparison '%s'", op);
}

/* One --seccomp rule: "ACTION NAME,NAME [aI:OP:V[:V2]]...". */
static void seccomp_rule(scmp_filter_ctx ctx, const char *spec)
{
	char buf[8192];
	if ((size_t)snprintf(buf, sizeof buf, "%s", spec) >= sizeof buf) {
		errno = E2BIG;
		die("--seccomp rule");
	}
	char *save = NULL;
	const char *action = strtok_r(buf, " ", &save);
	char *names = strtok_r(NULL, " ", &save);
	if (!action || !names) {
		errno = EINVAL;
		die("--seccomp '%s' (want ACTION NAMES [aI:OP:V]...)", spec);
	}
	uint32_t act = seccomp_action(action);
	struct scmp_arg_cmp args[6];
	unsigned nargs = 0;
	for (char *c = strtok_r(NULL, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
		char *s2 = NULL;
		char *idx = strtok_r(c, ":", &s2), *op = strtok_r(NULL, ":", &s2), *v = strtok_r(NULL, ":", &s2),
		     *v2 = strtok_r(NULL, ":", &s2);
		if (nargs >= 6 || !idx || idx[0] != 'a' || !op || !v) {
			errno = EINVAL;
			die("--seccomp '%s': condition (want aI:OP:V[:V2])", spec);
		}
		args[nargs++] = (struct scmp_arg_cmp){ .arg = (unsigned)atoi(idx + 1),
						       .op = seccomp_op(op),
						       .datum_a = strtoull(v, NULL, 0),
						       .datum_b = v2 ? strtoull(v2, NULL, 0) : 0 };
	}
	char *s3 = NULL;
	for (char *name = strtok_r(names, ",", &s3); name; name = strtok_r(NULL, ",", &s3)) {
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a system call of this architecture (or unknown to this libseccomp): skipped, as runc does */
		int rc = seccomp_rule_add_array(ctx, act, nr, nargs, args);
		if (rc != 0) {
			errno = -rc;
			die("seccomp rule for %s", name);
		}
	}
}

/* The filter the --seccomp* options describe, as libseccomp builds it. */
static scmp_filter_ctx build_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(seccomp_action(C.seccomp_default));
	if (!ctx) {
		errno = ENOMEM;
		die("seccomp_init");
	}
	/* no_new_privs is ours to set (--no-new-privs), not libseccomp's. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) != 0)
		die("seccomp_attr_set");
	if (C.seccomp_arch) {
		char buf[256], *save = NULL;
		snprintf(buf, sizeof buf, "%s", C.seccomp_arch);
		for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			uint32_t token = seccomp_arch_resolve_name(a);
			if (token == 0) {
				errno = EINVAL;
				die("seccomp architecture '%s'", a);
			}
			int rc = token == seccomp_arch_native() ? 0 : seccomp_arch_add(ctx, token);
			if (rc != 0 && rc != -EEXIST) {
				errno = -rc;
				die("seccomp architecture %s", a);
			}
		}
	}
	for (int k = 0; k < C.nrules; k++)
		seccomp_rule(ctx, C.seccomp_rules[k]);
	return ctx;
}

/* Compiles the filter to BPF with libseccomp and loads it; the next system call it sees is execve. */
static void load_seccomp(void)
{
	scmp_filter_ctx ctx = build_seccomp();
	int rc = seccomp_load(ctx);
	if (rc != 0) {
		errno = -rc;
		die("load the seccomp filter");
	}
	seccomp_release(ctx);
}

/* --seccomp-export: the compiled filter into a file, in the parent, before anything is launched. */
static int export_seccomp(char *msg, size_t n)
{
	err_fd = STDERR_FILENO;
	scmp_filter_ctx ctx = build_seccomp();
	int fd = open(C.seccomp_export, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0) {
		snprintf(msg, n, "--seccomp-export %s: %s", C.seccomp_export, strerror(-rc));
		return -1;
	}
	return 0;
}

/* --seccomp-bpf: the compiled filter read into memory, in the parent (the child may no longer reach the file). */
static int read_seccomp_bpf(char *msg, size_t n)
{
	int fd = open(C.seccomp_bpf, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		snprintf(msg, n, "--seccomp-bpf %s: %s", C.seccomp_bpf, fd < 0 ? strerror(errno) : "not a compiled filter (tsbench-launch --seccomp-export makes one)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct sock_filter *prog = malloc((size_t)st.st_size);
	ssize_t got = prog ? read(fd, prog, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		snprintf(msg, n, "--seccomp-bpf %s: short read", C.seccomp_bpf);
		return -1;
	}
	C.bpf.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	C.bpf.filter = prog;
	return 0;
}

static void confine(void)
{
	mask_paths();
	if (C.keep_caps)
		drop_caps();
	if (C.no_new_privs) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			die("no_new_privs");
		trace("no-new-privs");
	}
	if (C.bpf.filter) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &C.bpf) != 0)
			die("load the seccomp filter %s", C.seccomp_bpf);
		trace("seccomp");
	} else if (C.seccomp_default) {
		load_seccomp();
		trace("seccomp");
	}
}

__attribute__((noreturn)) static void child(char **cmd, int report_fd)
{
	trace("cloned");
	/* Die with the launcher, whatever kills it (the pid namespace goes with us). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	join_cgroups();
	/* Before the root: its sysfs shows the mounter's network namespace. */
	if (C.netns_fd >= 0) {
		if (setns(C.netns_fd, CLONE_NEWNET) != 0)
			die("join the network namespace %s", C.netns);
		close(C.netns_fd);
		trace("netns");
	}
	if (C.merged)
		setup_root();
	if (C.clone_flags & CLONE_NEWNET)
		loopback_up();
	if (C.hostname) {
		if (sethostname(C.hostname, strlen(C.hostname)) != 0)
			die("sethostname %s", C.hostname);
		trace("hostname");
	}
	if (C.cgroup_ns) {
		if (unshare(CLONE_NEWCGROUP) != 0)
			die("unshare cgroup namespace");
		trace("cgroupns");
	}
	mount_cgroupfs();
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* Last, as runc does: every step above needs privileges the container gives up. */
	confine();
	if (report_fd >= 0)
		close(report_fd);
	trace("exec");
	execve(cmd[0], cmd, C.env);
	die("exec %s", cmd[0]);
}

pid_t container_spawn(char **cmd, int errfd, int report_fd)
{
	err_fd = errfd;
	pid_t pid;
	if (C.cgroup_fd >= 0) {
		struct clone_args args;
		memset(&args, 0, sizeof args);
		args.flags = C.clone_flags | CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)C.cgroup_fd;
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid < 0 && errno == ENOSYS) {
			/* No clone3: the child moves itself, like on v1 (taking the slow lock). */
			char procs[4096];
			snprintf(procs, sizeof procs, "%s/cgroup.procs", C.cgroup_dir);
			if (C.ntasks >= MAX_LIST || (C.tasks_fd[C.ntasks] = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
				return -1;
			C.tasks[C.ntasks++] = C.cgroup_dir;
			close(C.cgroup_fd);
			C.cgroup_fd = -1;
			pid = (pid_t)syscall(SYS_clone, C.clone_flags | SIGCHLD, 0, NULL, NULL, 0);
		}
	} else {
		/* Like fork(): no stack given, the child continues on a copy of ours. */
		pid = (pid_t)syscall(SYS_clone, C.clone_flags | SIGCHLD, 0, NULL, NULL, 0);
	}
	if (pid == 0)
		child(cmd, report_fd);
	for (int k = 0; k < C.ntasks; k++)
		close(C.tasks_fd[k]);
	if (C.cgroup_fd >= 0)
		close(C.cgroup_fd);
	if (C.netns_fd >= 0)
		close(C.netns_fd);
	return pid;
}
