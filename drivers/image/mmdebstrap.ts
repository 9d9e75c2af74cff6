/**
 * Running mmdebstrap for the Debian image (drivers/image/debian.ts): where its
 * packages come from (the host's own apt sources), the one command line, its
 * progress, and a failure said in one line: the step it was at and, when apt
 * says so, the package or the package source that failed.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ExecaError } from 'execa';
import { atExit } from '../../core/exit.js';
import { ImageError } from './cache.js';

/** How many of mmdebstrap's last output lines a failure keeps (in its cause's `tail`). */
export const TAIL_LINES = 15;

/** A file with at least one line that is neither blank nor a comment. */
function hasEntries(path: string): boolean {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  } catch {
    return false;
  }
}

/**
 * The host's apt source files, as mmdebstrap takes them for mirror arguments:
 * `sources.list` when it names something, then `sources.list.d/*.sources` and
 * `*.list` in name order (a `*.disabled` or `*.save` file is not apt's either).
 * The Debian image is built from exactly what the host's apt uses: no mirror is
 * named in tsbench. None: an ImageError (exit 2) saying so.
 */
export function hostSources(aptDir = '/etc/apt'): string[] {
  const found: string[] = [];
  const list = join(aptDir, 'sources.list');
  if (hasEntries(list)) found.push(list);
  const dir = join(aptDir, 'sources.list.d');
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    // No sources.list.d.
  }
  for (const name of names) if ((name.endsWith('.sources') || name.endsWith('.list')) && hasEntries(join(dir, name))) found.push(join(dir, name));
  if (found.length === 0)
    throw new ImageError(
      `no apt sources on this host (${list} names none and ${dir} has no .sources or .list file): ` +
        'the Debian image is built from the host apt sources; add one (sources.list(5)), e.g. as apt-get update needs',
      { exitCode: 2 },
    );
  return found;
}

let versionOnce: Promise<string> | undefined;

/** `mmdebstrap --version` (e.g. `1.3.5`), once per process; an ImageError (exit 2) when it is not installed. */
export function mmdebstrapVersion(): Promise<string> {
  versionOnce ??= execa('mmdebstrap', ['--version'], { env: { LC_ALL: 'C' } }).then(
    ({ stdout }) => stdout.trim().replace(/^mmdebstrap\s+/, ''),
    (error: unknown) => {
      versionOnce = undefined;
      const missing = (error as ExecaError).code === 'ENOENT';
      throw new ImageError(
        missing ? 'mmdebstrap not found, and the Debian image is built with it: apt-get install mmdebstrap' : `mmdebstrap --version failed`,
        {
          cause: error,
          exitCode: missing ? 2 : 1,
        },
      );
    },
  );
  return versionOnce;
}

/** The cause of a failed mmdebstrap: its exit and the last lines of its output (kept nowhere else). */
export class MmdebstrapFailure extends Error {
  override name = 'MmdebstrapFailure';
  constructor(
    readonly why: string,
    /** the last TAIL_LINES lines of mmdebstrap's output */
    readonly tail: string[],
  ) {
    super(`mmdebstrap ${why}; its last lines:\n${tail.join('\n')}`);
  }
}

/** What a failed mmdebstrap's output says went wrong: the step, the package or source to blame, and apt's line. */
export type FailureExplanation = { step: string | undefined; blame: string | undefined; detail: string | undefined };

/** mmdebstrap's own wrapper lines around apt's error, which say nothing apt did not. */
const WRAPPER =
  /^E: (mmdebstrap failed to run|setup failed: .*|(apt-get|dpkg|env|chroot|run_chroot|run_hooks|run_install|run_download) .* failed.*|.* failed: \d+)$/;

/** The first `URIs:` (deb822) or `deb URI` (one-line) of a sources file that `url` starts with. */
function sourceOf(url: string, sources: readonly string[]): { uri: string; file: string } | undefined {
  for (const file of sources) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const uris = [
      ...[...text.matchAll(/^\s*URIs:\s*(.+)$/gim)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/)),
      ...[...text.matchAll(/^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)].map((m) => m[1] ?? ''),
    ];
    for (const uri of uris) if (uri !== '' && url.startsWith(uri.replace(/\/+$/, ''))) return { uri: uri.replace(/\/+$/, ''), file };
  }
  return undefined;
}

/**
 * Reads a failed run's output: the step is the last `I:` line before the first
 * `E:` line ("downloading packages with apt"); the blame is the package or source
 * apt names ("Unable to locate package X", "Failed to fetch …/X_1.0_amd64.deb",
 * "Package X has no installation candidate", a source it could not reach); the
 * detail is the `E:` line that says so, else the last `E:` line of apt's own.
 */
export function explainFailure(lines: readonly string[], sources: readonly string[]): FailureExplanation {
  let step: string | undefined;
  for (const line of lines) {
    if (line.startsWith('E:')) break;
    if (line.startsWith('I: ') && !line.startsWith('I: main() received')) step = line.slice(3).replace(/\.\.\.$/, '');
  }
  const errors = lines.filter((l) => l.startsWith('E:') && !WRAPPER.test(l));
  let blame: string | undefined;
  let detail: string | undefined;
  const find = (re: RegExp, say: (m: RegExpExecArray) => string): void => {
    if (blame !== undefined) return;
    for (const line of lines) {
      const m = re.exec(line);
      if (!m) continue;
      blame = say(m);
      detail = line.trim();
      return;
    }
  };
  find(/^E: Unable to locate package (\S+)/, (m) => `no package ${m[1]} in the package sources (${sources.join(', ')})`);
  find(
    /Package '?([^\s']+)'? has no installation candidate/,
    (m) => `package ${m[1]} has no installation candidate in the package sources (${sources.join(', ')})`,
  );
  find(/^\s*(\S+) : Depends: /, (m) => `package ${m[1]} has unmet dependencies`);
  find(/^E: Failed to fetch (\S+\/([^/_\s]+)_[^/\s]*\.deb)\b/, (m) => `could not download package ${m[2]} (${m[1]})`);
  find(/^E: Failed to fetch (\S+)/, (m) => {
    const from = sourceOf(m[1] ?? '', sources);
    return from ? `could not reach the package source ${from.uri} (from ${from.file})` : `could not reach the package source of ${m[1]}`;
  });
  find(/^E: The repository '(\S+)[^']*' does not have a Release file/, (m) => {
    const from = sourceOf(m[1] ?? '', sources);
    return `the package source ${m[1]} has no Release file${from ? ` (from ${from.file})` : ''}`;
  });
  detail ??= errors[errors.length - 1];
  return { step, blame, detail };
}

/** One line from an explanation, e.g. "… failed while running apt-get update: could not reach …; apt: E: Failed to fetch …". */
export function failureMessage(x: FailureExplanation, why: string): string {
  const clip = (s: string): string => (s.length > 300 ? `${s.slice(0, 297)}...` : s);
  const parts = [`building the Debian image failed${x.step !== undefined ? ` while ${x.step}` : ''} (mmdebstrap ${why})`];
  if (x.blame !== undefined) parts[0] += `: ${x.blame}`;
  if (x.detail !== undefined) parts.push(`apt said: ${clip(x.detail)}`);
  return parts.join('; ');
}

/** An `I:` line for the progress log: a hook's command without the `sh -c` around it and the tree's path after it. */
export function shortInfo(line: string): string {
  const hook = /^running --(\w+)-hook in shell: sh -c '(.*)' exec \S+$/.exec(line);
  const text = hook ? `${hook[1]} hook: ${hook[2] ?? ''}` : line;
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** The lines of mmdebstrap's output that explainFailure reads. */
const NOTE = /^(I: |E: |W: |Err:)|installation candidate| : Depends: /;

/**
 * Runs mmdebstrap (argv after the program name) in a mount namespace of its own
 * (`unshare --mount --propagation private`): in root mode it mounts /proc, /sys
 * and device nodes inside the tree, and there those mounts are invisible to the
 * host and end with it, so that removing a killed build's tree (the next command's
 * sweep, drivers/ownership.ts) can never reach the host's /dev or /sys through
 * them. Its process group is killed at exit (Ctrl-C). `onInfo` gets each `I:`
 * line with the seconds since the start; a failure is an ImageError whose one-line
 * message names the step and what failed, with a MmdebstrapFailure as cause.
 */
export async function runMmdebstrap(args: string[], sources: readonly string[], onInfo: (line: string, seconds: number) => void): Promise<void> {
  if (!existsSync('/usr/bin/unshare') && !existsSync('/bin/unshare')) throw new ImageError('unshare not found: apt-get install util-linux', { exitCode: 2 });
  const started = process.hrtime.bigint();
  // What explainFailure reads (every I:/E: line and apt's own complaints, in order; a few dozen) and the tail.
  const notes: string[] = [];
  const tail: string[] = [];
  const sub = execa('unshare', ['--mount', '--propagation', 'private', '--', 'mmdebstrap', ...args], {
    all: true,
    buffer: false,
    detached: true,
    stdin: 'ignore',
    env: { LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
  });
  const unkill = atExit(() => {
    try {
      if (sub.pid !== undefined) process.kill(-sub.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }, 'kill');
  try {
    for await (const line of sub.iterable({ from: 'all' })) {
      if (NOTE.test(line)) notes.push(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      if (line.startsWith('I: ')) onInfo(shortInfo(line.slice(3)), Number(process.hrtime.bigint() - started) / 1e9);
    }
    await sub;
  } catch (error) {
    const e = error as ExecaError;
    if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new ImageError('mmdebstrap or unshare not found, and the Debian image is built with them: apt-get install mmdebstrap util-linux', {
        cause: error,
        exitCode: 2,
      });
    const why = e.exitCode !== undefined ? `exit ${e.exitCode}` : (e.signal ?? e.shortMessage);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const message = failureMessage(explainFailure(notes, sources), `${why} after ${seconds.toFixed(1)} s`);
    throw new ImageError(message, { cause: new MmdebstrapFailure(why, tail) });
  } finally {
    unkill();
  }
}
