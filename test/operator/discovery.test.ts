/**
 * Finding `berth serve`: the server.json a running server writes (used only while its pid lives
 * and it answers), --server and $BERTH_SERVER (an error when they do not answer), the token's
 * sources, and the server's token file (mode 0600, the same across restarts).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runServe } from '../../operator/cli/serve.js';
import { type BerthError, isBerthError } from '../../operator/model/errors.js';
import { findOperatorServer } from '../../operator/operator/discovery.js';
import {
  type OperatorServer,
  type ServerRecord,
  startOperatorServer,
} from '../../operator/operator/server.js';
import { captureIo } from '../helpers/capture-io.js';
import { waitFor } from '../helpers/wait.js';

let dataDir: string;
const servers: OperatorServer[] = [];

beforeEach(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-discovery-'));
});

afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
  await fsp.rm(dataDir, { recursive: true, force: true });
});

async function serve(dir = dataDir): Promise<OperatorServer> {
  const server = await startOperatorServer({
    dataDir: dir,
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    localAgent: false,
  });
  servers.push(server);
  return server;
}

async function failure(promise: Promise<unknown>): Promise<BerthError> {
  try {
    await promise;
  } catch (error) {
    if (isBerthError(error)) return error;
    throw error;
  }
  throw new Error('expected a BerthError, got success');
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

/** A port with nothing listening: bound, then closed. */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function writeRecord(record: ServerRecord): Promise<void> {
  await fsp.writeFile(path.join(dataDir, 'server.json'), JSON.stringify(record));
}

describe('findOperatorServer', () => {
  it('finds the server recorded in the data dir, with the token from its token file', async () => {
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
    const server = await serve();
    const record = JSON.parse(
      await fsp.readFile(path.join(dataDir, 'server.json'), 'utf8'),
    ) as ServerRecord;
    expect(record.url).toBe(server.url);
    expect(record.pid).toBe(process.pid);
    expect(Number.isNaN(Date.parse(record.startedAt))).toBe(false);
    expect((await fsp.stat(path.join(dataDir, 'server.json'))).mode & 0o777).toBe(0o600);

    const found = await findOperatorServer({ env: {}, dataDir });
    expect(found).toEqual({
      url: server.url,
      token: server.token,
      tokenFrom: path.join(dataDir, 'token'),
    });
    // --token, then $BERTH_TOKEN, come before the token file.
    expect(
      await findOperatorServer({ env: { BERTH_TOKEN: 'from-env' }, dataDir, token: 'given' }),
    ).toMatchObject({ url: server.url, token: 'given', tokenFrom: '--token' });
    expect(await findOperatorServer({ env: { BERTH_TOKEN: 'from-env' }, dataDir })).toMatchObject({
      token: 'from-env',
      tokenFrom: '$BERTH_TOKEN',
    });

    await server.close();
    servers.pop();
    await expect(fsp.stat(path.join(dataDir, 'server.json'))).rejects.toThrow(/ENOENT/);
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
  });

  it('ignores a server.json whose pid is dead, or whose address does not answer as that pid', async () => {
    const server = await serve();
    // Left by a crashed server whose address a new server now answers on: wrong pid.
    await writeRecord({
      url: server.url,
      pid: await deadPid(),
      startedAt: new Date().toISOString(),
    });
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
    // A live pid (init) that is not the process answering there.
    await writeRecord({ url: server.url, pid: 1, startedAt: new Date().toISOString() });
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
    // A live pid (this process) but nothing listening.
    await writeRecord({
      url: await closedPortUrl(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
    });
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
    await fsp.writeFile(path.join(dataDir, 'server.json'), '{torn');
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
  });

  it('refuses a --server or $BERTH_SERVER that does not answer, instead of falling back', async () => {
    const server = await serve();
    const url = await closedPortUrl();
    const given = await failure(
      findOperatorServer({ server: url, token: 't', env: {}, dataDir, probeTimeoutMs: 500 }),
    );
    expect(given.code).toBe('SERVER_UNREACHABLE');
    expect(given.message).toContain(url);
    expect(given.message).toContain('--server');
    expect(given.hint).toContain('berth serve');
    const fromEnv = await failure(
      findOperatorServer({ env: { BERTH_SERVER: url }, dataDir, probeTimeoutMs: 500 }),
    );
    expect(fromEnv.code).toBe('SERVER_UNREACHABLE');
    expect(fromEnv.message).toContain('$BERTH_SERVER');
    expect((await failure(findOperatorServer({ server: 'ftp://x', env: {}, dataDir }))).code).toBe(
      'CLI_USAGE',
    );

    // One that answers is used as given, even with a server.json beside it.
    const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-discovery-other-'));
    try {
      expect(
        await findOperatorServer({ server: `${server.url}/`, token: 'x', env: {}, dataDir: other }),
      ).toEqual({ url: server.url, token: 'x', tokenFrom: '--token' });
      const noToken = await failure(
        findOperatorServer({ env: { BERTH_SERVER: server.url }, dataDir: other }),
      );
      expect(noToken.code).toBe('API_UNAUTHORIZED');
    } finally {
      await fsp.rm(other, { recursive: true, force: true });
    }
  });
});

describe('startOperatorServer', () => {
  it('makes its token file with mode 0600 once and reuses it after a restart', async () => {
    const first = await serve();
    const tokenFile = path.join(dataDir, 'token');
    expect(first.tokenFile).toBe(tokenFile);
    expect((await fsp.stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await fsp.readFile(tokenFile, 'utf8')).trim()).toBe(first.token);
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    await first.close();
    servers.pop();

    const second = await serve();
    expect(second.token).toBe(first.token);
    expect(second.operator.token).toBe(first.token);
  });

  it('refuses a data dir another operator holds, leaving its server.json alone', async () => {
    const first = await serve();
    const before = await fsp.readFile(path.join(dataDir, 'server.json'), 'utf8');
    const second = await failure(serve());
    expect(second.code).toBe('STORE_LOCKED');
    expect(await fsp.readFile(path.join(dataDir, 'server.json'), 'utf8')).toBe(before);
    expect((await findOperatorServer({ env: {}, dataDir }))?.url).toBe(first.url);
  });
});

describe('berth serve', () => {
  it('prints where it answers and where the token is, and stops cleanly on the stop signal', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const done = runServe(
      ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-agent', '--node-grace', '3s'],
      io,
      { stopSignal: stop.signal },
    );
    const url = (
      await waitFor(() => /operator at (http:\/\/127\.0\.0\.1:\d+) /.exec(io.out()), 'the URL line')
    )[1]!;
    expect(io.out()).toContain(`token in ${path.join(dataDir, 'token')}`);
    expect((await findOperatorServer({ env: {}, dataDir }))?.url).toBe(url);
    stop.abort();
    expect(await done).toBe(0);
    expect(io.out()).toContain('stopped; pods left running');
    expect(await findOperatorServer({ env: {}, dataDir })).toBeUndefined();
  });

  it('refuses bad durations and arguments as usage errors', async () => {
    const io = captureIo();
    await expect(runServe(['--node-grace', 'soon'], io)).rejects.toMatchObject({
      code: 'CLI_USAGE',
    });
    await expect(
      runServe(['--node-grace', '10s', '--eviction-timeout', '5s'], io),
    ).rejects.toMatchObject({ code: 'CLI_USAGE' });
    await expect(runServe(['extra'], io)).rejects.toMatchObject({ code: 'CLI_USAGE' });
  });
});
