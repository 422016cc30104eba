/**
 * The Store: batchlab's SQLite database of experiments, runs, per-step metrics, evaluations and
 * find-max probes (see ./schema.ts for the tables).
 *
 * Concurrency: the file is in WAL mode, so any number of readers (a dashboard, `report`, a second
 * `openStore`) read a consistent snapshot while one writer (the sweep) appends; a writer that finds the
 * write lock taken waits up to `busyTimeoutMs` and then fails with a BATCHLAB_STORE "locked" error.
 * better-sqlite3 is synchronous: every method returns when its data is committed.
 */
import Database from 'better-sqlite3';
import { BatchlabError } from '../core/errors.js';
import type { EvalRecord, StepRecord } from '../core/types.js';
import { assertSqliteHeader, initializeSchema, inspectFile, rejectVerdict, translateSqliteError } from './open.js';
import {
  EXPERIMENT_KINDS,
  EXPERIMENT_STATUSES,
  PROBE_KINDS,
  PROBE_PHASES,
  RUN_STATUSES,
  UNFINISHED_RUN_STATUSES,
  type Experiment,
  type ExperimentKind,
  type ExperimentListing,
  type ExperimentStatus,
  type FinishedRunStatus,
  type JsonObject,
  type NewProbe,
  type Probe,
  type Run,
  type RunPlan,
  type RunStatus,
} from './types.js';

export interface OpenStoreOptions {
  /** Open without write access (dashboard, report). The file must exist and hold batchlab data. */
  readonly?: boolean;
  /** How long a write waits for another connection's write lock before failing, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Clock for created_at/started_at/finished_at; tests pass a fixed one. Default `() => new Date()`. */
  now?: () => Date;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Reason written by `markRunningAsInterrupted` when the caller gives none. */
export const KILLED_PARENT_REASON = 'the batchlab process running it stopped before the run finished';

/**
 * Opens (creating if needed) the batchlab database at `path` (callers default to `./batchlab.db`;
 * ':memory:' gives a private in-memory database). Throws BATCHLAB_STORE, leaving the file untouched,
 * if it is not a batchlab database, was written by a newer batchlab, or is locked past the timeout.
 */
export function openStore(path: string, opts: OpenStoreOptions = {}): Store {
  return Store.open(path, opts);
}

/** Row shapes as SQLite returns them (snake_case, NULLs, 0/1 booleans). */
interface ExperimentRow {
  id: number;
  kind: string;
  created_at: string;
  status: string;
  settings: string;
  summary: string | null;
  env: string;
}
interface RunRow {
  id: number;
  experiment_id: number;
  key: string;
  batch_size: number;
  micro_batch_size: number;
  accum_steps: number;
  seed: number;
  lr: number;
  status: string;
  reason: string | null;
  started_at: string | null;
  finished_at: string | null;
  summary: string | null;
  settings: string;
}
interface StepRow {
  step: number;
  samples: number;
  loss: number | null;
  lr: number | null;
  step_ms: number | null;
  batch_size: number;
  micro_batch_size: number;
  accum_steps: number;
  grad_sq_norm: number | null;
  micro_grad_sq_norm: number | null;
  peak_bytes: number | null;
}
interface EvalRow {
  step: number;
  samples: number;
  split: string;
  loss: number | null;
  accuracy: number | null;
}
interface ProbeRow {
  id: number;
  experiment_id: number;
  batch_size: number;
  ok: number;
  kind: string;
  peak_bytes: number | null;
  rss_bytes: number | null;
  ms: number | null;
  message: string | null;
  phase: string;
}

export class Store {
  /** The path this store was opened with, as given (used in every error message). */
  readonly path: string;
  readonly readonly: boolean;
  readonly busyTimeoutMs: number;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  /** Prepared statements by SQL text; preparing once keeps the per-batch cost to binding and stepping. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database, path: string, opts: Required<OpenStoreOptions>) {
    this.db = db;
    this.path = path;
    this.readonly = opts.readonly;
    this.busyTimeoutMs = opts.busyTimeoutMs;
    this.now = opts.now;
  }

  /** See `openStore`. */
  static open(path: string, opts: OpenStoreOptions = {}): Store {
    const full: Required<OpenStoreOptions> = {
      readonly: opts.readonly ?? false,
      busyTimeoutMs: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      now: opts.now ?? (() => new Date()),
    };
    const inMemory = path === ':memory:' || path === '';
    if (!inMemory) assertSqliteHeader(path);
    const db = connect(path, full);
    try {
      prepareConnection(db, path, full.readonly);
    } catch (err) {
      db.close();
      throw translateSqliteError(err, path, full.busyTimeoutMs);
    }
    return new Store(db, path, full);
  }

  /** Whether `close()` has not been called yet. */
  get isOpen(): boolean {
    return this.db.open;
  }

  /** Closes the connection; later calls on this Store throw. Calling it twice is harmless. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE), e.g. to plan every run of a sweep at once.
   * Store methods called inside join it; if `fn` throws, everything it wrote is rolled back.
   */
  transaction<T>(fn: () => T): T {
    return this.write(fn);
  }

  // ---- experiments -------------------------------------------------------------------------------

  /** Creates an experiment with status 'running' and returns it. */
  createExperiment(input: { kind: ExperimentKind; settings: object; env: object }): Experiment {
    assertOneOf('experiment kind', input.kind, EXPERIMENT_KINDS);
    return this.write(() => {
      const info = this.stmt(
        `INSERT INTO experiments (kind, created_at, status, settings, summary, env)
         VALUES (?, ?, 'running', ?, NULL, ?)`,
      ).run(input.kind, this.timestamp(), toJson(input.settings, 'settings'), toJson(input.env, 'env'));
      return this.getExperiment(Number(info.lastInsertRowid));
    });
  }

  /** The experiment with this id; BATCHLAB_NOT_FOUND if there is none. */
  getExperiment(id: number): Experiment {
    return this.guard(() => {
      const row = this.stmt('SELECT * FROM experiments WHERE id = ?').get(checkId('experiment', id)) as
        | ExperimentRow
        | undefined;
      if (row === undefined) throw this.experimentNotFound(id);
      return toExperiment(row, this.path);
    });
  }

  /** The most recently created experiment (of `kind`, if given), or undefined if there is none. */
  latestExperiment(kind?: ExperimentKind): Experiment | undefined {
    if (kind !== undefined) assertOneOf('experiment kind', kind, EXPERIMENT_KINDS);
    return this.guard(() => {
      const row = this.stmt(
        'SELECT * FROM experiments WHERE (@kind IS NULL OR kind = @kind) ORDER BY id DESC LIMIT 1',
      ).get({ kind: kind ?? null }) as ExperimentRow | undefined;
      return row === undefined ? undefined : toExperiment(row, this.path);
    });
  }

  /** Experiments, newest first, each with its run counts by status. `limit` caps how many. */
  listExperiments(opts: { kind?: ExperimentKind; limit?: number } = {}): ExperimentListing[] {
    if (opts.kind !== undefined) assertOneOf('experiment kind', opts.kind, EXPERIMENT_KINDS);
    return this.guard(() => {
      const rows = this.stmt(
        `SELECT e.*,
           (SELECT json_group_object(status, n)
              FROM (SELECT status, count(*) AS n FROM runs r WHERE r.experiment_id = e.id GROUP BY status)
           ) AS run_counts
         FROM experiments e
         WHERE (@kind IS NULL OR e.kind = @kind)
         ORDER BY e.id DESC
         LIMIT @limit`,
      ).all({ kind: opts.kind ?? null, limit: opts.limit ?? -1 }) as (ExperimentRow & { run_counts: string })[];
      return rows.map((row) => {
        const runCounts = JSON.parse(row.run_counts) as Partial<Record<RunStatus, number>>;
        const runCount = Object.values(runCounts).reduce((a, n) => a + (n ?? 0), 0);
        return { ...toExperiment(row, this.path), runCount, runCounts };
      });
    });
  }

  /** Sets an experiment's status; BATCHLAB_NOT_FOUND for an unknown id. */
  setExperimentStatus(id: number, status: ExperimentStatus): void {
    assertOneOf('experiment status', status, EXPERIMENT_STATUSES);
    this.write(() => {
      const info = this.stmt('UPDATE experiments SET status = ? WHERE id = ?').run(status, checkId('experiment', id));
      if (info.changes === 0) throw this.experimentNotFound(id);
    });
  }

  /** Replaces an experiment's summary (null clears it); BATCHLAB_NOT_FOUND for an unknown id. */
  setExperimentSummary(id: number, summary: object | null): void {
    this.write(() => {
      const info = this.stmt('UPDATE experiments SET summary = ? WHERE id = ?').run(
        summary === null ? null : toJson(summary, 'summary'),
        checkId('experiment', id),
      );
      if (info.changes === 0) throw this.experimentNotFound(id);
    });
  }

  // ---- runs --------------------------------------------------------------------------------------

  /**
   * Plans a run: inserts it as 'pending' if (experimentId, key) is new, else returns the stored run
   * unchanged, whatever its status. That makes planning idempotent, so a resume that re-plans a sweep
   * never duplicates or resets a run. If the stored run has a different batch size, micro-batch,
   * accumulation, seed or lr, throws BATCHLAB_BAD_ARGUMENT: the resume does not match the experiment.
   */
  upsertRun(plan: RunPlan): Run {
    const microBatchSize = plan.microBatchSize ?? plan.batchSize;
    const accumSteps = plan.accumSteps ?? Math.ceil(plan.batchSize / microBatchSize);
    checkPositiveInt('batch size', plan.batchSize);
    checkPositiveInt('micro-batch size', microBatchSize);
    checkPositiveInt('accumulation steps', accumSteps);
    if (!Number.isSafeInteger(plan.seed)) throw badArgument(`seed must be an integer, got ${plan.seed}`);
    if (!Number.isFinite(plan.lr)) throw badArgument(`learning rate must be a finite number, got ${plan.lr}`);
    const planned = { batchSize: plan.batchSize, microBatchSize, accumSteps, seed: plan.seed, lr: plan.lr };
    return this.write(() => {
      this.requireExperiment(plan.experimentId);
      const existing = this.stmt('SELECT * FROM runs WHERE experiment_id = ? AND key = ?').get(
        plan.experimentId,
        plan.key,
      ) as RunRow | undefined;
      if (existing !== undefined) {
        const run = toRun(existing, this.path);
        assertSamePlan(run, planned);
        return run;
      }
      const info = this.stmt(
        `INSERT INTO runs (experiment_id, key, batch_size, micro_batch_size, accum_steps, seed, lr, status, settings)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
      ).run(
        plan.experimentId,
        plan.key,
        plan.batchSize,
        microBatchSize,
        accumSteps,
        plan.seed,
        plan.lr,
        toJson(plan.settings ?? {}, 'run settings'),
      );
      return this.getRun(Number(info.lastInsertRowid));
    });
  }

  /** The run with this id; BATCHLAB_NOT_FOUND if there is none. */
  getRun(id: number): Run {
    return this.guard(() => toRun(this.requireRun(id), this.path));
  }

  /**
   * Marks an unfinished run 'running' with started_at = now and clears reason/summary/finished_at.
   * Steps and evals that an earlier attempt left after step `keepStepsThrough` (default 0: all) are
   * deleted, because the new attempt writes them again (pass the checkpoint's step to keep the rest).
   * A finished run (done, failed, oom, ...) is refused with BATCHLAB_STORE: its results are never
   * overwritten by a rerun.
   */
  startRun(id: number, opts: { keepStepsThrough?: number } = {}): Run {
    const keep = opts.keepStepsThrough ?? 0;
    return this.write(() => {
      const run = toRun(this.requireRun(id), this.path);
      if (!isUnfinished(run.status)) {
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${run.key}") of experiment ${run.experimentId} already finished with status ` +
            `${run.status}; batchlab never reruns a finished run over its results (start a new experiment)`,
          { exitCode: 2 },
        );
      }
      this.stmt('DELETE FROM steps WHERE run_id = ? AND step > ?').run(id, keep);
      this.stmt('DELETE FROM evals WHERE run_id = ? AND step > ?').run(id, keep);
      this.stmt(
        `UPDATE runs SET status = 'running', started_at = ?, finished_at = NULL, reason = NULL, summary = NULL
         WHERE id = ?`,
      ).run(this.timestamp(), id);
      return this.getRun(id);
    });
  }

  /**
   * Records how an attempt ended: status, finished_at = now, reason (or null) and summary (kept as is
   * when omitted). Refuses (BATCHLAB_STORE) a run that already has a final status, so a finished
   * result is never replaced; 'interrupted' runs may be finished again.
   */
  finishRun(id: number, outcome: { status: FinishedRunStatus; reason?: string; summary?: object }): Run {
    assertOneOf('final run status', outcome.status, FINISHED_RUN_STATUSES);
    return this.write(() => {
      const run = toRun(this.requireRun(id), this.path);
      if (!isUnfinished(run.status)) {
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${run.key}") already finished with status ${run.status}; cannot record ${outcome.status} over it`,
          { exitCode: 2 },
        );
      }
      this.stmt(
        `UPDATE runs SET status = ?, reason = ?, finished_at = ?, summary = COALESCE(?, summary) WHERE id = ?`,
      ).run(
        outcome.status,
        outcome.reason ?? null,
        this.timestamp(),
        outcome.summary === undefined ? null : toJson(outcome.summary, 'run summary'),
        id,
      );
      return this.getRun(id);
    });
  }

  /** All runs of an experiment in planning order; BATCHLAB_NOT_FOUND for an unknown experiment. */
  runsOf(experimentId: number): Run[] {
    return this.guard(() => {
      this.requireExperiment(experimentId);
      const rows = this.stmt('SELECT * FROM runs WHERE experiment_id = ? ORDER BY id').all(experimentId) as RunRow[];
      return rows.map((r) => toRun(r, this.path));
    });
  }

  /** Runs a resume still has to do (pending, running, interrupted), in planning order. */
  unfinishedRuns(experimentId: number): Run[] {
    return this.guard(() => {
      this.requireExperiment(experimentId);
      const rows = this.stmt(
        `SELECT * FROM runs WHERE experiment_id = ? AND status IN ('pending', 'running', 'interrupted') ORDER BY id`,
      ).all(experimentId) as RunRow[];
      return rows.map((r) => toRun(r, this.path));
    });
  }

  /**
   * Turns every 'running' run of the experiment into 'interrupted' (with `reason`), for a resume after
   * the parent process was killed and could not record it. Returns how many runs changed.
   */
  markRunningAsInterrupted(experimentId: number, reason: string = KILLED_PARENT_REASON): number {
    return this.write(() => {
      this.requireExperiment(experimentId);
      const info = this.stmt(
        `UPDATE runs SET status = 'interrupted', reason = ? WHERE experiment_id = ? AND status = 'running'`,
      ).run(reason, experimentId);
      return info.changes;
    });
  }

  // ---- steps and evals ---------------------------------------------------------------------------

  /**
   * Appends step records in ONE transaction (all or none; callers batch, see StepWriter). A step that
   * is already stored for the run is replaced: the last write wins. Returns the number written.
   */
  appendSteps(runId: number, steps: readonly StepRecord[]): number {
    if (steps.length === 0) return 0;
    return this.write(() => {
      this.requireRun(runId);
      const insert = this.stmt(
        `INSERT OR REPLACE INTO steps (run_id, step, samples, loss, lr, step_ms, batch_size, micro_batch_size,
           accum_steps, grad_sq_norm, micro_grad_sq_norm, peak_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const s of steps) {
        insert.run(
          runId,
          s.step,
          s.samples,
          s.loss,
          s.lr,
          s.stepMs,
          s.batchSize,
          s.microBatchSize,
          s.accumSteps,
          s.gradSqNorm,
          s.microGradSqNorm,
          s.peakBytes,
        );
      }
      return steps.length;
    });
  }

  /** Appends evaluation records in one transaction; one per (step, split), the last write wins. */
  appendEvals(runId: number, evals: readonly EvalRecord[]): number {
    if (evals.length === 0) return 0;
    return this.write(() => {
      this.requireRun(runId);
      const insert = this.stmt(
        `INSERT OR REPLACE INTO evals (run_id, step, split, samples, loss, accuracy) VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const e of evals) {
        assertOneOf('eval split', e.split, SPLITS);
        insert.run(runId, e.step, e.split, e.samples, e.loss, e.accuracy ?? null);
      }
      return evals.length;
    });
  }

  /**
   * Step records of a run in step order, from `fromStep` (inclusive) on — a dashboard polls with the
   * last step it has + 1. A NaN loss or norm is stored as NULL by SQLite and read back as NaN.
   */
  stepsOf(runId: number, opts: { fromStep?: number } = {}): StepRecord[] {
    return this.guard(() => {
      this.requireRun(runId);
      const rows = this.stmt('SELECT * FROM steps WHERE run_id = ? AND step >= ? ORDER BY step').all(
        runId,
        opts.fromStep ?? Number.MIN_SAFE_INTEGER,
      ) as StepRow[];
      return rows.map(toStep);
    });
  }

  /** Evaluation records of a run, by step then split ('test' before 'train'). */
  evalsOf(runId: number): EvalRecord[] {
    return this.guard(() => {
      this.requireRun(runId);
      const rows = this.stmt('SELECT * FROM evals WHERE run_id = ? ORDER BY step, split').all(runId) as EvalRow[];
      return rows.map(toEval);
    });
  }

  // ---- find-max probes ---------------------------------------------------------------------------

  /** Records one find-max probe and returns it with its id. */
  addProbe(probe: NewProbe): Probe {
    assertOneOf('probe kind', probe.kind, PROBE_KINDS);
    assertOneOf('probe phase', probe.phase, PROBE_PHASES);
    checkPositiveInt('batch size', probe.batchSize);
    return this.write(() => {
      this.requireExperiment(probe.experimentId);
      const info = this.stmt(
        `INSERT INTO probes (experiment_id, batch_size, ok, kind, peak_bytes, rss_bytes, ms, message, phase)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        probe.experimentId,
        probe.batchSize,
        probe.ok ? 1 : 0,
        probe.kind,
        probe.peakBytes ?? null,
        probe.rssBytes ?? null,
        probe.ms ?? null,
        probe.message ?? null,
        probe.phase,
      );
      const row = this.stmt('SELECT * FROM probes WHERE id = ?').get(Number(info.lastInsertRowid)) as ProbeRow;
      return toProbe(row);
    });
  }

  /** Probes of an experiment in the order they were made. */
  probesOf(experimentId: number): Probe[] {
    return this.guard(() => {
      this.requireExperiment(experimentId);
      const rows = this.stmt('SELECT * FROM probes WHERE experiment_id = ? ORDER BY id').all(
        experimentId,
      ) as ProbeRow[];
      return rows.map(toProbe);
    });
  }

  // ---- internals ---------------------------------------------------------------------------------

  /** Runs `fn`, turning SQLite's environment errors (busy, corrupt, read-only, ...) into BatchlabErrors. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translateSqliteError(err, this.path, this.busyTimeoutMs);
    }
  }

  /**
   * Runs `fn` in a write transaction. IMMEDIATE takes the write lock up front, where the busy timeout
   * applies; a DEFERRED one that reads first could hit SQLITE_BUSY on upgrade without waiting.
   * Nested calls become savepoints of the outer transaction.
   */
  private write<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private timestamp(): string {
    return this.now().toISOString();
  }

  private requireExperiment(id: number): void {
    const found = this.stmt('SELECT 1 FROM experiments WHERE id = ?').get(checkId('experiment', id));
    if (found === undefined) throw this.experimentNotFound(id);
  }

  private requireRun(id: number): RunRow {
    const row = this.stmt('SELECT * FROM runs WHERE id = ?').get(checkId('run', id)) as RunRow | undefined;
    if (row === undefined) {
      throw new BatchlabError('BATCHLAB_NOT_FOUND', `no run with id ${id} in ${this.path}`, { exitCode: 2 });
    }
    return row;
  }

  /** NOT_FOUND error that also says which ids exist, so the user can pick one. */
  private experimentNotFound(id: number): BatchlabError {
    const range = this.stmt('SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM experiments').get() as {
      n: number;
      lo: number | null;
      hi: number | null;
    };
    const known =
      range.n === 0 ? 'it has no experiments yet' : `its experiment ids run from ${range.lo} to ${range.hi}`;
    return new BatchlabError('BATCHLAB_NOT_FOUND', `no experiment with id ${id} in ${this.path} (${known})`, {
      exitCode: 2,
    });
  }
}

// ---- opening ------------------------------------------------------------------------------------

/** Opens the SQLite connection, turning "cannot open" into a BatchlabError that names the path. */
function connect(path: string, opts: Required<OpenStoreOptions>): Database.Database {
  try {
    return new Database(path, {
      readonly: opts.readonly,
      fileMustExist: opts.readonly,
      timeout: opts.busyTimeoutMs,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = opts.readonly
      ? 'check the path, or run an experiment first to create it'
      : 'check that its directory exists and is writable, or pass --db PATH';
    throw new BatchlabError('BATCHLAB_STORE', `cannot open database ${path} (${why}); ${hint}`, {
      exitCode: 2,
      cause: err,
    });
  }
}

/**
 * Checks that the file is a batchlab database (or empty) BEFORE changing anything in it, then sets
 * the connection up: WAL + synchronous=NORMAL (durable at checkpoints, no fsync per commit; a crash
 * can lose the last commits but never corrupts), foreign keys, and the schema on first open.
 */
function prepareConnection(db: Database.Database, path: string, readonly: boolean): void {
  const verdict = inspectFile(db);
  rejectVerdict(path, verdict);
  if (verdict.state === 'fresh' && readonly) {
    throw new BatchlabError(
      'BATCHLAB_STORE',
      `${path} holds no batchlab data yet; run an experiment first or pass --db PATH`,
      { exitCode: 2 },
    );
  }
  db.pragma('foreign_keys = ON');
  if (readonly) return; // the journal mode is stored in the file; a reader just follows it
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  if (verdict.state === 'fresh') initializeSchema(db, path);
}

// ---- row mapping --------------------------------------------------------------------------------

const SPLITS = ['train', 'test'] as const;
const FINISHED_RUN_STATUSES = RUN_STATUSES.filter((s): s is FinishedRunStatus => s !== 'pending' && s !== 'running');

function isUnfinished(status: RunStatus): boolean {
  return (UNFINISHED_RUN_STATUSES as readonly RunStatus[]).includes(status);
}

function toExperiment(row: ExperimentRow, path: string): Experiment {
  return {
    id: row.id,
    kind: row.kind as ExperimentKind,
    createdAt: row.created_at,
    status: row.status as ExperimentStatus,
    settings: fromJson(row.settings, path, 'experiments.settings') ?? {},
    summary: fromJson(row.summary, path, 'experiments.summary'),
    env: fromJson(row.env, path, 'experiments.env') ?? {},
  };
}

function toRun(row: RunRow, path: string): Run {
  return {
    id: row.id,
    experimentId: row.experiment_id,
    key: row.key,
    batchSize: row.batch_size,
    microBatchSize: row.micro_batch_size,
    accumSteps: row.accum_steps,
    seed: row.seed,
    lr: row.lr,
    status: row.status as RunStatus,
    reason: row.reason,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    summary: fromJson(row.summary, path, 'runs.summary'),
    settings: fromJson(row.settings, path, 'runs.settings') ?? {},
  };
}

/** SQLite stores NaN as NULL; a REAL metric read back as NULL was a NaN. */
function real(v: number | null): number {
  return v === null ? Number.NaN : v;
}

function toStep(row: StepRow): StepRecord {
  return {
    step: row.step,
    samples: row.samples,
    loss: real(row.loss),
    lr: real(row.lr),
    stepMs: real(row.step_ms),
    batchSize: row.batch_size,
    microBatchSize: row.micro_batch_size,
    accumSteps: row.accum_steps,
    gradSqNorm: real(row.grad_sq_norm),
    microGradSqNorm: real(row.micro_grad_sq_norm),
    peakBytes: real(row.peak_bytes),
  };
}

function toEval(row: EvalRow): EvalRecord {
  const rec: EvalRecord = {
    step: row.step,
    samples: row.samples,
    split: row.split as EvalRecord['split'],
    loss: real(row.loss),
  };
  if (row.accuracy !== null) rec.accuracy = row.accuracy;
  return rec;
}

function toProbe(row: ProbeRow): Probe {
  return {
    id: row.id,
    experimentId: row.experiment_id,
    batchSize: row.batch_size,
    ok: row.ok !== 0,
    kind: row.kind as Probe['kind'],
    peakBytes: row.peak_bytes,
    rssBytes: row.rss_bytes,
    ms: row.ms,
    message: row.message,
    phase: row.phase as Probe['phase'],
  };
}

// ---- validation and JSON ------------------------------------------------------------------------

function badArgument(message: string): BatchlabError {
  return new BatchlabError('BATCHLAB_BAD_ARGUMENT', message, { exitCode: 2 });
}

function assertOneOf<T extends string>(what: string, value: string, valid: readonly T[]): asserts value is T {
  if (!(valid as readonly string[]).includes(value)) {
    throw badArgument(`unknown ${what} "${value}"; valid: ${valid.join(', ')}`);
  }
}

function checkPositiveInt(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw badArgument(`${what} must be a positive integer, got ${value}`);
}

/** Returns `id` if it can be an id at all; a NaN or fractional id is a caller's parse error. */
function checkId(what: string, id: number): number {
  if (!Number.isSafeInteger(id)) throw badArgument(`${what} id must be an integer, got ${id}`);
  return id;
}

/** The stored run must match what is planned now, field by field. */
function assertSamePlan(
  run: Run,
  planned: { batchSize: number; microBatchSize: number; accumSteps: number; seed: number; lr: number },
): void {
  for (const field of ['batchSize', 'microBatchSize', 'accumSteps', 'seed', 'lr'] as const) {
    if (run[field] !== planned[field]) {
      throw badArgument(
        `run "${run.key}" of experiment ${run.experimentId} is stored with ${field} ${run[field]} but was ` +
          `planned again with ${field} ${planned[field]}; a resume must use the experiment's original settings ` +
          `(or start a new experiment)`,
      );
    }
  }
}

/**
 * Serializes a JSON column. Non-finite numbers become null (JSON has no NaN); a value JSON cannot hold
 * at all (a function, undefined) is a caller bug reported by name.
 */
function toJson(value: object, what: string): string {
  const text = JSON.stringify(value);
  if (typeof text !== 'string') throw badArgument(`${what} must be a JSON object, got ${typeof value}`);
  return text;
}

function fromJson(text: string | null, path: string, column: string): JsonObject | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as JsonObject;
  } catch (err) {
    throw new BatchlabError('BATCHLAB_STORE', `${path} has invalid JSON in ${column}; the file was edited or damaged`, {
      exitCode: 2,
      cause: err,
    });
  }
}
