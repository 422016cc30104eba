/**
 * The `batchlab-native` TF.js backend: the CPU backend's tensor storage and kernels, with the
 * kernels that dominate training (matmul, convolutions and their gradients, max-pooling,
 * bias/activation element-wise ops, bias-gradient sums) replaced by a multi-threaded, SIMD
 * Node-API addon (native/). Storage stays plain typed arrays, so every unreplaced cpu kernel works
 * unchanged and tensors move between `cpu` and `batchlab-native` without conversion.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { Float32Pool, type Float32PoolOptions, type PoolStats } from './buffer-pool.js';
import { loadNativeAddon, type NativeAddon } from './native-addon.js';
import { nativeKernelConfigs } from './native-kernels.js';
import { fusedReluGradConfig } from './native-ops.js';

export const NATIVE_BACKEND_NAME = 'batchlab-native';

export type NativeRegistration =
  | { ok: true; name: 'batchlab-native'; simd: string; threads: number }
  | { ok: false; reason: string };

export interface NativeBackendOptions {
  /** TF.js backend priority (higher wins when no backend is set explicitly); default 3 (cpu is 1, wasm 2). */
  priority?: number;
  /** Worker threads for the addon; default BATCHLAB_THREADS or the hardware thread count. */
  threads?: number;
  /** The output-array pool of the backend (buffer-pool.ts); taken when the backend is first registered. */
  pool?: Float32PoolOptions;
}

type DataId = Parameters<MathBackendCPU['readSync']>[0];
type KernelFunc = tf.KernelConfig['kernelFunc'];

/**
 * The CPU backend with a pool for kernel outputs: storage freed by disposeData goes back to the pool,
 * and storage handed out by readSync/read (dataSync, data, bufferSync) escapes it for good.
 */
export class NativeBackend extends MathBackendCPU {
  readonly pool: Float32Pool;
  /** The loaded addon; native-ops.ts finds it here, so that module needs no Node-only import. */
  readonly nativeAddon: NativeAddon;

  constructor(pool: Float32Pool, nativeAddon: NativeAddon) {
    super();
    this.pool = pool;
    this.nativeAddon = nativeAddon;
  }

  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    this.pool.escape(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override read(dataId: DataId): ReturnType<MathBackendCPU['read']> {
    this.pool.escape(this.data.get(dataId)?.values);
    return super.read(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const result = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return result;
  }

  /** After a cpu kernel: storage an output shares with an input (Slice returns a subarray) escapes. */
  escapeAliases(inputs: tf.NamedTensorInfoMap, outputs: tf.TensorInfo | tf.TensorInfo[]): void {
    for (const out of Array.isArray(outputs) ? outputs : [outputs]) {
      const ov = this.data.get(out.dataId)?.values;
      if (!ArrayBuffer.isView(ov)) continue;
      for (const input of Object.values(inputs)) {
        if (input == null || input.dataId === out.dataId) continue;
        const iv = this.data.get(input.dataId)?.values;
        if (ArrayBuffer.isView(iv) && iv.buffer === ov.buffer) {
          this.pool.escape(iv);
          this.pool.escape(ov);
        }
      }
    }
  }
}

/** A cpu kernel under batchlab-native: its outputs may alias its inputs, which then leave the pool. */
function guardAliases(kernelFunc: KernelFunc): KernelFunc {
  return (args) => {
    const out = kernelFunc(args);
    if (args.backend instanceof NativeBackend)
      args.backend.escapeAliases(args.inputs, out as tf.TensorInfo | tf.TensorInfo[]);
    return out;
  };
}

/**
 * Registers the backend and its kernels. Never throws; idempotent (a second call re-registers the
 * same kernels). Returns why it could not register, e.g. when the addon was not built.
 */
export function registerNativeBackend(opts: NativeBackendOptions = {}): NativeRegistration {
  try {
    const loaded = loadNativeAddon();
    if (!loaded.ok) return loaded;
    const { addon } = loaded;
    if (opts.threads !== undefined) addon.setThreads(opts.threads);
    const cpuKernels = tf.getKernelsForBackend('cpu');
    if (cpuKernels.length === 0)
      return { ok: false, reason: 'batchlab-native: @tensorflow/tfjs-backend-cpu kernels are not registered' };
    if (tf.findBackendFactory(NATIVE_BACKEND_NAME) == null) {
      tf.registerBackend(
        NATIVE_BACKEND_NAME,
        () => new NativeBackend(new Float32Pool(opts.pool), addon),
        opts.priority ?? 3,
      );
    }
    for (const config of cpuKernels) {
      if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) === undefined) {
        tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME, kernelFunc: guardAliases(config.kernelFunc) });
      }
    }
    for (const config of nativeKernelConfigs(addon)) {
      if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) !== undefined) {
        tf.unregisterKernel(config.kernelName, NATIVE_BACKEND_NAME);
      }
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME });
    }
    // Gradients exist once tfjs-layers (or tfjs-core/dist/register_all_gradients) is loaded; one loaded
    // later would put the unfused gradient back, and the next registration (every selectBackend) wraps it again.
    const reluGrad = tf.getGradient(tf.Relu);
    if (reluGrad !== undefined) tf.registerGradient(fusedReluGradConfig(reluGrad));
    const { simd, threads } = addon.info();
    return { ok: true, name: NATIVE_BACKEND_NAME, simd, threads };
  } catch (e) {
    return { ok: false, reason: `batchlab-native registration failed: ${(e as Error).message}` };
  }
}

/** Bytes of scratch memory the addon holds (packed GEMM panels, im2col buffers); 0 if not loaded. */
export function nativeMemoryBytes(): number {
  const loaded = loadNativeAddon();
  return loaded.ok ? loaded.addon.memoryBytes() : 0;
}

/** The backend instance, when it has been initialized. */
function nativeBackend(): NativeBackend | undefined {
  const backend = tf.findBackend(NATIVE_BACKEND_NAME);
  return backend instanceof NativeBackend ? backend : undefined;
}

/** Use of the output pool (arrays reused / freshly allocated, bytes held); undefined before the backend exists. */
export function nativePoolStats(): PoolStats | undefined {
  return nativeBackend()?.pool.stats();
}

/** Frees the addon's scratch memory and the output pool's free arrays (both re-grow on demand); no-op if not loaded. */
export function releaseNativeMemory(): void {
  const loaded = loadNativeAddon();
  if (loaded.ok) loaded.addon.releaseScratch();
  nativeBackend()?.pool.clear();
}
