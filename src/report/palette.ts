/**
 * One colour per batch size, the same in every chart, report and dashboard: the palette is keyed by
 * log2(B), so B = 16 is always the same blue whether a sweep has 3 batch sizes or 12, and neighbouring
 * powers of two get clearly different hues.
 */

/** 12 colours (Tableau-like, colour-blind friendly order); index = round(log2 B) mod 12. */
export const BATCH_PALETTE = [
  '#7f7f7f', // B = 1, 4096
  '#bcbd22', // B = 2
  '#17becf', // B = 4
  '#8c564b', // B = 8
  '#1f77b4', // B = 16
  '#ff7f0e', // B = 32
  '#2ca02c', // B = 64
  '#d62728', // B = 128
  '#9467bd', // B = 256
  '#e377c2', // B = 512
  '#393b79', // B = 1024
  '#637939', // B = 2048
] as const;

/** The colour of batch size `batchSize` (a positive number; non powers of two round to the nearest). */
export function colorForBatch(batchSize: number): string {
  if (!(batchSize > 0)) return BATCH_PALETTE[0];
  const index = Math.round(Math.log2(batchSize)) % BATCH_PALETTE.length;
  return BATCH_PALETTE[(index + BATCH_PALETTE.length) % BATCH_PALETTE.length]!;
}
