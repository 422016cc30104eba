/**
 * The run queue a sweep, a study or a branch experiment shares: its runs handed to one launcher, at most
 * `limit` in flight; once `signal` is aborted no further run starts (those started end 'interrupted').
 */

/**
 * Calls `fn` on each item, at most `limit` at once, in order of the items; resolves when every started
 * call has ended (a call that rejects rejects the whole after the others end). Returns whether every
 * item was started (false when the signal stopped it early).
 */
export async function runEach<T>(
  items: readonly T[],
  o: { limit: number; signal?: AbortSignal },
  fn: (item: T, index: number) => Promise<void>,
): Promise<boolean> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(o.limit, items.length)) }, async () => {
    while (next < items.length && !o.signal?.aborted) {
      const index = next++;
      await fn(items[index]!, index);
    }
  });
  const ended = await Promise.allSettled(lanes);
  const failed = ended.find((e): e is PromiseRejectedResult => e.status === 'rejected');
  if (failed) throw failed.reason;
  return next >= items.length;
}
