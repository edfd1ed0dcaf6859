/**
 * Finding a running `berth serve`: `--server URL`, else $BERTH_SERVER, else the address a
 * server on the same data dir recorded in `<data-dir>/server.json` (used only while its pid
 * lives and it answers its health check). The token: `--token`, else $BERTH_TOKEN, else
 * `<data-dir>/token`. A server named explicitly that does not answer is an error, never a
 * silent fallback to an embedded operator.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isRecord } from '../api/http.js';
import { probeOperatorServer, START_SERVER_HINT } from '../api/operator-client.js';
import { BerthError } from '../model/errors.js';

export interface ServerAddress {
  readonly url: string;
  readonly token: string;
  /** Where the token was read from (`--token`, `$BERTH_TOKEN` or the token file), for messages. */
  readonly tokenFrom?: string;
}

export interface FindServerOptions {
  /** `--server URL` as given. */
  readonly server?: string;
  /** `--token` as given. */
  readonly token?: string;
  readonly env: NodeJS.ProcessEnv;
  /** The resolved data dir. */
  readonly dataDir: string;
  /** How long a server gets to answer its health check. @default 2000 */
  readonly probeTimeoutMs?: number;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readTokenFile(file: string): Promise<string | undefined> {
  try {
    return nonEmpty(await fsp.readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BerthError('API_UNAUTHORIZED', `cannot read the token in ${file}: ${String(error)}`, {
      cause: error,
    });
  }
}

async function tokenFor(
  options: FindServerOptions,
  url: string,
): Promise<{ token: string; tokenFrom: string }> {
  const given = nonEmpty(options.token);
  if (given !== undefined) return { token: given, tokenFrom: '--token' };
  const env = nonEmpty(options.env.BERTH_TOKEN);
  if (env !== undefined) return { token: env, tokenFrom: '$BERTH_TOKEN' };
  const file = path.join(options.dataDir, 'token');
  const stored = await readTokenFile(file);
  if (stored !== undefined) return { token: stored, tokenFrom: file };
  throw new BerthError('API_UNAUTHORIZED', `no token for the operator at ${url}`, {
    hint: `give --token or $BERTH_TOKEN (the server keeps its token in its <data-dir>/token), or put it in ${file}`,
  });
}

function parseUrl(text: string, from: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new BerthError('CLI_USAGE', `${from} "${text}" is not an http(s) URL`, {
      hint: 'e.g. http://127.0.0.1:7070',
    });
  }
  return url.toString().replace(/\/+$/, '');
}

async function recordedServer(options: FindServerOptions): Promise<string | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fsp.readFile(path.join(options.dataDir, 'server.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || typeof parsed.url !== 'string' || typeof parsed.pid !== 'number') {
    return undefined;
  }
  if (!pidAlive(parsed.pid)) return undefined;
  const health = await probeOperatorServer(parsed.url, options.probeTimeoutMs ?? 2000);
  // Another process may have taken the port since: it must be the server that wrote the file.
  if (health === undefined || health.pid !== parsed.pid) return undefined;
  return parsed.url;
}

export async function findOperatorServer(
  options: FindServerOptions,
): Promise<ServerAddress | undefined> {
  const explicit =
    options.server !== undefined
      ? { url: parseUrl(options.server, '--server'), from: '--server' }
      : nonEmpty(options.env.BERTH_SERVER) !== undefined
        ? {
            url: parseUrl(nonEmpty(options.env.BERTH_SERVER)!, '$BERTH_SERVER'),
            from: '$BERTH_SERVER',
          }
        : undefined;
  if (explicit !== undefined) {
    if ((await probeOperatorServer(explicit.url, options.probeTimeoutMs ?? 2000)) === undefined) {
      throw new BerthError(
        'SERVER_UNREACHABLE',
        `no berth operator answers at ${explicit.url} (from ${explicit.from})`,
        { hint: START_SERVER_HINT, retry: true },
      );
    }
    return { url: explicit.url, ...(await tokenFor(options, explicit.url)) };
  }
  const recorded = await recordedServer(options);
  if (recorded === undefined) return undefined;
  return { url: recorded, ...(await tokenFor(options, recorded)) };
}
