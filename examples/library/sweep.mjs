// batchlab as a library: a small sweep on the synthetic spiral, then the largest batch that fits 256 KiB.
// Run it after `npm run build`: node examples/library/sweep.mjs [path/to/store.db]
import { findMax, findMaxSettings, sweep, sweepSettings, tfjsProber, trainConfig } from 'batchlab';

const dbPath = process.argv[2] ?? 'batchlab-example.db';
const base = trainConfig({
  dataset: 'spiral',
  datasetOptions: { trainCount: 1024, testCount: 256 },
  model: { name: 'mlp', hidden: [16] },
});

// Three batch sizes, one epoch each, from the same initial weights; each run in a process of its own.
const result = await sweep(
  { dbPath, settings: sweepSettings({ base, batchSizes: [16, 64, 256], budget: { kind: 'epochs', value: 1 } }) },
  { onRunEnd: ({ run, outcome }) => console.log(`B=${run.batchSize}: ${outcome.status}`) },
);
for (const run of result.runs) {
  const s = run.summary;
  console.log(
    `B=${run.batchSize} lr ${run.lr.toPrecision(3)}: ${Math.round(s.samplesPerSec)} samples/s, held-out accuracy ${s.final.test.accuracy.toFixed(3)}`,
  );
}
for (const finding of result.summary.findings) console.log(`- ${finding.text}`);

// The largest batch whose training step fits 256 KiB of tensor memory (probes of 3 steps, verified over 20).
const report = await findMax({
  dbPath,
  settings: findMaxSettings({ budgetBytes: 2 ** 18, cap: 1024 }),
  prober: tfjsProber({ base, measure: 'tensor' }),
});
console.log(`largest batch under 256 KiB: ${report.answer.batch} (${report.counts.total} probes)`);
