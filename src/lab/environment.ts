/** What every experiment stores about where it ran. */
import { createRequire } from 'node:module';
import { cpus, platform, release, totalmem } from 'node:os';
import { BATCHLAB_VERSION } from '../version.js';

/** Versions and hardware, stored with the experiment. */
export function environment(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string | undefined => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return undefined;
    }
  };
  const cpu = cpus();
  return {
    node: process.version,
    tfjs: version('@tensorflow/tfjs-core'),
    batchlab: BATCHLAB_VERSION,
    cpu: cpu[0]?.model,
    cores: cpu.length,
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
  };
}
