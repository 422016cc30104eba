/** `batchlab list`, `show ID` and `export ID`: reading the store. */
import { UsageError } from '../../core/errors.js';
import type { SweepSummary } from '../../core/summary.js';
import { exportExperiment, exportExperimentToFile, openStore, type Experiment, type Store } from '../../store/index.js';
import { table } from '../format.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable } from '../options.js';
import { findingLines, sweepTable } from '../render-sweep.js';
import { formatBytes } from '../../core/units.js';
import { probeTable } from './find-max.js';
import { studyFindingLines, studyTable } from './study.js';
import type { StudySummary } from '../../core/study-plan.js';

const DB_OPTION = {
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', help: 'SQLite store' },
} as const satisfies OptionTable;

/** Resolves "latest" or a numeric ID. */
export function experimentFrom(store: Store, idText: string | undefined, command: string): Experiment {
  if (idText === undefined)
    throw new UsageError(`"batchlab ${command}" needs an experiment ID or "latest" (see batchlab list)`);
  if (idText === 'latest') {
    const e = store.latestExperiment();
    if (!e)
      throw new UsageError(
        `the store ${store.path} has no experiments yet; run batchlab sweep first`,
        'BATCHLAB_NOT_FOUND',
      );
    return e;
  }
  if (!/^\d+$/.test(idText)) throw new UsageError(`experiment ID must be a number or "latest", got "${idText}"`);
  return store.getExperiment(Number(idText));
}

export async function listCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, help } = parseOptions(argv, { ...DB_OPTION, json: { type: 'boolean', help: 'print JSON' } }, 'list');
  if (help) {
    io.out(
      formatHelp({
        command: 'list',
        usage: 'batchlab list [--db PATH] [--json]',
        description: 'Lists the experiments in the store.',
        table: DB_OPTION,
      }),
    );
    return 0;
  }
  const store = openStore(options.db, { readonly: true });
  try {
    const list = store.listExperiments();
    if (options.json) {
      io.out(JSON.stringify(list, null, 2));
      return 0;
    }
    if (list.length === 0) {
      io.out(`no experiments in ${options.db} yet; start one with batchlab sweep`);
      return 0;
    }
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
    io.out(table(['id', 'kind', 'created', 'status', 'runs done', 'dataset', 'model'], rows));
    return 0;
  } finally {
    store.close();
  }
}

export async function showCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, DB_OPTION, 'show');
  if (help) {
    io.out(
      formatHelp({
        command: 'show',
        usage: 'batchlab show ID|latest [--db PATH]',
        description:
          'Shows one experiment: settings, then the run table and what it shows (a sweep), every probe and the answer\n(find-max), or the steps to target and best LR per batch size with the fitted B_crit (a study).',
        table: DB_OPTION,
      }),
    );
    return 0;
  }
  const store = openStore(options.db, { readonly: true });
  try {
    const e = experimentFrom(store, positionals[0], 'show');
    const runs = store.runsOf(e.id);
    io.out(`experiment ${e.id}: ${e.kind}, ${e.status}, created ${e.createdAt}`);
    io.out(`settings: ${JSON.stringify(e.settings)}`);
    io.out(`environment: ${JSON.stringify(e.env)}`);
    io.out('');
    if (e.kind === 'find-max') {
      io.out(findMaxLines(store, e));
      return 0;
    }
    if (e.kind === 'study') {
      io.out(studyLines(e));
      return 0;
    }
    io.out(sweepTable(runs));
    const summary = e.summary as unknown as SweepSummary | null;
    if (summary?.findings) io.out(`\n${findingLines(summary)}`);
    return 0;
  } finally {
    store.close();
  }
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
    vmHwmBytes: p.rssBytes ?? undefined,
    kind: p.kind,
    reason: p.ok ? '' : ((p.message ?? '').split('\n')[0] ?? ''),
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
    help: 'csv: which table',
  },
  output: { type: 'string', value: 'PATH', help: 'write to a file instead of stdout' },
} as const satisfies OptionTable;

export async function exportCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, EXPORT_OPTIONS, 'export');
  if (help) {
    io.out(
      formatHelp({
        command: 'export',
        usage: 'batchlab export ID|latest [--format csv|json] [--table steps|runs|evals|probes] [--output PATH]',
        description: 'Writes an experiment out: JSON (everything) or CSV (one table).',
        table: EXPORT_OPTIONS,
      }),
    );
    return 0;
  }
  const store = openStore(options.db, { readonly: true });
  try {
    const e = experimentFrom(store, positionals[0], 'export');
    const format = { format: options.format as 'json' | 'csv', table: options.table as 'steps' };
    if (options.output) {
      exportExperimentToFile(store, e.id, { ...format, path: options.output });
      io.err(`wrote ${options.output}`);
    } else {
      io.out(exportExperiment(store, e.id, format));
    }
    return 0;
  } finally {
    store.close();
  }
}
