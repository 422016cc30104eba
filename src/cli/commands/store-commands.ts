/** `batchlab list`, `show ID` and `export ID`: reading the store. */
import { BatchlabError, UsageError } from '../../core/errors.js';
import type { SweepSummary } from '../../core/summary.js';
import { escapeControl } from '../../core/text.js';
import { formatBytes } from '../../core/units.js';
import {
  type Experiment,
  type ExperimentListing,
  exportExperiment,
  exportExperimentToFile,
  openStore,
  type Store,
} from '../../store/index.js';
import { type CommandInput, defineCommand, type PositionalSpec } from '../command.js';
import { table } from '../format.js';
import type { OptionTable } from '../options.js';
import { findingLines, sweepTable } from '../render-sweep.js';
import { probeTable } from './find-max.js';
import { studyFindingLines, studyTable } from './study.js';
import type { StudySummary } from '../../core/study-plan.js';

const DB_OPTION = {
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', help: 'SQLite store' },
} as const satisfies OptionTable;

/** One experiment, by id or "latest". */
export const EXPERIMENT_ARGUMENT: PositionalSpec = {
  min: 1,
  max: 1,
  missing: 'which experiment? pass its id or "latest" (see batchlab list)',
};

/** The id of experiment `text`: a positive integer, or the newest experiment's for "latest". */
export function experimentIdFrom(store: Store, text: string): number {
  if (text === 'latest') {
    const latest = store.latestExperiment();
    if (latest === undefined)
      throw new BatchlabError('BATCHLAB_NOT_FOUND', `${store.path} has no experiments yet; run batchlab sweep first`);
    return latest.id;
  }
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1)
    throw new UsageError(`experiment id must be a positive integer or "latest", got "${escapeControl(text)}"`);
  return Number(text);
}

/** Runs `read` on the store at --db, opened read-only, and closes it. */
function readStore<T>(dbPath: string, read: (store: Store) => T): T {
  const store = openStore(dbPath, { readonly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list the experiments in the store',
  usage: 'batchlab list [--db PATH] [--json]',
  description: 'Lists the experiments in the store.',
  options: DB_OPTION,
  run: async ({ options }) => readStore(options.db, (store) => store.listExperiments()),
  text: (list, { options }) =>
    list.length === 0 ? `no experiments in ${options.db} yet; start one with batchlab sweep` : experimentTable(list),
  json: (list) => list,
});

function experimentTable(list: readonly ExperimentListing[]): string {
  const rows = list.map((e) => {
    const s = e.settings as Record<string, unknown>;
    const base = (s.base ?? s) as Record<string, unknown>;
    const model = (base.model as { name?: string } | undefined)?.name ?? '-';
    return [
      e.id,
      e.kind,
      e.createdAt.replace('T', ' ').slice(0, 19),
      e.status,
      `${e.runCounts.done ?? 0}/${e.runCount}`,
      String(base.dataset ?? '-'),
      model,
    ];
  });
  return table(['id', 'kind', 'created', 'status', 'runs done', 'dataset', 'model'], rows);
}

export const showCommand = defineCommand({
  name: 'show',
  summary: 'show one experiment: its table and what it shows',
  usage: 'batchlab show ID|latest [--db PATH]',
  description:
    'Shows one experiment: settings, then the run table and what it shows (a sweep), every probe and the answer\n(find-max), or the steps to target and best LR per batch size with the fitted B_crit (a study).',
  options: DB_OPTION,
  positionals: EXPERIMENT_ARGUMENT,
  run: async ({ options, positionals }) =>
    readStore(options.db, (store) =>
      experimentText(store, store.getExperiment(experimentIdFrom(store, positionals[0]!))),
    ),
  text: (text) => text,
});

/** Settings and environment, then the sweep table and findings, find-max's probes and answer, or a study's table. */
function experimentText(store: Store, e: Experiment): string {
  const head = [
    `experiment ${e.id}: ${e.kind}, ${e.status}, created ${e.createdAt}`,
    `settings: ${JSON.stringify(e.settings)}`,
    `environment: ${JSON.stringify(e.env)}`,
    '',
  ];
  if (e.kind === 'find-max') return [...head, findMaxLines(store, e)].join('\n');
  if (e.kind === 'study') return [...head, studyLines(e)].join('\n');
  const summary = e.summary as unknown as SweepSummary | null;
  const findings = summary?.findings ? [`\n${findingLines(summary)}`] : [];
  return [...head, sweepTable(store.runsOf(e.id)), ...findings].join('\n');
}

/** A stored study: the table per batch size and what it shows (of the batch sizes searched so far). */
function studyLines(e: Experiment): string {
  const summary = e.summary as unknown as StudySummary | null;
  if (summary?.batches === undefined) return `no trial finished yet (${e.status})`;
  return `${studyTable(summary)}\n\n${studyFindingLines(summary)}`;
}

/** A stored find-max experiment: its probes in order, and the verified answer when it finished. */
function findMaxLines(store: Store, e: Experiment): string {
  const rows = store.probesOf(e.id).map((p, i) => ({
    index: i + 1,
    phase: p.phase,
    batch: p.batchSize,
    peakBytes: p.peakBytes ?? undefined,
    peakAtMost: p.peakAtMost,
    vmHwmBytes: p.rssBytes ?? undefined,
    kind: p.kind,
    reason: (p.message ?? '').split('\n')[0] ?? '',
    ms: p.ms ?? 0,
  }));
  const answer = (e.summary as { answer?: { batch: number; peakBytes: number; budgetFraction: number } } | null)
    ?.answer;
  const end = answer
    ? `answer: ${answer.batch} fits (peak ${formatBytes(answer.peakBytes)}, ${(100 * answer.budgetFraction).toFixed(1)}% of the budget; verified)`
    : `no answer (${e.status})`;
  return `${probeTable(rows)}\n\n${end}`;
}

const EXPORT_OPTIONS = {
  ...DB_OPTION,
  format: { type: 'string', value: 'FMT', default: 'json', choices: ['json', 'csv'], help: 'output format' },
  table: {
    type: 'string',
    value: 'NAME',
    default: 'steps',
    choices: ['steps', 'runs', 'evals', 'probes'],
    onlyIf: {
      when: (o) => o.format === 'csv',
      why: 'picks the table of a CSV export; JSON has every table. Add --format csv or leave it out',
    },
    help: 'csv: which table',
  },
  output: { type: 'string', value: 'PATH', help: 'write to a file instead of stdout' },
} as const satisfies OptionTable;

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'write an experiment out as CSV or JSON',
  usage: 'batchlab export ID|latest [--format csv|json] [--table steps|runs|evals|probes] [--output PATH]',
  description: 'Writes an experiment out: JSON (everything) or CSV (one table).',
  options: EXPORT_OPTIONS,
  positionals: EXPERIMENT_ARGUMENT,
  run: async ({ options, positionals, io }: CommandInput<typeof EXPORT_OPTIONS>) =>
    readStore(options.db, (store) => {
      const id = experimentIdFrom(store, positionals[0]!);
      const format = { format: options.format as 'json' | 'csv', table: options.table as 'steps' };
      if (options.output === undefined) return exportExperiment(store, id, format);
      exportExperimentToFile(store, id, { ...format, path: options.output });
      io.err(`wrote ${options.output}`);
      return undefined;
    }),
  text: (text) => text,
});
