/**
 * The bridge from external trials to the find-max search (src/core/search.ts): a probe function that
 * runs the command at one batch size and answers in the search's terms.
 */
import { BatchlabError } from '../../core/errors.js';
import type { ProbeResult } from '../../core/search.js';
import type { BudgetMeasure, RunTrialOptions, TrialResult, TrialRunner } from './runner.js';
import type { TrialValues } from './template.js';

/** Options of externalProbe: those of runTrial, except that the batch comes from the search. */
export interface ExternalProbeOptions extends Omit<RunTrialOptions, 'values'> {
  /** Runs the trials and owns their processes; dispose it after the search. */
  runner: TrialRunner;
  /** The other values of every trial (lr, max steps, seed). The micro-batch is the batch: a probe measures one pass. */
  values?: Omit<TrialValues, 'batch' | 'microBatch' | 'accum'>;
  /** Called with every finished trial (for progress output and the store). */
  onTrial?: (result: TrialResult) => void;
}

/** The peak memory a probe reports: the measure the budget is on. */
export function probePeakBytes(r: TrialResult, on: BudgetMeasure): number | undefined {
  return on === 'rss' ? r.peakRssBytes : on === 'gpu' ? r.peakGpuBytes : r.reportedPeakBytes;
}

/** The last stderr lines, indented, for a probe's error message. */
function stderrBlock(r: TrialResult, lines = 15): string {
  const tail = r.stderrTail.slice(-lines);
  return tail.length === 0 ? ' (no stderr output)' : `; stderr:\n  ${tail.join('\n  ')}`;
}

/**
 * Maps a trial to a probe result:
 * - 'ok' -> ok with the peak of the budget's measure (tree RSS unless budgetOn says otherwise);
 * - 'oom', 'over-budget' -> those kinds: they steer the search;
 * - 'error' -> 'error', with the stderr tail: the search stops and shows it;
 * - 'timeout' -> 'error' too. A slow large batch is not a batch that does not fit: counting a
 *   timeout as a memory failure would make find-max quietly answer a smaller batch because the time
 *   limit was short. (Thrashing in swap is the one case where slowness means memory; a budget
 *   catches that directly.) The message says to raise the timeout or lower the steps;
 * - 'interrupted' -> throws BATCHLAB_INTERRUPTED: the user stopped the search, so it must not go on.
 */
export function toProbeResult(r: TrialResult): ProbeResult {
  switch (r.outcome) {
    case 'ok':
      return { ok: true, peakBytes: probePeakBytes(r, r.budgetOn) ?? r.peakRssBytes };
    case 'oom':
    case 'over-budget':
      return { ok: false, kind: r.outcome, message: r.reason };
    case 'timeout':
      return { ok: false, kind: 'error', message: `batch ${r.values.batch}: ${r.reason}` };
    case 'error':
      return {
        ok: false,
        kind: 'error',
        message: `batch ${r.values.batch}: ${r.reason}${stderrBlock(r)}\n  command: ${r.command}`,
      };
    case 'interrupted':
      throw new BatchlabError('BATCHLAB_INTERRUPTED', `interrupted while probing batch ${r.values.batch}`, {
        exitCode: 130,
      });
  }
}

/** A probe for findMaxBatch: each call runs the command once at `batch` (micro-batch = batch, no accumulation). */
export function externalProbe(options: ExternalProbeOptions): (batch: number) => Promise<ProbeResult> {
  const { runner, values, onTrial, ...trialOptions } = options;
  return async (batch) => {
    const result = await runner.runTrial({
      ...trialOptions,
      values: { ...values, batch, microBatch: batch, accum: 1 },
    });
    onTrial?.(result);
    return toProbeResult(result);
  };
}
