/**
 * How client commands (`get`, `diff`) reach the operator: a running `berth serve` when one is
 * found (`--server`, $BERTH_SERVER, or the one serving the data dir), else the store in the
 * data dir, read directly and never created. Either way the command gets an OperatorReadout.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectOperatorServer } from '../api/operator-client.js';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError, isBerthError } from '../model/errors.js';
import { findOperatorServer } from '../operator/discovery.js';
import { readOperatorState } from '../operator/readout.js';
import type { OperatorReadout } from '../operator/session.js';
import { DATABASE_FILE_NAME, openStore, type Store } from '../store/index.js';
import type { CliIo } from './io.js';

/** The parseArgs options every command that reads the operator takes. */
export const OPERATOR_FLAGS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const OPERATOR_FLAGS_HELP = `The operator is read from a running \`berth serve\` on the data dir, found by itself;
otherwise from the data dir's store directly.
      --server URL        a \`berth serve\` elsewhere (@default $BERTH_SERVER)
      --token T           its token (@default $BERTH_TOKEN, else <data-dir>/token)
      --data-dir DIR      the operator's data dir
                          (@default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)`;

export interface OperatorFlagValues {
  server?: string | undefined;
  token?: string | undefined;
  'data-dir'?: string | undefined;
}

/** `--data-dir` resolved against the command's cwd, else the default operator data dir. */
export function resolveDataDir(values: OperatorFlagValues, io: CliIo): string {
  return path.resolve(io.cwd, values['data-dir'] ?? defaultOperatorDataDir(io.env));
}

/**
 * The operator's state now: asked of a running server when there is one, else read from the
 * store (an empty readout when the data dir has no database: nothing was ever applied).
 * `now` (ms since the epoch) decides node readiness from stored heartbeats.
 */
export async function readOperator(
  values: OperatorFlagValues,
  io: CliIo,
  now: number,
): Promise<OperatorReadout> {
  const dataDir = resolveDataDir(values, io);
  const address = await findOperatorServer({
    ...(values.server === undefined ? {} : { server: values.server }),
    ...(values.token === undefined ? {} : { token: values.token }),
    env: io.env,
    dataDir,
  });
  if (address !== undefined) {
    // Awaited so that a client returning the session in a promise works the same.
    const session = await connectOperatorServer(address);
    try {
      return await session.read();
    } finally {
      await session.close();
    }
  }

  return readStoreOnce(
    dataDir,
    () => EMPTY_READOUT,
    (store) => readOperatorState(store, now),
  );
}

/**
 * Runs `use` on the data dir's store, opened for this read and closed after. Reading never
 * creates a store: with no database, `absent()` (nothing was ever made). A store held by a
 * `berth apply` is STORE_LOCKED saying so.
 */
export async function readStoreOnce<T>(
  dataDir: string,
  absent: () => T | Promise<T>,
  use: (store: Store) => T | Promise<T>,
): Promise<T> {
  if (!existsSync(path.join(dataDir, DATABASE_FILE_NAME))) return absent();
  let store: Store;
  try {
    store = openStore(dataDir);
  } catch (error) {
    if (isBerthError(error) && error.code === 'STORE_LOCKED') {
      throw new BerthError(
        'STORE_LOCKED',
        `${error.message}: a berth apply is running on it right now`,
        {
          retry: true,
          hint: `retry when it finishes, or run \`berth serve --data-dir ${dataDir}\` so that commands ask the operator instead`,
          cause: error,
        },
      );
    }
    throw error;
  }
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

const EMPTY_READOUT: OperatorReadout = {
  apps: [],
  assignments: [],
  nodes: [],
  allocations: [],
  podsOnNodes: [],
};
