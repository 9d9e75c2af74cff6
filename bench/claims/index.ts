/** Claim verdicts from results — placeholder until issue 7's rules land. */
import type { LoadedResult } from '../load.js';
import type { HostClaims } from './types.js';

export type { ClaimVerdict, ClaimPart, Figure, HostClaims, Verdict } from './types.js';

/** Judges every claim for every host found in the results. */
export function evaluateClaims(results: readonly LoadedResult[]): HostClaims[] {
  const hosts = new Map<string, string[]>();
  for (const r of results) hosts.set(r.result.host.hostname, [...(hosts.get(r.result.host.hostname) ?? []), r.path]);
  return [...hosts].map(([host, sources]) => ({ host, sources, verdicts: [] }));
}
