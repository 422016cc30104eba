/**
 * A progress line for long work. On a terminal it redraws one line in place; when stderr is not a terminal
 * (CI logs, pipes) it prints a plain line at most every `everyMs`, so logs stay readable.
 */
import { duration, num } from './format.js';

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  /** Total units of work (steps); the bar and ETA use it. */
  total: number;
  label?: string;
  everyMs?: number;
}

export interface Progress {
  update(done: number, fields: Record<string, string>): void;
  done(): void;
}

const BAR_WIDTH = 24;

export function createProgress(opts: ProgressOptions): Progress {
  const startMs = performance.now();
  const isTTY = Boolean(opts.stream.isTTY);
  const everyMs = opts.everyMs ?? (isTTY ? 100 : 5000);
  // On a terminal draw at once; in a log, only once the work has run for `everyMs` (short runs stay quiet).
  let lastMs = isTTY ? -Infinity : startMs;
  let drawn = false;
  let lastDone = -1;
  return {
    update(done, fields) {
      const now = performance.now();
      if (done === lastDone || (now - lastMs < everyMs && done < opts.total)) return;
      lastDone = done;
      lastMs = now;
      const frac = Math.min(1, done / Math.max(1, opts.total));
      const filled = Math.round(frac * BAR_WIDTH);
      const etaMs = frac > 0 ? ((now - startMs) * (1 - frac)) / frac : NaN;
      const parts = [
        opts.label ?? '',
        `[${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}]`,
        `${num(done)}/${num(opts.total)}`,
        ...Object.entries(fields).map(([k, v]) => `${k} ${v}`),
        Number.isFinite(etaMs) ? `ETA ${duration(etaMs)}` : '',
      ].filter(Boolean);
      const line = parts.join('  ');
      if (isTTY) {
        opts.stream.write(`\r${line}\x1b[K`);
        drawn = true;
      } else {
        opts.stream.write(`${line}\n`);
      }
    },
    done() {
      if (isTTY && drawn) opts.stream.write('\n');
    },
  };
}
