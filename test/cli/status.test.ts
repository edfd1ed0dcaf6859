/**
 * `berth status`, `history`, `events` and `app` through main() with captured io, against a
 * `berth serve` server (real store in a temp data dir, a container-less local agent, an app on
 * a local git repository) found through the data dir's server.json as a user's shell finds it;
 * then, with the server stopped, the reading commands on the store alone.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../operator/cli/main.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { FakeNodeAgent } from '../agent/fake-node-agent.js';
import { captureIo } from '../helpers/capture-io.js';
import { commitFiles, initRepo, podYaml } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

let dir: string;
let dataDir: string;
let server: OperatorServer | undefined;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-status-cli-'));
  dataDir = path.join(dir, 'data');
  server = await startOperatorServer({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => new FakeLocalAgent(),
    watch: false,
  });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await fsp.rm(dir, { recursive: true, force: true });
});

async function berth(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({});
  const code = await main([...argv, '--data-dir', dataDir], io);
  return { code, out: io.out(), err: io.err() };
}

/** The table's row of `first` (its first column), split on the column gaps. */
function row(table: string, first: string): string[] {
  const line = table.split('\n').find((l) => l.split(/\s{3,}/)[0] === first);
  if (line === undefined) throw new Error(`no row ${first} in:\n${table}`);
  return line.split(/\s{3,}/);
}

async function statusJsonWhen(
  check: (status: { sync: string; lastApplied?: { commit: string } }) => boolean,
  what: string,
): Promise<void> {
  await waitFor(async () => {
    const result = await berth('status', 'shop', '-o', 'json');
    if (result.code !== 0) return undefined;
    return check(JSON.parse(result.out) as { sync: string }) ? true : undefined;
  }, what);
}

describe('berth status, history, events and app', () => {
  it('adds an app, shows its status, pins and unpins it, and lists history and events', async () => {
    const repo = initRepo(path.join(dir, 'shop'));
    const first = commitFiles(repo, { 'a.yaml': podYaml('a') }, 'add a');
    const second = commitFiles(repo, { 'b.yaml': podYaml('b') }, 'add b');

    const added = await berth('app', 'add', 'shop', repo, '--ref', 'main');
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    expect(added.out).toContain(`app shop added: ${repo}`);
    await statusJsonWhen(
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'shop synced at the second commit',
    );

    const status = await berth('status');
    expect(status.code).toBe(0);
    const header = status.out.split('\n')[0]?.split(/\s{3,}/);
    expect(header).toEqual(['APP', 'REF', 'COMMIT', 'SYNC', 'HEALTH', 'AGE', 'MESSAGE', 'REASON']);
    const shop = row(status.out, 'shop');
    expect(shop.slice(0, 5)).toEqual(['shop', 'main', second.slice(0, 7), 'Synced', 'Progressing']);
    expect(shop[6]).toBe('add b');

    // A short commit id is enough, as git takes it.
    const pinned = await berth('app', 'pin', 'shop', first.slice(0, 10));
    expect(pinned.code).toBe(0);
    expect(pinned.out).toContain(`app shop pinned to ${first.slice(0, 10)}`);
    await statusJsonWhen(
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'the pinned commit applied',
    );
    const whilePinned = await berth('status', 'shop');
    expect(row(whilePinned.out, 'shop').slice(1, 4)).toEqual([
      `main (pinned ${first.slice(0, 7)})`,
      first.slice(0, 7),
      'Synced',
    ]);
    expect(whilePinned.out).toContain(`Pinned:   ${first.slice(0, 10)}`);
    expect(whilePinned.out).toContain(`Source:   ${repo}`);

    const unpinned = await berth('app', 'unpin', 'shop');
    expect(unpinned.code).toBe(0);
    await statusJsonWhen(
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'back on main',
    );
    expect(row((await berth('status')).out, 'shop')[1]).toBe('main');

    const history = await berth('history', 'shop');
    expect(history.code).toBe(0);
    const lines = history.out.trimEnd().split('\n');
    expect(lines[0]?.split(/\s{3,}/)).toEqual([
      'COMMIT',
      'STARTED',
      'DURATION',
      'RESULT',
      'CHANGES',
      'MESSAGE',
    ]);
    const rows = lines.slice(1).map((line) => line.split(/\s{3,}/));
    expect(rows.map((r) => [r[0], r[3], r[4]])).toEqual([
      [second.slice(0, 7), 'succeeded', '+1 ~0 -0'],
      [first.slice(0, 7), 'succeeded', '+0 ~0 -1'],
      [second.slice(0, 7), 'succeeded', '+2 ~0 -0'],
    ]);
    expect(rows[0]?.[1]).toMatch(/^\d+s ago$/);
    expect(rows[0]?.[2]).toMatch(/^\d+(ms|s)$/);
    expect((await berth('history', 'shop', '--limit', '1')).out.trimEnd().split('\n').length).toBe(
      2,
    );

    running().operator.store.addEvent({
      at: new Date().toISOString(),
      type: 'Warning',
      reason: 'DriftRepaired',
      object: 'pod/a',
      app: 'shop',
      message: 'container a was removed by hand; made again',
    });
    running().operator.store.addEvent({
      at: new Date().toISOString(),
      type: 'Normal',
      reason: 'Registered',
      object: 'node/local',
      message: 'node local registered',
    });
    const events = await berth('events');
    expect(events.code).toBe(0);
    expect(events.out.split('\n')[0]?.split(/\s{3,}/)).toEqual([
      'LAST SEEN',
      'TYPE',
      'REASON',
      'OBJECT',
      'MESSAGE',
    ]);
    expect(row(events.out.replace(/^\d+s {3,}/gm, ''), 'Warning')).toEqual([
      'Warning',
      'DriftRepaired',
      'pod/a',
      'container a was removed by hand; made again',
    ]);
    const ofShop = await berth('events', '--app', 'shop', '-o', 'json');
    expect((JSON.parse(ofShop.out) as { reason: string }[]).map((e) => e.reason)).toEqual([
      'DriftRepaired',
    ]);

    const list = await berth('app', 'list');
    expect(row(list.out, 'shop')).toEqual(['shop', repo, 'main']);

    // Without the server: the reading commands read the store; changes need the server.
    await running().close();
    server = undefined;
    const offline = await berth('status');
    expect(offline.code).toBe(0);
    expect(row(offline.out, 'shop').slice(0, 4)).toEqual([
      'shop',
      'main',
      second.slice(0, 7),
      'Synced',
    ]);
    expect(offline.out).toContain('from the store; no berth serve runs');
    expect((await berth('history', 'shop')).out.trimEnd().split('\n').length).toBe(4);
    expect((await berth('events', '--app', 'shop')).out).toContain('DriftRepaired');
    const noServer = await berth('app', 'pin', 'shop', first);
    expect(noServer.code).toBe(2);
    expect(noServer.err).toContain('berth app pin needs a running berth serve');
  });

  it('removes an app, and answers unknown apps and usage errors with exit 2', async () => {
    const repo = initRepo(path.join(dir, 'shop'));
    commitFiles(repo, { 'a.yaml': podYaml('a') }, 'add a');
    expect((await berth('app', 'add', 'shop', repo)).code).toBe(0);
    await statusJsonWhen((s) => s.sync === 'Synced', 'shop synced at HEAD');
    const removed = await berth('app', 'remove', 'shop');
    expect(removed.code).toBe(0);
    expect(removed.out).toContain('app shop removed');
    const empty = await berth('status');
    expect(empty.code).toBe(0);
    expect(empty.err).toContain('No apps found.');

    const unknown = await berth('status', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no app named nope');
    expect((await berth('app', 'remove', 'nope')).code).toBe(2);
    expect((await berth('history', 'nope')).err).toContain('no app named nope');

    for (const argv of [
      ['history'],
      ['history', 'shop', '--limit', '0'],
      ['events', 'extra'],
      ['status', 'a', 'b'],
      ['status', '-o', 'yaml'],
      ['app', 'add', 'only-name'],
      ['app', 'pin', 'shop'],
      ['app', 'remove', 'shop', '--ref', 'main'],
      ['app'],
      ['app', 'frobnicate'],
      ['app', 'add', 'x', repo, '--interval', 'soon'],
      ['app', 'add', 'x', repo, '--bogus'],
    ]) {
      const result = await berth(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err, argv.join(' ')).toMatch(/^berth: /);
    }
    const help = await berth('app', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: berth app COMMAND');
    for (const command of ['status', 'history', 'events', 'app']) {
      const io = captureIo({});
      expect(await main(['help', command], io)).toBe(0);
      expect(io.out()).toContain(`Usage: berth ${command}`);
    }
  });
});

function running(): OperatorServer {
  if (server === undefined) throw new Error('no server');
  return server;
}
