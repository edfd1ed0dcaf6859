import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../operator/cli/main.js';
import { readOperator, resolveDataDir } from '../../operator/cli/operator-flags.js';
import { nodeStatusText } from '../../operator/cli/tables.js';
import { isBerthError } from '../../operator/model/errors.js';
import { DATABASE_FILE_NAME, openStore } from '../../operator/store/index.js';
import { captureIo } from '../helpers/capture-io.js';
import { makeTempDir } from '../helpers/git-repo.js';

/*
 * Discovery is played by a stand-in keeping its contract: `--server URL` names the server to
 * ask (with `--token`); without it no server runs. What is under test is what the commands do
 * with the answer: ask the server, or read the store.
 */
vi.mock('../../operator/operator/discovery.js', () => ({
  findOperatorServer: async (options: { server?: string; token?: string }) =>
    options.server === undefined ? undefined : { url: options.server, token: options.token ?? '' },
}));

let temp: { path: string; remove(): void };

beforeAll(() => {
  temp = makeTempDir('cli-operator-flags');
});
afterAll(() => {
  temp.remove();
});

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('resolveDataDir', () => {
  it('resolves --data-dir against the command cwd, else the default under XDG_DATA_HOME', () => {
    const io = { ...captureIo({ XDG_DATA_HOME: '/xdg' }), cwd: '/work/here' };
    expect(resolveDataDir({ 'data-dir': 'dd' }, io)).toBe('/work/here/dd');
    expect(resolveDataDir({}, io)).toBe('/xdg/berth/operator');
  });
});

describe('readOperator', () => {
  it('reads the store when no server runs, and an empty readout (no store made) without one', async () => {
    const empty = path.join(temp.path, 'empty');
    mkdirSync(empty);
    const none = await readOperator({ 'data-dir': empty }, captureIo(), Date.now());
    expect(none.apps).toEqual([]);
    expect(none.nodes).toEqual([]);
    expect(existsSync(path.join(empty, DATABASE_FILE_NAME))).toBe(false);

    const dataDir = path.join(temp.path, 'store');
    const store = openStore(dataDir);
    const now = Date.parse('2026-01-01T00:00:30.000Z');
    try {
      store.upsertNode({
        name: 'node-a',
        labels: {},
        capacity: { cpu: 1, memoryBytes: 2 ** 30 },
        registeredAt: '2026-01-01T00:00:00.000Z',
      });
      store.recordHeartbeat('node-a', '2026-01-01T00:00:20.000Z');
    } finally {
      store.close();
    }
    const readout = await readOperator({ 'data-dir': dataDir }, captureIo(), now);
    expect(readout.nodes.map((node) => [node.name, node.ready])).toEqual([['node-a', true]]);
    const later = await readOperator({ 'data-dir': dataDir }, captureIo(), now + 60_000);
    expect(later.nodes.map((node) => [node.name, node.ready])).toEqual([['node-a', false]]);
  });

  it('asks the server when there is one: SERVER_UNREACHABLE when nothing answers', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error = await readOperator(
      { server: url, token: 't', 'data-dir': temp.path },
      captureIo(),
      Date.now(),
    ).catch((e: unknown) => e);
    expect(isBerthError(error) && error.code).toBe('SERVER_UNREACHABLE');
  });
});

describe('berth get --server', () => {
  it('exits 2 when nothing listens at the server, printing nothing on stdout', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const io = captureIo();
    const status = await main(
      ['get', 'pods', '--server', url, '--token', 't', '--data-dir', temp.path],
      io,
    );
    expect(io.out()).toBe('');
    expect(io.err()).toMatch(/^berth: /);
    expect(status).toBe(2);
  });
});

describe('node STATUS', () => {
  it('follows the readiness the operator gives, whatever the heartbeat', () => {
    const now = new Date('2026-01-01T00:00:30.000Z');
    const node = {
      name: 'n',
      capacity: { cpu: 1, memoryBytes: 1 },
      registeredAt: '2026-01-01T00:00:00.000Z',
      lastHeartbeat: '2026-01-01T00:00:29.000Z',
    };
    expect(nodeStatusText(node, now)).toBe('Ready');
    expect(nodeStatusText({ ...node, ready: false }, now)).toBe('NotReady');
    expect(
      nodeStatusText({ ...node, lastHeartbeat: '2025-01-01T00:00:00.000Z', ready: true }, now),
    ).toBe('Ready');
  });
});
