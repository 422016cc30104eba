/** batchlab's HTML report: chart data from the Store, a self-contained page, the batch-size palette. */
export {
  renderReport,
  writeReport,
  renderReportHtml,
  jsonForScript,
  escapeHtml,
  reportPath,
  writeStoredReport,
} from './html.js';
export {
  loadReportData,
  reportRun,
  stepColumns,
  findBudgetBytes,
  REPORT_DATA_FORMAT,
  DEFAULT_MAX_POINTS_PER_RUN,
  FAILED_RUN_STATUSES,
  type ReportData,
  type ReportRun,
  type StepColumns,
  type EvalColumns,
  type LiveStepColumns,
  type LoadReportOptions,
} from './data.js';
export { minMaxIndices, bucketBounds, pick } from './downsample.js';
export { colorForBatch, BATCH_PALETTE } from './palette.js';
export { readAsset, isAssetName, WEB_DIR, BUNDLE_DIR, ASSET_FILES, type AssetName } from './assets.js';
