/** `batchlab report ID|latest`: writes the self-contained HTML report of one experiment. */
import { reportPath, writeReport } from '../../report/index.js';
import { openStore } from '../../store/index.js';
import { defineCommand } from '../command.js';
import type { OptionTable } from '../options.js';
import { EXPERIMENT_ARGUMENT, experimentIdFrom } from './store-commands.js';

export const REPORT_OPTIONS = {
  output: {
    type: 'string',
    value: 'PATH',
    short: 'o',
    help: 'where to write the HTML (default batchlab-report-<id>.html in the current folder)',
  },
  db: { type: 'string', value: 'PATH', default: './batchlab.db', help: 'the batchlab database to read' },
} as const satisfies OptionTable;

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'write a self-contained HTML report of an experiment',
  usage: 'batchlab report ID|latest [-o report.html] [--db PATH]',
  description:
    'Writes one HTML file with every chart of an experiment (loss curves, throughput, memory, steps-to-target,\n' +
    'gradient noise, generalization gap), its findings, runs and settings. The file needs no network: scripts,\n' +
    'styles and data are inline. Prints the path it wrote.',
  options: REPORT_OPTIONS,
  positionals: EXPERIMENT_ARGUMENT,
  examples: ['batchlab report latest', 'batchlab report 3 -o sweep.html --db runs/batchlab.db'],
  run: async ({ options, positionals }) => {
    const store = openStore(options.db, { readonly: true });
    try {
      const id = experimentIdFrom(store, positionals[0]!);
      const path = reportPath(id, options.output);
      writeReport(store, id, path);
      return path;
    } finally {
      store.close();
    }
  },
  text: (path) => path,
});
