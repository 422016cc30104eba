/**
 * Picks the TF.js backend a run trains on, and says which and why.
 *
 * Preference, fastest first: batchlab's own native CPU backend (C++ addon, `native/`) >
 * `@tensorflow/tfjs-node` ("tensorflow", if the user installed it; it downloads libtensorflow, so it
 * cannot install everywhere) > `wasm` (single-threaded SIMD) > `cpu` (plain JavaScript).
 * `wasm` cannot train convolutions (TF.js 4.22 registers no Conv2DBackpropFilter for it), so a model with
 * convolutions skips it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BatchlabError, UnknownNameError, UsageError } from '../../core/errors.js';
import { registerNativeBackend } from './native.js';

export const BACKEND_NAMES = ['batchlab-native', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendChoice {
  name: BackendName;
  /** One line: why this backend, and why the better ones were passed over. */
  reason: string;
}

interface Availability {
  ok: boolean;
  /** Why it is not available (when !ok). */
  why?: string;
}

const require = createRequire(import.meta.url);

/**
 * Makes `requested` (or the best available backend) the active TF.js backend.
 * @param needsConv the model has convolutions, which wasm cannot train.
 */
export async function selectBackend(opts: { requested?: string; needsConv: boolean }): Promise<BackendChoice> {
  // Production mode: skips TF.js's debug checks and its "install tfjs-node" console notice.
  tf.env().set('PROD', true);
  if (opts.requested !== undefined) return forceBackend(opts.requested, opts.needsConv);
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    if (name === 'wasm' && opts.needsConv) {
      skipped.push('wasm cannot train convolutions (no Conv2DBackpropFilter kernel)');
      continue;
    }
    const avail = await activate(name);
    if (avail.ok) {
      const reason = name === BACKEND_NAMES[0] ? 'fastest available' : `best available; ${skipped.join('; ')}`;
      return { name, reason };
    }
    skipped.push(`${name} unavailable (${avail.why})`);
  }
  throw new BatchlabError('BATCHLAB_BACKEND_UNAVAILABLE', `no TF.js backend could start: ${skipped.join('; ')}`);
}

async function forceBackend(requested: string, needsConv: boolean): Promise<BackendChoice> {
  if (!(BACKEND_NAMES as readonly string[]).includes(requested)) {
    throw new UnknownNameError('BATCHLAB_UNKNOWN_BACKEND', 'backend', requested, BACKEND_NAMES);
  }
  const name = requested as BackendName;
  if (name === 'wasm' && needsConv) {
    throw new UsageError(
      'backend wasm cannot train convolutions (TF.js registers no Conv2DBackpropFilter for wasm); use --backend cpu or batchlab-native for this model',
    );
  }
  const avail = await activate(name);
  if (!avail.ok) {
    throw new BatchlabError(
      'BATCHLAB_BACKEND_UNAVAILABLE',
      `backend ${name} is not available: ${avail.why}; leave out --backend to use the best available one`,
    );
  }
  return { name, reason: 'requested with --backend' };
}

/** Registers (if needed) and switches to `name`. */
async function activate(name: BackendName): Promise<Availability> {
  const registered = await register(name);
  if (!registered.ok) return registered;
  try {
    const ok = await tf.setBackend(name);
    return ok ? { ok } : { ok, why: 'it failed to initialize' };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}

async function register(name: BackendName): Promise<Availability> {
  if (tf.findBackendFactory(name)) return { ok: true };
  if (name === 'batchlab-native') {
    const res = registerNativeBackend();
    return res.ok ? { ok: true } : { ok: false, why: res.reason };
  }
  if (name === 'tensorflow') return registerTfjsNode();
  if (name === 'wasm') return registerWasm();
  return { ok: false, why: 'not registered' };
}

/** The wasm backend registers itself on import; in Node it must be told where its .wasm files are. */
function registerWasm(): Availability {
  try {
    setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
    return { ok: tf.findBackendFactory('wasm') !== null, why: 'not registered' };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}

/** `@tensorflow/tfjs-node` registers "tensorflow" on import, if the user installed it. */
async function registerTfjsNode(): Promise<Availability> {
  const pkg = '@tensorflow/tfjs-node';
  try {
    require.resolve(pkg);
  } catch {
    return { ok: false, why: `not installed (npm install ${pkg})` };
  }
  try {
    await import(pkg);
    return { ok: tf.findBackendFactory('tensorflow') !== null, why: 'it did not register' };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}
