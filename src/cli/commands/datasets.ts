/** `batchlab datasets`: every dataset with its size, without loading any. */
import { listDatasets } from '../../data/registry.js';
import { num, table } from '../format.js';
import { formatHelp, parseOptions } from '../options.js';
import type { Io } from '../io.js';

const OPTIONS = { json: { type: 'boolean', help: 'print the list as JSON' } } as const;

export async function datasetsCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, help } = parseOptions(argv, OPTIONS, 'datasets');
  if (help) {
    io.out(
      formatHelp({
        command: 'datasets',
        usage: 'batchlab datasets [--json]',
        description: 'Lists the datasets batchlab can train on, with their sizes.',
        table: OPTIONS,
      }),
    );
    return 0;
  }
  const infos = listDatasets();
  if (options.json) {
    io.out(JSON.stringify(infos, null, 2));
    return 0;
  }
  const rows = infos.map((d) => [
    d.name,
    d.task,
    d.trainCount === null ? 'your file' : num(d.trainCount),
    d.testCount === null ? '-' : num(d.testCount),
    d.inputShape === null ? '-' : `[${d.inputShape.join(',')}]`,
    d.numClasses === null ? '-' : d.numClasses === 0 ? 'regression' : String(d.numClasses),
    d.description,
  ]);
  io.out(table(['name', 'task', 'train', 'held-out', 'input', 'classes', 'description'], rows));
  return 0;
}
