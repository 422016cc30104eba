import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openStore } from '../../src/store/index.js';
import type { RunSummary, SweepSummary } from '../../src/core/summary.js';
import { CLAIM_IDS } from '../../src/core/trend.js';
import { launch, publishedCharts, skipReason, waitReady, watchPage } from '../browser/helpers.js';
import { runCli, runningWithSteps } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-sweep-'));
const BIN = fileURLToPath(new URL('../../bin/batchlab.js', import.meta.url));
/** A small, quick sweep: 2-D Gaussians, a small MLP, three batch sizes. */
const TINY = [
  '--dataset',
  'gauss',
  '--model',
  'mlp',
  '--hidden',
  '32',
  '--batch-sizes',
  '8,32,128',
  '--budget',
  'samples=2048',
  '--sharpness-iterations',
  '5',
  '--no-report',
];

function dbPath(name: string): string {
  return join(TMP, `${name}.db`);
}

test('a tiny sweep end to end: runs stored, memory growing with B, fits and findings computed', () => {
  const db = dbPath('tiny');
  const r = runCli(['sweep', ...TINY, '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /What this sweep shows, claim by claim of the usual advice about batch size/);
  assert.match(
    r.stdout,
    /^ {2}agrees +\[memory\] A larger batch needs more memory\? The data agree: the peak memory grew/m,
  );
  assert.match(r.stdout, /\[speed\] Larger batches train faster, using the hardware better\? /);
  assert.match(r.stdout, /\[stability\] Small batches make training noisier and less stable\? /);
  for (const b of [8, 32, 128]) assert.match(r.stdout, new RegExp(`^\\s*${b}\\s+\\S+\\s+1\\s+done`, 'm'));
  const store = openStore(db, { readonly: true });
  try {
    const e = store.latestExperiment()!;
    assert.equal(e.status, 'done');
    const runs = store.runsOf(e.id);
    assert.deepEqual(
      runs.map((x) => [x.batchSize, x.status]),
      [
        [8, 'done'],
        [32, 'done'],
        [128, 'done'],
      ],
    );
    const peaks = runs.map((x) => (x.summary as unknown as RunSummary).peakBytes);
    assert.ok(peaks[0]! < peaks[1]! && peaks[1]! < peaks[2]!, `peak memory should grow with B: ${peaks}`);
    // Same samples for every run: 2048 samples = 256, 64 and 16 steps.
    assert.deepEqual(
      runs.map((x) => store.stepsOf(x.id).length),
      [256, 64, 16],
    );
    const summary = e.summary as unknown as SweepSummary;
    assert.ok(summary.memoryFit!.bytesPerSample > 0 && summary.memoryFit!.r2 > 0.9);
    assert.ok(summary.stepTimeFit !== undefined);
    const noise = (runs[1]!.summary as unknown as RunSummary).noise;
    assert.ok(noise.measuredSteps > 0, 'noise-measurement steps were recorded');
  } finally {
    store.close();
  }
  const list = runCli(['list', '--db', db]);
  assert.match(list.stdout, /^\s*1\s+sweep\s+/m);
  const show = runCli(['show', 'latest', '--db', db]);
  assert.match(show.stdout, /What this sweep shows, claim by claim/);
  const csv = runCli(['export', '1', '--format', 'csv', '--db', db]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout.trim().split(/\r?\n/).length, 1 + 256 + 64 + 16);
  const json = JSON.parse(runCli(['export', '1', '--format', 'json', '--db', db]).stdout);
  assert.equal(json.runs.length, 3);
});

/** The claims a sweep tests against the usual advice, in order. */
const TESTED_CLAIMS: readonly string[] = CLAIM_IDS;

test('--replicates 3: every seed stored and exported, findings with verdicts and intervals, a report with error bars', async (t) => {
  const db = dbPath('replicates');
  const report = join(TMP, 'replicates.html');
  const args = [...TINY.filter((a) => a !== '--no-report'), '--replicates', '3', '--json', '--report', report];
  const r = runCli(['sweep', ...args, '--db', db], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { runs: { batchSize: number; seed: number }[]; summary: SweepSummary };
  const pairs = (runs: { batchSize: number; seed: number }[]) =>
    runs.map((x) => `${x.batchSize}/${x.seed}`).sort((a, b) => a.localeCompare(b));
  const expected = [8, 32, 128]
    .flatMap((b) => [1, 2, 3].map((seed) => `${b}/${seed}`))
    .sort((a, b) => a.localeCompare(b));
  assert.deepEqual(pairs(out.runs), expected);
  const claims = out.summary.findings.filter((f) => TESTED_CLAIMS.includes(f.claim));
  assert.deepEqual(
    claims.map((f) => f.claim),
    TESTED_CLAIMS,
  );
  for (const f of claims) {
    assert.ok(['agrees', 'contradicts', 'inconclusive'].includes(f.verdict as string), `${f.claim}: ${f.verdict}`);
    if (f.restsOn === undefined) continue; // not testable (e.g. no run measured B_simple): said in its text
    assert.equal(f.restsOn.seeds, 3, f.claim);
    assert.ok(f.interval && f.statistic && f.statistic.name === 't', `${f.claim} carries its interval and statistic`);
    assert.match(f.text, /Rests on 3 seeds x 3 batch sizes \(B = 8\.\.128\)/);
  }
  for (const b of out.summary.perBatch!) {
    assert.equal(b.runs, 3);
    assert.equal(b.testAccuracy?.method, 'student-t');
  }
  const csv = runCli(['export', 'latest', '--format', 'csv', '--db', db]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout.trim().split(/\r?\n/).length, 1 + 3 * (256 + 64 + 16), "every seed's steps");
  const json = JSON.parse(runCli(['export', 'latest', '--format', 'json', '--db', db]).stdout);
  assert.deepEqual(pairs(json.runs), expected);
  await t.test('the report draws error bars and the band of the mean over seeds', { skip: skipReason() }, async () => {
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const seen = watchPage(page);
      await page.goto(pathToFileURL(report).href);
      await waitReady(page);
      assert.deepEqual(seen.errors, []);
      const acc = (await publishedCharts(page)).find((c) => c.id === 'accuracy')!;
      const runs = acc.series.filter((s) => s.batchSize !== undefined);
      assert.equal(runs.length, 9);
      assert.ok(
        runs.every((s) => s.intervals === 1),
        'a Wilson error bar on every run',
      );
      const mean = acc.series.find((s) => s.band)!;
      assert.equal(mean.intervals, 3, 'a band through the 3 batch sizes');
      assert.equal(await page.locator('#findings li').count(), out.summary.findings.length);
    } finally {
      await browser.close();
    }
  });
});

test('--seeds and --replicates together are refused', () => {
  const r = runCli(['sweep', ...TINY, '--seeds', '1,2', '--replicates', '3', '--db', dbPath('both')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /pass --seeds S,S,\.\.\. or --replicates N, not both/);
});

test('the same seed reproduces a sweep: identical losses step for step', () => {
  const losses = (db: string) => {
    const r = runCli(['sweep', ...TINY, '--batch-sizes', '16,64', '--seeds', '7', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const store = openStore(db, { readonly: true });
    try {
      return store.runsOf(store.latestExperiment()!.id).map((run) => store.stepsOf(run.id).map((s) => s.loss));
    } finally {
      store.close();
    }
  };
  const a = losses(dbPath('repro-a'));
  const b = losses(dbPath('repro-b'));
  assert.deepEqual(a, b);
  assert.ok(a[0]!.length > 0);
});

/** Pids of the direct children of `pid`, from /proc. */
function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts a sweep in the background; resolves when `ready(store)` holds, then runs `act(pid)`. */
async function sweepUntil(
  db: string,
  args: string[],
  ready: (db: string) => boolean,
  act: (pid: number) => void,
): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, 'sweep', ...args, '--db', db], { stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (ready(db)) break;
  }
  act(child.pid!);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** Enough steps per run that a run is still going when the test acts (12,288 samples: B=2 takes seconds even on a fast machine). */
const SLOW = [
  '--dataset',
  'gauss',
  '--model',
  'mlp',
  '--hidden',
  '64',
  '--batch-sizes',
  '2,4,8',
  '--budget',
  'samples=12288',
  '--sharpness-iterations',
  '0',
  '--no-report',
];

test('a run whose child is killed (SIGKILL) is recorded as OOM and the sweep goes on', async () => {
  const db = dbPath('child-killed');
  const code = await sweepUntil(db, SLOW, runningWithSteps, (pid) => {
    for (const c of childPids(pid)) process.kill(c, 'SIGKILL');
  });
  assert.equal(code, 1, 'the sweep finishes, reporting that a run failed');
  const store = openStore(db, { readonly: true });
  try {
    const runs = store.runsOf(store.latestExperiment()!.id);
    assert.equal(runs[0]!.status, 'oom');
    assert.match(runs[0]!.reason!, /SIGKILL/);
    assert.deepEqual(
      runs.slice(1).map((r) => r.status),
      ['done', 'done'],
    );
  } finally {
    store.close();
  }
});

test('a parent killed mid-sweep loses no finished run; --resume runs only the unfinished ones', async () => {
  const db = dbPath('parent-killed');
  const secondRunning = (path: string) => {
    if (!runningWithSteps(path)) return false;
    const store = openStore(path, { readonly: true });
    try {
      return store.runsOf(store.latestExperiment()!.id)[0]!.status === 'done';
    } finally {
      store.close();
    }
  };
  await sweepUntil(db, SLOW, secondRunning, (pid) => process.kill(pid, 'SIGKILL'));
  await new Promise((r) => setTimeout(r, 1500)); // the orphaned worker notices and marks its run
  const before = openStore(db, { readonly: true });
  const id = before.latestExperiment()!.id;
  const first = before.runsOf(id)[0]!;
  const firstSteps = before.stepsOf(first.id).length;
  before.close();
  assert.equal(first.status, 'done');
  const resumed = runCli(['sweep', '--resume', String(id), '--db', db, '--no-report']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /run 1\/3/, 'the finished run is not run again');
  assert.match(resumed.stderr, /run 2\/3/);
  const after = openStore(db, { readonly: true });
  try {
    const runs = after.runsOf(id);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['done', 'done', 'done'],
    );
    assert.equal(runs[0]!.finishedAt, first.finishedAt, 'the first run was not run twice');
    assert.equal(after.stepsOf(runs[0]!.id).length, firstSteps);
    // The interrupted run restarted from step 1: its steps are exactly one run's worth, no duplicates.
    assert.equal(after.stepsOf(runs[1]!.id).length, 12288 / 4);
  } finally {
    after.close();
  }
});

test('bad sweep input gets a one-line error naming the value', () => {
  const db = dbPath('bad');
  const cases: [string[], RegExp][] = [
    [['--batch-sizes', ''], /BATCHLAB_BAD_BATCH_SIZE.*empty/],
    [['--batch-sizes', '16,abc'], /BATCHLAB_BAD_BATCH_SIZE.*"abc"/],
    [['--batch-sizes', '16,99999'], /BATCHLAB_BAD_BATCH_SIZE.*99999/],
    [['--budget', 'minutes=3'], /BATCHLAB_BAD_ARGUMENT.*minutes=3/],
    [['--lr-rule', 'cubic'], /BATCHLAB_BAD_ARGUMENT.*cubic/],
    [['--dataset', 'linreg', '--model', 'linear', '--budget', 'target=acc:0.9'], /BATCHLAB_BAD_ARGUMENT.*regression/],
    [['--budget', 'target=acc:1.5'], /BATCHLAB_BAD_ARGUMENT.*acc:1\.5/],
    [['--resume', '42'], /BATCHLAB_NOT_FOUND.*42/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(['sweep', '--dataset', 'gauss', ...args, '--db', db]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('--resume with different settings is refused; a corrupt database is reported and left untouched', () => {
  const db = dbPath('tiny-resume');
  assert.equal(runCli(['sweep', ...TINY, '--batch-sizes', '8', '--db', db]).code, 0);
  const r = runCli([
    'sweep',
    '--resume',
    '1',
    '--dataset',
    'gauss',
    '--batch-sizes',
    '8,16',
    '--db',
    db,
    '--no-report',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /other settings \(.*batchSizes.*\)/);
  const corrupt = join(TMP, 'corrupt.db');
  const bytes = Buffer.from("this is not a database at all, but it is somebody's file");
  writeFileSync(corrupt, bytes);
  const c = runCli(['sweep', ...TINY, '--db', corrupt]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /BATCHLAB_STORE.*corrupt\.db/);
  assert.deepEqual(readFileSync(corrupt), bytes);
});

test('Ctrl-C (SIGINT) stops cleanly: the current run is marked interrupted and the sweep can be resumed', async () => {
  const db = dbPath('sigint');
  const code = await sweepUntil(db, SLOW, runningWithSteps, (pid) => process.kill(pid, 'SIGINT'));
  assert.equal(code, 130);
  const store = openStore(db, { readonly: true });
  let id: number;
  try {
    const e = store.latestExperiment()!;
    id = e.id;
    assert.equal(e.status, 'interrupted');
    assert.deepEqual(
      store.runsOf(id).map((r) => r.status),
      ['interrupted', 'pending', 'pending'],
    );
  } finally {
    store.close();
  }
  const resumed = runCli(['sweep', '--resume', String(id), '--db', db, '--no-report']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const after = openStore(db, { readonly: true });
  try {
    assert.deepEqual(
      after.runsOf(id).map((r) => r.status),
      ['done', 'done', 'done'],
    );
    assert.equal(after.getExperiment(id).status, 'done');
  } finally {
    after.close();
  }
});

test('demo runs 3 seeds, prints means with intervals and verdicts, and ends by writing a self-contained report', () => {
  const db = dbPath('demo');
  const report = join(TMP, 'demo-report.html');
  const r = runCli(
    [
      'demo',
      '--batch-sizes',
      '128,512',
      '--budget',
      'samples=2048',
      '--sharpness-iterations',
      '2',
      '--db',
      db,
      '--report',
      report,
    ],
    { timeoutMs: 300_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Mean over 3 seeds per batch size; \u00b1 is half the 95% Student-t interval across seeds/);
  assert.match(r.stdout, /^ *128 +3 +\d+\.\d\d% \u00b1\d+\.\d\d +/m, 'held-out accuracy with its interval');
  assert.match(r.stdout, /What this sweep shows, claim by claim of the usual advice about batch size/);
  assert.match(r.stdout, /^( {2}agrees|! contradicts|\? inconclusive) +\[memory\] A larger batch needs more memory\?/m);
  const unwrapped = r.stdout.replace(/\n +/g, ' ');
  assert.match(
    unwrapped,
    /Rests on 3 seeds x 2 batch sizes \(B = 128\.\.512\), 6 runs, 2,000 held-out samples per run/,
  );
  assert.ok(r.stdout.trim().endsWith(`report: ${report}`), r.stdout.slice(-300));
  const html = readFileSync(report, 'utf8');
  assert.match(html, /^<!doctype html>/i);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=["']https?:/i, 'no external scripts or styles');
});

test('a sweep to a target records steps, samples and time to target and fits the trade-off', () => {
  const db = dbPath('target');
  const r = runCli([
    'sweep',
    '--dataset',
    'gauss',
    '--model',
    'mlp',
    '--hidden',
    '32',
    '--batch-sizes',
    '4,8,16,32,64',
    '--budget',
    'target=acc:0.88',
    '--max-epochs',
    '20',
    '--lr-rule',
    'linear',
    '--base-lr',
    '0.05',
    '--base-batch',
    '16',
    '--sharpness-iterations',
    '0',
    '--no-report',
    '--db',
    db,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /critical batch/);
  const store = openStore(db, { readonly: true });
  try {
    const e = store.latestExperiment()!;
    for (const run of store.runsOf(e.id)) {
      const t = (run.summary as unknown as RunSummary).target!;
      assert.equal(t.reached, true);
      assert.ok(t.steps! >= 1 && t.samples === t.steps! * run.batchSize && t.wallMs! > 0, JSON.stringify(t));
      // The run stopped at the evaluation that first reached the target.
      assert.equal(store.stepsOf(run.id).length, t.steps);
    }
    assert.ok((e.summary as unknown as SweepSummary).tradeoff!.sMin !== undefined);
  } finally {
    store.close();
  }
});

test('--parallel 2 --timing isolated: runs go two at once on split cores, then each batch size is timed alone', () => {
  const db = dbPath('parallel');
  const r = runCli(['sweep', ...TINY, '--parallel', '2', '--timing', 'isolated', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  // Findings wrap: any run of spaces and line breaks between the words of the note.
  const note = 'Step times re-measured with each batch size alone, after training up to 2 runs at once.';
  assert.match(r.stdout, new RegExp(`\\[speed\\] Larger batches train faster[\\s\\S]*${note.split(' ').join('\\s+')}`));
  const store = openStore(db, { readonly: true });
  try {
    const runs = store.runsOf(store.latestExperiment()!.id);
    assert.deepEqual(
      runs.map((x) => x.status),
      ['done', 'done', 'done'],
    );
    for (const run of runs) {
      const s = run.summary as unknown as RunSummary;
      assert.equal(s.timing?.runsAtOnce, 2);
      assert.equal(s.timing?.threads, Math.max(1, Math.floor(availableParallelism() / 2)));
      assert.equal(s.timing?.stepTimeFrom, 'isolated');
      assert.ok(s.timing!.shared!.samplesPerSec > 0, 'the numbers measured under sharing are kept');
      assert.ok(s.timing!.isolatedSteps! > 0);
      assert.equal(s.samplesPerSec, (s.batchSize * 1000) / s.stepMs.median);
      const interval = s.intervals?.stepMs;
      if (interval)
        assert.ok(
          interval.low <= s.stepMs.median && s.stepMs.median <= interval.high,
          'the step-time interval is that of the re-measured median',
        );
    }
  } finally {
    store.close();
  }
});

test('launch options that do not fit are refused in one line', () => {
  const db = dbPath('bad-launch');
  const cases: [string[], RegExp][] = [
    [['--gpus', '0,1'], /--gpus is for a command .*--parallel N/],
    [['--slurm', '--partition=gpu'], /--launcher slurm/],
    [['--parallel', '0'], /--parallel/],
    [['--launcher', 'slurm', '--timing', 'isolated'], /--timing isolated .*--exclusive/],
    [['--launcher', 'slurm', '--isolate'], /--isolate is for runs on this machine.*--gres=gpu:1/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(['sweep', ...TINY, ...args, '--db', db]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
