/**
 * `berth events`: what the operator saw and did (syncs, drift put back, evictions), newest
 * first, in kubectl's event columns. From a running `berth serve`, else from the store.
 */
import { parseArgs } from 'node:util';
import { BerthError } from '../model/errors.js';
import type { EventRecord } from '../store/store.js';
import { formatAge } from './age.js';
import { readDaemon } from './daemon-access.js';
import { parseLimit } from './history.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP } from './operator-flags.js';
import { renderTable } from './tables.js';

export const EVENTS_HELP = `Usage: berth events [--app APP] [--limit N] [-o json] [--server URL] [--data-dir DIR]

Show what the operator saw and did, newest first, as kubectl get events does:
  LAST SEEN TYPE REASON OBJECT MESSAGE
  TYPE      Normal or Warning
  REASON    one word: Synced, SyncFailed, DriftRepaired, Evicted, ...
  OBJECT    pod/NAME, app/NAME, node/NAME

Options:
      --app APP         only the events of this app
      --limit N         how many events (@default 50, at most 1000)
  -o, --output json     print the events as JSON

${OPERATOR_FLAGS_HELP}

Exit status: 0 shown, 2 error (no operator to ask).`;

export interface EventsDeps {
  readonly now?: () => Date;
}

export function eventsTable(events: readonly EventRecord[], now: Date): string {
  return renderTable(
    ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    events.map((event) => [
      formatAge(event.at, now),
      event.type,
      event.reason,
      event.object,
      event.message.split('\n')[0] ?? '',
    ]),
  );
}

export async function runEvents(
  argv: readonly string[],
  io: CliIo,
  deps: EventsDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      limit: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...OPERATOR_FLAGS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, EVENTS_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new BerthError('CLI_USAGE', 'berth events takes no arguments', {
      hint: 'berth events --app APP',
    });
  }
  if (values.output !== undefined && values.output !== 'json') {
    throw new BerthError('CLI_USAGE', `unknown output format "${values.output}"`, {
      hint: 'use -o json',
    });
  }
  const limit = parseLimit(values.limit, 50);
  const app = values.app;
  const options = { limit, ...(app === undefined ? {} : { app }) };
  const events = await readDaemon(values, io, (access) => {
    if (access.kind === 'server') return access.client.events(options);
    return access.kind === 'store' ? [...access.store.events(options)] : [];
  });
  if (values.output === 'json') {
    writeLine(io.stdout, JSON.stringify(events, null, 2));
    return EXIT.ok;
  }
  if (events.length === 0) {
    writeLine(io.stderr, 'No events found.');
    return EXIT.ok;
  }
  writeLine(io.stdout, eventsTable(events, (deps.now ?? (() => new Date()))()));
  return EXIT.ok;
}
