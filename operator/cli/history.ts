/**
 * `berth history APP`: the app's last syncs, newest first: the commit, when it started, how
 * long it took, how it ended and what it changed. From a running `berth serve`, else from the
 * store in the data dir.
 */
import { parseArgs } from 'node:util';
import { BerthError } from '../model/errors.js';
import type { SyncRecord } from '../store/store.js';
import { formatAge, formatDuration } from './age.js';
import { readDaemon } from './daemon-access.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP } from './operator-flags.js';
import { renderTable } from './tables.js';

export const HISTORY_HELP = `Usage: berth history APP [--limit N] [-o json] [--server URL] [--data-dir DIR]

Show the app's last syncs, newest first:
  COMMIT STARTED DURATION RESULT CHANGES MESSAGE
  RESULT    succeeded, failed, refused (the plan or the manifests were refused; nothing
            changed), or running
  CHANGES   +created ~updated (and replaced) -deleted

Options:
      --limit N         how many syncs (@default 20, at most 1000)
  -o, --output json     print the syncs as JSON

${OPERATOR_FLAGS_HELP}

Exit status: 0 shown, 2 error (an unknown APP, no operator to ask).`;

export interface HistoryDeps {
  readonly now?: () => Date;
}

/** `--limit` as a whole number from 1 to 1000. */
export function parseLimit(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new BerthError('CLI_USAGE', `--limit: "${text}" is not a whole number from 1 to 1000`);
  }
  return limit;
}

function durationText(record: SyncRecord): string {
  if (record.finishedAt === undefined) return '';
  const ms = Date.parse(record.finishedAt) - Date.parse(record.startedAt);
  if (Number.isNaN(ms)) return '';
  return ms < 1000 ? `${Math.max(0, ms)}ms` : formatDuration(ms);
}

export function changesText(record: SyncRecord): string {
  const { create, update, replace, delete: removed } = record.summary;
  return `+${create} ~${update + replace} -${removed}`;
}

export function historyTable(records: readonly SyncRecord[], now: Date): string {
  return renderTable(
    ['COMMIT', 'STARTED', 'DURATION', 'RESULT', 'CHANGES', 'MESSAGE'],
    records.map((record) => [
      record.commit === '' ? '<none>' : record.commit.slice(0, 7),
      `${formatAge(record.startedAt, now)} ago`,
      durationText(record),
      record.outcome ?? 'running',
      changesText(record),
      record.message.split('\n')[0] ?? '',
    ]),
  );
}

export async function runHistory(
  argv: readonly string[],
  io: CliIo,
  deps: HistoryDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      limit: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...OPERATOR_FLAGS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, HISTORY_HELP);
    return EXIT.ok;
  }
  const name = positionals[0];
  if (name === undefined || positionals.length > 1) {
    throw new BerthError('CLI_USAGE', 'berth history takes exactly one app', {
      hint: 'berth history APP [--limit N]',
    });
  }
  if (values.output !== undefined && values.output !== 'json') {
    throw new BerthError('CLI_USAGE', `unknown output format "${values.output}"`, {
      hint: 'use -o json',
    });
  }
  const limit = parseLimit(values.limit, 20);
  const records = await readDaemon(values, io, (access) => {
    if (access.kind === 'server') return access.client.history(name, limit);
    const known =
      access.kind === 'store' &&
      (access.store.app(name) !== undefined || access.store.syncHistory(name, 1).length > 0);
    if (!known) {
      throw new BerthError('APP_NOT_FOUND', `no app named ${name}`, {
        hint: 'berth status lists the apps',
      });
    }
    return access.kind === 'store' ? [...access.store.syncHistory(name, limit)] : [];
  });
  if (values.output === 'json') {
    writeLine(io.stdout, JSON.stringify(records, null, 2));
    return EXIT.ok;
  }
  if (records.length === 0) {
    writeLine(io.stderr, `No syncs of ${name} yet.`);
    return EXIT.ok;
  }
  writeLine(io.stdout, historyTable(records, (deps.now ?? (() => new Date()))()));
  return EXIT.ok;
}
