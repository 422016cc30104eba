/**
 * The Store: batchlab's SQLite database of experiments, runs, per-step metrics, evaluations and
 * find-max probes (see ./schema.ts for the tables).
 *
 * Concurrency: the file is in WAL mode, so any number of readers (a dashboard, `report`, a second
 * `openStore`) read a consistent snapshot while one writer (the sweep) appends; a writer that finds the
 * write lock taken waits up to `busyTimeoutMs` and then fails with a BATCHLAB_STORE "locked" error.
 * better-sqlite3 is synchronous: every method returns when its data is committed.
 */
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import type { EvalRecord, StepRecord } from '../core/types.js';
import { OWN_FAILURE_STATUSES, StaleAttemptError } from './attempts.js';
import { ExperimentLockedError, isProcessAlive, lockState, type ExperimentLock, type LockOwner } from './lock.js';
import {
  assertSqliteHeader,
  initializeSchema,
  inspectFile,
  isMigratable,
  migrateSchema,
  rejectVerdict,
  translateSqliteError,
} from './open.js';
import {
  INSERT_STEP_SQL,
  stepValues,
  toEval,
  toExperiment,
  toLock,
  toProbe,
  toRun,
  toStep,
  type EvalRow,
  type ExperimentRow,
  type LockRow,
  type ProbeRow,
  type RunRow,
  type StepRow,
} from './rows.js';
import { SCHEMA_VERSION } from './schema.js';
import {
  envSchema,
  EXPERIMENT_SETTINGS_SCHEMAS,
  EXPERIMENT_SUMMARY_SCHEMAS,
  runSummarySchema,
  trainConfigSchema,
  writeStoredJson,
} from './stored-json.js';
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

export class Store {
  /** The path this store was opened with, as given (used in every error message). */
  readonly path: string;
  readonly readonly: boolean;
  readonly busyTimeoutMs: number;
  /**
   * The layout of the file: SCHEMA_VERSION, except for an older file opened read-only, which is read
   * as it is (its tables hold everything a reader needs) and upgraded by the next writer.
   */
  readonly schemaVersion: number;
  /** This process, as it appears in the experiment locks it takes. */
  readonly owner: LockOwner;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  /** Prepared statements by SQL text; preparing once keeps the per-batch cost to binding and stepping. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database, path: string, opts: Required<OpenStoreOptions>, schemaVersion: number) {
    this.db = db;
    this.path = path;
    this.readonly = opts.readonly;
    this.busyTimeoutMs = opts.busyTimeoutMs;
    this.now = opts.now;
    this.schemaVersion = schemaVersion;
    this.owner = { pid: process.pid, host: hostname() };
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
    let schemaVersion: number;
    try {
      schemaVersion = prepareConnection(db, path, full);
    } catch (err) {
      db.close();
      throw translateSqliteError(err, path, full.busyTimeoutMs);
    }
    return new Store(db, path, full, schemaVersion);
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

  /**
   * Creates an experiment with status 'running' and returns it. Its settings and env must match the
   * schemas of stored-json.ts (BATCHLAB_BAD_ARGUMENT names the field that does not).
   */
  createExperiment(input: { kind: ExperimentKind; settings: object; env: object }): Experiment {
    assertOneOf('experiment kind', input.kind, EXPERIMENT_KINDS);
    const settings = writeStoredJson(EXPERIMENT_SETTINGS_SCHEMAS[input.kind], input.settings, 'experiment settings');
    const env = writeStoredJson(envSchema, input.env, 'experiment env');
    return this.write(() => {
      const info = this.stmt(
        `INSERT INTO experiments (kind, created_at, status, settings, summary, env)
         VALUES (?, ?, 'running', ?, NULL, ?)`,
      ).run(input.kind, this.timestamp(), settings, env);
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

  /**
   * Replaces an experiment's summary (null clears it); it must match the summary schema of the
   * experiment's kind (stored-json.ts). BATCHLAB_NOT_FOUND for an unknown id.
   */
  setExperimentSummary(id: number, summary: object | null): void {
    this.write(() => {
      const row = this.stmt('SELECT kind FROM experiments WHERE id = ?').get(checkId('experiment', id)) as
        | { kind: ExperimentKind }
        | undefined;
      if (row === undefined) throw this.experimentNotFound(id);
      const schema = EXPERIMENT_SUMMARY_SCHEMAS[row.kind] ?? EXPERIMENT_SUMMARY_SCHEMAS.train;
      const text = summary === null ? null : writeStoredJson(schema, summary, `summary of a ${row.kind}`);
      this.stmt('UPDATE experiments SET summary = ? WHERE id = ?').run(text, id);
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
    const settings = writeStoredJson(trainConfigSchema, plan.settings ?? {}, 'run settings');
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
      ).run(plan.experimentId, plan.key, plan.batchSize, microBatchSize, accumSteps, plan.seed, plan.lr, settings);
      return this.getRun(Number(info.lastInsertRowid));
    });
  }

  /** The run with this id; BATCHLAB_NOT_FOUND if there is none. */
  getRun(id: number): Run {
    return this.guard(() => toRun(this.requireRun(id), this.path));
  }

  /**
   * Starts a new attempt of an unfinished run (pending, running or interrupted): status 'running',
   * started_at = now, attempt + 1, reason/summary/finished_at cleared, and every step and eval of the
   * earlier attempts deleted, so the new attempt starts clean and its steps are never mixed with an old
   * attempt's. Writers of the old attempt are refused from now on (see appendSteps). A finished run (done,
   * failed, oom, ...) is refused with BATCHLAB_STORE: its results are never overwritten by a rerun
   * (resetFailedRuns makes the failed ones pending again first).
   */
  startRun(id: number): Run {
    return this.write(() => {
      const run = toRun(this.requireRun(id), this.path);
      if (!isUnfinished(run.status)) {
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${escapeControl(run.key)}") of experiment ${run.experimentId} already finished with status ` +
            `${run.status}; batchlab never reruns a finished run over its results (start a new experiment)`,
        );
      }
      this.deleteResults(id);
      this.stmt(
        `UPDATE runs SET status = 'running', started_at = ?, finished_at = NULL, reason = NULL, summary = NULL,
           attempt = attempt + 1
         WHERE id = ?`,
      ).run(this.timestamp(), id);
      return this.getRun(id);
    });
  }

  /**
   * Records how an attempt ended: status, finished_at = now, reason (or null) and summary (kept as is
   * when omitted). Refuses (BATCHLAB_STORE) a run that already has a final status, so a finished
   * result is never replaced; 'interrupted' runs may be finished again. With `attempt` (the one startRun
   * returned), the end of an attempt that a newer one replaced is refused too, as for appendSteps: a
   * stopped attempt that is still running somewhere can never mark the new attempt's run as its own.
   */
  finishRun(
    id: number,
    outcome: { status: FinishedRunStatus; reason?: string; summary?: object; attempt?: number },
  ): Run {
    assertOneOf('final run status', outcome.status, FINISHED_RUN_STATUSES);
    const summary =
      outcome.summary === undefined ? null : writeStoredJson(runSummarySchema, outcome.summary, 'run summary');
    return this.write(() => {
      const run = toRun(this.requireAttempt(id, outcome.attempt), this.path);
      if (!isUnfinished(run.status)) {
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${escapeControl(run.key)}") already finished with status ${run.status}; cannot record ${outcome.status} over it`,
        );
      }
      this.stmt(
        `UPDATE runs SET status = ?, reason = ?, finished_at = ?, summary = COALESCE(?, summary) WHERE id = ?`,
      ).run(outcome.status, outcome.reason ?? null, this.timestamp(), summary, id);
      return this.getRun(id);
    });
  }

  /**
   * Records the Slurm job that runs the run's current attempt (null: none). Only an unfinished run takes
   * one; a finished run keeps the job that ran it.
   */
  setRunJob(id: number, jobId: string | null): Run {
    return this.write(() => {
      const run = toRun(this.requireRun(id), this.path);
      if (!isUnfinished(run.status))
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${escapeControl(run.key)}") already finished with status ${run.status}; it takes no new job`,
        );
      this.stmt('UPDATE runs SET job_id = ? WHERE id = ?').run(jobId, id);
      return this.getRun(id);
    });
  }

  /**
   * Replaces the summary of a run that is done, keeping its status, steps and times: for a measurement
   * made after the run (its step time re-measured alone, `--timing isolated`). Any other run is refused
   * with BATCHLAB_STORE: an unfinished run gets its summary from finishRun, and a failed one has none.
   */
  amendRunSummary(id: number, summary: object): Run {
    const text = writeStoredJson(runSummarySchema, summary, 'run summary');
    return this.write(() => {
      const run = toRun(this.requireRun(id), this.path);
      if (run.status !== 'done')
        throw new BatchlabError(
          'BATCHLAB_STORE',
          `run ${id} ("${escapeControl(run.key)}") is ${run.status}, not done; only a done run's summary can be amended`,
        );
      this.stmt('UPDATE runs SET summary = ? WHERE id = ?').run(text, id);
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

  /**
   * For `--resume --retry-failed`: makes every run of the experiment that failed on its own (a status of
   * `statuses`, default OWN_FAILURE_STATUSES: failed, oom, diverged, over-budget, timeout) pending again,
   * with its reason, summary, times, steps and evals cleared (its attempt count is kept). Done and
   * unfinished runs are left alone. Returns the runs it reset, in planning order.
   */
  resetFailedRuns(experimentId: number, opts: { statuses?: readonly FinishedRunStatus[] } = {}): Run[] {
    const statuses = opts.statuses ?? OWN_FAILURE_STATUSES;
    for (const status of statuses) assertOneOf('failed run status', status, RETRYABLE_RUN_STATUSES);
    return this.write(() => {
      this.requireExperiment(experimentId);
      const failed = (
        this.stmt('SELECT * FROM runs WHERE experiment_id = ? ORDER BY id').all(experimentId) as RunRow[]
      ).filter((row) => (statuses as readonly string[]).includes(row.status));
      for (const row of failed) {
        this.deleteResults(row.id);
        this.stmt(
          `UPDATE runs SET status = 'pending', reason = NULL, summary = NULL, started_at = NULL, finished_at = NULL
           WHERE id = ?`,
        ).run(row.id);
      }
      return failed.map((row) => this.getRun(row.id));
    });
  }

  // ---- steps and evals ---------------------------------------------------------------------------

  /**
   * Appends step records in ONE transaction (all or none; callers batch, see StepWriter). A step that
   * is already stored for the run is replaced: the last write wins. With `attempt` (the one startRun
   * returned), a write from an attempt that a newer one replaced is refused with BATCHLAB_STORE, so a
   * stopped attempt that is still writing can never mix its steps into the new attempt's.
   * Returns the number written.
   */
  appendSteps(runId: number, steps: readonly StepRecord[], opts: { attempt?: number } = {}): number {
    if (steps.length === 0) return 0;
    return this.write(() => {
      this.requireAttempt(runId, opts.attempt);
      const insert = this.stmt(INSERT_STEP_SQL);
      for (const s of steps) insert.run(runId, ...stepValues(s));
      return steps.length;
    });
  }

  /** Appends evaluation records in one transaction; one per (step, split), the last write wins. `attempt` as for appendSteps. */
  appendEvals(runId: number, evals: readonly EvalRecord[], opts: { attempt?: number } = {}): number {
    if (evals.length === 0) return 0;
    return this.write(() => {
      this.requireAttempt(runId, opts.attempt);
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
        `INSERT INTO probes (experiment_id, batch_size, ok, kind, peak_bytes, rss_bytes, ms, message, phase, peak_at_most)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        probe.peakAtMost ? 1 : 0,
      );
      const row = this.stmt('SELECT * FROM probes WHERE id = ?').get(Number(info.lastInsertRowid)) as ProbeRow;
      return toProbe(row, this.path);
    });
  }

  /** Probes of an experiment in the order they were made. */
  probesOf(experimentId: number): Probe[] {
    return this.guard(() => {
      this.requireExperiment(experimentId);
      const rows = this.stmt('SELECT * FROM probes WHERE experiment_id = ? ORDER BY id').all(
        experimentId,
      ) as ProbeRow[];
      return rows.map((r) => toProbe(r, this.path));
    });
  }

  // ---- experiment locks (see lock.ts) ------------------------------------------------------------

  /**
   * Takes the experiment's lock for this process, so that no second batchlab process runs or resumes it
   * at the same time. A stale lock (its owner gone on this host, or silent for STALE_LOCK_MS on another)
   * is taken over, and returned as `tookOverFrom`. Throws ExperimentLockedError (BATCHLAB_LOCKED, exit
   * 2, naming the owner) while a live process holds it, this one included. Call it before
   * markRunningAsInterrupted, and releaseExperimentLock in a `finally`.
   */
  acquireExperimentLock(experimentId: number): ExperimentLock & { tookOverFrom?: ExperimentLock } {
    return this.write(() => {
      this.requireExperiment(experimentId);
      const held = this.lockRow(experimentId);
      if (held !== undefined) {
        const state = lockState(held, { ...this.owner, nowMs: this.now().getTime(), isAlive: isProcessAlive });
        if (state === 'live') throw new ExperimentLockedError(held, this.owner);
      }
      const now = this.timestamp();
      this.stmt(
        `INSERT OR REPLACE INTO experiment_locks (experiment_id, pid, host, acquired_at, refreshed_at)
         VALUES (?, ?, ?, ?, ?)`,
      ).run(experimentId, this.owner.pid, this.owner.host, now, now);
      const lock = this.lockRow(experimentId) as ExperimentLock;
      return held === undefined ? lock : { ...lock, tookOverFrom: held };
    });
  }

  /**
   * Marks this process's lock on the experiment as still alive (refreshed_at = now); an owner on a
   * shared file should call it every LOCK_REFRESH_MS. Returns false when this process does not hold it
   * (it was never taken, or was taken over as stale).
   */
  refreshExperimentLock(experimentId: number): boolean {
    return this.write(() => {
      const info = this.stmt(
        'UPDATE experiment_locks SET refreshed_at = ? WHERE experiment_id = ? AND pid = ? AND host = ?',
      ).run(this.timestamp(), checkId('experiment', experimentId), this.owner.pid, this.owner.host);
      return info.changes > 0;
    });
  }

  /** Releases this process's lock on the experiment; another owner's lock is left alone. Returns whether one was released. */
  releaseExperimentLock(experimentId: number): boolean {
    return this.write(() => {
      const info = this.stmt('DELETE FROM experiment_locks WHERE experiment_id = ? AND pid = ? AND host = ?').run(
        checkId('experiment', experimentId),
        this.owner.pid,
        this.owner.host,
      );
      return info.changes > 0;
    });
  }

  /** Who holds the experiment's lock, stale or not; undefined when nobody (or in an older file read as is). */
  experimentLock(experimentId: number): ExperimentLock | undefined {
    if (this.schemaVersion < 2) return undefined;
    return this.guard(() => this.lockRow(checkId('experiment', experimentId)));
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

  private lockRow(experimentId: number): ExperimentLock | undefined {
    const row = this.stmt('SELECT * FROM experiment_locks WHERE experiment_id = ?').get(experimentId) as
      | LockRow
      | undefined;
    return row === undefined ? undefined : toLock(row);
  }

  /** Deletes every step and eval of a run (a new attempt or a retry starts from nothing). */
  private deleteResults(runId: number): void {
    this.stmt('DELETE FROM steps WHERE run_id = ?').run(runId);
    this.stmt('DELETE FROM evals WHERE run_id = ?').run(runId);
  }

  /** The run's row; the run must exist and, when `attempt` is given, still be on that attempt. */
  private requireAttempt(runId: number, attempt: number | undefined): RunRow {
    const row = this.requireRun(runId);
    const current = row.attempt ?? 0;
    if (attempt === undefined || attempt === current) return row;
    throw new StaleAttemptError({ runId, key: row.key, attempt, current });
  }

  private requireRun(id: number): RunRow {
    const row = this.stmt('SELECT * FROM runs WHERE id = ?').get(checkId('run', id)) as RunRow | undefined;
    if (row === undefined) {
      throw new BatchlabError('BATCHLAB_NOT_FOUND', `no run with id ${id} in ${this.path}`);
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
    return new BatchlabError('BATCHLAB_NOT_FOUND', `no experiment with id ${id} in ${this.path} (${known})`);
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
      cause: err,
    });
  }
}

/**
 * Checks that the file is a batchlab database (or empty) BEFORE changing anything in it, then sets
 * the connection up: WAL + synchronous=NORMAL (durable at checkpoints, no fsync per commit; a crash
 * can lose the last commits but never corrupts), foreign keys, the schema on first open, and the
 * upgrade of an older layout. Returns the schema version the connection reads.
 */
function prepareConnection(db: Database.Database, path: string, opts: Required<OpenStoreOptions>): number {
  const readonly = opts.readonly;
  const verdict = inspectFile(db);
  rejectVerdict(path, verdict);
  if (verdict.state === 'fresh' && readonly) {
    throw new BatchlabError(
      'BATCHLAB_STORE',
      `${escapeControl(path)} holds no batchlab data yet; run an experiment first or pass --db PATH`,
    );
  }
  db.pragma('foreign_keys = ON');
  // A reader follows the journal mode stored in the file, and reads an older layout as it is.
  if (readonly) return verdict.state === 'older' ? verdict.version : SCHEMA_VERSION;
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  if (verdict.state === 'fresh') initializeSchema(db, path);
  if (isMigratable(verdict)) migrateSchema(db, path, opts.busyTimeoutMs);
  return SCHEMA_VERSION;
}

// ---- row mapping --------------------------------------------------------------------------------

const SPLITS = ['train', 'test'] as const;
const FINISHED_RUN_STATUSES = RUN_STATUSES.filter((s): s is FinishedRunStatus => s !== 'pending' && s !== 'running');
/** Statuses resetFailedRuns may reset: every final status but done and interrupted (those are not failures). */
const RETRYABLE_RUN_STATUSES = FINISHED_RUN_STATUSES.filter((s) => s !== 'done' && s !== 'interrupted');

function isUnfinished(status: RunStatus): boolean {
  return (UNFINISHED_RUN_STATUSES as readonly RunStatus[]).includes(status);
}

// ---- validation and JSON ------------------------------------------------------------------------

function badArgument(message: string): BatchlabError {
  return new BatchlabError('BATCHLAB_BAD_ARGUMENT', message);
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
