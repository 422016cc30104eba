/**
 * The command-line template of an external trial: `{batch}`-style placeholders filled with the trial's
 * values, and the same values as BATCHLAB_* environment variables. See docs/protocol.md.
 *
 * Placeholder syntax: `{name}` where name is an identifier. Left alone, so the shell still sees them:
 * `${VAR}` (shell parameter expansion), `{a,b}` (brace expansion: not an identifier) and `\{name}`
 * (escaped; the backslash stays, so /bin/sh prints a literal `{name}`).
 */
import { BatchSizeError, UsageError } from '../../core/errors.js';
import { escapeControl } from '../../core/text.js';

/** The values of one trial. batch is the effective batch B = microBatch x accum. */
export interface TrialValues {
  /** Effective batch B: samples per update. */
  batch: number;
  /** Micro-batch b: samples per forward/backward pass; default `batch` (or batch / accum). */
  microBatch?: number;
  /** Accumulation steps k; default batch / microBatch (1 when neither is given). */
  accum?: number;
  /** Learning rate; `{lr}` and BATCHLAB_LR need it. */
  lr?: number;
  /** Steps (updates) to run; `{max_steps}` and BATCHLAB_MAX_STEPS need it. */
  maxSteps?: number;
  /** Seed of the initial weights and the sample order; `{seed}` and BATCHLAB_SEED need it. */
  seed?: number;
  /** A checkpoint to resume from (a file the command wrote as `{checkpoint_out}` of an earlier run). */
  checkpointIn?: string;
  /** Where the command saves its full training state when it ends. */
  checkpointOut?: string;
  /** The step the checkpoint in was saved at (0 without one); step numbers continue from it. */
  resumeStep?: number;
}

/** TrialValues with the batch plan filled in (B = b x k holds). */
export interface ResolvedValues extends TrialValues {
  microBatch: number;
  accum: number;
}

/** Placeholder name -> [TrialValues key, environment variable]. The one table of names. */
export const PLACEHOLDERS = {
  batch: ['batch', 'BATCHLAB_BATCH_SIZE'],
  micro_batch: ['microBatch', 'BATCHLAB_MICRO_BATCH'],
  accum: ['accum', 'BATCHLAB_ACCUM'],
  lr: ['lr', 'BATCHLAB_LR'],
  max_steps: ['maxSteps', 'BATCHLAB_MAX_STEPS'],
  seed: ['seed', 'BATCHLAB_SEED'],
  checkpoint_in: ['checkpointIn', 'BATCHLAB_CHECKPOINT_IN'],
  checkpoint_out: ['checkpointOut', 'BATCHLAB_CHECKPOINT_OUT'],
  resume_step: ['resumeStep', 'BATCHLAB_RESUME_STEP'],
} as const satisfies Record<string, readonly [keyof TrialValues, string]>;

/** Environment variable holding the path of the metrics file the command may append JSON lines to. */
export const METRICS_ENV = 'BATCHLAB_METRICS';

type PlaceholderName = keyof typeof PLACEHOLDERS;

/**
 * Placeholders that stand for "none" when the run has no value: a run from scratch has no checkpoint to
 * load, a branch window none to save. They expand to '' (an empty argument); the script treats an empty
 * path as none. Every other placeholder without a value is an error.
 */
const EMPTY_WHEN_ABSENT: ReadonlySet<PlaceholderName> = new Set(['checkpoint_in', 'checkpoint_out']);

/** `{identifier}` not preceded by `$` (shell expansion) or `\` (escape). */
const PLACEHOLDER_PATTERN = /(?<![$\\])\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Fills in microBatch and accum so that batch = microBatch x accum, checking every value.
 * Throws BatchSizeError naming the value for a non-positive or non-integer size, or when the three disagree.
 */
export function resolveValues(v: TrialValues): ResolvedValues {
  const positiveInt = (n: number | undefined, what: string): void => {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1))
      throw new BatchSizeError(`${what} must be a positive integer, got ${n}; pass e.g. 64`);
  };
  positiveInt(v.batch, 'batch size');
  positiveInt(v.microBatch, 'micro-batch size');
  positiveInt(v.accum, 'accumulation steps');
  const accum = v.accum ?? (v.microBatch === undefined ? 1 : v.batch / v.microBatch);
  const microBatch = v.microBatch ?? v.batch / accum;
  if (!Number.isInteger(accum) || !Number.isInteger(microBatch) || microBatch * accum !== v.batch) {
    throw new BatchSizeError(
      `batch size ${v.batch} must equal micro-batch x accumulation steps, got ${v.microBatch ?? '?'} x ${v.accum ?? '?'}; pick a micro-batch that divides ${v.batch}`,
    );
  }
  if (v.lr !== undefined && !(Number.isFinite(v.lr) && v.lr > 0))
    throw new UsageError(`learning rate must be a positive number, got ${v.lr}; pass e.g. --lr 0.1`);
  if (v.maxSteps !== undefined && !(Number.isInteger(v.maxSteps) && v.maxSteps >= 1)) {
    throw new UsageError(
      `max steps must be a positive integer, got ${v.maxSteps}; {max_steps} comes from --budget steps=N or --probe-steps N`,
    );
  }
  if (v.seed !== undefined && !Number.isSafeInteger(v.seed))
    throw new UsageError(`seed must be an integer, got ${v.seed}`);
  if (v.resumeStep !== undefined && !(Number.isSafeInteger(v.resumeStep) && v.resumeStep >= 0))
    throw new UsageError(`resume step must be an integer >= 0, got ${v.resumeStep}`);
  for (const [path, what] of [
    [v.checkpointIn, 'checkpoint in'],
    [v.checkpointOut, 'checkpoint out'],
  ] as const) {
    if (path !== undefined && (path === '' || path.includes('\0')))
      throw new UsageError(`the ${what} path must be a non-empty path, got "${escapeControl(path)}"`);
  }
  return { ...v, microBatch, accum };
}

/** The text of one value in an environment variable ('0.1', '64', a path as it is); numbers print as JS does. */
function valueText(v: number | string): string {
  return String(v);
}

/**
 * A value as it goes into the command line, which /bin/sh parses: a number as it prints, a path in single
 * quotes (a quote inside written as '\''), so spaces and shell characters in it stay part of the path.
 */
function commandText(v: number | string): string {
  return typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "'\\''")}'`;
}

/**
 * Replaces each `{name}` placeholder of `template` with its value. Throws UsageError naming the
 * placeholder when it is unknown (listing the valid ones) or when its value was not given.
 * Numbers go in as they print; paths (the checkpoints) single-quoted for the shell.
 */
export function expandCommand(template: string, values: ResolvedValues): string {
  if (template.trim() === '')
    throw new UsageError('the training command is empty; pass e.g. --cmd "python train.py --batch-size {batch}"');
  return template.replace(PLACEHOLDER_PATTERN, (_match, name: string) => {
    if (!Object.hasOwn(PLACEHOLDERS, name)) {
      throw new UsageError(
        `unknown placeholder {${name}} in the command "${escapeControl(template)}"; valid placeholders: ${Object.keys(
          PLACEHOLDERS,
        )
          .map((p) => `{${p}}`)
          .join(', ')} (write \\{${name}} for a literal brace)`,
      );
    }
    const value = values[PLACEHOLDERS[name as PlaceholderName][0]];
    if (value === undefined && EMPTY_WHEN_ABSENT.has(name as PlaceholderName)) return "''";
    if (value === undefined)
      throw new UsageError(
        `the command uses {${name}} but no value was given for it; pass one (e.g. --${name.replace('_', '-')})`,
      );
    return commandText(value);
  });
}

/** Placeholders whose value changes from probe to probe: a warm process is started once, so it cannot have them. */
const PER_PROBE_PLACEHOLDERS: readonly PlaceholderName[] = ['batch', 'micro_batch', 'accum', 'max_steps'];

/**
 * The command of a warm process (docs/protocol.md, "Warm probes"): started once, it gets each probe's
 * batch and steps on stdin, so {batch}, {micro_batch}, {accum} and {max_steps} are refused with a
 * message that says so; {lr} and {seed} are filled in as for a trial.
 */
export function expandWarmCommand(template: string, values: Pick<TrialValues, 'lr' | 'seed'>): string {
  for (const m of template.matchAll(PLACEHOLDER_PATTERN)) {
    const name = m[1] as PlaceholderName;
    if (PER_PROBE_PLACEHOLDERS.includes(name))
      throw new UsageError(
        `a warm command has no {${name}}: it starts once and reads each probe's batch and steps from stdin (docs/protocol.md, "Warm probes"); drop {${name}} from "${escapeControl(template)}"`,
      );
  }
  return expandCommand(template, { ...values, batch: 1, microBatch: 1, accum: 1 });
}

/** The BATCHLAB_* variables of one trial: each value that was given, plus BATCHLAB_METRICS. */
export function trialEnv(values: ResolvedValues, metricsPath: string): Record<string, string> {
  const env: Record<string, string> = { [METRICS_ENV]: metricsPath };
  for (const [key, name] of Object.values(PLACEHOLDERS)) {
    const value = values[key];
    if (value !== undefined) env[name] = valueText(value);
  }
  return env;
}
