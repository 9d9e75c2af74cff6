/**
 * tsbench's error classes. Messages are one line, say what is wrong and name the
 * flag, file or command that fixes it; `cause` keeps the underlying error.
 */

/** Bad input from the user: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A target failed while preparing or running; other targets go on. */
export class TargetError extends Error {
  override name = 'TargetError';
  readonly target: string;
  readonly step: string;
  /** Last lines the workload or VM console printed, for the report. */
  readonly tail: string[];
  constructor(target: string, step: string, message: string, options?: { cause?: unknown; tail?: string[] }) {
    super(`[tsbench] [${target}] ${step}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.target = target;
    this.step = step;
    this.tail = options?.tail ?? [];
  }
}

/** The run was interrupted (SIGINT/SIGTERM); what was measured so far is kept. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(message = 'interrupted') {
    super(message);
  }
}

/** A short, single-line description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
