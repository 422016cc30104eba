/** The external-command trainer: run any training command as a trial and read what it reports (docs/protocol.md). */
export {
  runTrial,
  TrialRunner,
  type BudgetMeasure,
  type Enforcement,
  type RunTrialOptions,
  type TrialResult,
  type TrialRunnerOptions,
} from './runner.js';
export { expandCommand, resolveValues, type ResolvedValues, type TrialValues } from './template.js';
export { ExternalTrainer, type CommandSpec, type ExternalTrainerOptions } from './trainer.js';
