/**
 * Step times measured while runs shared the machine (--parallel N) are not those of a run alone: the
 * speed findings say so, next to their numbers, wherever they are shown (terminal, report, dashboard).
 */
import type { Finding, RunSummary } from './summary.js';

/** The caveat (a sentence) the speed findings of these runs need, or undefined when every run was timed alone. */
export function sharedTimingNote(runs: readonly RunSummary[]): string | undefined {
  const shared = runs.filter((r) => r.timing && r.timing.runsAtOnce > 1);
  if (shared.length === 0) return undefined;
  const most = Math.max(...shared.map((r) => r.timing!.runsAtOnce));
  if (shared.every((r) => r.timing!.stepTimeFrom === 'isolated'))
    return `Step times re-measured with each batch size alone, after training up to ${most} runs at once.`;
  return `Timed with up to ${most} runs at once sharing the machine: not comparable with runs alone; --timing isolated re-measures them alone.`;
}

/** Whether a finding states a throughput or a step time (the steps-to-target ones do not depend on timing). */
const isTimed = (f: Finding) => f.claim === 'samples-per-sec' || f.claim === 'step-time';

/** The findings with the timing caveat added to each one that states a measured speed (unchanged when there is none). */
export function withTimingNote(findings: readonly Finding[], runs: readonly RunSummary[]): Finding[] {
  const note = sharedTimingNote(runs);
  if (note === undefined) return [...findings];
  return findings.map((f) => (isTimed(f) ? { ...f, text: `${f.text} ${note}` } : f));
}
