/**
 * SIGINT and SIGTERM stop a command the same way: the first aborts the AbortSignal that the command
 * passes to the library (a sweep marks its run interrupted and stays resumable; a probe stops), with the
 * signal's name as the abort reason, so the exit code can say which it was (130 or 143). A second signal
 * exits at once with that code; the store keeps every finished run, and a worker whose parent is gone
 * marks its own run interrupted.
 */
import { SIGNAL_EXIT_CODES } from '../core/errors.js';

/** The signals that stop a command. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Listens for SIGINT and SIGTERM until disposed; `signal` is aborted by the first of them. */
export function listenForStop(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: StopSignal): void => {
    if (controller.signal.aborted) process.exit(SIGNAL_EXIT_CODES[name]);
    controller.abort(name);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of STOP_SIGNALS) process.off(name, onSignal);
    },
  };
}
