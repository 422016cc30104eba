/** Placeholder until the native backend lands: reports itself unavailable, so selection falls back. */
export function registerNativeBackend(): { ok: false; reason: string } {
  return { ok: false, reason: 'the native addon is not part of this build yet' };
}
