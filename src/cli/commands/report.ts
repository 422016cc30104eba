/** `batchlab report ID|latest`: writes the self-contained HTML report of one experiment. */
import { resolve } from 'node:path';
import { BatchlabError, UsageError } from '../../core/errors.js';
import { openStore, type Store } from '../../store/index.js';
import { writeReport } from '../../report/index.js';
import { formatHelp, parseOptions, type OptionTable } from '../options.js';
import type { Io } from '../io.js';

export const REPORT_OPTIONS = {
  output: {
    type: 'string',
    value: 'PATH',
    help: 'where to write the HTML (-o PATH; default batchlab-report-<id>.html in the current folder)',
  },
  db: { type: 'string', value: 'PATH', default: './batchlab.db', help: 'the batchlab database to read' },
} as const satisfies OptionTable;

export const REPORT_HELP = formatHelp({
  command: 'report',
  usage: 'batchlab report ID|latest [-o report.html] [--db PATH]',
  description:
    'Writes one HTML file with every chart of an experiment (loss curves, throughput, memory, steps-to-target,\n' +
    'gradient noise, generalization gap), its findings, runs and settings. The file needs no network: scripts,\n' +
    'styles and data are inline. Prints the path it wrote.',
  table: REPORT_OPTIONS,
  examples: ['batchlab report latest', 'batchlab report 3 -o sweep.html --db runs/batchlab.db'],
});

export async function reportCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(expandShortFlags(argv), REPORT_OPTIONS, 'report');
  if (help) {
    io.out(REPORT_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'which experiment? pass its id or "latest", e.g. batchlab report latest'
        : `unexpected argument "${positionals[1]}" for "batchlab report"; see batchlab report --help`,
    );
  }
  const store = openStore(options.db, { readonly: true });
  try {
    const id = experimentIdFrom(store, positionals[0]!);
    const path = resolve(options.output ?? `batchlab-report-${id}.html`);
    writeReport(store, id, path);
    io.out(path);
    return 0;
  } finally {
    store.close();
  }
}

/** `-o PATH` is the one short flag; the option parser only knows long ones. */
function expandShortFlags(argv: readonly string[]): string[] {
  return argv.map((a) => (a === '-o' ? '--output' : a.startsWith('-o=') ? `--output=${a.slice(3)}` : a));
}

/** A positive integer id, or the newest experiment for "latest". */
export function experimentIdFrom(store: Store, text: string): number {
  if (text === 'latest') {
    const latest = store.latestExperiment();
    if (latest === undefined) {
      throw new BatchlabError('BATCHLAB_NOT_FOUND', `${store.path} has no experiments yet; run batchlab sweep first`);
    }
    return latest.id;
  }
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new UsageError(`experiment id must be a positive integer or "latest", got "${text}"`);
  }
  return Number(text);
}
