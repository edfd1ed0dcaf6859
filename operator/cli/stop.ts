/**
 * `berth stop`: stops the `berth serve` of a data dir, the one its `server.json` records, with
 * SIGTERM (a clean stop: pods and their containers keep running, the next serve adopts them),
 * and waits until that process has exited.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isRecord } from '../api/http.js';
import { probeOperatorServer } from '../api/operator-client.js';
import { defaultOperatorDataDir } from '../model/data-dirs.js';
import { BerthError } from '../model/errors.js';
import { pidAlive } from '../operator/discovery.js';
import { parseDuration } from './apply.js';
import { type CliIo, EXIT, writeLine } from './io.js';

export const STOP_HELP = `Usage: berth stop [--data-dir DIR] [--timeout 30s]

Stop the berth serve running on the data dir: SIGTERM to the process that DATA_DIR/server.json
names (after checking that it answers as that data dir's berth serve), then wait until it has
exited. Pods and their containers keep running; the next berth serve on the data dir adopts
them. Nothing running is not an error.

Options:
      --data-dir DIR      the operator's data dir
                          (@default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)
      --timeout D         how long to wait for it to exit, e.g. 10s, 1m (@default 30s)
  -h, --help              show this help

Exit status: 0 stopped (or none was running), 1 still running at --timeout, 2 error.`;

export interface StopDeps {
  /** How often to look whether the process is gone. @default 100 */
  readonly pollMs?: number;
}

/** --timeout's default: serve finishes the current step of every app before it exits. */
const DEFAULT_TIMEOUT = '30s';
const EXIT_STILL_RUNNING = 1;
/** operator/server.ts's SERVER_RECORD_FILE, named here so that stop does not load the server. */
const SERVER_RECORD_FILE = 'server.json';

/** What server.json names, or undefined when there is none (or it cannot be read as one). */
async function readRecord(file: string): Promise<{ url: string; pid: number } | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw new BerthError('CLI_USAGE', `cannot read ${file}: ${String(error)}`, { cause: error });
  }
  if (!isRecord(parsed) || typeof parsed.url !== 'string' || typeof parsed.pid !== 'number') {
    return undefined;
  }
  return { url: parsed.url, pid: parsed.pid };
}

/**
 * True once the process is gone: no such pid, or a zombie (exited, not yet reaped by its
 * parent, which may be an init that never reaps).
 */
async function exited(pid: number): Promise<boolean> {
  if (!pidAlive(pid)) return true;
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) STATE ...: comm may hold spaces and parentheses, so read after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return !pidAlive(pid);
  }
}

export async function runStop(
  argv: readonly string[],
  io: CliIo,
  deps: StopDeps = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, STOP_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new BerthError('CLI_USAGE', `berth stop takes no arguments (got "${positionals[0]}")`, {
      hint: 'berth stop [--data-dir DIR]',
    });
  }
  const timeoutText = values.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(timeoutText, '--timeout');
  const dataDir = path.resolve(io.cwd, values['data-dir'] ?? defaultOperatorDataDir(io.env));
  const recordFile = path.join(dataDir, SERVER_RECORD_FILE);

  const record = await readRecord(recordFile);
  if (record === undefined || (await exited(record.pid))) {
    writeLine(io.stdout, `berth stop: no berth serve runs on ${dataDir}`);
    return EXIT.ok;
  }
  const { pid, url } = record;
  // The pid may have been reused since: only a process answering as this server is signalled.
  const health = await probeOperatorServer(url);
  if (health === undefined || health.pid !== pid) {
    if (await exited(pid)) {
      writeLine(io.stdout, `berth stop: no berth serve runs on ${dataDir}`);
      return EXIT.ok;
    }
    throw new BerthError(
      'SERVER_UNREACHABLE',
      `process ${pid}, named in ${recordFile}, does not answer as berth serve at ${url}; not stopping it`,
      { hint: `if it is a berth serve that hangs, stop it yourself: kill ${pid}` },
    );
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH') {
      throw new BerthError('CLI_USAGE', `cannot signal berth serve (pid ${pid}): ${code}`, {
        hint: 'run berth stop as the user that started berth serve',
        cause: error,
      });
    }
  }
  writeLine(io.stdout, `berth stop: stopping berth serve (pid ${pid}) at ${url}`);
  const pollMs = deps.pollMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  while (!(await exited(pid))) {
    if (Date.now() >= deadline) {
      writeLine(io.stderr, `berth stop: berth serve (pid ${pid}) still runs after ${timeoutText}`);
      writeLine(io.stderr, `hint: wait longer (--timeout), or kill -9 ${pid}`);
      return EXIT_STILL_RUNNING;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  writeLine(io.stdout, 'berth stop: stopped; pods and their containers keep running');
  return EXIT.ok;
}
