/**
 * A private Docker daemon for the tests (and for measuring by hand): `dockerd` with its own
 * data root, exec root, pidfile, socket and config under one temporary directory, no bridge, no
 * iptables/ip6tables rules, no IP forwarding or masquerading, overlay2 and the cgroupfs driver (so
 * that `--cgroup-parent /tsbench-oci/<id>` is a path). dockerd 20.10 starts its own containerd
 * (state under the exec root); its shims outlive a container for a moment. A user's own daemon
 * is never touched: the tests point the docker target at this one (`DriverOptions.dockerHost`,
 * or `DOCKER_HOST` for the CLI).
 *
 * Left nothing behind: `stop()` asks the daemon to stop (SIGTERM, it stops its containerd), kills
 * what of it is still running (the processes whose command line names the directory: containerd
 * and its shims), unmounts what is mounted under the directory and removes it. A test process
 * killed by SIGKILL leaves it to the next tsbench command's sweep (drivers/ownership.ts): the
 * directory is recorded, and made a mount point of its own (a bind mount on itself) so that one lazy
 * unmount detaches every overlay the daemon left mounted under it before the directory is removed;
 * the daemon and its children carry the owner's TSBENCH_OWNER mark and are killed by it.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { makeOwnedDir, ownerEnv, record } from '../../drivers/ownership.js';

export interface PrivateDockerd {
  /** `unix://DIR/docker.sock`: give it as `dockerHost` or `DOCKER_HOST`. */
  host: string;
  dir: string;
  /** The daemon's pid (it leads its own process group). */
  pid: number;
  /** `docker -H host ARGS`: a command against this daemon only. */
  docker(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Stops the daemon and removes everything it made; resolves with what it could not remove ([] when nothing is left). */
  stop(): Promise<string[]>;
}

/** The daemon's command line: flags dockerd 20.10 (Debian bookworm's docker.io) takes. */
export function dockerdArgs(dir: string): string[] {
  return [
    '--config-file',
    join(dir, 'daemon.json'),
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'dockerd.pid'),
    '-H',
    `unix://${join(dir, 'docker.sock')}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--storage-driver',
    'overlay2',
    '--exec-opt',
    'native.cgroupdriver=cgroupfs',
  ];
}

/** Why a private daemon cannot run here (one line), or undefined when it can. */
export async function dockerdUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'a private dockerd needs root';
  const d = await execa('dockerd', ['--version'], { reject: false, stdin: 'ignore' });
  if (d.exitCode !== 0) return 'dockerd is not installed (Debian: apt-get install docker.io; scripts/setup.sh installs it)';
  const c = await execa('docker', ['--version'], { reject: false, stdin: 'ignore' });
  if (c.exitCode !== 0) return 'the docker CLI is not installed (Debian: apt-get install docker.io)';
  return undefined;
}

/** Starts a private dockerd and waits until it answers; throws with its log's last lines when it does not within `timeoutMs`. */
export async function startPrivateDockerd(timeoutMs = 60_000): Promise<PrivateDockerd> {
  const dir = await makeOwnedDir(join(tmpdir(), 'tsbench-dockerd-'));
  // A mount point of its own, recorded first: the sweep's lazy unmount of it detaches every mount the daemon left below.
  record({ kind: 'mount', path: dir });
  await execa('mount', ['--bind', dir, dir]);
  await execa('mount', ['--make-private', dir]);
  // 20.10 writes its trust key to /etc/docker/key.json unless its configuration says otherwise (no flag does).
  writeFileSync(join(dir, 'daemon.json'), `${JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') })}\n`);
  const host = `unix://${join(dir, 'docker.sock')}`;
  const log = join(dir, 'dockerd.log');
  const daemon = execa('dockerd', dockerdArgs(dir), {
    detached: true,
    stdin: 'ignore',
    stdout: { file: log, append: true },
    stderr: { file: log, append: true },
    reject: false,
    cleanup: false,
    env: ownerEnv(),
  });
  const pid = daemon.pid as number;
  record({ kind: 'pgroup', pgid: pid });
  let exited = false;
  void daemon.then(() => (exited = true));
  const docker: PrivateDockerd['docker'] = async (args) => {
    const r = await execa('docker', ['-H', host, ...args], { reject: false, stdin: 'ignore' });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const stop = (): Promise<string[]> => stopDaemon(dir, pid, () => exited);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(join(dir, 'docker.sock')) && (await docker(['version', '--format', '{{.Server.Version}}'])).exitCode === 0) break;
    if (exited || Date.now() > deadline) {
      const tail = (readFileSafe(join(dir, 'dockerd.log')) ?? '').trim().split('\n').slice(-5).join('\n');
      await stop();
      throw new Error(`the private dockerd did not come up ${exited ? '(it exited)' : `within ${timeoutMs} ms`}:\n${tail}`);
    }
    await delay(100);
  }
  return { host, dir, pid, docker, stop };
}

/** Processes whose command line names `dir` (the daemon, its containerd, the shims). */
function processesNaming(dir: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmd = readFileSafe(`/proc/${p}/cmdline`);
    if (cmd?.includes(dir)) found.push(Number(p));
  }
  return found;
}

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function stopDaemon(dir: string, pid: number, exited: () => boolean): Promise<string[]> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Gone already.
  }
  // dockerd stops its containers and its containerd first: seconds at most with none running.
  for (let i = 0; i < 200 && !exited(); i++) await delay(50);
  for (const p of [pid, ...processesNaming(dir)]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  for (let i = 0; i < 100 && processesNaming(dir).length > 0; i++) await delay(20);
  const left: string[] = processesNaming(dir).map((p) => `process ${p}: ${(readFileSafe(`/proc/${p}/cmdline`) ?? '').replace(/\0/g, ' ')}`);
  // Every mount under the directory and the directory's own: one recursive lazy unmount.
  await execa('umount', ['--recursive', '--lazy', dir], { reject: false, stdin: 'ignore' });
  const still = (readFileSafe('/proc/self/mounts') ?? '').split('\n').filter((l) => l.split(' ')[1]?.startsWith(dir));
  left.push(...still.map((l) => `mount ${l}`));
  if (still.length === 0) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      left.push(`dir ${dir}: ${String(e)}`);
    }
  }
  return left;
}
