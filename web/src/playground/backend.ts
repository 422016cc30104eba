/**
 * Picks the TF.js backend in the browser: WebGPU where the browser offers it, then WebGL, then wasm, then
 * the plain JavaScript cpu backend, and keeps every attempt so the page can say what it tried and why it
 * moved on. The wasm binaries come from `tfjs-wasm.js` (written by web/build.mjs next to index.html): a
 * page opened from a file may load scripts but not fetch files, so the binaries travel as base64 in a
 * script and reach the wasm loader as blob: URLs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BACKEND_ORDER, type BackendName, type BackendSetting } from './settings.js';

/** The script that carries the wasm binaries; it sets window[WASM_GLOBAL] = { fileName: base64 }. */
export const WASM_SCRIPT = 'tfjs-wasm.js';
export const WASM_GLOBAL = '__batchlabTfjsWasm';
/** The binaries tfjs-wasm.js carries: plain and SIMD (threads need a cross-origin-isolated page). */
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'] as const;

export type AttemptReason = 'unavailable' | 'init' | 'software';

/** One backend the page tried. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was passed over: not offered by this browser, offered but failed to start, or drawn in software. */
  reason?: AttemptReason;
  /** The error text, when there was one (for the console and tests). */
  detail?: string;
}

export interface BackendChoice {
  /** The backend training runs on. */
  name: BackendName;
  attempts: BackendAttempt[];
}

/** Gives the wasm loader blob: URLs of the binaries in tfjs-wasm.js (loaded by `loadScript`). */
async function provideWasmBinaries(loadScript: (src: string) => Promise<void>): Promise<void> {
  const holder = globalThis as unknown as Record<string, Record<string, string> | undefined>;
  if (holder[WASM_GLOBAL] === undefined) await loadScript(WASM_SCRIPT);
  const files = holder[WASM_GLOBAL];
  if (files === undefined) throw new Error(`${WASM_SCRIPT} did not define the wasm binaries`);
  const urls: Record<string, string> = {};
  for (const name of WASM_FILES) {
    const raw = atob(files[name] ?? '');
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    urls[name] = URL.createObjectURL(new Blob([bytes], { type: 'application/wasm' }));
  }
  // Threads need SharedArrayBuffer (a cross-origin-isolated page), which a file or a plain static host
  // does not give; with the flag off the loader never asks for the threaded binary, but the map needs one.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths({ ...urls, 'tfjs-backend-wasm-threaded-simd.wasm': urls['tfjs-backend-wasm-simd.wasm']! });
}

/**
 * The WebGL renderer when it is a software one (SwiftShader, llvmpipe: a browser without a usable GPU, as a
 * headless one), else undefined. There WebGL emulates the GPU on the CPU, measured 10x slower than wasm on
 * the spiral MLP, so the page moves on to wasm.
 */
function softwareWebGlRenderer(): string | undefined {
  const gl =
    document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
  if (!gl) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|softpipe|software/i.test(renderer) ? renderer : undefined;
}

/** Tries one backend; true when TF.js now runs on it. */
async function tryBackend(
  name: BackendName,
  loadScript: (src: string) => Promise<void>,
  forced: boolean,
): Promise<BackendAttempt> {
  if (tf.findBackendFactory(name) === null) return { name, ok: false, reason: 'unavailable' };
  if (name === 'webgl' && !forced) {
    const renderer = softwareWebGlRenderer();
    if (renderer) return { name, ok: false, reason: 'software', detail: renderer };
  }
  try {
    if (name === 'wasm') await provideWasmBinaries(loadScript);
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok ? { name, ok: true } : { name, ok: false, reason: 'init' };
  } catch (err) {
    return { name, ok: false, reason: 'init', detail: (err as Error).message };
  }
}

/**
 * Sets the backend: the one `setting` names, else the first of BACKEND_ORDER that starts. cpu is the last
 * resort and is tried even when a named backend fails, so the page always trains.
 */
export async function chooseBackend(
  setting: BackendSetting,
  loadScript: (src: string) => Promise<void>,
): Promise<BackendChoice> {
  const order: readonly BackendName[] = setting === 'auto' ? BACKEND_ORDER : [setting, 'cpu'];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    if (attempts.some((a) => a.name === name)) continue;
    const attempt = await tryBackend(name, loadScript, setting === name);
    attempts.push(attempt);
    if (attempt.ok) return { name, attempts };
  }
  throw new Error(`no TF.js backend started: ${attempts.map((a) => `${a.name} (${a.reason})`).join(', ')}`);
}
