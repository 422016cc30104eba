/** `batchlab datasets`: every dataset with its size, without loading any. */
import { listDatasets } from '../../data/registry.js';
import type { DatasetInfo } from '../../data/types.js';
import { defineCommand } from '../command.js';
import { num, table } from '../format.js';

export const datasetsCommand = defineCommand({
  name: 'datasets',
  summary: 'list the datasets and their sizes',
  description: 'Lists the datasets batchlab can train on, with their sizes.',
  options: {},
  run: async () => listDatasets(),
  text: (infos) => datasetTable(infos),
  json: (infos) => infos,
});

function datasetTable(infos: readonly DatasetInfo[]): string {
  const rows = infos.map((d) => [
    d.name,
    d.task,
    d.trainCount === null ? 'your file' : num(d.trainCount),
    d.testCount === null ? '-' : num(d.testCount),
    d.inputShape === null ? '-' : `[${d.inputShape.join(',')}]`,
    d.numClasses === null ? '-' : d.numClasses === 0 ? 'regression' : String(d.numClasses),
    d.description,
  ]);
  return table(['name', 'task', 'train', 'held-out', 'input', 'classes', 'description'], rows);
}
