/**
 * `berth status [APP]`: per app the tracked ref (and the pin), the last applied commit and its
 * message, the sync state and health, and why. From a running `berth serve`, else from the
 * store in the data dir (what was last applied; the daemon's live view needs the server).
 */
import { parseArgs } from 'node:util';
import type { AppStatus } from '../daemon/status.js';
import { BerthError } from '../model/errors.js';
import { formatAge } from './age.js';
import { readDaemon, statusesFromStore } from './daemon-access.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP } from './operator-flags.js';
import { renderTable } from './tables.js';

export const STATUS_HELP = `Usage: berth status [APP] [-o json] [--server URL] [--data-dir DIR]

Show the apps berth keeps in sync:
  APP REF COMMIT SYNC HEALTH AGE MESSAGE REASON
  REF       the tracked branch, tag or commit (HEAD when none), and "pinned <sha>" while pinned
  COMMIT    the last applied commit; MESSAGE its subject; AGE since it was applied
  SYNC      Synced, OutOfSync, Syncing or Failed
  HEALTH    Healthy, Progressing, Degraded or Missing; REASON says why
With APP, only that app, followed by its source and problems.

Options:
  -o, --output json     print the status as JSON

${OPERATOR_FLAGS_HELP}

Exit status: 0 shown, 2 error (an unknown APP, no operator to ask).`;

export interface StatusDeps {
  readonly now?: () => Date;
}

/** How long a commit message may be in the table before it is cut. */
const MESSAGE_WIDTH = 40;

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

export function refText(status: Pick<AppStatus, 'ref' | 'pinned'>): string {
  const ref = (status.ref ?? 'HEAD').replace(/^refs\/heads\//, '');
  return status.pinned === undefined ? ref : `${ref} (pinned ${status.pinned.slice(0, 7)})`;
}

export function statusTable(statuses: readonly AppStatus[], now: Date): string {
  return renderTable(
    ['APP', 'REF', 'COMMIT', 'SYNC', 'HEALTH', 'AGE', 'MESSAGE', 'REASON'],
    statuses.map((status) => [
      status.name,
      refText(status),
      status.lastApplied === undefined ? '<none>' : status.lastApplied.commit.slice(0, 7),
      status.sync,
      status.health,
      status.lastApplied === undefined ? '<none>' : formatAge(status.lastApplied.at, now),
      cut(status.lastApplied?.message ?? '', MESSAGE_WIDTH),
      status.reason,
    ]),
  );
}

export async function runStatus(
  argv: readonly string[],
  io: CliIo,
  deps: StatusDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      ...OPERATOR_FLAGS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, STATUS_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) {
    throw new BerthError('CLI_USAGE', 'berth status takes at most one app', {
      hint: 'berth status [APP]',
    });
  }
  if (values.output !== undefined && values.output !== 'json') {
    throw new BerthError('CLI_USAGE', `unknown output format "${values.output}"`, {
      hint: 'use -o json',
    });
  }
  const name = positionals[0];
  const statuses = await readDaemon(values, io, async (access) => {
    if (access.kind === 'server') {
      return name === undefined ? access.client.apps() : [await access.client.app(name)];
    }
    const all = access.kind === 'store' ? statusesFromStore(access.store) : [];
    return name === undefined ? all : all.filter((status) => status.name === name);
  });
  if (name !== undefined && statuses.length === 0) {
    throw new BerthError('APP_NOT_FOUND', `no app named ${name}`, {
      hint: 'berth status lists the apps',
    });
  }
  if (values.output === 'json') {
    const value = name === undefined ? statuses : statuses[0];
    writeLine(io.stdout, JSON.stringify(value, null, 2));
    return EXIT.ok;
  }
  if (statuses.length === 0) {
    writeLine(io.stderr, 'No apps found.');
    return EXIT.ok;
  }
  const now = (deps.now ?? (() => new Date()))();
  writeLine(io.stdout, statusTable(statuses, now));
  const one = statuses[0];
  if (name !== undefined && one !== undefined) {
    writeLine(io.stdout);
    writeLine(
      io.stdout,
      `Source:   ${one.source}${one.path === undefined ? '' : ` (path ${one.path})`}`,
    );
    if (one.lastApplied !== undefined) writeLine(io.stdout, `Commit:   ${one.lastApplied.commit}`);
    if (one.pinned !== undefined) writeLine(io.stdout, `Pinned:   ${one.pinned}`);
    if (one.problems.length > 0) {
      writeLine(io.stdout, 'Problems:');
      for (const problem of one.problems) writeLine(io.stdout, `  ${problem}`);
    }
  }
  return EXIT.ok;
}
