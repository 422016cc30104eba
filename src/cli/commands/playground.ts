/** `batchlab playground`: where the browser playground is, optionally copied for hosting or opened. */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../core/errors.js';
import { copyPlayground, playgroundIndex } from '../../report/playground.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable } from '../options.js';

export const PLAYGROUND_OPTIONS = {
  out: {
    type: 'string',
    value: 'DIR',
    help: 'copy the page and its files into DIR (to host them as static files, or to keep them) and print that copy',
  },
  open: { type: 'boolean', help: 'also open the page in the default browser' },
} as const satisfies OptionTable;

export const PLAYGROUND_HELP = formatHelp({
  command: 'playground',
  usage: 'batchlab playground [--out DIR] [--open]',
  description:
    'Prints the path and the file:// URL of the playground: a page that trains a small network at two to four\n' +
    'batch sizes side by side in your browser (TF.js: WebGPU, WebGL, wasm or cpu), with live charts, the\n' +
    'verdicts on the usual advice, a loss landscape, in English and Romanian. It needs no server and sends\n' +
    'nothing anywhere: open index.html from disk, or host its folder as static files.',
  table: PLAYGROUND_OPTIONS,
  examples: ['batchlab playground --open', 'batchlab playground --out site/playground'],
});

/** The command that opens a file or URL in the desktop's default application. */
function openerFor(platform: NodeJS.Platform): [string, string[]] {
  if (platform === 'darwin') return ['open', []];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""']];
  return ['xdg-open', []];
}

/** Opens `url` in the background; says so on stderr when no opener could start. */
function openInBrowser(url: string, io: Io): void {
  const [command, args] = openerFor(process.platform);
  const child = spawn(command, [...args, url], { detached: true, stdio: 'ignore' });
  child.on('error', (err) => io.err(`could not open a browser (${command}: ${err.message}); open the URL above`));
  child.unref();
}

export async function playgroundCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, PLAYGROUND_OPTIONS, 'playground');
  if (help) {
    io.out(PLAYGROUND_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `unexpected argument "${positionals[0]}" for "batchlab playground"; see batchlab playground --help`,
    );
  }
  const index = options.out === undefined ? playgroundIndex() : copyPlayground(options.out);
  const url = pathToFileURL(index).href;
  io.out(index);
  io.out(url);
  if (options.open) openInBrowser(url, io);
  return 0;
}
