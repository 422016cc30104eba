/**
 * CSV files a user brings: comma-separated, one sample per line, numeric feature columns plus one
 * label/target column. Blank lines are skipped; cells are trimmed and may be wrapped in double quotes
 * (quoted commas are not supported). Line numbers in errors are 1-based lines of the file.
 */
import { DataFileError, UsageError } from '../core/errors.js';
import { deriveSeed } from '../core/random.js';
import { escapeControl } from '../core/text.js';
import { readDataFile } from './files.js';
import { gatherSplit, randomSplitIndices, stratifiedSplitIndices } from './split.js';
import type { Dataset, Split, Task } from './types.js';
import { classIdProblem, MAX_CLASSES, requireTrainingSamples } from './validate.js';

/** How a classification CSV with a numeric target is told to load as regression (no CLI flag exists yet). */
const REGRESSION_HINT = "for a numeric target, load it as a regression dataset (loadDataset option task: 'regression')";

/** One non-blank line: its 1-based line number and trimmed, unquoted cells. */
interface CsvRow {
  line: number;
  cells: string[];
}

/** Options of the `csv` dataset (resolved LoadOptions). */
export interface CsvOptions {
  file: string;
  /** 0-based index (negative counts from the end) or header name; default the last column. */
  labelColumn?: number | string;
  task: Task;
  /** Whether line 1 is a header; default: yes when none of its cells is a number. */
  header?: boolean;
  testFraction: number;
  seed: number;
}

/**
 * A CSV cell as a number that stays finite as a 32-bit float (features and targets are Float32Arrays),
 * or null: "" and "abc" are not numbers, nor is "1e39" (Infinity in float32); "1e3" is.
 */
function toNumber(cell: string): number | null {
  if (cell === '') return null;
  const v = Number(cell);
  return Number.isFinite(Math.fround(v)) ? v : null;
}

/** Splits text into non-blank rows of trimmed cells, stripping one pair of surrounding double quotes. */
export function splitCsvRows(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const cells = lines[i].split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    rows.push({ line: i + 1, cells });
  }
  return rows;
}

/** Resolves `labelColumn` to a 0-based index among `width` columns. */
function labelIndex(
  labelColumn: number | string | undefined,
  header: string[] | null,
  width: number,
  file: string,
): number {
  if (labelColumn === undefined) return width - 1;
  if (typeof labelColumn === 'string') {
    const at = header?.indexOf(labelColumn) ?? -1;
    if (at < 0) {
      const known = header
        ? `columns: ${escapeControl(header.join(', '))}`
        : 'the file has no header row; pass a 0-based column index';
      throw new UsageError(`label column "${escapeControl(labelColumn)}" is not in ${escapeControl(file)}; ${known}`);
    }
    return at;
  }
  const at = labelColumn < 0 ? width + labelColumn : labelColumn;
  if (!Number.isInteger(labelColumn) || at < 0 || at >= width) {
    throw new UsageError(
      `label column ${labelColumn} is out of range for ${escapeControl(file)}, which has ${width} columns; pass 0..${width - 1} or -1 for the last`,
    );
  }
  return at;
}

/** The parsed table: features row-major, raw label cells, and where each came from. */
export interface CsvTable {
  x: Float32Array;
  featureCount: number;
  labels: string[];
  /** 1-based file line of each sample, for label errors. */
  lines: number[];
  columnNames: string[] | null;
}

/**
 * Parses CSV text into features and raw label cells. Throws DataFileError naming the file, the
 * 1-based line and the cell for a ragged row or a feature cell that is not a number.
 */
export function parseCsv(
  text: string,
  opts: { file: string; labelColumn?: number | string; header?: boolean },
): CsvTable {
  const rows = splitCsvRows(text);
  if (rows.length === 0)
    throw new DataFileError(opts.file, 'no rows found; expected comma-separated numbers, one sample per line');
  const width = rows[0].cells.length;
  if (width < 2)
    throw new DataFileError(
      opts.file,
      `line ${rows[0].line} has ${width} cell; expected at least one feature column and a label column`,
    );
  const hasHeader = opts.header ?? rows[0].cells.every((c) => toNumber(c) === null);
  const columnNames = hasHeader ? rows[0].cells : null;
  const body = hasHeader ? rows.slice(1) : rows;
  if (body.length === 0) throw new DataFileError(opts.file, 'has a header but no data rows');
  const label = labelIndex(opts.labelColumn, columnNames, width, opts.file);
  const x = new Float32Array(body.length * (width - 1));
  const labels: string[] = [];
  body.forEach((row, i) => {
    if (row.cells.length !== width) {
      throw new DataFileError(
        opts.file,
        `line ${row.line} has ${row.cells.length} cells, expected ${width} like line ${rows[0].line}`,
      );
    }
    let k = i * (width - 1);
    row.cells.forEach((cell, col) => {
      if (col === label) return;
      const v = toNumber(cell);
      if (v === null)
        throw new DataFileError(
          opts.file,
          `line ${row.line}, column ${col + 1}${columnNames ? ` ("${escapeControl(columnNames[col] ?? '')}")` : ''}: ` +
            `"${escapeControl(cell)}" is not a number`,
        );
      x[k++] = v;
    });
    labels.push(row.cells[label]);
  });
  return { x, featureCount: width - 1, labels, lines: body.map((r) => r.line), columnNames };
}

/**
 * Class ids from raw label cells. If every cell is an integer, those are the ids (each in
 * [0, MAX_CLASSES); numClasses = max + 1). Otherwise every label is a name, and ids follow the distinct
 * names sorted (at most MAX_CLASSES of them).
 */
export function classLabels(
  table: CsvTable,
  file: string,
): { y: Int32Array; numClasses: number; classNames: string[] | null } {
  const numeric = table.labels.map(toNumber);
  if (numeric.some((v) => v === null)) {
    const names = [...new Set(table.labels)].sort();
    if (names.length > MAX_CLASSES) {
      throw new DataFileError(
        file,
        `has ${names.length} distinct labels, more than the ${MAX_CLASSES} classes batchlab accepts; ${REGRESSION_HINT}`,
      );
    }
    const ids = new Map(names.map((n, i) => [n, i]));
    return { y: Int32Array.from(table.labels, (l) => ids.get(l)!), numClasses: names.length, classNames: names };
  }
  let max = 0;
  numeric.forEach((v, i) => {
    const problem = classIdProblem(v as number);
    if (problem !== undefined) {
      throw new DataFileError(
        file,
        `line ${table.lines[i]}: label "${escapeControl(table.labels[i] ?? '')}" ${problem}; ${REGRESSION_HINT}`,
      );
    }
    max = Math.max(max, v as number);
  });
  return { y: Int32Array.from(numeric as number[]), numClasses: max + 1, classNames: null };
}

/** Float regression targets from raw label cells; a non-number throws DataFileError with its line. */
export function regressionTargets(table: CsvTable, file: string): Float32Array {
  return Float32Array.from(table.labels, (cell, i) => {
    const v = toNumber(cell);
    if (v === null)
      throw new DataFileError(
        file,
        `line ${table.lines[i]}: target "${escapeControl(cell)}" is not a number (task regression)`,
      );
    return v;
  });
}

/**
 * The `csv` dataset: parses `file`, then makes a seeded held-out split (see csvDataset).
 */
export function loadCsvDataset(opts: CsvOptions): Dataset {
  const text = new TextDecoder('utf-8').decode(readDataFile(opts.file)); // drops a leading BOM
  return csvDataset(text, opts);
}

/**
 * The `csv` dataset from the file's text: a seeded held-out split of `testFraction` (stream
 * deriveSeed(seed, 'split'); stratified for classification, random for regression). Features are used as
 * they are (not standardized). Throws DataFileError when no sample is left for training.
 */
export function csvDataset(text: string, opts: CsvOptions): Dataset {
  const table = parseCsv(text, opts);
  const count = table.labels.length;
  const classes = opts.task === 'classification' ? classLabels(table, opts.file) : null;
  const all: Split = { x: table.x, y: classes ? classes.y : regressionTargets(table, opts.file), count };
  const splitOpts = { testFraction: opts.testFraction, seed: deriveSeed(opts.seed, 'split') };
  const idx = classes ? stratifiedSplitIndices(classes.y, splitOpts) : randomSplitIndices(count, splitOpts);
  const sizes = { xSize: table.featureCount, ySize: 1 };
  const info: Record<string, string | number> = {
    source: opts.file,
    split: `seeded ${classes ? 'stratified ' : ''}held-out split, testFraction ${opts.testFraction}`,
    seed: opts.seed,
  };
  if (table.columnNames) info.columns = table.columnNames.join(', ');
  if (classes?.classNames) info.classes = classes.classNames.join(', ');
  return requireTrainingSamples(
    {
      name: 'csv',
      task: opts.task,
      inputShape: [table.featureCount],
      numClasses: classes ? classes.numClasses : 0,
      targetDim: 1,
      train: gatherSplit(all, idx.trainIndices, sizes),
      test: gatherSplit(all, idx.testIndices, sizes),
      info,
    },
    opts.file,
  );
}
