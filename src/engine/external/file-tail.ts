/**
 * Follows a file another process appends to (the BATCHLAB_METRICS file), returning the complete lines
 * that arrived since the last read. A line the writer has not finished yet waits for its newline.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { LineSplitter } from './metrics.js';

/** Bytes read per call of FileHandle.read. */
const CHUNK_BYTES = 64 * 1024;

export class FileTail {
  private readonly handle: FileHandle;
  private readonly splitter = new LineSplitter();
  private readonly buffer = Buffer.alloc(CHUNK_BYTES);
  private offset = 0;

  private constructor(handle: FileHandle) {
    this.handle = handle;
  }

  /** Opens `path` for reading from its start. */
  static async open(path: string): Promise<FileTail> {
    return new FileTail(await open(path, 'r'));
  }

  /** The complete lines appended since the last call. Not re-entrant: await one call before the next. */
  async read(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, CHUNK_BYTES, this.offset);
      if (bytesRead === 0) return lines;
      this.offset += bytesRead;
      lines.push(...this.splitter.push(this.buffer.subarray(0, bytesRead)));
    }
  }

  /** Everything left, including a last line without a newline (the writer has finished). */
  async readAll(): Promise<string[]> {
    return [...(await this.read()), ...this.splitter.end()];
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
