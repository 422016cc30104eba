/**
 * Validates `batchlab recommend` against the sweep it replaces (product.md goals): runs the probe, then
 * the full sweep 16..1024 to a target (runSweep), then one run at the recommended batch/LR/warm-up, and
 * prints the probe's cost as % of the sweep, B_simple next to the sweep's B_crit, and the recommended
 * time to target next to the best of the sweep. Writes bench/results/validate-recommend-<dataset>-<model>.json.
 * Same as `batchlab recommend --validate`; any recommend flag passes through.
 * Usage: npx tsx bench/validate-recommend.ts --dataset mnist --model mlp --target acc:0.97 [--max-epochs 5]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { recommendCommand } from '../src/cli/commands/recommend.js';
import { isKnownError } from '../src/core/errors.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1]! : fallback;
  };
  const out: string[] = [];
  const io = {
    out: (t: string) => void out.push(t),
    err: (t: string) => process.stderr.write(`${t}\n`),
    errStream: process.stderr,
  };
  const db = flag('db', `/tmp/batchlab-validate-${process.pid}.db`);
  const code = await recommendCommand(
    [...argv.filter((a) => a !== '--json'), ...(argv.includes('--db') ? [] : ['--db', db]), '--validate', '--json'],
    io,
  );
  const json = JSON.parse(out.join('\n'));
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/validate-recommend-${flag('dataset', 'mnist')}-${flag('model', 'mlp')}.json`;
  writeFileSync(file, JSON.stringify(json, null, 2));
  const v = json.validation;
  const pctText = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(
    `recommended B=${json.recommendation.batch} (x${json.recommendation.accumSteps}), LR ${json.recommendation.lr}, ${json.recommendation.warmupSteps} warm-up steps`,
  );
  console.log(
    `probe cost: ${json.probeCost.samples} samples, ${json.probeCost.seconds.toFixed(1)} s = ${pctText(json.probeCost.shareOfSweep)} of the default one-epoch sweep, ${pctText(v.probeShareOfSweep)} of the sweep to target (${v.sweepSamples} samples)`,
  );
  console.log(
    `B_simple ${v.bSimple?.toFixed(0)} vs sweep B_crit ${v.bCrit?.toFixed(0)}: ratio ${v.bCritRatio?.toFixed(2)}`,
  );
  for (const p of v.points)
    console.log(
      `  B=${p.batchSize} lr ${p.lr}: ${p.reached ? `${p.stepsToTarget} steps, ${(p.wallMsToTarget / 1000).toFixed(1)} s` : `not reached (${p.status})`}`,
    );
  console.log(
    `time to target: recommended ${v.recommended.reached ? (v.recommended.wallMsToTarget / 1000).toFixed(1) : '-'} s vs best ${v.best ? `${(v.best.wallMsToTarget / 1000).toFixed(1)} s at B=${v.best.batchSize}` : '-'}: ratio ${v.timeRatio?.toFixed(2)}`,
  );
  console.log(
    `  recommended run: ${v.recommended.reached ? `${v.recommended.stepsToTarget} steps` : 'target not reached'}; the sweep's own run at B=${v.recommended.batchSize}: ${v.sweepAtRecommended?.reached ? `${v.sweepAtRecommended.stepsToTarget} steps, ${(v.sweepAtRecommended.wallMsToTarget / 1000).toFixed(1)} s` : 'n/a'}`,
  );
  console.log(`goals met: ${JSON.stringify(v.goalsMet)}; written to ${file}`);
  return code;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    if (!isKnownError(err)) throw err;
    console.error(`error [${err.code}]: ${err.message}`);
    process.exitCode = err.exitCode;
  },
);
