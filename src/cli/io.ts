/** Where a command writes: results to stdout, progress and errors to stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** For progress lines (redrawn in place when it is a terminal). */
  errStream: NodeJS.WriteStream;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    errStream: process.stderr,
  };
}
