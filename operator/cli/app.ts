/**
 * `berth app add|remove|list|pin|unpin|sync`: the apps a running `berth serve` keeps in sync.
 * Changes go through the server (it owns the data dir); `list` reads the store when no
 * server runs.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AppAddRequest } from '../api/operator-api.js';
import type { AppStatus } from '../daemon/status.js';
import { BerthError } from '../model/errors.js';
import { hasUrlScheme } from '../source/url.js';
import { removeAppPruned } from './app-remove.js';
import { parseDuration } from './apply.js';
import { readDaemon, requireDaemon } from './daemon-access.js';
import { type CliIo, EXIT, processStopSignal, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP } from './operator-flags.js';
import { refText } from './status.js';
import { renderTable } from './tables.js';

export const APP_HELP = `Usage: berth app COMMAND [options]

Manage the apps a running \`berth serve\` keeps in sync.
  add NAME SOURCE       keep SOURCE (a local repository path, an https URL) in sync as NAME;
                        the first sync starts at once
      --ref REF           the branch, tag or commit to track (@default the repository's HEAD)
      --path DIR          the manifest folder inside the repository (@default its root)
      --interval D        how often an https source is fetched, e.g. 30s, 5m (@default 60s)
      --no-prune          keep objects that left git
      --no-self-heal      leave drift made by hand (docker rm, stop, rename) as found:
                          recorded, the app OutOfSync, put back by its next sync
  remove NAME           stop keeping NAME in sync (what it runs keeps running)
      --prune             delete what NAME applied too: its replication controllers (and
                          their pods), services and pods; objects annotated
                          berth.io/prune: disabled are kept (and said so); its cluster IPs
                          and node ports are released. Waits until its pods are gone
      --timeout D         how long --prune waits for the pods, e.g. 90s, 5m (@default 2m)
  list                  NAME SOURCE REF PATH
  pin NAME COMMIT       run COMMIT instead of the ref's newest until unpin (a rollback)
  unpin NAME            follow the ref again
  sync NAME             sync NAME now, even when its ref has not moved (puts drift back)

${OPERATOR_FLAGS_HELP}
add, remove, pin, unpin and sync need a running berth serve; list reads the store without one.

Exit status: 0 done, 1 remove --prune: pods not gone at --timeout (they are listed),
2 error (usage, an unknown app, no server).`;

function usage(message: string): BerthError {
  return new BerthError('CLI_USAGE', message, { hint: 'see berth app --help' });
}

function oneLine(status: AppStatus): string {
  const commit = status.lastApplied?.commit.slice(0, 7) ?? 'nothing applied yet';
  return `${status.sync} ${status.health} at ${commit}: ${status.reason}`;
}

export async function runApp(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals: words } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ref: { type: 'string' },
      path: { type: 'string' },
      interval: { type: 'string' },
      'no-prune': { type: 'boolean' },
      'no-self-heal': { type: 'boolean' },
      prune: { type: 'boolean' },
      timeout: { type: 'string' },
      ...OPERATOR_FLAGS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...positionals] = words;
  if (values.help === true || command === 'help') {
    writeLine(io.stdout, APP_HELP);
    return EXIT.ok;
  }
  if (command === undefined) {
    throw usage('berth app needs a command: add, remove, list, pin, unpin or sync');
  }
  const addOnly = ['ref', 'path', 'interval', 'no-prune', 'no-self-heal'] as const;
  if (command !== 'add') {
    const given = addOnly.find((flag) => values[flag] !== undefined);
    if (given !== undefined) throw usage(`--${given} is for berth app add`);
  }
  if (command !== 'remove' && values.prune !== undefined) {
    throw usage('--prune is for berth app remove');
  }
  if (values.timeout !== undefined && values.prune !== true) {
    throw usage('--timeout is for berth app remove --prune');
  }
  const args = (count: number, shape: string): string[] => {
    if (positionals.length !== count) throw usage(`berth app ${command} takes ${shape}`);
    return positionals;
  };

  switch (command) {
    case 'add': {
      const [name, source] = args(2, 'NAME SOURCE') as [string, string];
      const request: AppAddRequest = {
        name,
        source: hasUrlScheme(source) ? source : path.resolve(io.cwd, source),
        ...(values.ref === undefined ? {} : { ref: values.ref }),
        ...(values.path === undefined ? {} : { path: values.path }),
        ...(values.interval === undefined
          ? {}
          : { interval: parseDuration(values.interval, '--interval') }),
        prune: values['no-prune'] !== true,
        selfHeal: values['no-self-heal'] !== true,
      };
      const client = await requireDaemon(values, io, 'berth app add');
      await client.addApp(request);
      writeLine(
        io.stdout,
        `app ${name} added: ${request.source}; syncing (berth status ${name} shows it)`,
      );
      return EXIT.ok;
    }
    case 'remove': {
      const [name] = args(1, 'NAME') as [string];
      const timeoutText = values.timeout ?? '2m';
      const timeoutMs = parseDuration(timeoutText, '--timeout');
      const client = await requireDaemon(values, io, 'berth app remove');
      if (values.prune === true) {
        const stop = processStopSignal();
        try {
          return await removeAppPruned(
            client,
            name,
            { timeoutMs, timeoutText, stopSignal: stop.signal },
            io,
          );
        } finally {
          stop.dispose();
        }
      }
      await client.removeApp(name);
      writeLine(
        io.stdout,
        `app ${name} removed; what it runs keeps running (berth app remove ${name} --prune deletes it)`,
      );
      return EXIT.ok;
    }
    case 'pin': {
      const [name, commit] = args(2, 'NAME COMMIT') as [string, string];
      const client = await requireDaemon(values, io, 'berth app pin');
      const status = await client.pin(name, commit);
      writeLine(io.stdout, `app ${name} pinned to ${commit}; ${oneLine(status)}`);
      return EXIT.ok;
    }
    case 'unpin': {
      const [name] = args(1, 'NAME') as [string];
      const client = await requireDaemon(values, io, 'berth app unpin');
      const status = await client.unpin(name);
      writeLine(io.stdout, `app ${name} unpinned; ${oneLine(status)}`);
      return EXIT.ok;
    }
    case 'sync': {
      const [name] = args(1, 'NAME') as [string];
      const client = await requireDaemon(values, io, 'berth app sync');
      await client.syncApp(name);
      writeLine(io.stdout, `app ${name}: sync started (berth status ${name} shows it)`);
      return EXIT.ok;
    }
    case 'list': {
      args(0, 'no arguments');
      const rows = await readDaemon(values, io, async (access) => {
        if (access.kind === 'server') {
          return (await access.client.apps()).map((s) => ({
            name: s.name,
            source: s.source,
            ref: refText(s),
            path: s.path ?? '',
          }));
        }
        if (access.kind === 'none') return [];
        return access.store.apps().map((record) => {
          const settings = record.settings as { ref?: unknown; path?: unknown; pinned?: unknown };
          return {
            name: record.name,
            source: record.source,
            ref: refText({
              ...(typeof settings.ref === 'string' ? { ref: settings.ref } : {}),
              ...(typeof settings.pinned === 'string' ? { pinned: settings.pinned } : {}),
            }),
            path: typeof settings.path === 'string' ? settings.path : '',
          };
        });
      });
      if (rows.length === 0) {
        writeLine(io.stderr, 'No apps found.');
        return EXIT.ok;
      }
      writeLine(
        io.stdout,
        renderTable(
          ['NAME', 'SOURCE', 'REF', 'PATH'],
          rows.map((row) => [row.name, row.source, row.ref, row.path]),
        ),
      );
      return EXIT.ok;
    }
    default:
      throw usage(`unknown app command "${command}"; use add, remove, list, pin, unpin or sync`);
  }
}
