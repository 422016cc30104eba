/**
 * Parsers of the options that say where runs go (--gpus, --slurm): pure, so the CLI, the library and
 * the tests read them the same way.
 */
import { UsageError } from './errors.js';

/**
 * A GPU list as CUDA_VISIBLE_DEVICES takes it: indices ("0,1,2,3") or UUIDs ("GPU-6f2c..."), comma
 * separated, each once. Spaces around the commas are ignored.
 */
export function parseGpuList(text: string): string[] {
  const gpus = text.split(',').map((g) => g.trim());
  for (const g of gpus) {
    if (!/^(\d+|(GPU|MIG)-[0-9A-Za-z/-]+)$/.test(g))
      throw new UsageError(
        `--gpus takes GPU indices or UUIDs separated by commas (e.g. --gpus 0,1,2,3), got "${text}"; "${g}" is not one`,
      );
  }
  const seen = new Set<string>();
  for (const g of gpus) {
    if (seen.has(g)) throw new UsageError(`--gpus lists GPU ${g} twice ("${text}"); give each GPU once`);
    seen.add(g);
  }
  return gpus;
}

/**
 * Splits an option string into words as a POSIX shell would for plain words and quotes: whitespace
 * separates, '...' keeps everything literally, "..." keeps everything but \" and \\, a backslash
 * outside quotes escapes the next character. No variables, globs or substitutions: the words go to
 * sbatch as they are, never through a shell. An unclosed quote is refused.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new UsageError(`unclosed ${quote} in "${text}"; close the quote`);
  if (word !== undefined) words.push(word);
  return words;
}
