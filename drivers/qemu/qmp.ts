/**
 * A minimal QMP client (QEMU Machine Protocol, JSON lines over a unix socket), for what the
 * restored VMs need (drivers/qemu/snapshot.ts): connect once the socket is there, leave
 * capabilities negotiation, run commands one at a time, and keep every event with the host's
 * CLOCK_MONOTONIC time of its arrival (the clock the launcher's fork is read on).
 */
import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

/** An event QEMU sent, with the host time its line arrived (CLOCK_MONOTONIC ns, as process.hrtime.bigint). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  atNs: bigint;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Qmp {
  /** Every event so far, in order. */
  readonly events: QmpEvent[] = [];
  /** When QEMU's greeting arrived: QEMU is up and serving its monitor. */
  greetedNs?: bigint;
  private readonly pending: Pending[] = [];
  private waiters: { match: (e: QmpEvent) => boolean; resolve: (e: QmpEvent) => void }[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {}

  /**
   * Connects to QEMU's `-qmp unix:PATH,server=on,wait=off` socket, retrying every 2 ms until it is there (QEMU makes it
   * while it starts), and negotiates capabilities. `alive` says whether to go on trying (the QEMU process still runs).
   */
  static async connect(path: string, opts: { timeoutMs: number; alive: () => boolean }): Promise<Qmp> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket !== undefined) {
        const qmp = new Qmp(socket);
        await qmp.start();
        return qmp;
      }
      if (Date.now() > deadline) throw new Error(`QMP socket ${path} did not answer in ${opts.timeoutMs} ms`);
      if (!opts.alive()) throw new Error('QEMU ended before its QMP socket answered');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private async start(): Promise<void> {
    const greeting = new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: this.socket, crlfDelay: Infinity });
      let first = true;
      rl.on('line', (line) => {
        const at = process.hrtime.bigint();
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (first && 'QMP' in msg) {
          first = false;
          this.greetedNs = at;
          resolve();
        } else if ('event' in msg) {
          const e: QmpEvent = { event: String(msg['event']), data: msg['data'] as Record<string, unknown> | undefined, atNs: at };
          this.events.push(e);
          const [hit, rest] = partition(this.waiters, (w) => w.match(e));
          this.waiters = rest;
          for (const w of hit) w.resolve(e);
        } else if ('return' in msg || 'error' in msg) {
          const p = this.pending.shift();
          if (p === undefined) return;
          if ('error' in msg) {
            const err = msg['error'] as { class?: string; desc?: string };
            p.reject(new Error(`QMP: ${err.desc ?? 'error'}${err.class !== undefined ? ` (${err.class})` : ''}`));
          } else p.resolve(msg['return']);
        }
      });
      const end = (): void => {
        this.closed = true;
        reject(new Error('QMP connection closed before the greeting'));
        for (const p of this.pending.splice(0)) p.reject(new Error('QMP connection closed'));
      };
      this.socket.once('close', end);
      this.socket.on('error', () => {});
      // readline re-emits its input's errors (ECONNRESET when QEMU quits after a migration): 'close' follows and ends it.
      rl.on('error', () => {});
    });
    await greeting;
    await this.execute('qmp_capabilities');
  }

  /** Runs one command; resolves with its `return`, rejects with its `error`. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`QMP connection closed (${command})`));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(`${JSON.stringify(args !== undefined ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  /** The first event (already received, or to come) that matches, or a rejection after `timeoutMs`. */
  waitEvent(match: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching QMP event in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

function partition<T>(xs: T[], p: (x: T) => boolean): [T[], T[]] {
  return [xs.filter(p), xs.filter((x) => !p(x))];
}
