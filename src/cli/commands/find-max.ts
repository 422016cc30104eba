/** `batchlab find-max`: the largest batch that fits a memory budget, for a TF.js model or any training command. */
import { ANALYTIC_BATCHES, DEFAULT_PROBE_STEPS, DEFAULT_VERIFY_STEPS } from '../../core/find-max.js';
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { DEFAULT_MARGIN_FLOOR, MAX_MARGIN } from '../../core/margin.js';
import { DEFAULT_MAX_TRIALS } from '../../core/search.js';
import { formatBytes, parseBytes } from '../../core/units.js';
import type { FindMaxReport, ProbeRecord } from '../../lab/find-max/find-max.js';
import {
  BUDGET_MEASURES,
  type BudgetOn,
  DEFAULT_COMMAND_MAX_BATCH,
  type FindMaxRequest,
  runFindMax,
} from '../../lab/find-max/request.js';
import { type CommandInput, defineCommand } from '../command.js';
import { duration, num, table } from '../format.js';
import type { OptionTable, Parsed } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { CMD_ONLY, MODEL_RUN_OPTIONS, trainConfigFrom } from '../run-options.js';

/** --base-batch and --lr-rule only shape the LR printed for --target-batch. */
const WITH_TARGET_BATCH = {
  when: (o: Readonly<Record<string, unknown>>) => o['target-batch'] !== undefined,
  why: 'only shapes the LR of --target-batch; add --target-batch B or leave it out',
};

export const FIND_MAX_OPTIONS = {
  ...MODEL_RUN_OPTIONS,
  cmd: {
    type: 'string',
    value: 'COMMAND',
    help: 'probe your own training command instead of a TF.js model (docs/protocol.md); {batch} and {max_steps} are filled in',
  },
  warm: {
    type: 'boolean',
    onlyIf: CMD_ONLY,
    help: '--cmd: warm probes: the command starts once and serves each probe over stdin (docs/protocol.md, "Warm probes"; no {batch} in it); the answer is still verified in a fresh process',
  },
  'memory-budget': {
    type: 'string',
    value: 'BYTES',
    default: '4GiB',
    help: 'memory the training step may use, e.g. 8GiB, 512MiB, 1.5G',
  },
  'budget-on': {
    type: 'string',
    value: 'MEASURE',
    choices: BUDGET_MEASURES,
    help: 'what the budget is compared with. TF.js: tensor (default: the tensor peak of a step, the analogue of GPU memory) or rss (process VmHWM). --cmd: rss (default: process-tree RSS, over-budget emulated), gpu (nvidia-smi) or reported (the peak_mem_bytes it prints)',
  },
  margin: {
    type: 'number',
    value: 'F',
    default: DEFAULT_MARGIN_FLOOR,
    help: `smallest fraction of the budget held back, in [0, ${MAX_MARGIN}]; the measured spread of the peaks may ask for more`,
  },
  'max-trials': { type: 'int', value: 'N', default: DEFAULT_MAX_TRIALS, help: 'most search probes' },
  'target-batch': {
    type: 'int',
    value: 'B',
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: 'the batch you want: above the maximum, prints micro-batch x accumulation steps and the LR for it',
  },
  'probe-steps': { type: 'int', value: 'N', default: DEFAULT_PROBE_STEPS, help: 'training steps per probe' },
  'verify-steps': {
    type: 'int',
    value: 'N',
    default: DEFAULT_VERIFY_STEPS,
    help: 'training steps of the run that verifies the answer',
  },
  'base-lr': {
    type: 'number',
    value: 'LR',
    onlyIf: {
      when: (o) => o['target-batch'] !== undefined || o.cmd !== undefined,
      why: 'is scaled for --target-batch (or fills {lr} with --cmd); add one of them or leave it out',
    },
    help: 'the LR tuned at --base-batch, to scale for --target-batch (with --cmd it also fills {lr})',
  },
  'base-batch': { type: 'int', value: 'B', onlyIf: WITH_TARGET_BATCH, help: 'the batch --base-lr was tuned at' },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    choices: LR_RULES,
    onlyIf: WITH_TARGET_BATCH,
    help: 'LR scaling for --target-batch (default: linear for sgd and momentum, sqrt for adam)',
  },
  timeout: {
    type: 'number',
    value: 'S',
    default: 600,
    onlyIf: CMD_ONLY,
    help: '--cmd: seconds before a probe is killed (a timeout stops the search: it does not mean "too big")',
  },
  'max-batch': {
    type: 'int',
    value: 'N',
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: `largest batch to try (default: the training-set size; with --cmd ${DEFAULT_COMMAND_MAX_BATCH})`,
  },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
} as const satisfies OptionTable;

type Options = Parsed<typeof FIND_MAX_OPTIONS>;

/** The library's request from the flags: a TF.js model (its run config) or a command, under the budget. */
function requestFrom(o: Options): FindMaxRequest {
  return {
    dbPath: o.db,
    subject:
      o.cmd === undefined
        ? { kind: 'tfjs', base: trainConfigFrom(o) }
        : { kind: 'command', cmd: o.cmd, timeoutS: o.timeout, lr: o['base-lr'], seed: o.seed, warm: o.warm === true },
    budgetBytes: parseBytes(o['memory-budget'], 'memory budget'),
    budgetOn: o['budget-on'] as BudgetOn | undefined,
    marginFloor: o.margin,
    maxBatch: o['max-batch'],
    probeSteps: o['probe-steps'],
    verifySteps: o['verify-steps'],
    maxTrials: o['max-trials'],
    targetBatch: o['target-batch'],
    lr: { rule: o['lr-rule'] as LrRule | undefined, baseLr: o['base-lr'], baseBatch: o['base-batch'] },
  };
}

export const findMaxCommand = defineCommand({
  name: 'find-max',
  summary: 'the largest batch that fits a memory budget, found by safe probes and verified',
  usage: 'batchlab find-max [--dataset D --model M | --cmd COMMAND] [options]',
  description:
    'Finds the largest batch whose training step fits a memory budget. First it profiles the peak at\n' +
    `B = ${ANALYTIC_BATCHES.join(', ')} and fits peak = a + b B to predict the answer; then probes (a few real training\n` +
    'steps each, in a process of its own) search both ways from that prediction; the answer is verified\n' +
    'by a longer run. The margin held back comes from the measured spread of the peaks, at least --margin.\n' +
    'A probe over the budget or out of memory means "too big"; any other failure stops the search.\n' +
    'With --cmd on a GPU (--budget-on gpu or reported) it probes B = 1 and 8 only, then goes where the line\n' +
    "through the peaks meets the limit, the one an OOM message states (PyTorch's cap); --warm keeps one\n" +
    "process for all probes. From the probes' step times it reports where samples/s stops improving.",
  options: FIND_MAX_OPTIONS,
  examples: [
    'batchlab find-max --dataset mnist --model cnn --memory-budget 1GiB',
    'batchlab find-max --dataset mnist --model mlp --memory-budget 256MiB --target-batch 8192 --base-lr 0.05 --base-batch 64',
    'batchlab find-max --cmd "/usr/bin/python3 examples/pytorch/train.py --batch-size {batch} --max-steps {max_steps}" --memory-budget 2GiB',
    'batchlab find-max --cmd "python3 examples/pytorch/warm_mnist.py" --warm --budget-on gpu --memory-budget 80GiB',
  ],
  run: (input) => findMaxWithProgress(input),
  text: (report, { options }) => renderReport(report, options.db),
  json: (report, { options }) => ({ db: options.db, ...report }),
});

/** Runs find-max with a line per probe and a progress bar inside long probes. */
async function findMaxWithProgress({
  options,
  io,
  json,
  signal,
}: CommandInput<typeof FIND_MAX_OPTIONS>): Promise<FindMaxReport> {
  const verbose = !json;
  let progress: Progress | undefined;
  try {
    return await runFindMax(requestFrom(options), {
      signal,
      onPlan: ({ title, settings: s }) => {
        if (!verbose) return;
        io.err(`find-max: ${title}`);
        io.err(
          `budget ${formatBytes(s.budgetBytes)} on ${s.budgetOn}; margin at least ${pct0(s.marginFloor)}; probes of ${s.probeSteps} steps, verification of ${s.verifySteps}`,
        );
      },
      onProbeStart: ({ index, phase, batch, steps }) => {
        // A bar only on a terminal: in a log, the line per finished probe says enough.
        progress =
          verbose && io.errStream.isTTY
            ? createProgress({ stream: io.errStream, total: steps, label: `probe ${index} ${phase} B=${batch}` })
            : undefined;
      },
      onProbeStep: ({ step }) => progress?.update(step, {}),
      onProbeEnd: (r) => {
        progress?.done();
        if (verbose) io.err(probeLine(r));
      },
      onPrediction: ({ fit, prediction }) => {
        if (verbose && fit) io.err(`fit: ${fitText(fit)}; ${prediction.note}`);
      },
    });
  } finally {
    progress?.done();
  }
}

/** 0.1 -> "10%". */
function pct0(x: number): string {
  return `${+(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;
}

/** Bytes as MiB (2^20, the unit of the budget) with 4 significant digits, a number so the table right-aligns it. */
function mibCell(bytes: number | undefined): number | string {
  return bytes === undefined ? '-' : Number((bytes / 2 ** 20).toPrecision(4));
}

function probeLine(r: ProbeRecord): string {
  const peak =
    r.ok && r.peakBytes !== undefined
      ? `, peak ${r.peakAtMost ? 'at most ' : ''}${formatBytes(r.peakBytes)}${r.peakAtMost ? ' (a high-water mark set before it)' : ''}`
      : '';
  const why = r.why && r.why !== 'start' ? ` (${r.why})` : '';
  const reason = r.reason && !(r.ok && r.peakAtMost) ? ` (${r.reason})` : '';
  return `probe ${r.index} [${r.phase}] B=${r.batch}${why}: ${r.kind}${peak}${reason}, ${duration(r.ms)}`;
}

function fitText(fit: NonNullable<FindMaxReport['fit']>): string {
  return `peak = ${formatBytes(fit.interceptBytes)} + ${formatBytes(fit.bytesPerSample)} x B (R^2 ${fit.r2.toFixed(4)}, ${fit.n} points)`;
}

/** The fields of a probe its table shows (a stored probe maps onto them too). */
export type ProbeTableRow = Pick<
  ProbeRecord,
  'index' | 'phase' | 'batch' | 'peakBytes' | 'peakAtMost' | 'vmHwmBytes' | 'kind' | 'reason' | 'ms'
>;

/** The table of every probe. */
export function probeTable(probes: readonly ProbeTableRow[]): string {
  const cut = (t: string) => (t.length > 70 ? `${t.slice(0, 67)}...` : t);
  return table(
    ['#', 'phase', 'B', 'peak MiB', 'VmHWM MiB', 'result', 'reason', 'time'],
    probes.map((r) => [
      r.index,
      r.phase,
      r.batch,
      r.peakAtMost ? `<= ${mibCell(r.peakBytes)}` : mibCell(r.peakBytes),
      mibCell(r.vmHwmBytes),
      r.kind,
      cut(r.reason),
      duration(r.ms),
    ]),
  );
}

/** How the margin was set, in words. */
function marginText(r: FindMaxReport): string {
  const m = r.margin;
  const set =
    m.source === 'floor'
      ? `the floor (--margin ${m.floor})`
      : m.source === 'fit'
        ? 'the fit residuals'
        : 'the run-to-run spread';
  const run =
    m.repeatedBatches.length > 0
      ? `run-to-run std ${pct0(m.runRelStd)} at B = ${m.repeatedBatches.join(', ')} (the same batch measured twice, e.g. by its probe and its verification) -> ${pct0(m.runTerm)}`
      : 'no batch measured twice';
  const fit = r.fit ? `fit residual std ${formatBytes(r.fit.residualStdBytes)} -> ${pct0(m.fitTerm)}` : 'no fit';
  return `${pct0(m.margin)} of the budget, set by ${set}; measured spread (3 std, as a share of the budget): ${fit}; ${run}`;
}

/** The answer and how close it sits to the budget. */
function answerLines(r: FindMaxReport): string[] {
  const a = r.answer;
  const lines = [
    `answer     ${num(a.batch)} fits: peak ${formatBytes(a.peakBytes)} = ${pct0(a.budgetFraction)} of the ${formatBytes(r.budgetBytes)} budget (limit ${formatBytes(a.limitBytes)} after the ${pct0(r.margin.margin)} margin); verified over ${a.verifySteps} steps`,
  ];
  const p = r.prediction.batch;
  const vs =
    p !== undefined
      ? `the fit predicted ${num(p)}, the probes found ${num(a.batch)} (${a.batch >= p ? '+' : ''}${pct0((a.batch - p) / Math.max(1, p))})`
      : 'no prediction from the fit';
  const bracket =
    r.search.hi !== undefined
      ? `; ${num(r.search.lo)} passed and ${num(r.search.hi)} failed`
      : r.search.outcome === 'capped'
        ? '; capped: the largest batch allowed fits'
        : '';
  lines.push(`           ${vs}${bracket}`);
  lines.push(
    `           ${r.counts.total} probes (${r.counts.analytic} analytic, ${r.counts.search} search, ${r.counts.verify} verify) in ${duration(r.wallMs)}`,
  );
  return lines;
}

function targetLines(r: FindMaxReport): string[] {
  const t = r.target;
  if (t === undefined) return [];
  const same =
    t.sameSpeed === undefined
      ? []
      : [
          `           micro-batches from ${worthText(r)} up run within ${pct0(r.throughput?.within ?? 0)} of the best samples/s, so ${t.sameSpeed.text} takes about as long per update and holds less memory`,
        ];
  if (t.fits)
    return [
      `target     ${num(t.targetBatch)} fits directly (at most ${num(r.answer.batch)}): no accumulation needed`,
      ...same,
    ];
  return [
    `target     ${num(t.targetBatch)} does not fit; accumulate: ${t.plan.text} (micro-batch x accumulation steps, effective batch ${num(t.plan.effectiveBatch)})`,
    `           ${t.lr.text}`,
    ...same,
  ];
}

/** The batch worth using as printed: "1,024" where a probe measured it, "~2,100" (2 significant digits) where the fit placed it. */
function worthText(r: FindMaxReport): string {
  const w = r.throughput;
  if (w === undefined) return '-';
  return w.basis === 'fitted' ? `~${num(Number(w.worthFrom.toPrecision(2)))}` : num(w.worthFrom);
}

/** Where throughput stops improving (module doc of lab/find-max, step 4), in words with its numbers. */
function throughputLines(r: FindMaxReport): string[] {
  const w = r.throughput;
  if (w === undefined) return ['throughput fewer than two batch sizes timed: no statement about samples/s'];
  const points = w.points.map((p) => `B=${num(p.batchSize)} ${num(p.samplesPerSec)}`).join(', ');
  const lines = [
    `throughput samples/s per probed batch: ${points}`,
    `           t(B) = ${num(w.fit.alphaMs)} ms + ${num(w.fit.betaMsPerSample)} ms x B (R^2 ${w.fit.r2.toFixed(3)}); median step of each batch, the first step of every probe left out`,
  ];
  const best = `${num(w.best.samplesPerSec)} samples/s at B = ${num(w.best.batchSize)}`;
  if (w.outcome === 'still-rising')
    return [
      ...lines,
      `           ${num(r.answer.batch)} fits, and samples/s still rises up to the largest batch timed (best ${best}): the largest is the most efficient here`,
    ];
  if (w.outcome === 'flat')
    return [
      ...lines,
      `           ${num(r.answer.batch)} fits, but a larger batch buys no throughput here: the smallest batch timed, B = ${num(w.worthFrom)}, already runs within ${pct0(w.within)} of the best (${best})`,
    ];
  const where =
    w.basis === 'fitted'
      ? `the fitted t(B) reaches ${pct0(1 - w.within)} of the best there (${best}), between the probes at ${num(w.points.filter((p) => p.batchSize < w.measuredFrom).at(-1)?.batchSize)} and ${num(w.measuredFrom)}`
      : `B = ${num(w.worthFrom)} already runs within ${pct0(w.within)} of the best (${best})`;
  return [
    ...lines,
    `           ${num(r.answer.batch)} fits; above ${worthText(r)} a step only gets longer, not more efficient: ${where}`,
    '           (a few timed steps per batch; `batchlab sweep` measures throughput with intervals)',
  ];
}

/** Everything the command prints on stdout. */
export function renderReport(r: FindMaxReport, dbPath: string): string {
  return [
    '',
    probeTable(r.probes),
    '',
    `budget     ${formatBytes(r.budgetBytes)} on ${r.budgetOn}: ${r.measure}`,
    `memory     ${r.fit ? fitText(r.fit) : 'no fit (fewer than 2 batch sizes passed)'}`,
    `predicted  ${r.prediction.batch !== undefined ? num(r.prediction.batch) : '-'} under the limit of ${formatBytes(r.prediction.limitBytes)}; ${r.prediction.note}`,
    `search     ${r.search.strategy === 'limit' ? 'limit search (core/limit.ts): small probes at B = 1 and 8, then where the line through the peaks meets the limit' : 'from the line through the analytic probes, both ways'}`,
    `margin     ${marginText(r)}`,
    ...answerLines(r),
    ...throughputLines(r),
    ...targetLines(r),
    '',
    `stored as find-max experiment ${r.experimentId} in ${dbPath}`,
  ].join('\n');
}
