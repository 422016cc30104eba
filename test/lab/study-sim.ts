/**
 * A simulated study task for the tests (test/lab/study.test.ts, the browser test of the study report): a
 * stand-in for executeRun trains nothing but records, as the worker does, a run whose steps to the target
 * follow a known curve S(B, lr) = S_min (1 + B_crit / B) (1 + K ln(lr / lr*(B))^2), read at the evaluation
 * steps, with a divergence above 4 lr*(B) and the best LR linear in B up to 256, flat past it.
 */
import { summarizeRun } from '../../src/core/summarize-run.js';
import type { StepRecord } from '../../src/core/types.js';
import { trainConfig, type TrainConfig } from '../../src/engine/tfjs/trainer.js';
import type { ExecuteOptions, RunSpec } from '../../src/lab/run/execute.js';
import type { RunOutcome } from '../../src/lab/run/outcome.js';
import { type StudySettings, studySettings } from '../../src/lab/study/study.js';
import { openStore } from '../../src/store/index.js';

export const S_MIN = 60;
export const B_CRIT = 300;
/** Steps grow by K ln(lr / lr*)^2 away from the best LR. */
const K = 0.4;
/** Best LR: linear in B up to 256, flat past it. */
export const bestLr = (b: number): number => 0.02 * (Math.min(b, 256) / 16);

/** The simulated trial: steps run, and whether it reached the target or diverged there. */
export function simulate(config: TrainConfig): { steps: number; reached: boolean; diverged: boolean } {
  const b = config.batchSize;
  const limit = config.budget.maxSteps!;
  if (config.lr > 4 * bestLr(b)) return { steps: Math.min(3, limit), reached: false, diverged: true };
  const raw = S_MIN * (1 + B_CRIT / b) * (1 + K * Math.log(config.lr / bestLr(b)) ** 2);
  const atEval = Math.ceil(raw / config.evalEvery) * config.evalEvery; // read at the first evaluation past it
  return atEval <= limit
    ? { steps: atEval, reached: true, diverged: false }
    : { steps: limit, reached: false, diverged: false };
}

function fakeSteps(config: TrainConfig, count: number): StepRecord[] {
  const b = config.batchSize;
  return Array.from({ length: count }, (_, i) => ({
    step: i + 1,
    samples: (i + 1) * b,
    loss: 2 / (1 + (i + 1) / 50),
    lr: config.lr,
    stepMs: 1,
    batchSize: b,
    microBatchSize: b,
    accumSteps: 1,
    gradSqNorm: 1,
    microGradSqNorm: 1,
    peakBytes: 1000,
  }));
}

/** executeRun's stand-in: records the simulated trial in the store as the worker would; the n-th call is interrupted. */
export function simulatedExecute(o: {
  interruptCall?: number;
  oomAt?: { batchSize: number; lr: number };
  controller?: AbortController;
}) {
  const calls: TrainConfig[] = [];
  const execute = async (spec: RunSpec, options: ExecuteOptions = {}): Promise<RunOutcome> => {
    const config = (spec as Extract<RunSpec, { kind: 'tfjs' }>).config;
    calls.push(config);
    const store = openStore(options.record!.dbPath);
    const runId = options.record!.runId;
    try {
      store.startRun(runId);
      if (calls.length === o.interruptCall) {
        store.appendSteps(runId, fakeSteps(config, 2));
        store.finishRun(runId, { status: 'interrupted', reason: 'stopped by Ctrl-C' });
        o.controller?.abort();
        return { status: 'interrupted', code: 'BATCHLAB_INTERRUPTED', reason: 'stopped', wallMs: 1 };
      }
      if (o.oomAt && config.batchSize === o.oomAt.batchSize) {
        store.finishRun(runId, { status: 'oom', reason: 'out of memory (simulated)' });
        return { status: 'oom', code: 'BATCHLAB_OOM', reason: 'out of memory (simulated)', wallMs: 1 };
      }
      const sim = simulate(config);
      const steps = fakeSteps(config, sim.diverged ? sim.steps - 1 : sim.steps);
      store.appendSteps(runId, steps);
      if (sim.diverged) {
        store.finishRun(runId, { status: 'diverged', reason: `loss became NaN at step ${sim.steps}` });
        return { status: 'diverged', code: 'BATCHLAB_DIVERGED', reason: 'NaN', wallMs: 1 };
      }
      const metrics = { loss: 0.1, accuracy: 0.97 };
      const summary = summarizeRun(
        {
          status: sim.reached ? 'target-reached' : 'done',
          steps,
          evals: [],
          final: { train: metrics, test: metrics },
          trainMs: steps.length,
          wallMs: steps.length,
          samples: steps.length * config.batchSize,
          peakBytes: 1000,
          distanceFromInit: 1,
          reachedTarget: sim.reached
            ? { step: sim.steps, samples: sim.steps * config.batchSize, wallMs: 1 }
            : undefined,
        },
        { ...config, microBatchSize: config.batchSize, backend: 'simulated' },
      );
      store.finishRun(runId, { status: 'done', summary });
      return { status: 'done', summary, reason: '', wallMs: 1 };
    } finally {
      store.close();
    }
  };
  return { execute, calls };
}

export function simulatedSettings(extra: Partial<StudySettings> = {}): StudySettings {
  return studySettings({
    base: trainConfig({ dataset: 'gauss', model: { name: 'mlp', hidden: [8] }, optimizer: { name: 'sgd' } }),
    target: { metric: 'accuracy', value: 0.9 },
    batchSizes: [16, 64, 256, 512, 1024],
    baseLr: 0.02,
    baseBatch: 16,
    lrRule: 'sqrt',
    trainCount: 65_536,
    seeds: [1, 2],
    ...extra,
  });
}
