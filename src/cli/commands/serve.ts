/** `batchlab serve`: the live dashboard over the store, until SIGINT or SIGTERM (its normal end: exit 0). */
import { UsageError } from '../../core/errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, MIN_TOKEN_LENGTH, type RunningServer, startServer } from '../../server/index.js';
import { defineCommand } from '../command.js';
import type { Io } from '../io.js';
import type { OptionTable } from '../options.js';

export const SERVE_OPTIONS = {
  port: { type: 'count', value: 'N', default: DEFAULT_PORT, help: 'TCP port (0: any free port)' },
  host: {
    type: 'string',
    value: 'HOST',
    default: DEFAULT_HOST,
    help: 'address to bind; anything but loopback (e.g. 0.0.0.0) requires a token on every request',
  },
  token: {
    type: 'string',
    value: 'T',
    help: `token every request must carry (>= ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ -); off the loopback a random one is generated and printed if you give none`,
  },
  db: {
    type: 'string',
    value: 'PATH',
    default: './batchlab.db',
    help: 'the batchlab database to read (it may be written by a running sweep)',
  },
} as const satisfies OptionTable;

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'a live dashboard over the store (loopback by default)',
  usage: 'batchlab serve [--port 8477] [--host 127.0.0.1] [--token T] [--db PATH]',
  description:
    'Serves a read-only dashboard of the experiments in the database: every chart of the report, updated live\n' +
    'while a sweep runs, and a comparison of chosen runs. The JSON API is described in docs/api.md.\n' +
    'Only this machine can connect by default. With --host 0.0.0.0 (or another address) every request needs\n' +
    'the token: open the printed URL once, and the browser keeps the token in a cookie for this server.\n' +
    'Ctrl-C or SIGTERM stops it (exit 0).',
  options: SERVE_OPTIONS,
  examples: ['batchlab serve', 'batchlab serve --port 9000 --db runs/batchlab.db', 'batchlab serve --host 0.0.0.0'],
  run: async ({ options, io, signal }) => {
    if (options.port > 65535) throw new UsageError(`--port must be between 0 and 65535, got ${options.port}`);
    const server = await startServer({
      dbPath: options.db,
      port: options.port,
      host: options.host,
      token: options.token,
    });
    printStart(server, options, io);
    await new Promise((stopped) => (signal.aborted ? stopped(undefined) : signal.addEventListener('abort', stopped)));
    await server.close();
  },
});

/** Where the dashboard is, and, off the loopback, a warning and the URL with the token. */
function printStart(server: RunningServer, options: { db: string; host: string }, io: Io): void {
  if (!server.loopback) {
    io.err(
      `warning: --host ${options.host} lets other machines reach the dashboard; every request must carry the token, ` +
        'and anyone who has it can read every experiment, its settings and commands. Prefer an SSH tunnel on an untrusted network.',
    );
  }
  io.out(`batchlab dashboard on ${server.url} (database ${options.db}); Ctrl-C to stop`);
  if (server.token !== null) {
    io.out(
      `open ${server.pageUrl} (the page keeps the token in a cookie; scripts send Authorization: Bearer ${server.token})`,
    );
  }
}
