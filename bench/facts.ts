/**
 * What the host can give a run, as bench/preflight.ts reads it: a module of types only, which the
 * scenarios' preflight context and preflight itself share without importing each other.
 */

/** What this host can give a run, as read now. */
export interface HostFacts {
  /** CPUs tsbench may use: os.availableParallelism() (the affinity mask), within its cgroup's cpuset. */
  cpus: number;
  /** The open-file limit of this process (Node raises the soft limit to the hard one at start) and how many are open. */
  fds: { soft: number; hard: number; inUse: number };
  /** The most tasks (processes and threads) that can exist, which setting says so, and how many exist. */
  tasks: { limit: number; limitFrom: string; inUse: number };
  /** /proc/meminfo's MemTotal and MemAvailable. */
  memory: Meminfo;
}

/** The host's memory as /proc/meminfo says, in bytes. */
export interface Meminfo {
  totalBytes: number;
  availableBytes: number;
}
