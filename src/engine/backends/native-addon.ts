/**
 * Locates and loads the compiled `batchlab-native` Node-API addon
 * (native/build/Release/batchlab_native.node). Never throws: a missing or broken build is
 * reported as a reason string so callers can fall back to another backend.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './native-api.js';

export type { NativeAddon } from './native-api.js';

const ADDON_RELATIVE = join('native', 'build', 'Release', 'batchlab_native.node');

/**
 * The package root: the nearest ancestor of this file holding native/binding.gyp. Works from
 * src/engine/backends (tsx) and dist/engine/backends (compiled) alike.
 */
function findPackageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Loads the addon; `BATCHLAB_NATIVE_ADDON` may point at a .node file elsewhere. */
export function loadNativeAddon(): { ok: true; addon: NativeAddon } | { ok: false; reason: string } {
  const override = process.env['BATCHLAB_NATIVE_ADDON'];
  const root = findPackageRoot();
  const path = override ?? (root === undefined ? undefined : join(root, ADDON_RELATIVE));
  if (path === undefined) return { ok: false, reason: 'batchlab-native: package root (native/binding.gyp) not found' };
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `batchlab-native addon not built (${path} missing); run: npx node-gyp rebuild --directory native`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.matmul !== 'function')
      return { ok: false, reason: `batchlab-native: ${path} is not the expected addon` };
    // The newest function: without it the .node file predates this source (an old build left in place).
    if (typeof addon.reluGrad !== 'function')
      return {
        ok: false,
        reason: `batchlab-native: ${path} is an older build; run: npx node-gyp rebuild --directory native`,
      };
    return { ok: true, addon };
  } catch (e) {
    return { ok: false, reason: `batchlab-native addon failed to load from ${path}: ${(e as Error).message}` };
  }
}
