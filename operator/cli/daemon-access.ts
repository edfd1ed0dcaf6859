import { connectDaemon, type DaemonClient, START_SERVER_HINT } from '../api/operator-client.js';
import { type AppliedCommit, type AppStatus, appHealth, podsOfApp } from '../daemon/status.js';
import { BerthError } from '../model/errors.js';
import { findOperatorServer } from '../operator/discovery.js';
import type { Store } from '../store/index.js';
import type { SyncRecord } from '../store/store.js';
import type { CliIo } from './io.js';
import { type OperatorFlagValues, readStoreOnce, resolveDataDir } from './operator-flags.js';

/** Where a command reads from: the server, the store, or nothing (no database yet). */
export type DaemonAccess =
  | { readonly kind: 'server'; readonly client: DaemonClient }
  | { readonly kind: 'store'; readonly store: Store }
  | { readonly kind: 'none'; readonly dataDir: string };

async function findServer(
  values: OperatorFlagValues,
  io: CliIo,
): Promise<{ client: DaemonClient | undefined; dataDir: string }> {
  const dataDir = resolveDataDir(values, io);
  const address = await findOperatorServer({
    ...(values.server === undefined ? {} : { server: values.server }),
    ...(values.token === undefined ? {} : { token: values.token }),
    env: io.env,
    dataDir,
  });
  return { client: address === undefined ? undefined : connectDaemon(address), dataDir };
}

/** Runs `use` on the server when one runs, else on the store (opened, then closed). */
export async function readDaemon<T>(
  values: OperatorFlagValues,
  io: CliIo,
  use: (access: DaemonAccess) => Promise<T> | T,
): Promise<T> {
  const { client, dataDir } = await findServer(values, io);
  if (client !== undefined) return use({ kind: 'server', client });
  return readStoreOnce(
    dataDir,
    () => use({ kind: 'none', dataDir }),
    (store) => use({ kind: 'store', store }),
  );
}

/** The running server, or SERVER_UNREACHABLE saying that `what` needs one. */
export async function requireDaemon(
  values: OperatorFlagValues,
  io: CliIo,
  what: string,
): Promise<DaemonClient> {
  const { client, dataDir } = await findServer(values, io);
  if (client === undefined) {
    throw new BerthError(
      'SERVER_UNREACHABLE',
      `${what} needs a running berth serve; none serves ${dataDir}`,
      { hint: START_SERVER_HINT },
    );
  }
  return client;
}

/** How a sync record's outcome reads as a sync state. */
function syncStateOf(record: SyncRecord | undefined): AppStatus['sync'] {
  if (record === undefined) return 'OutOfSync';
  if (record.outcome === undefined) return 'Syncing';
  if (record.outcome === 'succeeded') return 'Synced';
  if (record.outcome === 'failed') return 'Failed';
  return 'OutOfSync';
}

/**
 * Apps' status from the store alone (no server runs): the last applied commit and the last
 * sync's outcome from the history, health from the stored pods. What only a running daemon
 * knows (the ref's commit now, retries) is not there, and the reason says so.
 */
export function statusesFromStore(store: Store): AppStatus[] {
  const assignments = store.assignments();
  return store
    .apps()
    .map((record): AppStatus => {
      const settings = record.settings as { ref?: unknown; path?: unknown; pinned?: unknown };
      const history = store.syncHistory(record.name, 50);
      const applied = history.find((sync) => sync.outcome === 'succeeded');
      const lastApplied: AppliedCommit | undefined =
        applied === undefined
          ? undefined
          : {
              commit: applied.commit,
              message: '',
              at: applied.finishedAt ?? applied.startedAt,
            };
      const inventory = new Set(store.inventory(record.name).map((entry) => entry.key));
      const { health, reason } = appHealth({
        ...(lastApplied === undefined ? {} : { lastApplied }),
        pods: podsOfApp(inventory, assignments),
      });
      const last = history[0];
      const problems =
        last !== undefined && last.outcome !== 'succeeded' && last.message !== ''
          ? [last.message]
          : [];
      return {
        name: record.name,
        source: record.source,
        ...(typeof settings.ref === 'string' ? { ref: settings.ref } : {}),
        ...(typeof settings.path === 'string' ? { path: settings.path } : {}),
        ...(typeof settings.pinned === 'string' ? { pinned: settings.pinned } : {}),
        ...(lastApplied === undefined ? {} : { lastApplied }),
        sync: syncStateOf(last),
        health,
        reason: `${problems[0] ?? reason} (from the store; no berth serve runs)`,
        problems,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
