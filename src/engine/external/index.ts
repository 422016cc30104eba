/** The external-command trainer: run any training command as a trial and read what it reports (docs/protocol.md). */
export { GpuSampler, parseComputeApps } from './gpu.js';
export {
  MetricsCollector,
  parseMetricLine,
  stepRate,
  STDOUT_PREFIX,
  STEP_FIELDS,
  type ExternalStep,
  type MalformedLine,
  type StepRate,
} from './metrics.js';
export { externalProbe, probePeakBytes, toProbeResult, type ExternalProbeOptions } from './probe.js';
export { groupMembers, sampleTree } from './proctree.js';
export {
  runTrial,
  TrialRunner,
  type BudgetMeasure,
  type Enforcement,
  type RunTrialOptions,
  type TrialResult,
  type TrialRunnerOptions,
} from './runner.js';
export {
  expandCommand,
  METRICS_ENV,
  PLACEHOLDERS,
  resolveValues,
  trialEnv,
  type ResolvedValues,
  type TrialValues,
} from './template.js';
