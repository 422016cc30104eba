/** Resuming an experiment: the stored one, checked against the settings the caller would start it with. */
import { UsageError } from '../core/errors.js';
import type { Experiment, ExperimentKind, Store } from '../store/index.js';

/**
 * Refuses to resume experiment `id` unless it is of `kind` and `settings`, when given, equal the stored
 * ones (top-level keys compared as JSON). `command` names the command in messages (e.g. "sweep"). The
 * caller then takes the experiment's lock (experiment-lock.ts) and, under it, marks the runs a killed
 * process left 'running' as interrupted, so they run again as new attempts.
 */
export function checkResumable(
  store: Store,
  id: number,
  o: { kind: ExperimentKind; command: string; settings?: object },
): Experiment {
  const experiment = store.getExperiment(id);
  if (experiment.kind !== o.kind)
    throw new UsageError(
      `experiment ${id} is a ${experiment.kind}, not a ${o.kind}; --resume takes a ${o.kind} ID (see batchlab list)`,
    );
  if (o.settings) {
    const differing = differingKeys(experiment.settings, o.settings as Record<string, unknown>);
    if (differing.length > 0) {
      throw new UsageError(
        `${o.kind} ${id} was started with other settings (${differing.join(', ')} differ); run "batchlab ${o.command} --resume ${id}" alone, or start a new ${o.kind}`,
      );
    }
  }
  return experiment;
}

/** Top-level keys whose values differ as JSON (object keys in any order: the store may reorder them). */
function differingKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
}

/** JSON with every object's keys sorted (undefined fields left out, as JSON.stringify does). */
function canonicalJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
