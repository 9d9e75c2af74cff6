/**
 * Parsers for the net scenario's two tools, client side: iperf3's `-J` report
 * (TCP bulk throughput) and the text `sockperf ping-pong --full-rtt` prints
 * (TCP request/response round trips). Each returns the figures or throws a
 * ParseError naming what is missing; a connection the tool could not make is a
 * `refused` result instead, so the caller can retry while the server is
 * starting (both tools exit 0 then). Fixtures of real output in test/fixtures/.
 */
import { z } from 'zod';
import { ParseError } from './sysbench.js';

export { ParseError };

/** What one iperf3 client run measured: the receiver's view of the whole test. */
export interface Iperf3Result {
  /** Bits per second that arrived (`end.sum_received.bits_per_second`). */
  bitsPerSecond: number;
  /** Seconds the receiver measured over. */
  seconds: number;
  /** Retransmitted segments on the sending side, where iperf3 reports them (`end.sum_sent.retransmits`). */
  retransmits?: number;
}

/** The connection was not made (the server not listening yet, no route yet): worth a retry. */
export interface NotConnected {
  refused: string;
}

const Sum = z.object({ seconds: z.number(), bits_per_second: z.number(), retransmits: z.number().optional() });
const Iperf3Json = z.object({
  error: z.string().optional(),
  end: z.object({ sum_received: Sum.optional(), sum_sent: Sum.optional() }).partial().optional(),
});

/** The errors that mean "not there yet", not "broken". */
const NOT_YET = /Connection refused|No route to host|Network is unreachable|Connection reset|timed out/i;

export function parseIperf3Json(text: string): Iperf3Result | NotConnected {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ParseError(`iperf3 printed no JSON report: ${text.trim().split('\n')[0] ?? '(nothing)'}`);
  }
  const r = Iperf3Json.safeParse(raw);
  if (!r.success) throw new ParseError(`iperf3's report has an unexpected shape: ${r.error.issues[0]?.message ?? ''}`);
  const { error, end } = r.data;
  if (error !== undefined) {
    if (NOT_YET.test(error)) return { refused: error };
    throw new ParseError(`iperf3: ${error}`);
  }
  const received = end?.sum_received;
  if (received === undefined || !(received.seconds > 0)) throw new ParseError("iperf3's report has no end.sum_received");
  return {
    bitsPerSecond: received.bits_per_second,
    seconds: received.seconds,
    ...(end?.sum_sent?.retransmits !== undefined ? { retransmits: end.sum_sent.retransmits } : {}),
  };
}

/** What one `sockperf ping-pong --full-rtt` run measured, over its valid duration (after its own warm-up). */
export interface SockperfResult {
  /** Round trips answered per second: received messages ÷ the valid duration. */
  transactionsPerSecond: number;
  /** Mean round trip in µs ("Summary: Round trip is"). */
  meanRttUs: number;
  p50RttUs: number;
  p99RttUs: number;
  /** Round trips observed. */
  observations: number;
}

/** The colour escapes sockperf prints around some lines (ESC [ … m). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

export function parseSockperf(text: string): SockperfResult | NotConnected {
  const plain = text.replace(ANSI, '');
  const error = /ERROR:\s*(.*)/.exec(plain)?.[1];
  if (error !== undefined) {
    if (NOT_YET.test(error)) return { refused: error.trim() };
    throw new ParseError(`sockperf: ${error.trim()}`);
  }
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(plain);
    if (!m) throw new ParseError(`sockperf's output has no ${what}`);
    return m;
  };
  const valid = need(/\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)/, '"[Valid Duration]" line');
  const seconds = Number(valid[1]);
  const received = Number(valid[3]);
  if (!(seconds > 0) || !(received > 0)) throw new ParseError('sockperf observed no round trip');
  const mean = need(/Summary: Round trip is ([\d.]+) usec/, '"Round trip is" summary (was it run with --full-rtt?)');
  const pct = (p: string): number => Number(need(new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([\\d.]+)`), `${p} percentile`)[1]);
  return {
    transactionsPerSecond: received / seconds,
    meanRttUs: Number(mean[1]),
    p50RttUs: pct('50.000'),
    p99RttUs: pct('99.000'),
    observations: received,
  };
}

export function connected<T extends object>(r: T | NotConnected): r is T {
  return !('refused' in r);
}
