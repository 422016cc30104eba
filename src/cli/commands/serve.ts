/** `batchlab serve`: the live dashboard over the store, until Ctrl-C. */
import { UsageError } from '../../core/errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, MIN_TOKEN_LENGTH, type RunningServer, startServer } from '../../server/index.js';
import { formatHelp, parseOptions, type OptionTable } from '../options.js';
import type { Io } from '../io.js';

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

export const SERVE_HELP = formatHelp({
  command: 'serve',
  usage: 'batchlab serve [--port 8477] [--host 127.0.0.1] [--token T] [--db PATH]',
  description:
    'Serves a read-only dashboard of the experiments in the database: every chart of the report, updated live\n' +
    'while a sweep runs, and a comparison of chosen runs. The JSON API is described in docs/api.md.\n' +
    'Only this machine can connect by default. With --host 0.0.0.0 (or another address) every request needs\n' +
    'the token: open the printed URL once, and the browser keeps the token in a cookie for this server.',
  table: SERVE_OPTIONS,
  examples: ['batchlab serve', 'batchlab serve --port 9000 --db runs/batchlab.db', 'batchlab serve --host 0.0.0.0'],
});

export async function serveCommand(
  argv: readonly string[],
  io: Io,
  signals: { stop?: Promise<void> } = {},
): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, SERVE_OPTIONS, 'serve');
  if (help) {
    io.out(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}" for "batchlab serve"; see batchlab serve --help`);
  if (options.port > 65535) throw new UsageError(`--port must be between 0 and 65535, got ${options.port}`);
  const server = await startServer({
    dbPath: options.db,
    port: options.port,
    host: options.host,
    token: options.token,
  });
  printStart(server, options, io);
  await (signals.stop ?? untilInterrupted());
  await server.close();
  return 0;
}

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

/** Resolves on the first SIGINT or SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
