/**
 * What a warm TF.js process needs to train run after run as if each were its first (lab/run/worker.ts):
 * the dataset loaded once and kept, and a reset between runs that leaves no trace of the previous one
 * in what the next one measures.
 *
 * Why it is safe to reuse the process: initial weights come from batchlab's own seeded generator (not
 * TF.js's global one), the sample order depends only on the seed and epoch, dataset tensors are
 * immutable, and every run disposes what it made (the reset checks that). What is not the same as in a
 * fresh process is said where it is measured: the resident high-water mark (VmHWM) starts from the
 * process's resident size at the reset, which includes the kept dataset, instead of from an empty
 * process that then loads it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadDataset } from '../../data/registry.js';
import type { Dataset } from '../../data/types.js';
import { modelHasConv } from '../../models/index.js';
import { releaseNativeMemory } from '../backends/native.js';
import { selectBackend } from '../backends/select.js';
import { type DataTensors, dataTensors, disposeDataTensors } from './train.js';
import type { TrainConfig } from './trainer.js';

/**
 * The dataset of the last config asked for, with its splits as tensors. One entry: a sweep trains every
 * run on the same data, and holding two datasets would only raise the next run's resident memory. The
 * tensors are made on the backend current when first asked for (after the run picked its backend), and
 * made again if a later run trains on another backend.
 */
export class DatasetCache {
  private entry: { key: string; data: Dataset; tensors?: DataTensors; backend?: string } | undefined;

  /** The dataset of `config`, loaded now or kept from an earlier run (a loader error is thrown as is). */
  data(config: Pick<TrainConfig, 'dataset' | 'datasetOptions'>): Dataset {
    const key = JSON.stringify([config.dataset, config.datasetOptions]);
    if (this.entry?.key === key) return this.entry.data;
    this.clear();
    this.entry = { key, data: loadDataset(config.dataset, config.datasetOptions) };
    return this.entry.data;
  }

  /** The splits of `config`'s dataset as tensors on the current backend. */
  tensors(config: Pick<TrainConfig, 'dataset' | 'datasetOptions'>): DataTensors {
    const data = this.data(config);
    const entry = this.entry!;
    if (entry.tensors && entry.backend === tf.getBackend()) return entry.tensors;
    if (entry.tensors) disposeDataTensors(entry.tensors);
    entry.tensors = dataTensors(data);
    entry.backend = tf.getBackend();
    return entry.tensors;
  }

  /**
   * Loads what a run of `config` needs before it starts: the dataset, the backend the run will pick, and
   * the dataset's tensors on it. A warm worker does this while it waits for its first run, and before
   * each run, so that what it costs is not inside the run's memory high-water mark.
   */
  async preload(config: Pick<TrainConfig, 'dataset' | 'datasetOptions' | 'backend' | 'model'>): Promise<void> {
    this.data(config);
    await selectBackend({ requested: config.backend, needsConv: modelHasConv(config.model) });
    this.tensors(config);
  }

  /** Tensors the cache holds (a run must leave exactly these behind). */
  get numTensors(): number {
    return this.entry?.tensors ? 4 : 0;
  }

  clear(): void {
    if (this.entry?.tensors) disposeDataTensors(this.entry.tensors);
    this.entry = undefined;
  }
}

/** Where Linux keeps the switch that resets this process's VmHWM ("5": reset the peak RSS to the current RSS). */
const CLEAR_REFS_PATH = '/proc/self/clear_refs';

/**
 * Resets the resident high-water mark (VmHWM) to the current resident size, so the next read of VmHWM
 * says what happened since (Linux 4.0+, proc(5) "clear_refs"). False where that is not possible (not
 * Linux, or /proc read-only): VmHWM then stays the process's all-time peak.
 */
export function resetHighWaterMark(): boolean {
  try {
    writeFileSync(CLEAR_REFS_PATH, '5');
    const status = readFileSync('/proc/self/status', 'utf8');
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    // The reset worked when the peak fell to (about) the current size.
    return hwm !== null && rss !== null && Number(hwm[1]) <= Number(rss[1]) * 1.05;
  } catch {
    return false;
  }
}

/** The resident size (VmRSS) in bytes; undefined where /proc cannot say. */
function residentBytes(): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Most rounds of collect-and-trim before the reset (at least two: the first one's frees may still be pending). */
const SETTLE_ROUNDS = 5;
/** Pause between rounds, for V8's background threads to free the ArrayBuffers the collection let go. */
const SETTLE_PAUSE_MS = 10;
/** The resident size has settled when a round frees less than this. */
const SETTLE_BYTES = 4e6;

/**
 * Before a run: frees what the backend pooled for the last run (the native output pool and GEMM scratch,
 * re-grown on demand), collects garbage when Node was started with --expose-gc, gives the freed heap back
 * (malloc_trim in the addon), then resets VmHWM, so the run's VmHWM is the process's resident size at its
 * start (Node, TF.js, the kept dataset) plus what the run itself added. V8 frees the memory of collected
 * ArrayBuffers on background threads, late on a busy machine, so the collection is repeated (with a short
 * pause) until the resident size stops falling. Returns whether the reset worked.
 */
export async function resetForRun(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  let before = residentBytes();
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    releaseNativeMemory(); // drops the pooled arrays; the garbage collector frees them
    gc?.();
    releaseNativeMemory(); // now gives the freed memory back to the system (malloc_trim in the addon)
    const after = residentBytes();
    const settled = round > 0 && before !== undefined && after !== undefined && before - after < SETTLE_BYTES;
    if (gc === undefined || after === undefined || settled) break;
    before = after;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_PAUSE_MS));
  }
  return resetHighWaterMark();
}

/** Tensors a run left behind: a process with a leak must not train another run (its tensor peaks would include it). */
export function leakedTensors(cache: DatasetCache): number {
  return tf.memory().numTensors - cache.numTensors;
}
