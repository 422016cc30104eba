/**
 * Reading the metrics an external command reports: one JSON object per line, either appended to the
 * file named by BATCHLAB_METRICS or printed on stdout after the prefix `batchlab:`. Every field but
 * `step` is optional; unknown fields are kept. A bad line is counted and reported, never fatal: a
 * typo in the user's logging must not cost them the run. See docs/protocol.md.
 */
import { StringDecoder } from 'node:string_decoder';
import { STEP_PROTOCOL_FIELDS } from '../../core/step-fields.js';
import type { StepRecord } from '../../core/types.js';
import type { ResolvedValues } from './template.js';

/** Prefix of a metrics line on stdout. */
export const STDOUT_PREFIX = 'batchlab:';

/** Protocol field -> StepRecord field, for the numeric fields of one step (derived from core/step-fields.ts). */
export const STEP_FIELDS = STEP_PROTOCOL_FIELDS;

/** Numeric fields with these prefixes are evaluation metrics (eval_loss, test_accuracy, train_accuracy, ...). */
const EVAL_FIELD_PATTERN = /^(eval|test|val|valid|validation|train)_/;

/** How many malformed lines are kept verbatim for the report (all are counted). */
export const MAX_MALFORMED_SAMPLES = 5;
/** A line longer than this is cut there (and will be malformed): bounds memory against runaway output. */
export const MAX_LINE_CHARS = 1 << 20;

/** One update as the command reported it, mapped to StepRecord where the fields exist. */
export interface ExternalStep extends Partial<Omit<StepRecord, 'step'>> {
  step: number;
  /** Evaluation metrics reported with this step (eval_loss, test_accuracy, ...), by protocol name. */
  evals: Record<string, number>;
  /** Milliseconds after the trial started that the first line of this step arrived. */
  receivedMs: number;
}

/** A line that was not a valid metrics object, with why. */
export interface MalformedLine {
  channel: 'file' | 'stdout';
  line: string;
  reason: string;
}

/** Result of parsing one line: the object, or why it is not one. */
export type ParsedLine = { ok: true; record: Record<string, unknown> } | { ok: false; reason: string };

/** Marks Python's non-standard NaN / Infinity tokens while a line is re-parsed. */
const NON_FINITE_MARK = '\u0000batchlab-nonfinite:';

/**
 * JSON.parse that also accepts the bare NaN, Infinity and -Infinity that Python's json.dumps writes
 * for a diverged loss (they are not JSON, but losing the line would hide the divergence).
 */
function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // Quote the bare tokens (skipping string literals), then turn the marked strings back into numbers.
    const quoted = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) =>
      m.startsWith('"') ? m : JSON.stringify(NON_FINITE_MARK + m),
    );
    if (quoted === text) throw err;
    return JSON.parse(quoted, (_key, value: unknown) =>
      typeof value === 'string' && value.startsWith(NON_FINITE_MARK)
        ? Number(value.slice(NON_FINITE_MARK.length))
        : value,
    );
  }
}

/**
 * Parses one metrics line (without the stdout prefix). Valid: a JSON object whose `step` is an
 * integer >= 0 and whose known numeric fields (STEP_FIELDS) are numbers (NaN/Infinity allowed).
 */
export function parseMetricLine(text: string): ParsedLine {
  let value: unknown;
  try {
    value = parseJsonLenient(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  if (!Number.isSafeInteger(record.step) || (record.step as number) < 0)
    return { ok: false, reason: `"step" must be an integer >= 0, got ${JSON.stringify(record.step) ?? 'nothing'}` };
  for (const field of Object.keys(STEP_FIELDS)) {
    if (record[field] !== undefined && typeof record[field] !== 'number')
      return { ok: false, reason: `"${field}" must be a number, got ${JSON.stringify(record[field])}` };
  }
  return { ok: true, record };
}

/** Options of MetricsCollector. */
export interface MetricsCollectorOptions {
  /** The trial's values: fill batchSize, microBatchSize, accumSteps and lr when a line does not report them. */
  defaults: ResolvedValues;
  /** Milliseconds since the trial started. */
  clockMs: () => number;
  /** Called for every valid line, after it was merged into its step. */
  onMetric?: (step: ExternalStep, raw: Record<string, unknown>) => void;
}

/**
 * Collects the metric lines of one trial from both channels. Lines with the same `step` merge into one
 * ExternalStep (a later field wins), so an evaluation reported on its own line at the last step, or a
 * trainer writing to both channels, does not make extra steps.
 */
export class MetricsCollector {
  /** Steps in order of first arrival. */
  readonly steps: ExternalStep[] = [];
  /** Every valid object as parsed, in arrival order. */
  readonly raw: Record<string, unknown>[] = [];
  /** The first MAX_MALFORMED_SAMPLES bad lines. */
  readonly malformedSamples: MalformedLine[] = [];
  malformedLines = 0;
  /** Largest peak_mem_bytes any line reported. */
  reportedPeakBytes: number | undefined;
  private readonly byStep = new Map<number, ExternalStep>();
  private readonly options: MetricsCollectorOptions;

  constructor(options: MetricsCollectorOptions) {
    this.options = options;
  }

  /** Takes one line of the metrics file. Blank lines are skipped. */
  addFileLine(line: string): void {
    if (line.trim() !== '') this.addJson(line, 'file');
  }

  /** Takes one stdout line; only lines starting with STDOUT_PREFIX are metrics, the rest is the program's own output. */
  addStdoutLine(line: string): void {
    const trimmed = line.trimStart();
    if (trimmed.startsWith(STDOUT_PREFIX)) this.addJson(trimmed.slice(STDOUT_PREFIX.length), 'stdout');
  }

  private addJson(text: string, channel: MalformedLine['channel']): void {
    const parsed = parseMetricLine(text);
    if (!parsed.ok) {
      this.malformedLines++;
      if (this.malformedSamples.length < MAX_MALFORMED_SAMPLES)
        this.malformedSamples.push({ channel, line: text.slice(0, 200), reason: parsed.reason });
      return;
    }
    this.raw.push(parsed.record);
    const step = this.merge(parsed.record);
    const peak = step.peakBytes;
    if (peak !== undefined && Number.isFinite(peak))
      this.reportedPeakBytes = Math.max(this.reportedPeakBytes ?? 0, peak);
    this.options.onMetric?.(step, parsed.record);
  }

  /** Merges a valid record into the step it names, creating the step (with defaults) on first sight. */
  private merge(record: Record<string, unknown>): ExternalStep {
    const n = record.step as number;
    let step = this.byStep.get(n);
    if (step === undefined) {
      step = this.newStep(n, record);
      this.byStep.set(n, step);
      this.steps.push(step);
    }
    const target = step as unknown as Record<string, number>;
    for (const [field, value] of Object.entries(record)) {
      if (typeof value !== 'number') continue;
      const mapped = STEP_FIELDS[field];
      if (mapped !== undefined) target[mapped] = value;
      else if (EVAL_FIELD_PATTERN.test(field)) step.evals[field] = value;
    }
    return step;
  }

  /** A fresh step: the trial's values as defaults; samples = previous samples + this step's batch. */
  private newStep(n: number, record: Record<string, unknown>): ExternalStep {
    const d = this.options.defaults;
    const batchSize = typeof record.batch === 'number' ? record.batch : d.batch;
    const previous = this.steps[this.steps.length - 1];
    const step: ExternalStep = {
      step: n,
      evals: {},
      receivedMs: this.options.clockMs(),
      batchSize,
      microBatchSize: d.microBatch,
      accumSteps: d.accum,
      samples: (previous?.samples ?? 0) + batchSize,
    };
    if (d.lr !== undefined) step.lr = d.lr;
    return step;
  }

  /** Evaluation metrics of the whole trial: for each name, the value of the last step that reported it. */
  finalEvals(): Record<string, number> {
    return Object.assign({}, ...this.steps.map((s) => s.evals)) as Record<string, number>;
  }
}

/** Steady-state speed of a trial and where the number comes from. */
export interface StepRate {
  stepsPerSec: number;
  /** 'step_ms': 1000 / median reported step_ms; 'arrival': from when the step lines arrived. */
  source: 'step_ms' | 'arrival';
}

/**
 * Steps per second after warm-up: the first reported step is dropped (compilation, allocator and
 * cache warm-up make it slow). Prefers the median of the reported step_ms, which is immune to output
 * buffering; else (n - 1) / (time between the first and the last remaining arrivals). Undefined when
 * fewer than 2 steps remain or all arrived at once (a block-buffered stdout; see docs/protocol.md).
 */
export function stepRate(steps: readonly ExternalStep[]): StepRate | undefined {
  const settled = steps.slice(1);
  const ms = settled.map((s) => s.stepMs).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  if (ms.length >= 1) {
    const sorted = [...ms].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median =
      sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    return { stepsPerSec: 1000 / median, source: 'step_ms' };
  }
  if (settled.length < 2) return undefined;
  const spanMs = (settled[settled.length - 1] as ExternalStep).receivedMs - (settled[0] as ExternalStep).receivedMs;
  return spanMs > 0 ? { stepsPerSec: ((settled.length - 1) * 1000) / spanMs, source: 'arrival' } : undefined;
}

/**
 * Splits a byte stream into lines (\n or \r\n), decoding UTF-8 across chunk boundaries. A line longer
 * than MAX_LINE_CHARS is emitted in pieces.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  /** Returns the complete lines in `chunk` (plus what was pending). */
  push(chunk: Buffer | string): string[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = this.pending.split('\n');
    this.pending = parts.pop() as string;
    while (this.pending.length > MAX_LINE_CHARS) {
      parts.push(this.pending.slice(0, MAX_LINE_CHARS));
      this.pending = this.pending.slice(MAX_LINE_CHARS);
    }
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** Returns the last line if the stream did not end with a newline. */
  end(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest === '' ? [] : [rest];
  }
}
