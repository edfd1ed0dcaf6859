/**
 * The daemon's API over real HTTP: `berth serve`'s server with a real store (temp data dir), a
 * container-less local agent and an app on a local git repository (the real `git`). Client
 * calls go through connectDaemon, as the commands make them; /healthz, /readyz and /metrics
 * are fetched as a probe or Prometheus would.
 */
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOperatorApi } from '../../operator/api/operator-api.js';
import { connectDaemon, type DaemonClient } from '../../operator/api/operator-client.js';
import type { AppStatus } from '../../operator/daemon/status.js';
import { type BerthError, isBerthError } from '../../operator/model/errors.js';
import { type OperatorServer, startOperatorServer } from '../../operator/operator/server.js';
import { FakeNodeAgent } from '../agent/fake-node-agent.js';
import { commitFiles, initRepo, podYaml } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

class FakeLocalAgent extends FakeNodeAgent {
  async podsOnEngine(): Promise<ReadonlySet<string>> {
    return new Set(this.desiredNames());
  }
}

let dir: string;
let server: OperatorServer | undefined;
let plain: Server | undefined;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-daemon-api-'));
  server = await startOperatorServer({
    dataDir: path.join(dir, 'data'),
    listen: { host: '127.0.0.1', port: 0 },
    nodeName: 'local',
    createAgent: async () => new FakeLocalAgent(),
    watch: false,
  });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (plain !== undefined) await new Promise((resolve) => plain?.close(resolve));
  plain = undefined;
  await fsp.rm(dir, { recursive: true, force: true });
});

function running(): OperatorServer {
  if (server === undefined) throw new Error('no server');
  return server;
}

function client(token = running().token): DaemonClient {
  return connectDaemon({ url: running().url, token });
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

async function statusWhen(
  daemon: DaemonClient,
  name: string,
  check: (status: AppStatus) => boolean,
  what: string,
): Promise<AppStatus> {
  return waitFor(async () => {
    const status = await daemon.app(name);
    if (process.env.DEBUG_DAEMON_API) console.log(JSON.stringify(status));
    return check(status) ? status : undefined;
  }, `${name}: ${what}`);
}

/** Samples of a Prometheus text exposition, each checked against the format's grammar. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Map<string, number> } {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.trimEnd().split('\n')) {
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/.exec(
        line,
      );
    expect(sample, `a sample line: ${line}`).not.toBeNull();
    const value = sample![3]!;
    expect(value).toMatch(/^([-+]?[0-9.e+-]+|NaN|[+-]Inf)$/);
    const family = sample![1]!.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(sample![1]!) || types.has(family), `a TYPE line for ${sample![1]}`).toBe(true);
    samples.set(`${sample![1]}${sample![2] ?? ''}`, Number(value));
  }
  return { types, samples };
}

describe('daemon API', () => {
  it('adds an app, pins and unpins it, and lists its history and events', async () => {
    const repo = initRepo(path.join(dir, 'shop'));
    const first = commitFiles(repo, { 'a.yaml': podYaml('a') }, 'add a');
    const second = commitFiles(repo, { 'b.yaml': podYaml('b') }, 'add b');
    const daemon = client();

    const added = await daemon.addApp({ name: 'shop', source: repo, ref: 'main' });
    expect(added.name).toBe('shop');
    const synced = await statusWhen(
      daemon,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'second commit synced',
    );
    expect(synced.ref).toBe('main');
    expect(synced.lastApplied?.message).toBe('add b');
    expect(synced.pinned).toBeUndefined();
    expect((await daemon.apps()).map((s) => s.name)).toEqual(['shop']);
    expect(
      running()
        .operator.store.inventory('shop')
        .map((e) => e.key),
    ).toEqual(['Pod/default/a', 'Pod/default/b']);

    // The rollback: the first commit runs until unpinned.
    const pinned = await daemon.pin('shop', first);
    expect(pinned.pinned).toBe(first);
    const rolledBack = await statusWhen(
      daemon,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'pinned commit applied',
    );
    expect(rolledBack.pinned).toBe(first);
    expect(
      running()
        .operator.store.inventory('shop')
        .map((e) => e.key),
    ).toEqual(['Pod/default/a']);

    const unpinned = await daemon.unpin('shop');
    expect(unpinned.pinned).toBeUndefined();
    await statusWhen(
      daemon,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'back on the branch',
    );

    const history = await daemon.history('shop');
    expect(history.map((h) => [h.commit, h.outcome])).toEqual([
      [second, 'succeeded'],
      [first, 'succeeded'],
      [second, 'succeeded'],
    ]);
    expect(history[1]?.summary.delete).toBe(1);
    expect(history[0]?.summary.create).toBe(1);
    expect((await daemon.history('shop', 1)).length).toBe(1);

    const store = running().operator.store;
    store.addEvent({
      at: new Date().toISOString(),
      type: 'Warning',
      reason: 'DriftRepaired',
      object: 'pod/a',
      app: 'shop',
      message: 'container a was removed by hand; made again',
    });
    store.addEvent({
      at: new Date().toISOString(),
      type: 'Normal',
      reason: 'Registered',
      object: 'node/local',
      message: 'node local registered',
    });
    expect((await daemon.events()).map((e) => e.reason)).toEqual(['Registered', 'DriftRepaired']);
    expect((await daemon.events({ app: 'shop' })).map((e) => e.object)).toEqual(['pod/a']);
    expect((await daemon.events({ limit: 1 })).length).toBe(1);

    await daemon.syncApp('shop');
    await daemon.removeApp('shop');
    expect(await daemon.apps()).toEqual([]);
    expect((await failure(daemon.app('shop'))).code).toBe('APP_NOT_FOUND');
  });

  it('answers unknown apps with 404, bad requests with 400 and a wrong token with 401', async () => {
    const daemon = client();
    for (const call of [
      () => daemon.app('nope'),
      () => daemon.pin('nope', 'abc1234'),
      () => daemon.unpin('nope'),
      () => daemon.syncApp('nope'),
      () => daemon.removeApp('nope'),
      () => daemon.history('nope'),
    ]) {
      expect((await failure(call())).code).toBe('APP_NOT_FOUND');
    }
    const raw = await fetch(`${running().url}/api/v1/apps/nope`, {
      headers: { authorization: `Bearer ${running().token}` },
    });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toMatchObject({ code: 'APP_NOT_FOUND', message: 'no app named nope' });

    const relative = await failure(daemon.addApp({ name: 'x', source: 'relative/path' }));
    expect(relative.code).toBe('CLI_USAGE');
    expect((await failure(daemon.addApp({ name: 'Bad_Name', source: dir }))).code).toBe(
      'APP_NAME_INVALID',
    );
    expect((await failure(daemon.history('nope', 0))).code).toBe('CLI_USAGE');
    expect((await failure(client('wrong').apps())).code).toBe('API_UNAUTHORIZED');
    expect((await failure(client('wrong').events())).code).toBe('API_UNAUTHORIZED');
  });

  it('serves /healthz, /readyz and /metrics in the Prometheus text format', async () => {
    const repo = initRepo(path.join(dir, 'shop'));
    const commit = commitFiles(repo, { 'a.yaml': podYaml('a') }, 'add a');
    const daemon = client();
    await daemon.addApp({ name: 'shop', source: repo });
    await statusWhen(
      daemon,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === commit,
      'synced',
    );

    const health = await fetch(`${running().url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    const ready = await fetch(`${running().url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ok\n');

    // A webhook without a signature is refused and counted.
    const hook = await fetch(`${running().url}/api/v1/webhook`, { method: 'POST', body: '{}' });
    await hook.text();
    expect(hook.status).toBe(401);

    const response = await fetch(`${running().url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const { types, samples } = parseMetrics(await response.text());
    expect(types.get('berth_syncs_total')).toBe('counter');
    expect(types.get('berth_sync_duration_seconds')).toBe('histogram');
    expect(types.get('berth_reconcile_duration_seconds')).toBe('histogram');
    expect(types.get('berth_git_fetch_duration_seconds')).toBe('histogram');
    expect(types.get('berth_git_fetch_errors_total')).toBe('counter');
    expect(types.get('berth_webhook_deliveries_total')).toBe('counter');
    expect(types.get('berth_pods')).toBe('gauge');
    expect(samples.get('berth_syncs_total{app="shop",result="succeeded"}')).toBe(1);
    expect(samples.get('berth_sync_duration_seconds_count')).toBe(1);
    expect(samples.get('berth_sync_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    // Every engine pass is timed: the sync's, and the loop's since the start.
    const passes = samples.get('berth_reconcile_duration_seconds_count') ?? 0;
    expect(passes).toBeGreaterThan(0);
    expect(samples.get('berth_reconcile_duration_seconds_bucket{le="+Inf"}')).toBe(passes);
    expect(samples.get('berth_reconcile_duration_seconds_sum')).toBeGreaterThan(0);
    expect(samples.get('berth_webhook_deliveries_total{result="unauthorized"}')).toBe(1);
    expect(
      samples.get('berth_pods{phase="Pending"}')! + samples.get('berth_pods{phase="Running"}')!,
    ).toBe(1);
    expect(samples.get('berth_app_sync_state{app="shop",state="Synced"}')).toBe(1);
    expect(samples.get('berth_app_sync_state{app="shop",state="Failed"}')).toBe(0);
    const healthSamples = [...samples].filter(([key]) => key.startsWith('berth_app_health{'));
    expect(healthSamples.length).toBe(4);
    expect(healthSamples.filter(([, value]) => value === 1).length).toBe(1);
  });

  it('answers /readyz 503 with the reason while not ready', async () => {
    let ready = false;
    const api = createOperatorApi({
      token: 't',
      dataDir: dir,
      sync: () => ({ reports: [] }),
      read: async () => ({
        apps: [],
        assignments: [],
        nodes: [],
        allocations: [],
        podsOnNodes: [],
      }),
      daemon: {
        apps: running().apps,
        store: running().operator.store,
        ready: () => (ready ? { ready: true, reason: 'ok' } : { ready: false, reason: 'starting' }),
      },
    });
    plain = createServer(api);
    await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const before = await fetch(`${url}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.text()).toBe('starting\n');
    ready = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // Without a metrics source there is no /metrics.
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });
});
