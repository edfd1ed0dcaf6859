/**
 * The operator server (`berth serve`): the embedded operator, listening where agents on other
 * hosts can reach it, with the operator API (`/api/v1/...`) on the same HTTP server. Its token
 * lives in `<data-dir>/token` (made on first start, mode 0600, then reused); while it runs,
 * `<data-dir>/server.json` says where it answers, so clients on this host find it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { loadOrCreateToken } from '../agent/http-server.js';
import { createOperatorApi } from '../api/operator-api.js';
import {
  type EmbeddedOperator,
  type EmbeddedOperatorOptions,
  startEmbeddedOperator,
} from './embedded.js';
import { readOperatorState } from './readout.js';
import { syncApp } from './sync-app.js';

/** `berth serve` listens here unless told otherwise. */
export const DEFAULT_SERVER_LISTEN = { host: '127.0.0.1', port: 7070 } as const;

/** What `<data-dir>/server.json` holds while a server runs. */
export interface ServerRecord {
  readonly url: string;
  readonly pid: number;
  readonly startedAt: string;
}

export const SERVER_RECORD_FILE = 'server.json';
export const TOKEN_FILE = 'token';

export interface OperatorServerOptions
  extends Omit<EmbeddedOperatorOptions, 'token' | 'handler' | 'dataDir'> {
  readonly dataDir: string;
  /** @default DEFAULT_SERVER_LISTEN */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Starts the operator. @default startEmbeddedOperator */
  readonly startOperator?: (options: EmbeddedOperatorOptions) => Promise<EmbeddedOperator>;
}

export interface OperatorServer {
  readonly url: string;
  readonly token: string;
  /** Where the token is kept. */
  readonly tokenFile: string;
  readonly operator: EmbeddedOperator;
  /** Stops the operator (pods keep running), removes server.json. Safe twice. */
  close(): Promise<void>;
}

/** Writes `file` whole or not at all: a private temp file, then a rename over it. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fsp.writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}

export async function startOperatorServer(options: OperatorServerOptions): Promise<OperatorServer> {
  const { dataDir } = options;
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tokenFile = path.join(dataDir, TOKEN_FILE);
  const token = await loadOrCreateToken(dataDir);
  const log = options.log ?? (() => {});
  const start = options.startOperator ?? startEmbeddedOperator;
  const { startOperator: _start, ...embeddedOptions } = options;
  const operator = await start({
    ...embeddedOptions,
    listen: options.listen ?? DEFAULT_SERVER_LISTEN,
    token,
    handler: (running) =>
      createOperatorApi({
        token,
        dataDir,
        log,
        sync: (request) =>
          syncApp(
            {
              store: running.store,
              engine: running.engine,
              now: () => new Date(options.clock?.now() ?? Date.now()).toISOString(),
            },
            request,
          ),
        read: async () => {
          const now = options.clock?.now() ?? Date.now();
          const podsOnEngine = await running.agent?.podsOnEngine();
          return readOperatorState(
            running.store,
            now,
            {
              endpoint: running.endpoint,
              ...(podsOnEngine === undefined ? {} : { podsOnEngine }),
            },
            running.nodeGraceMs,
          );
        },
      }),
  });

  const recordFile = path.join(dataDir, SERVER_RECORD_FILE);
  try {
    const record: ServerRecord = {
      url: operator.url,
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    await writeFileAtomic(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  } catch (error) {
    await operator.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    url: operator.url,
    token,
    tokenFile,
    operator,
    close() {
      closing ??= (async () => {
        // Gone first, so no client finds an address that no longer answers.
        await fsp.rm(recordFile, { force: true });
        await operator.close();
      })();
      return closing;
    },
  };
}
