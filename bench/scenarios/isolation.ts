/**
 * `isolation`: what an instance can see of its host (claim C8), and what
 * starting a container writes to its writable layer (claim C9).
 *
 * Before every sample tsbench plants a marker of each kind on the host, then
 * runs one probe inside the instance (busybox sh, an argv of the image's tools)
 * that looks for each marker, and removes the markers in a `finally` — also on
 * Ctrl-C, and from a process 'exit' hook if tsbench dies first:
 * - pids: the tsbench process itself; the probe hashes /proc/<its pid>/cmdline
 *   and the sample compares that with the host's hash (a pid alone could exist
 *   by chance in another pid namespace or guest).
 * - network: a link named `tsb-mark…` in the host's network namespace (type
 *   dummy, or bridge where the dummy module is missing), looked up in
 *   /proc/net/dev, which shows the reader's network namespace.
 * - mounts: a 4 KiB tmpfs mounted at a fresh /tmp/tsb-mark-XXXXXX, looked up in
 *   /proc/self/mounts.
 * - IPC: a SysV shared memory segment made with `ipcmk`, looked up by key and
 *   id in /proc/sysvipc/shm.
 * - hostname: nothing planted; the instance's /proc/sys/kernel/hostname is
 *   compared with the host's (tsbench's container sets `tsbench-<id>`).
 * Native is the control: it must see every marker; a native reading of 0 means
 * the probe is broken. A VM sees its own guest kernel, so 0 everywhere.
 *
 * Then what the instance may do to the kernel it runs on (its confinement,
 * drivers/linux/confinement.ts), each tried harmlessly: mount a tmpfs (on a fresh
 * temporary directory, unmounted at once), load a module (busybox insmod of a
 * 21-byte file that is no module), read /proc/kcore, set the clock (adjtimex
 * setting the tick to the value it has: needs CAP_SYS_TIME, changes nothing;
 * `date -s` would move the host's clock), and its process's `Seccomp:` and
 * `NoNewPrivs:` lines. Native root is the control (1, where the host kernel has
 * the feature: no /proc/kcore, no 1); a confined container reads 0; a VM's
 * root may do it all to its own guest kernel.
 *
 * Containers are launched with their upper layer on disk and `measureUpper`,
 * so the driver reports the bytes allocated in the upper directory once the
 * workload is ready (`upperBytesAtStart`), to set beside the image's root
 * filesystem (the result's `image.rootfsBytes`): starting a container copies
 * nothing of the image.
 */
import { createHash } from 'node:crypto';
import { rmdirSync } from 'node:fs';
import { readFile, rmdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { atExit } from '../../core/exit.js';
import { makeOwnedDir, record } from '../../drivers/index.js';
import { TargetError, describeError } from '../../core/errors.js';
import { ParseError, PROBE_TAG, parseProbe, probeInt } from './parsers/probe.js';
import { sampleFrom, type Scenario } from './types.js';

const BUSYBOX = '/bin/busybox';
/** Every marker's name starts with this; tests look for leftovers by it. */
export const MARKER_PREFIX = 'tsb-mark';

/** What was planted on the host for one sample. */
export interface HostMarkers {
  /** A host process (tsbench itself) and the md5 of its /proc/<pid>/cmdline. */
  pid: number;
  pidCmdlineMd5: string;
  /** A network link in the host's network namespace, and its type. */
  netName: string;
  netKind: string;
  /** Mount point of a tmpfs mounted on the host. */
  mountDir: string;
  /** A SysV shared memory segment: its id and key, as /proc/sysvipc/shm prints them. */
  shmId: number;
  shmKey: number;
  /** The host's hostname. */
  hostname: string;
}

let seq = 0;

/** Link types tried in turn for the network marker (dummy needs a module that some kernels lack). */
const LINK_KINDS = ['dummy', 'bridge'] as const;

/**
 * Plants one marker of each kind on the host; `remove()` takes them all away
 * (idempotent). If planting fails half way, what was planted is removed before
 * the error is thrown.
 */
export async function plantMarkers(): Promise<{ markers: HostMarkers; remove: () => Promise<void> }> {
  const undo: { async: () => Promise<unknown>; sync: () => void }[] = [];
  const unregister = atExit(() => {
    for (const u of [...undo].reverse()) {
      try {
        u.sync();
      } catch {
        // Best effort: the process is exiting.
      }
    }
  });
  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removed ??= (async () => {
      const errors: string[] = [];
      for (const u of [...undo].reverse()) await u.async().catch((e: unknown) => errors.push(describeError(e)));
      unregister();
      if (errors.length > 0) throw new Error(`removing the host markers: ${errors.join('; ')}`);
    })());
  try {
    const cmdline = await readFile('/proc/self/cmdline');
    const pidCmdlineMd5 = createHash('md5').update(cmdline).digest('hex');

    // Interface names are at most 15 bytes: the prefix, then tsbench's pid and a counter in base 36.
    const netName = `${MARKER_PREFIX}${process.pid.toString(36)}${(++seq % 1296).toString(36)}`.slice(0, 15);
    let netKind: string | undefined;
    const failures: string[] = [];
    for (const kind of LINK_KINDS) {
      try {
        record({ kind: 'link', name: netName });
        await execa('ip', ['link', 'add', netName, 'type', kind]);
        netKind = kind;
        break;
      } catch (e) {
        failures.push(`${kind}: ${(e as { stderr?: string }).stderr?.trim() || describeError(e)}`);
      }
    }
    if (netKind === undefined)
      throw new Error(`cannot create a network link in the host's namespace (${failures.join('; ')}): isolation needs root and iproute2`);
    undo.push({ async: () => execa('ip', ['link', 'del', netName]), sync: () => execaSync('ip', ['link', 'del', netName]) });

    const mountDir = await makeOwnedDir(join(tmpdir(), `${MARKER_PREFIX}-`));
    undo.push({ async: () => rmdir(mountDir), sync: () => rmdirSync(mountDir) });
    record({ kind: 'mount', path: mountDir });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0700', MARKER_PREFIX, mountDir]);
    undo.push({ async: () => execa('umount', [mountDir]), sync: () => execaSync('umount', ['-l', mountDir]) });

    const { stdout } = await execa('ipcmk', ['-M', '4096', '-p', '0600']);
    const id = /id:\s*(\d+)/.exec(stdout)?.[1];
    if (id === undefined) throw new Error(`ipcmk printed no id: ${stdout}`);
    const shmId = Number(id);
    // Its id is known only once it exists: a SIGKILL right before this line leaves the segment unrecorded.
    record({ kind: 'shm', id: shmId });
    undo.push({ async: () => execa('ipcrm', ['-m', String(shmId)]), sync: () => execaSync('ipcrm', ['-m', String(shmId)]) });
    const row = (await readFile('/proc/sysvipc/shm', 'utf8'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[1] === String(shmId));
    if (row?.[0] === undefined) throw new Error(`the segment ${shmId} that ipcmk made is not in /proc/sysvipc/shm`);
    const shmKey = Number(row[0]);

    return { markers: { pid: process.pid, pidCmdlineMd5, netName, netKind, mountDir, shmId, shmKey, hostname: hostname() }, remove };
  } catch (e) {
    await remove().catch(() => {});
    throw e;
  }
}

/**
 * The probe, a busybox sh script; its arguments are the markers ($1 pid, $2 link,
 * $3 mount point, $4 shm id, $5 shm key). It prints `tsbench-probe KEY=VALUE` lines.
 */
const PROBE = `
p() { echo "${PROBE_TAG} $1"; }
n=0; for d in /proc/[0-9]*; do [ -d "$d" ] && n=$((n+1)); done; p "visiblePids=$n"
if [ -r "/proc/$1/cmdline" ]; then p "pidCmdlineMd5=$(md5sum < "/proc/$1/cmdline" | cut -d' ' -f1)"; else p "pidCmdlineMd5=none"; fi
p "netInterfaces=$(tail -n +3 /proc/net/dev | wc -l)"
if grep -q "^ *$2:" /proc/net/dev; then p netMarker=1; else p netMarker=0; fi
p "mounts=$(wc -l < /proc/self/mounts)"
if grep -q "^[^ ]* $3 " /proc/self/mounts; then p mountMarker=1; else p mountMarker=0; fi
p "shmMarker=$(awk -v k="$5" -v i="$4" '$1 == k && $2 == i { f = 1 } END { print f + 0 }' /proc/sysvipc/shm 2>/dev/null || echo 0)"
p "ipcObjects=$(cat /proc/sysvipc/shm /proc/sysvipc/msg /proc/sysvipc/sem 2>/dev/null | grep -vc '^ *key')"
p "hostname=$(cat /proc/sys/kernel/hostname)"
s(){ awk -v k=$1: '$1==k{v=$2}END{print v+0}' /proc/self/status; }
p seccompMode=$(s Seccomp); p noNewPrivs=$(s NoNewPrivs)
B=${BUSYBOX}; d=$($B mktemp -d)
$B mount -t tmpfs t $d 2>/dev/null && $B umount $d; p canMount=$((!$?))
echo x >$d/m; $B insmod $d/m 2>&1 | grep -q permit; p canLoadModules=$(($?>0)); rm -r $d
p canReadKcore=$(($(head -c4 /proc/kcore 2>/dev/null | wc -c)>0))
t=$($B adjtimex | awk '$2=="tick:"{print $3}'); $B adjtimex -t \${t:-0} >/dev/null 2>&1; p canSetClock=$((!$?))
p end
`;

/** The probe's argv for these markers. */
export function probeArgv(m: HostMarkers): string[] {
  return [BUSYBOX, 'sh', '-c', PROBE, 'probe', String(m.pid), m.netName, m.mountDir, String(m.shmId), String(m.shmKey)];
}

const CAN = (what: string): string => `1 when the instance may ${what}, 0 when it may not (native root, the control, reads 1)`;

const SEES = (what: string): string => `1 when the instance sees the host's ${what}, 0 when it does not (native, the control, must read 1)`;

export const isolation: Scenario = {
  name: 'isolation',
  description:
    "what an instance sees of the host (C8): markers planted on the host (a process, a network link, a tmpfs mount, a SysV shm segment, the hostname) looked for inside; the container's upper layer after start (C9). VMs see their own guest: 0 expected",
  metrics: [
    { name: 'seesHostPids', unit: 'bool', better: 'lower', description: SEES('processes: /proc/<tsbench pid>/cmdline inside hashes as on the host') },
    {
      name: 'seesHostNet',
      unit: 'bool',
      better: 'lower',
      description: SEES("network namespace: a tsb-mark… link made on the host is listed in the instance's /proc/net/dev"),
    },
    {
      name: 'seesHostMounts',
      unit: 'bool',
      better: 'lower',
      description: SEES("mounts: a tmpfs mounted on the host at /tmp/tsb-mark-… is in the instance's /proc/self/mounts"),
    },
    { name: 'seesHostHostname', unit: 'bool', better: 'lower', description: SEES('hostname: /proc/sys/kernel/hostname inside equals os.hostname()') },
    {
      name: 'seesHostIpc',
      unit: 'bool',
      better: 'lower',
      description: SEES('SysV IPC: a shm segment made with ipcmk on the host is in /proc/sysvipc/shm, same key and id'),
    },
    {
      name: 'visiblePids',
      headline: true,
      unit: 'count',
      better: 'lower',
      description: 'processes the instance can see: numeric entries of its /proc (the probe itself included)',
    },
    { name: 'netInterfaces', unit: 'count', better: 'lower', description: 'network interfaces the instance can see: rows of its /proc/net/dev (lo included)' },
    { name: 'mounts', unit: 'count', better: 'lower', description: 'lines of /proc/self/mounts inside the instance' },
    { name: 'ipcObjects', unit: 'count', better: 'lower', description: 'SysV IPC objects (shm, msg, sem) visible inside: rows of /proc/sysvipc/*' },
    {
      name: 'canMount',
      unit: 'bool',
      better: 'lower',
      description: CAN('mount: busybox mount -t tmpfs on a fresh directory succeeds (CAP_SYS_ADMIN, seccomp)'),
    },
    {
      name: 'canLoadModules',
      unit: 'bool',
      better: 'lower',
      description: CAN(
        'load kernel modules: busybox insmod of a file that is no module is refused for anything but EPERM (bad format, or a kernel without modules) (CAP_SYS_MODULE, seccomp)',
      ),
    },
    {
      name: 'canReadKcore',
      unit: 'bool',
      better: 'lower',
      description: CAN('read kernel memory: /proc/kcore yields bytes (CAP_SYS_RAWIO, masked path); 0 natively too where the kernel has no /proc/kcore'),
    },
    {
      name: 'canSetClock',
      unit: 'bool',
      better: 'lower',
      description: CAN('set the clock: adjtimex -t with the current tick succeeds (CAP_SYS_TIME; the tick is left as it was)'),
    },
    {
      name: 'seccompMode',
      unit: 'mode',
      better: 'higher',
      description: "the Seccomp: line of the probe's /proc/self/status: 0 no filter, 2 a seccomp filter (Docker's default profile in a confined container)",
    },
    { name: 'noNewPrivs', unit: 'bool', better: 'higher', description: "the NoNewPrivs: line of the probe's /proc/self/status (1 in a confined container)" },
    {
      name: 'upperBytesAtStart',
      unit: 'bytes',
      better: 'lower',
      description:
        "containers with an upper layer on disk: bytes allocated (st_blocks × 512) in the instance's overlay upper directory, itself included, once the workload is ready; compare with the image's rootfsBytes (C9)",
    },
    {
      name: 'upperEntriesAtStart',
      unit: 'count',
      better: 'lower',
      description: 'containers: files and directories in the upper directory once the workload is ready',
    },
  ],
  defaults: { runs: 3, warmup: 0 },
  parameters: () => ({
    probe:
      'busybox sh: /proc pids, /proc/net/dev, /proc/self/mounts, /proc/sysvipc/*, /proc/sys/kernel/hostname; mount -t tmpfs, insmod of a non-module, /proc/kcore, adjtimex -t, Seccomp and NoNewPrivs of /proc/self/status',
    markers: 'host process (tsbench), network link tsb-mark… (dummy or bridge), tmpfs at /tmp/tsb-mark-…, SysV shm (ipcmk), hostname',
    containerUpper: 'disk (measured after ready)',
  }),
  async sample(driver, ctx) {
    const { markers, remove } = await plantMarkers();
    try {
      const instance = await driver.launch({
        job: { kind: 'exec', argv: probeArgv(markers) },
        limits: ctx.limits,
        upper: 'disk',
        measureUpper: true,
        signal: ctx.signal,
      });
      const r = await instance.result;
      if (r.status !== 'ok')
        throw new TargetError(driver.name, 'isolation', r.reason ?? `the probe ended ${r.status}`, { tail: [...r.stderr, ...r.tail].slice(-20) });
      let v: Map<string, string>;
      try {
        v = parseProbe(r.stdout, [
          'visiblePids',
          'pidCmdlineMd5',
          'netInterfaces',
          'netMarker',
          'mounts',
          'mountMarker',
          'shmMarker',
          'ipcObjects',
          'hostname',
          'seccompMode',
          'noNewPrivs',
          'canMount',
          'canLoadModules',
          'canReadKcore',
          'canSetClock',
        ]);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        throw new TargetError(driver.name, 'isolation', e.message, { cause: e, tail: [...r.stdout, ...r.stderr].slice(-20) });
      }
      const bit = (key: string): number => (probeInt(v, key) > 0 ? 1 : 0);
      const insideHostname = v.get('hostname') ?? '';
      const values: Record<string, number> = {
        seesHostPids: v.get('pidCmdlineMd5') === markers.pidCmdlineMd5 ? 1 : 0,
        seesHostNet: bit('netMarker'),
        seesHostMounts: bit('mountMarker'),
        seesHostHostname: insideHostname === markers.hostname ? 1 : 0,
        seesHostIpc: bit('shmMarker'),
        visiblePids: probeInt(v, 'visiblePids'),
        netInterfaces: probeInt(v, 'netInterfaces'),
        mounts: probeInt(v, 'mounts'),
        ipcObjects: probeInt(v, 'ipcObjects'),
        canMount: bit('canMount'),
        canLoadModules: bit('canLoadModules'),
        canReadKcore: bit('canReadKcore'),
        canSetClock: bit('canSetClock'),
        seccompMode: probeInt(v, 'seccompMode'),
        noNewPrivs: bit('noNewPrivs'),
      };
      const upperBytes = r.extra?.['upperBytesAtStart'];
      const upperEntries = r.extra?.['upperEntriesAtStart'];
      if (typeof upperBytes === 'number') values['upperBytesAtStart'] = upperBytes;
      if (typeof upperEntries === 'number') values['upperEntriesAtStart'] = upperEntries;
      const s = sampleFrom(r, values);
      return {
        ...s,
        extra: {
          ...s.extra,
          instanceHostname: insideHostname,
          markers: {
            pid: markers.pid,
            link: `${markers.netName} (${markers.netKind})`,
            mount: markers.mountDir,
            shm: { id: markers.shmId, key: markers.shmKey },
          },
        },
      };
    } finally {
      await remove();
    }
  },
};
