/** `batchlab playground`: where the browser playground is, optionally copied for hosting or opened. */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { copyPlayground, playgroundIndex } from '../../report/playground.js';
import { defineCommand } from '../command.js';
import type { Io } from '../io.js';
import type { OptionTable } from '../options.js';

export const PLAYGROUND_OPTIONS = {
  out: {
    type: 'string',
    value: 'DIR',
    help: 'copy the page and its files into DIR (to host them as static files, or to keep them) and print that copy',
  },
  open: { type: 'boolean', help: 'also open the page in the default browser' },
} as const satisfies OptionTable;

/** Where the page is: its index.html and that file's URL. */
export interface PlaygroundLocation {
  index: string;
  url: string;
}

export const playgroundCommand = defineCommand({
  name: 'playground',
  summary: 'a page that trains at several batch sizes side by side in your browser (no server)',
  usage: 'batchlab playground [--out DIR] [--open]',
  description:
    'Prints the path and the file:// URL of the playground: a page that trains a small network at two to four\n' +
    'batch sizes side by side in your browser (TF.js: WebGPU, WebGL, wasm or cpu), with live charts, the\n' +
    'verdicts on the usual advice, a loss landscape, in English and Romanian. It needs no server and sends\n' +
    'nothing anywhere: open index.html from disk, or host its folder as static files.',
  options: PLAYGROUND_OPTIONS,
  examples: ['batchlab playground --open', 'batchlab playground --out site/playground'],
  run: async ({ options, io }): Promise<PlaygroundLocation> => {
    const index = options.out === undefined ? playgroundIndex() : copyPlayground(options.out);
    const url = pathToFileURL(index).href;
    if (options.open) openInBrowser(url, io);
    return { index, url };
  },
  text: (where) => `${where.index}\n${where.url}`,
  json: (where) => where,
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
