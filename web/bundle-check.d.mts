/** Types of web/bundle-check.mjs (a plain ES module the build runs with node). */
export function nodeImportProblems(metafile: {
  inputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
}): string[];
