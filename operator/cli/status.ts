/**
 * `berth status [APP]`: per app the tracked ref (and the pin), the last applied commit and its
 * message, the sync state and health, and why. From a running `berth serve`, else from the
 * store in the data dir (what was last applied; the daemon's live view needs the server).
 * `berth status APP --wait` polls until the app is Synced and Healthy, or a timeout.
 */
import { parseArgs } from 'node:util';
import type { AppStatus } from '../daemon/status.js';
import { BerthError, isBerthError } from '../model/errors.js';
import { formatAge } from './age.js';
import { parseDuration } from './apply.js';
import { type DaemonAccess, readDaemon, statusesFromStore } from './daemon-access.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP, type OperatorFlagValues } from './operator-flags.js';
import { renderTable } from './tables.js';

export const STATUS_HELP = `Usage: berth status [APP] [-o json] [--server URL] [--data-dir DIR]
       berth status APP --wait [--timeout 2m] [--commit SHA]

Show the apps berth keeps in sync:
  APP REF COMMIT SYNC HEALTH AGE MESSAGE REASON
  REF       the tracked branch, tag or commit (HEAD when none), and "pinned <sha>" while pinned
  COMMIT    the last applied commit; MESSAGE its subject; AGE since it was applied
  SYNC      Synced, OutOfSync, Syncing or Failed
  HEALTH    Healthy, Progressing, Degraded or Missing; REASON says why
With APP, only that app, followed by its source and problems.

Options:
  -o, --output json     print the status as JSON
      --wait            wait until APP is Synced (its newest commit applied) and Healthy (every
                        pod ready), with one line of progress on a terminal
      --timeout D       how long --wait waits, e.g. 90s, 5m (@default 2m)
      --commit SHA      with --wait: also wait until SHA (or a commit id it starts) is applied

${OPERATOR_FLAGS_HELP}

Exit status: 0 shown (with --wait: Synced and Healthy), 1 with --wait: not yet at --timeout
(the reason is printed), 2 error (an unknown APP, no operator to ask).`;

export interface StatusDeps {
  readonly now?: () => Date;
  /** How often --wait asks again. @default 1000 */
  readonly pollMs?: number;
}

/** --wait: the app was not Synced and Healthy at the deadline (as `berth apply`'s timeout). */
const EXIT_NOT_READY = 1;

/** --wait's default deadline, as `berth apply` waits. */
const DEFAULT_WAIT_TIMEOUT = '2m';

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

/** Every app's status, or only `name`'s (an empty list when it is unknown to the store). */
async function readStatuses(access: DaemonAccess, name: string | undefined): Promise<AppStatus[]> {
  if (access.kind === 'server') {
    return name === undefined ? access.client.apps() : [await access.client.app(name)];
  }
  const all = access.kind === 'store' ? statusesFromStore(access.store) : [];
  return name === undefined ? all : all.filter((status) => status.name === name);
}

interface WaitRequest {
  readonly name: string;
  readonly timeoutMs: number;
  /** --timeout as given, for messages. */
  readonly timeoutText: string;
  /** A commit id (or its start) that must be the applied one. */
  readonly commit?: string;
  readonly json: boolean;
}

/** Why `status` is not what --wait waits for yet, or undefined when it is. */
export function notReadyReason(status: AppStatus, commit?: string): string | undefined {
  const applied = status.lastApplied?.commit;
  if (commit !== undefined && (applied === undefined || !applied.startsWith(commit))) {
    const now = applied === undefined ? 'nothing applied yet' : `${applied.slice(0, 7)} applied`;
    return `waiting for commit ${commit.slice(0, 7)} (${now}); ${status.sync}, ${status.health}: ${status.reason}`;
  }
  if (status.sync === 'Synced' && status.health === 'Healthy') return undefined;
  return `${status.sync}, ${status.health}: ${status.reason}`;
}

/** `1m5s`, `42s`: how long the wait has lasted. */
function elapsedText(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/**
 * Polls the app's status until it is Synced and Healthy (at `commit` when given) or the
 * deadline. A terminal gets one line of progress, rewritten in place; other output gets a
 * line whenever what is awaited changes. Errors a retry may cure (a store held for a moment,
 * a server restarting) are waited out too; an unknown app is not.
 */
async function waitForApp(
  values: OperatorFlagValues,
  io: CliIo,
  deps: StatusDeps,
  request: WaitRequest,
): Promise<number> {
  const { name } = request;
  const pollMs = deps.pollMs ?? 1000;
  const started = Date.now();
  const deadline = started + request.timeoutMs;
  const tty = io.stdout.isTTY === true;
  const columns = (io.stdout as { columns?: unknown }).columns;
  const width = typeof columns === 'number' && columns > 20 ? columns - 1 : 119;
  let shown = false;
  let lastLine = '';
  const clear = (): void => {
    if (shown) io.stdout.write('\r\x1b[2K');
    shown = false;
  };
  for (;;) {
    let status: AppStatus | undefined;
    let why: string | undefined;
    try {
      status = (await readDaemon(values, io, (access) => readStatuses(access, name)))[0];
      if (status === undefined) {
        throw new BerthError('APP_NOT_FOUND', `no app named ${name}`, {
          hint: 'berth status lists the apps',
        });
      }
      why = notReadyReason(status, request.commit);
    } catch (error) {
      if (!isBerthError(error) || !error.retry) {
        clear();
        throw error;
      }
      status = undefined;
      why = error.message;
    }
    if (status !== undefined && why === undefined) {
      clear();
      if (request.json) {
        writeLine(io.stdout, JSON.stringify(status, null, 2));
      } else {
        const commit = status.lastApplied?.commit.slice(0, 7) ?? '<none>';
        writeLine(
          io.stdout,
          `${name}: Synced and Healthy at ${commit} (${status.reason}) after ${elapsedText(Date.now() - started)}`,
        );
      }
      return EXIT.ok;
    }
    const reason = why ?? 'unknown';
    if (Date.now() >= deadline) {
      clear();
      writeLine(
        io.stderr,
        `berth: ${name} is not Synced and Healthy after ${request.timeoutText}: ${reason}`,
      );
      for (const problem of status?.problems ?? []) writeLine(io.stderr, `  ${problem}`);
      return EXIT_NOT_READY;
    }
    const line = `${name}: ${reason}`;
    if (tty) {
      const text = `${line} (${elapsedText(Date.now() - started)})`;
      io.stdout.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    } else if (line !== lastLine) {
      writeLine(io.stdout, line);
    }
    lastLine = line;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))),
    );
  }
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
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      commit: { type: 'string' },
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
  if (values.wait !== true) {
    for (const flag of ['timeout', 'commit'] as const) {
      if (values[flag] !== undefined) {
        throw new BerthError('CLI_USAGE', `--${flag} goes with --wait`, {
          hint: `berth status APP --wait --${flag} ...`,
        });
      }
    }
  } else {
    if (name === undefined) {
      throw new BerthError('CLI_USAGE', 'berth status --wait needs the app to wait for', {
        hint: 'berth status APP --wait [--timeout 2m]',
      });
    }
    const timeoutText = values.timeout ?? DEFAULT_WAIT_TIMEOUT;
    const timeoutMs = parseDuration(timeoutText, '--timeout');
    const commit = values.commit?.trim().toLowerCase();
    if (commit !== undefined && !/^[0-9a-f]{4,64}$/.test(commit)) {
      throw new BerthError('CLI_USAGE', `--commit "${values.commit}" is not a commit id`, {
        hint: 'give the hex id, e.g. --commit $(git rev-parse HEAD)',
      });
    }
    return waitForApp(values, io, deps, {
      name,
      timeoutMs,
      timeoutText,
      ...(commit === undefined ? {} : { commit }),
      json: values.output === 'json',
    });
  }
  const statuses = await readDaemon(values, io, (access) => readStatuses(access, name));
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
