/**
 * The `batchlab-native` TF.js backend: the CPU backend's tensor storage and kernels, with the
 * kernels that dominate training (matmul, convolutions and their gradients, max-pooling,
 * bias/activation element-wise ops, bias-gradient sums) replaced by a multi-threaded, SIMD
 * Node-API addon (native/). Storage stays plain typed arrays, so every unreplaced cpu kernel works
 * unchanged and tensors move between `cpu` and `batchlab-native` without conversion.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadNativeAddon } from './native-addon.js';
import { nativeKernelConfigs } from './native-kernels.js';

export const NATIVE_BACKEND_NAME = 'batchlab-native';

export type NativeRegistration =
  | { ok: true; name: 'batchlab-native'; simd: string; threads: number }
  | { ok: false; reason: string };

export interface NativeBackendOptions {
  /** TF.js backend priority (higher wins when no backend is set explicitly); default 3 (cpu is 1, wasm 2). */
  priority?: number;
  /** Worker threads for the addon; default BATCHLAB_THREADS or the hardware thread count. */
  threads?: number;
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
    if (cpuKernels.length === 0) return { ok: false, reason: 'batchlab-native: @tensorflow/tfjs-backend-cpu kernels are not registered' };
    if (tf.findBackendFactory(NATIVE_BACKEND_NAME) == null) {
      tf.registerBackend(NATIVE_BACKEND_NAME, () => new MathBackendCPU(), opts.priority ?? 3);
    }
    for (const config of cpuKernels) {
      if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) === undefined) {
        tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME });
      }
    }
    for (const config of nativeKernelConfigs(addon)) {
      if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) !== undefined) {
        tf.unregisterKernel(config.kernelName, NATIVE_BACKEND_NAME);
      }
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME });
    }
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

/** Frees the addon's scratch memory (it is re-grown on demand); no-op if not loaded. */
export function releaseNativeMemory(): void {
  const loaded = loadNativeAddon();
  if (loaded.ok) loaded.addon.releaseScratch();
}

/** Kernel names the addon implements (the rest run the cpu backend's code). */
export function nativeKernelNames(): string[] {
  const loaded = loadNativeAddon();
  return loaded.ok ? nativeKernelConfigs(loaded.addon).map((c) => c.kernelName) : [];
}
