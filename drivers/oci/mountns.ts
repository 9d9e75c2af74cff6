/**
 * A private mount namespace per peer driver, held by an idle process that dies
 * with tsbench (PR_SET_PDEATHSIG). The instances' overlay roots are mounted in
 * it and the runtime runs in it (the launcher is started through `nsenter`,
 * outside its clock), so no mount of a peer instance ever appears in the host's
 * table, and whatever happens to tsbench they vanish with the namespace.
 *
 * For crun it also hides the cgroup2 mount of a hybrid host (`hideUnified`):
 * crun 1.8 refuses hybrid layouts whose cgroup2 hierarchy offers any controller
 * ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2");
 * without /sys/fs/cgroup/unified it sees a plain cgroup v1 host and enforces the
 * limits there, exactly as on a legacy host.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';

export class MountNamespace {
  private holder: ResultPromise | undefined;
  private pid: number | undefined;
  private enterNet = false;

  /**
   * Starts the holder; resolves once it is in its own namespace. With `net` it holds a fresh network
   * namespace too (`lo` only, down): `netnsPath()`, for a runtime that must be given one (runsc); with `enterNet`
   * as well, `enter()` enters that network namespace too, so the runtime runs in the one it hands its containers
   * (CRIU then finds the container's network namespace its own: nothing to dump or lock, drivers/oci/criu.ts).
   */
  async start(opts: { hideUnified: boolean; net?: boolean; enterNet?: boolean; masks?: readonly string[] }): Promise<void> {
    if (this.pid !== undefined) return;
    this.enterNet = opts.net === true && opts.enterNet === true;
    const own = readlinkSync('/proc/self/ns/mnt');
    const holder = execa(
      'unshare',
      ['--mount', ...(opts.net === true ? ['--net'] : []), '--propagation', 'private', '--', 'setpriv', '--pdeathsig', 'KILL', '--', 'sleep', 'infinity'],
      {
        stdio: 'ignore',
        reject: false,
        cleanup: true,
      },
    );
    this.holder = holder;
    const pid = holder.pid;
    if (pid === undefined) throw new Error('cannot start `unshare --mount` (util-linux)');
    // unshare execs setpriv, which execs sleep: the same pid, in a new namespace once unshare has run. Its
    // command line says when sleep runs (its binary may be busybox's, so not /proc/PID/exe).
    const deadline = Date.now() + 5000;
    for (;;) {
      let ns: string | undefined;
      let argv0: string;
      try {
        ns = readlinkSync(`/proc/${pid}/ns/mnt`);
        argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      } catch {
        const r = await holder;
        throw new Error(`\`unshare --mount\` exited at once: ${r.stderr || r.shortMessage}`);
      }
      if (ns !== own && argv0 === 'sleep') break;
      if (Date.now() > deadline) {
        holder.kill('SIGKILL'); // not left holding tsbench (and a namespace) after the failure
        throw new Error('`unshare --mount` did not start in 5 s');
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    this.pid = pid;
    if (opts.hideUnified) await this.run(['umount', '/sys/fs/cgroup/unified']);
    // An empty read-only tmpfs over each: what the runtime must not find there (drivers/oci/runsc.ts).
    for (const path of opts.masks ?? []) await this.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=4k,mode=0555', 'tsbench-mask', path]);
  }

  /** The command that enters the namespace and execs what follows. */
  enter(): string[] {
    if (this.pid === undefined) throw new Error('the mount namespace is not started');
    return ['nsenter', '-t', String(this.pid), '-m', ...(this.enterNet ? ['-n'] : []), '--'];
  }

  /** The holder's network namespace (its own with `start({ net: true })`), as an nsfs path. */
  netnsPath(): string {
    if (this.pid === undefined) throw new Error('the mount namespace is not started');
    return `/proc/${this.pid}/ns/net`;
  }

  /** A path as seen inside the namespace, reachable from the host through the holder's /proc/PID/root. */
  path(p: string): string {
    if (this.pid === undefined) throw new Error('the mount namespace is not started');
    return `/proc/${this.pid}/root${p}`;
  }

  /** Runs a command in the namespace; throws with its stderr on failure. */
  async run(argv: string[]): Promise<void> {
    const [file, ...args] = [...this.enter(), ...argv] as [string, ...string[]];
    const r = await execa(file, args, { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${String(r.stderr || r.stdout || r.shortMessage || '').trim()}`);
  }

  /** Ends the holder: the namespace and every mount in it go once no process is left in it. Idempotent. */
  stopSync(): void {
    if (this.pid !== undefined) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    this.pid = undefined;
  }

  async stop(): Promise<void> {
    this.stopSync();
    await this.holder?.catch(() => {});
    this.holder = undefined;
  }
}
