/*
 * tsbench-agent: the one workload runner tsbench puts on every target.
 *
 * The very same static binary runs
 *   - natively, as an ordinary child of the harness:  tsbench-agent <job...>
 *   - as PID 1 of a container:                       tsbench-agent <job...>
 *   - as PID 1 of a VM (init on the image's read-only root disk, or /init of a
 *     tiny initramfs that mounts that disk first), with no argv: the job comes
 *     from the kernel command line as tsbench.job=<base64url of argv joined by NUL>.
 *   - as a systemd service of a VM that boots an init system (the Debian image):
 *     tsbench-agent --from-cmdline, the job again from the kernel command line.
 *
 * Jobs:  noop | sleep | exec TOOL arg... | await
 * `await` (a VM saved for restoring, drivers/qemu/snapshot.ts): says ready, then
 * waits for one line "job <base64url of argv joined by NUL>" on stdin (the
 * console of the VM restored from the saved state) and runs that job as if it had
 * come from the kernel command line; "stop" or EOF end it as they end `sleep`.
 * No timer runs while it waits: the guest's clock may jump at the restore.
 * A TOOL without a slash is looked up on PATH, as execvp(3) and `docker run`
 * do; the job gets DEFAULT_PATH when the environment has no PATH (a VM's init
 * gets none from the kernel).
 *
 * With tsbench.container=<base64url of launcher options joined by NUL> on the
 * kernel cmdline (drivers/qemu/nested.ts), the VM's agent does not run the job
 * itself: it makes the cgroup named by tsbench.cgroup and starts the job in a
 * container made by tsbench-launch (the host's runtime, drivers/container/
 * nsexec.c), whose PID 1 is this agent again, talking on the same console.
 *
 * With tsbench.net=ADDRESS/PREFIX,GATEWAY (a VM with a NIC, drivers/qemu), the
 * VM's agent first gives its first non-loopback interface that address and a
 * default route via GATEWAY, and marks the instant "net".
 *
 * It talks to the host with one line per event, each "@tsb <event> ...\n"
 * written with a single write(2) so lines never interleave:
 *   init <mono_ns> | ready <mono_ns> | meminfo <total_kB> <avail_kB>
 *   out <text> | err <text> | end <mono_ns> | rusage <utime_us> <stime_us> <maxrss_kB>
 *   error <message> | exit <code> | exit signal <n>
 *   mark <name> <mono_ns>   (an instant of the VM's own work, e.g. "container":
 *                            when the launcher cloned the container; "net": when
 *                            the NIC was configured)
 * "end" is written the moment an exec job's tool is reaped, before anything else:
 * the end of the workload's CPU window on the agent's own clock (the host reads
 * the instance's CPU when it arrives, drivers/process.ts), so that nothing of the
 * agent's, a runtime's or a VM's exit is in it. A noop or sleep job writes none.
 * "exit" is always the last line, also after "error" (then exit 127, or 126
 * for a TOOL that was found but cannot be executed, as a shell does).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_TEXT 4096 /* longer tool output lines are split here */
#define MAX_JOB_ARGS 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- protocol ---------------------------------------------------------- */

/* One event, one write(2): a line is never torn by another writer. */
static void emit(const char *fmt, ...) {
	char buf[LINE_MAX_TEXT + 64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	for (char *p = buf; n > 0;) { /* a console may take it in pieces */
		ssize_t w = write(STDOUT_FILENO, p, (size_t)n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return;
		p += w, n -= (int)w;
	}
}

static unsigned long long mono_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Reports a failure the way the host expects: error line, then exit 127. */
#define FAIL 127
static int fail(const char *what, const char *arg) {
	emit("@tsb error %s %s: %s", what, arg, strerror(errno));
	return FAIL;
}

/* ---- signals ----------------------------------------------------------- */

/*
 * SIGTERM/SIGINT stay blocked except inside ppoll(), which unblocks them
 * atomically: no race between checking the flag and sleeping. A real handler
 * (not SIG_DFL) is needed anyway: PID 1 of a namespace only receives signals
 * it has a handler for.
 */
static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }
static sigset_t poll_mask; /* the mask to use while waiting */

static void setup_signals(void) {
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &poll_mask);
	sigdelset(&poll_mask, SIGTERM);
	sigdelset(&poll_mask, SIGINT);
}

/* ---- jobs -------------------------------------------------------------- */

static void emit_meminfo(void) {
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f) return;
	unsigned long total = 0, avail = 0, v;
	char key[64];
	while (fscanf(f, "%63s %lu kB ", key, &v) == 2) {
		if (!strcmp(key, "MemTotal:")) total = v;
		else if (!strcmp(key, "MemAvailable:")) avail = v;
	}
	fclose(f);
	emit("@tsb meminfo %lu %lu", total, avail);
}

/* Waits for a "stop" line on stdin, EOF on stdin, or SIGTERM/SIGINT. */
static int job_sleep(void) {
	emit("@tsb ready %llu", mono_ns());
	emit_meminfo();
	char line[64];
	size_t len = 0;
	while (!stop_signal) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		if (ppoll(&pfd, 1, NULL, &poll_mask) < 0) continue; /* EINTR: flag set */
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1); /* byte by byte: stdin is tiny */
		if (n == 0) break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) continue;
			break; /* no stdin at all (EBADF...) behaves like EOF */
		}
		if (c == '\n' || c == '\r') {
			line[len] = 0;
			if (!strcmp(line, "stop")) break;
			len = 0;
		} else if (len < sizeof line - 1) {
			line[len++] = c;
		}
	}
	return 0;
}

/* Buffers one stream of the tool and emits it line by line. */
struct stream {
	int fd;
	const char *tag; /* "out" or "err" */
	size_t len;
	char buf[LINE_MAX_TEXT + 1];
};

static void stream_flush(struct stream *s) {
	s->buf[s->len] = 0;
	emit("@tsb %s %s", s->tag, s->buf);
	s->len = 0;
}

/* Returns 0 at EOF (after flushing a partial last line). */
static int stream_read(struct stream *s) {
	char chunk[4096];
	ssize_t n = read(s->fd, chunk, sizeof chunk);
	if (n < 0 && errno == EINTR) return 1;
	if (n <= 0) {
		if (s->len) stream_flush(s);
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n') { stream_flush(s); continue; }
		s->buf[s->len++] = chunk[i];
		if (s->len == LINE_MAX_TEXT) stream_flush(s);
	}
	return 1;
}

/*
 * Forks the tool with stdout/stderr on pipes and reframes them. A CLOEXEC
 * pipe tells us whether execvp() worked: it is closed by a successful exec and
 * carries errno otherwise, so a bad command is an "error", not a tool exit.
 */
static int tool_signal; /* set when the tool was killed by a signal */
static int job_exec(char **argv) {
	int out[2], err[2], status_pipe[2];
	setenv("PATH", DEFAULT_PATH, 0); /* only if there is none; the tool inherits it */
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status_pipe, O_CLOEXEC))
		return fail("pipe", argv[0]);
	emit("@tsb ready %llu", mono_ns());
	pid_t pid = fork();
	if (pid < 0) return fail("fork", argv[0]);
	if (pid == 0) {
		/* The tool is not interactive: in a VM stdin is the console we watch. */
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0) dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		sigprocmask(SIG_SETMASK, &poll_mask, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(status_pipe[1], &e, sizeof e);
		_exit(FAIL);
	}
	close(out[1]), close(err[1]), close(status_pipe[1]);
	int exec_errno = 0;
	ssize_t got = read(status_pipe[0], &exec_errno, sizeof exec_errno);
	close(status_pipe[0]);

	struct stream s[2] = {{.fd = out[0], .tag = "out"}, {.fd = err[0], .tag = "err"}};
	while (s[0].fd >= 0 || s[1].fd >= 0) {
		struct pollfd pfd[2] = {{.fd = s[0].fd, .events = POLLIN}, {.fd = s[1].fd, .events = POLLIN}};
		if (ppoll(pfd, 2, NULL, &poll_mask) < 0) {
			if (stop_signal) kill(pid, stop_signal), stop_signal = 0; /* pass it on */
			continue;
		}
		for (int i = 0; i < 2; i++)
			if (pfd[i].revents) stream_read(&s[i]);
	}

	/* We may be init: reap everything, until our own tool is among them. */
	int status;
	struct rusage ru;
	pid_t w;
	while ((w = wait4(-1, &status, 0, &ru)) != pid)
		if (w < 0 && errno != EINTR) return fail("wait", argv[0]);
	emit("@tsb end %llu", mono_ns());
	if (got == sizeof exec_errno) { /* as a shell: 127 no such command, 126 cannot run it */
		if (exec_errno == ENOENT && !strchr(argv[0], '/'))
			emit("@tsb error exec %s: command not found in PATH=%s", argv[0], getenv("PATH"));
		else
			errno = exec_errno, fail("exec", argv[0]);
		return exec_errno == ENOENT ? FAIL : 126;
	}
	emit("@tsb rusage %lld %lld %ld",
	     (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	     (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
	if (WIFSIGNALED(status)) return 128 + (tool_signal = WTERMSIG(status));
	return WEXITSTATUS(status);
}

static int b64url_decode(const char *in, size_t n, char *out);
static int run_job(int argc, char **argv);

/* The `await` job (see the top): ready, then one "job <base64url>" line on stdin, run. */
static int job_await(void) {
	emit("@tsb ready %llu", mono_ns());
	emit_meminfo();
	static char line[8192], buf[8192];
	size_t len = 0;
	while (!stop_signal) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		if (ppoll(&pfd, 1, NULL, &poll_mask) < 0) continue; /* EINTR: flag set */
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n == 0) break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) continue;
			break;
		}
		if (c != '\n' && c != '\r') {
			if (len < sizeof line - 1) line[len++] = c;
			continue;
		}
		line[len] = 0;
		len = 0;
		if (!strcmp(line, "stop")) break;
		if (strncmp(line, "job ", 4)) continue; /* noise on the console */
		int blen = b64url_decode(line + 4, strlen(line + 4), buf);
		char *argv[MAX_JOB_ARGS + 1];
		int argc = 0;
		if (blen > 0) {
			buf[blen] = 0;
			for (char *p = buf; p <= buf + blen && argc < MAX_JOB_ARGS; p += strlen(p) + 1) argv[argc++] = p;
		}
		argv[argc] = NULL;
		if (argc <= 0 || !strcmp(argv[0], "await")) {
			emit("@tsb error the restored VM got no valid job line (job <base64url argv>)");
			return FAIL;
		}
		return run_job(argc, argv);
	}
	return 0;
}

/* Runs argv as a job; returns its exit code (128+n for a signal). */
static int run_job(int argc, char **argv) {
	int code;
	if (argc == 1 && !strcmp(argv[0], "await")) {
		return job_await();
	} else if (argc == 1 && !strcmp(argv[0], "noop")) {
		emit("@tsb ready %llu", mono_ns());
		code = 0;
	} else if (argc == 1 && !strcmp(argv[0], "sleep")) {
		code = job_sleep();
	} else if (argc >= 2 && !strcmp(argv[0], "exec")) {
		code = job_exec(argv + 1);
	} else {
		emit("@tsb error unknown job '%s' (want noop | sleep | exec TOOL arg...)",
		     argc ? argv[0] : "");
		code = FAIL;
	}
	/* Reap whatever the tool left behind (we may be init); never block. */
	while (waitpid(-1, NULL, WNOHANG) > 0) {}
	return code;
}

/* ---- VM init ----------------------------------------------------------- */

/* base64url without padding, as in RFC 4648 §5. Returns length or -1. */
static int b64url_decode(const char *in, size_t n, char *out) {
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned acc = 0;
	int bits = 0, len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = memchr(abc, in[i], 64);
		if (!p || !in[i]) return -1;
		acc = (acc << 6) | (unsigned)(p - abc);
		if ((bits += 6) >= 8) out[len++] = (char)(acc >> (bits -= 8));
	}
	return len;
}

/* Returns the value of "key=" in the kernel cmdline (static buffer) or NULL. */
static char cmdline[8192];
static const char *cmdline_get(const char *key) {
	size_t klen = strlen(key);
	for (char *p = cmdline; *p;) {
		size_t n = strcspn(p, " \n");
		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			static char val[sizeof cmdline];
			memcpy(val, p + klen + 1, n - klen - 1);
			val[n - klen - 1] = 0;
			return val;
		}
		p += n;
		p += strspn(p, " \n");
	}
	return NULL;
}

/* Loads each .ko in `list` (dependency order, one path a line). */
static int load_modules(const char *list) {
	FILE *f = fopen(list, "r");
	if (!f) return 0; /* a kernel with everything built in needs none */
	char path[512];
	int rc = 0;
	while (!rc && fgets(path, sizeof path, f)) {
		path[strcspn(path, "\n")] = 0;
		if (!path[0]) continue;
		/* Debian's 6.1 kernels ship modules uncompressed (MODULE_COMPRESS_NONE),
		 * so plain finit_module() is enough. */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) rc = fail("open module", path);
		else if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST) rc = fail("load module", path);
		if (fd >= 0) close(fd);
	}
	fclose(f);
	return rc;
}

/* A disk appears when virtio_blk has probed it; give that a moment. */
static int mount_disk(const char *dev, const char *at, unsigned long flags) {
	for (int i = 0; i < 200; i++) { /* up to 2 s */
		if (!mount(dev, at, "ext4", flags, NULL)) return 0;
		if (errno != ENOENT && errno != ENXIO) break;
		usleep(10000);
	}
	return fail("mount", dev);
}

/*
 * The stock-kernel boot (drivers/qemu, profile "cloud"): this agent is /init of
 * a tiny initramfs that holds only itself and the modules the kernel has as
 * modules (virtio_mmio, virtio_blk, ext4; overlay for a container, virtio_net
 * for a NIC: each set only when the cmdline asks for it). It loads
 * them, mounts the image's root disk tsbench.root=DEV read-only and makes it the
 * root, as switch_root does (the initramfs's few files stay: a MiB at most),
 * and the boot goes on from there like the lean kernel's, which mounts the
 * root disk itself (root=/dev/vda). The instant is "mark root": the end of
 * the initrd phase.
 */
static int switch_root(const char *root) {
	char dev[256]; /* cmdline_get's value is a static buffer that the next call reuses */
	snprintf(dev, sizeof dev, "%s", root);
	if (load_modules("/etc/tsbench/modules")) return FAIL;
	if (cmdline_get("tsbench.container") && load_modules("/etc/tsbench/modules.container")) return FAIL;
	if (cmdline_get("tsbench.net") && load_modules("/etc/tsbench/modules.net")) return FAIL;
	if (mkdir("/newroot", 0755) && errno != EEXIST) return fail("mkdir", "/newroot");
	if (mount_disk(dev, "/newroot", MS_RDONLY)) return FAIL;
	static const char *const moved[] = {"/dev", "/proc", "/sys"};
	for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
		char to[64];
		snprintf(to, sizeof to, "/newroot%s", moved[i]);
		if (mount(moved[i], to, NULL, MS_MOVE, NULL)) return fail("move mount", moved[i]);
	}
	if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) return fail("switch root to", dev);
	emit("@tsb mark root %llu", mono_ns());
	return 0;
}

/* ---- the VM's NIC ------------------------------------------------------- */

/* Sets an IPv4 address-like field of an interface (SIOCSIFADDR, SIOCSIFNETMASK). */
static int if_set(int s, const char *name, unsigned long req, struct in_addr a) {
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = a};
	memcpy(&ifr.ifr_addr, &sin, sizeof sin);
	return ioctl(s, req, &ifr);
}

static int if_up(int s, const char *name) {
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr)) return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* The first (by name) interface in /sys/class/net that is not lo; 0 if there is one. */
static int first_nic(char name[IFNAMSIZ]) {
	DIR *d = opendir("/sys/class/net");
	if (!d) return -1;
	name[0] = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "lo") && strlen(e->d_name) < IFNAMSIZ &&
		    (!name[0] || strcmp(e->d_name, name) < 0))
			snprintf(name, IFNAMSIZ, "%s", e->d_name);
	closedir(d);
	return name[0] ? 0 : -1;
}

/*
 * tsbench.net=ADDRESS/PREFIX,GATEWAY: lo up, then the VM's NIC (the first
 * non-loopback interface: udev may have renamed eth0 in a distribution's VM) gets
 * the address and netmask, comes up, and the default route goes via GATEWAY.
 * ioctls, as busybox's ifconfig and route do: no netlink. The NIC appears when
 * virtio_net has probed it: like mount_disk, give that up to 2 s. An interface
 * renamed under our feet (ENODEV) is looked up again within the same 2 s.
 */
static int setup_net(const char *spec) {
	char buf[64], *slash, *comma;
	snprintf(buf, sizeof buf, "%s", spec);
	struct in_addr addr, gw, mask;
	int prefix = -1;
	if ((slash = strchr(buf, '/'))) *slash++ = 0;
	if (slash && (comma = strchr(slash, ','))) *comma++ = 0, prefix = atoi(slash);
	else comma = NULL;
	if (!comma || prefix < 0 || prefix > 32 || inet_pton(AF_INET, buf, &addr) != 1 || inet_pton(AF_INET, comma, &gw) != 1) {
		emit("@tsb error tsbench.net=%s is not ADDRESS/PREFIX,GATEWAY (IPv4)", spec);
		return FAIL;
	}
	mask.s_addr = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) return fail("socket", "AF_INET");
	if (if_up(s, "lo")) return close(s), fail("bring up", "lo");
	char nic[IFNAMSIZ] = "";
	const char *step = NULL;
	int rc = -1;
	for (int i = 0; i < 200 && rc; i++) { /* up to 2 s */
		if (i) usleep(10000);
		if (first_nic(nic)) continue;
		step = "set the address of", rc = if_set(s, nic, SIOCSIFADDR, addr);
		if (!rc) step = "set the netmask of", rc = if_set(s, nic, SIOCSIFNETMASK, mask);
		if (!rc) step = "bring up", rc = if_up(s, nic);
		if (rc && errno != ENODEV) break; /* a real failure, not a rename */
	}
	if (rc && !step) {
		close(s);
		emit("@tsb error no network interface but lo in /sys/class/net after 2 s: the guest kernel has no virtio_net");
		return FAIL;
	}
	if (rc) return close(s), fail(step, nic);
	struct rtentry rt = {.rt_flags = RTF_UP | RTF_GATEWAY};
	struct sockaddr_in any = {.sin_family = AF_INET}, via = {.sin_family = AF_INET, .sin_addr = gw};
	memcpy(&rt.rt_dst, &any, sizeof any);
	memcpy(&rt.rt_genmask, &any, sizeof any);
	memcpy(&rt.rt_gateway, &via, sizeof via);
	if (ioctl(s, SIOCADDRT, &rt) && errno != EEXIST) return close(s), fail("add the default route via", comma);
	close(s);
	emit("@tsb mark net %llu", mono_ns());
	return 0;
}

/*
 * Ends the VM so that QEMU exits by itself.
 * Measured under TCG with -M microvm and -no-reboot (which tsbench always passes):
 * with ACPI (the stock VM), reboot(RB_POWER_OFF) goes through the GED sleep
 * register and QEMU exits at once. Without ACPI (the lean microVM, acpi=off) the
 * kernel cannot power off and would only halt, so the agent reboots instead, which
 * with `reboot=t` is a triple fault that ends QEMU run with -no-reboot.
 */
static void power_off(void) {
	/* The last lines may still sit in the serial driver's buffer: a reboot now would lose them
	 * (seen after a restore from a snapshot: the exit line cut off mid-output). */
	tcdrain(STDOUT_FILENO);
	sync();
	if (!access("/sys/firmware/acpi", F_OK)) reboot(RB_POWER_OFF);
	reboot(RB_AUTOBOOT);
	for (;;) pause(); /* init must never exit: that panics the kernel */
}

/* The console is a tty: stop it echoing our "stop" back and adding CRs. */
static void quiet_console(void) {
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &t)) return;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	t.c_oflag &= ~(tcflag_t)OPOST;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/*
 * The value of `key` on the cmdline, base64url of strings joined by NUL, split
 * into out[] (pointers into buf, which needs sizeof cmdline bytes), NULL-ended.
 * Returns how many, or -1 when the key is missing or not base64url.
 */
static int decode_list(const char *key, char *buf, char **out) {
	const char *v = cmdline_get(key);
	int len = v ? b64url_decode(v, strlen(v), buf) : -1;
	if (len <= 0) return -1;
	buf[len] = 0;
	int n = 0;
	for (char *p = buf; p <= buf + len && n < MAX_JOB_ARGS; p += strlen(p) + 1) out[n++] = p;
	out[n] = NULL;
	return n;
}

/* ---- a container inside the VM ------------------------------------------ */

#define LAUNCHER "/sbin/tsbench-launch"
#define CGROUP_ROOT "/sys/fs/cgroup"
static int exit_reported; /* the container's agent wrote the exit line */

/*
 * tsbench.cgroup: entries relative to a cgroup2 mount at /sys/fs/cgroup, in
 * order: "DIR/" makes a directory, "FILE=VALUE" writes a control file
 * (e.g. "cgroup.subtree_control=+memory", "ct/memory.max=536870912"). What to
 * write is the host's policy (drivers/qemu/nested.ts); here it is only done.
 */
static int setup_cgroups(void) {
	static char buf[sizeof cmdline];
	char *entry[MAX_JOB_ARGS + 1];
	int n = decode_list("tsbench.cgroup", buf, entry);
	if (n < 0) return 0;
	if (mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL)) return fail("mount", CGROUP_ROOT);
	for (int k = 0; k < n; k++) {
		char path[512];
		char *eq = strchr(entry[k], '=');
		size_t len = strlen(entry[k]);
		if (!eq && len > 0 && entry[k][len - 1] == '/') {
			snprintf(path, sizeof path, CGROUP_ROOT "/%s", entry[k]);
			if (mkdir(path, 0755) && errno != EEXIST) return fail("mkdir", path);
			continue;
		}
		if (!eq) {
			errno = EINVAL;
			return fail("tsbench.cgroup entry", entry[k]);
		}
		snprintf(path, sizeof path, CGROUP_ROOT "/%.*s", (int)(eq - entry[k]), entry[k]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) return fail("open", path);
		ssize_t w = write(fd, eq + 1, strlen(eq + 1));
		close(fd);
		if (w < 0) return fail("write", path);
	}
	return 0;
}

/*
 * Runs the job in a container: tsbench-launch OPTIONS -- tsbench-agent JOB,
 * on the console like us. The launcher's report (its fd 3, here a pipe) gives
 * the clone's CLOCK_MONOTONIC time, the guest clock the container's agent uses
 * too; it becomes "mark container". The container's agent reports ready, the
 * job's output and exit itself.
 */
static int run_container(int argc, char **job) {
	static char buf[sizeof cmdline];
	char *opt[MAX_JOB_ARGS + 1];
	int nopt = decode_list("tsbench.container", buf, opt);
	if (nopt < 0) {
		emit("@tsb error tsbench.container=<base64url launcher options> is not valid");
		return FAIL;
	}
	/* overlay, where it is a module, was loaded before the switch to the root disk. */
	if (setup_cgroups()) return FAIL;
	char *argv[2 * MAX_JOB_ARGS + 8];
	int n = 0;
	argv[n++] = LAUNCHER, argv[n++] = "--report-fd", argv[n++] = "3";
	for (int k = 0; k < nopt; k++) argv[n++] = opt[k];
	argv[n++] = "--", argv[n++] = "/sbin/tsbench-agent";
	for (int k = 0; k < argc; k++) argv[n++] = job[k];
	argv[n] = NULL;

	int rep[2];
	if (pipe2(rep, O_CLOEXEC)) return fail("pipe", LAUNCHER);
	pid_t pid = fork();
	if (pid < 0) return fail("fork", LAUNCHER);
	if (pid == 0) {
		/* fd 3 without CLOEXEC (dup2 onto itself would keep the flag). */
		if (rep[1] == 3) fcntl(3, F_SETFD, 0);
		else dup2(rep[1], 3);
		sigprocmask(SIG_SETMASK, &poll_mask, NULL);
		execv(LAUNCHER, argv);
		dprintf(3, "error exec %s: %s\n", LAUNCHER, strerror(errno));
		_exit(FAIL);
	}
	close(rep[1]);
	FILE *report = fdopen(rep[0], "r");
	char line[600], error[sizeof line] = "";
	int sig = 0, started = 0;
	unsigned long long ns;
	while (report && fgets(line, sizeof line, report)) {
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "start %llu", &ns) == 1) emit("@tsb mark container %llu", ns), started = 1;
		else if (!strncmp(line, "error ", 6)) snprintf(error, sizeof error, "%s", line + 6);
		else if (sscanf(line, "signal %d", &sig) == 1) {}
	}
	if (report) fclose(report);
	int status;
	pid_t w;
	while ((w = waitpid(-1, &status, 0)) != pid) /* we are init: reap all */
		if (w < 0 && errno != EINTR) return fail("wait", LAUNCHER);
	if (error[0]) {
		emit("@tsb error container: %s", error);
		return FAIL;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (!started) { /* e.g. a bad option: the launcher said why on the console */
		emit("@tsb error container: %s exited with %d before starting it", LAUNCHER, code);
		return FAIL;
	}
	if (sig) return 128 + (tool_signal = sig); /* the container's agent was killed: say so for it */
	exit_reported = WIFEXITED(status);
	return code;
}

/* Reads /proc/cmdline and decodes tsbench.job into argv; returns argc, or FAIL having said why. */
static int read_job(char *buf, char **argv) {
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0) return fail("open", "/proc/cmdline");
	ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	cmdline[n > 0 ? n : 0] = 0;
	int argc = decode_list("tsbench.job", buf, argv);
	if (argc <= 0) {
		emit("@tsb error no valid tsbench.job=<base64url argv> on the kernel cmdline");
		return FAIL;
	}
	return argc;
}

static int vm_init(void) {
	mount("proc", "/proc", "proc", 0, NULL);
	emit("@tsb init %llu", mono_ns());
	if (mount("sysfs", "/sys", "sysfs", 0, NULL)) return fail("mount", "/sys");
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) && errno != EBUSY) return fail("mount", "/dev");
	quiet_console();

	static char buf[sizeof cmdline];
	char *argv[MAX_JOB_ARGS + 1];
	int argc = read_job(buf, argv);
	if (argc <= 0) return FAIL;

	const char *root = cmdline_get("tsbench.root");
	if (root && switch_root(root)) return FAIL;
	const char *net = cmdline_get("tsbench.net");
	if (net && setup_net(net)) return FAIL;
	/* The root disk is read-only: jobs write to a tmpfs on /tmp (and to /data), and
	 * start there, since tools write temporary files to "." (stress-ng does). */
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")) return fail("mount", "/tmp");
	if (chdir("/tmp")) return fail("chdir", "/tmp");
	const char *disk = cmdline_get("tsbench.disk");
	if (disk && mount_disk(disk, "/data", 0)) return FAIL;
	if (cmdline_get("tsbench.container")) return run_container(argc, argv);
	return run_job(argc, argv);
}

/* The last line, always: the workload's status (a container's agent may have said it already). */
static int emit_exit(int code) {
	if (exit_reported) return code;
	if (tool_signal) emit("@tsb exit signal %d", tool_signal);
	else emit("@tsb exit %d", code);
	return code;
}

/*
 * systemd starts this unit while the rest of the boot goes on (other units, timers,
 * udev): a workload started then shares the vCPU with it (under TCG, for seconds:
 * measured, sysbench took 2.7x as long). So before any job but noop the agent waits
 * until the boot is done, as `systemctl is-system-running --wait` says (running, or
 * degraded when a unit failed), at most SETTLE_MAX_S, and marks the instant "settled".
 */
#define SETTLE_MAX_S 120
static void settle(void) {
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) dup2(null, STDIN_FILENO), dup2(null, STDOUT_FILENO), dup2(null, STDERR_FILENO);
		execl("/usr/bin/systemctl", "systemctl", "is-system-running", "--wait", (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		unsigned long long deadline = mono_ns() + SETTLE_MAX_S * 1000000000ull;
		while (waitpid(pid, NULL, WNOHANG) == 0) {
			if (mono_ns() > deadline) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				break;
			}
			usleep(20000);
		}
	}
	emit("@tsb mark settled %llu", mono_ns());
}

/*
 * A VM that boots an init system (the Debian image: systemd, drivers/image/debian/
 * tsbench-agent.service): the agent is a service, started with --from-cmdline once
 * systemd has mounted /proc, /sys, /dev and the root (writable) and reached the
 * unit. Its stdin and stdout are the serial console. It runs the job as init would
 * (in /tmp, the data disk at /data) and then ends the VM at once with reboot(2), as
 * `systemctl poweroff -ff` does: no orderly shutdown of the other units (the root
 * disk's writes go to QEMU's throw-away snapshot).
 */
static int vm_service(void) {
	emit("@tsb init %llu", mono_ns());
	quiet_console();
	static char buf[sizeof cmdline];
	char *argv[MAX_JOB_ARGS + 1];
	int argc = read_job(buf, argv);
	if (argc <= 0) return FAIL;
	const char *net = cmdline_get("tsbench.net");
	if (net && setup_net(net)) return FAIL;
	if (chdir("/tmp")) return fail("chdir", "/tmp");
	const char *disk = cmdline_get("tsbench.disk");
	if (disk && mount_disk(disk, "/data", 0)) return FAIL;
	/* A noop job is the startup scenario: ready when systemd started this unit. */
	if (!(argc == 1 && !strcmp(argv[0], "noop"))) settle();
	return run_job(argc, argv);
}

int main(int argc, char **argv) {
	setup_signals();
	if (getpid() == 1 && argc == 1) {
		emit_exit(vm_init());
		power_off();
	}
	if (argc == 2 && !strcmp(argv[1], "--from-cmdline")) {
		emit_exit(vm_service());
		power_off();
	}
	emit("@tsb init %llu", mono_ns());
	return emit_exit(run_job(argc - 1, argv + 1));
}
