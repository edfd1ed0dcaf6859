/**
 * The apps controller on real git repositories (the real `git`), a real store in a temp data
 * dir and an engine with no nodes (pods stay Pending, which is enough to see what was applied).
 * Local repositories are watched with chokidar; the retry test drives a manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Clock, ManualClock, systemClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import {
  type AppsController,
  createAppsController,
  jitteredMs,
  retryDelayMs,
} from '../../operator/daemon/controller.js';
import type { AppStatus } from '../../operator/daemon/status.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import type { SyncRequest, SyncResponse } from '../../operator/operator/session.js';
import { syncApp } from '../../operator/operator/sync-app.js';
import { createSourceReader } from '../../operator/source/index.js';
import { openStore, type Store } from '../../operator/store/index.js';
import {
  commitFiles,
  git,
  initRepo,
  makeTempDir,
  podYaml,
  writeTree,
} from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Harness {
  readonly store: Store;
  readonly controller: AppsController;
  readonly syncs: SyncRequest[];
}

/**
 * A controller over a store and engine in a temp dir. `failFirst` syncs throw before the
 * real ones run.
 */
function harness(
  options: { clock?: Clock; failFirst?: number; watchLocal?: boolean } = {},
): Harness {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-controller-'));
  const store = openStore(dataDir);
  const engineClock = new ManualClock();
  const engine = createEngine({
    endpoint: createNodeEndpoint({ token: 't', now: () => engineClock.now() }),
    state: createStoreState(store, { now: () => new Date(engineClock.now()).toISOString() }),
    clock: engineClock,
    random: () => 0.5,
  });
  const syncs: SyncRequest[] = [];
  let failures = options.failFirst ?? 0;
  const controller = createAppsController({
    store,
    sources: createSourceReader(),
    clock: options.clock ?? systemClock,
    random: () => 0.5,
    watchLocal: options.watchLocal ?? true,
    // The refs' watch alone must see every change: the backstop look comes too late to pass.
    localRecheckMs: 10 * 60_000,
    log: (line) => process.env.DEBUG_CONTROLLER && console.log(line),
    sync: (request): SyncResponse => {
      syncs.push(request);
      if (failures > 0) {
        failures -= 1;
        throw new Error('engine unavailable');
      }
      return syncApp({ store, engine, now: () => new Date().toISOString() }, request);
    },
  });
  cleanups.push(() => {
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  cleanups.push(() => controller.stop());
  return { store, controller, syncs };
}

function repo(): string {
  const dir = makeTempDir('controller-repo');
  cleanups.push(() => dir.remove());
  return initRepo(path.join(dir.path, 'shop'));
}

function inventory(store: Store, app: string): string[] {
  return store.inventory(app).map((entry) => entry.key);
}

async function statusWhen(
  controller: AppsController,
  app: string,
  check: (status: AppStatus) => boolean,
  what: string,
): Promise<AppStatus> {
  return waitFor(() => {
    const status = controller.status(app);
    return status !== undefined && check(status) ? status : undefined;
  }, `${app}: ${what}`);
}

const BAD_POD = `apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  containers:
    - name: main
      image: busybox
      ports:
        - containerPort: "eighty"
`;

describe('apps controller, local repositories', () => {
  it('syncs a new commit on the tracked branch at once, never uncommitted files', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'add a');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'main' } });

    const synced = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'first commit synced',
    );
    expect(synced.lastApplied?.message).toBe('add a');
    expect(synced.ref).toBe('main');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);
    expect(store.app('shop')?.settings).toMatchObject({ ref: 'main', watch: true });

    // An edit left in the working tree is never deployed; the next commit (without it) is.
    writeTree(dir, { 'c.yaml': podYaml('c') });
    writeTree(dir, { 'b.yaml': podYaml('b') });
    git(dir, 'add', 'b.yaml');
    git(dir, 'commit', '-q', '-m', 'add b');
    const second = git(dir, 'rev-parse', 'HEAD');
    await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'second commit synced',
    );
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b']);
    const history = store.syncHistory('shop');
    expect(history.map((h) => [h.commit, h.outcome])).toEqual([
      [second, 'succeeded'],
      [first, 'succeeded'],
    ]);
  });

  it('reads a working tree given without a ref at its branch: committed content only', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'add a');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: {} });
    const synced = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'first commit synced',
    );
    expect(synced.ref).toBe('main');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);

    // Edited but not committed: a new file and a change to a committed one. A run now (as a
    // webhook or the backstop would start) deploys neither.
    writeTree(dir, { 'b.yaml': podYaml('b'), 'a.yaml': podYaml('a-renamed') });
    expect(controller.trigger('shop')).toBe(true);
    await controller.idle();
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);
    expect(store.syncHistory('shop').map((h) => h.commit)).toEqual([first]);

    // The commit of the same edit moves the branch; the refs' watch syncs it.
    git(dir, 'add', 'a.yaml', 'b.yaml');
    git(dir, 'commit', '-q', '-m', 'rename a, add b');
    const second = git(dir, 'rev-parse', 'HEAD');
    await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'the commit of the edit synced',
    );
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a-renamed', 'Pod/default/b']);
    expect(store.app('shop')?.settings).not.toHaveProperty('ref');
  });

  it('reads a folder inside a working tree at the branch too, and watches its repository', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'deploy/a.yaml': podYaml('a') }, 'add a');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: path.join(dir, 'deploy'), settings: {} });
    await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'first commit synced',
    );
    writeTree(dir, { 'deploy/b.yaml': podYaml('b') });
    git(dir, 'add', 'deploy/b.yaml');
    git(dir, 'commit', '-q', '-m', 'add b');
    const second = git(dir, 'rev-parse', 'HEAD');
    const synced = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === second,
      'the second commit synced through the watch',
    );
    expect(synced.lastApplied?.message).toBe('add b');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b']);
  });

  it('keeps the last good commit running when a commit does not validate; the fix clears it', async () => {
    const dir = repo();
    const good = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'good');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'main' } });
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === good, 'good synced');

    const bad = commitFiles(dir, { 'b.yaml': BAD_POD }, 'bad');
    const degraded = await statusWhen(
      controller,
      'shop',
      (s) => s.health === 'Degraded',
      'degraded by the bad commit',
    );
    expect(degraded.sync).toBe('OutOfSync');
    expect(degraded.lastApplied?.commit).toBe(good);
    expect(degraded.reason).toContain(`commit ${bad.slice(0, 7)} does not validate`);
    expect(degraded.reason).toContain(`still running ${good.slice(0, 7)}`);
    expect(degraded.problems.length).toBeGreaterThan(0);
    expect(degraded.problems[0]).toMatch(/^b\.yaml:10:\d+: pod\/broken: /);
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);
    expect(store.syncHistory('shop', 1)[0]).toMatchObject({ commit: bad, outcome: 'refused' });

    const fixed = commitFiles(dir, { 'b.yaml': podYaml('b') }, 'fix');
    const synced = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === fixed,
      'fix synced',
    );
    expect(synced.problems).toEqual([]);
    expect(synced.health).not.toBe('Degraded');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b']);
  });

  it('follows a reset (history rewritten) and reports a deleted branch as Missing', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'a');
    git(dir, 'branch', 'deploy');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'deploy' } });
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === first, 'first synced');

    git(dir, 'checkout', '-q', 'deploy');
    const second = commitFiles(dir, { 'b.yaml': podYaml('b') }, 'b');
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === second, 'b synced');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b']);

    git(dir, 'reset', '-q', '--hard', first);
    await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'reset followed',
    );
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);

    git(dir, 'checkout', '-q', 'main');
    git(dir, 'branch', '-D', 'deploy');
    const missing = await statusWhen(controller, 'shop', (s) => s.health === 'Missing', 'missing');
    expect(missing.reason).toContain('branch deploy no longer exists');
    expect(missing.lastApplied?.commit).toBe(first);
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);

    // The branch comes back: followed again.
    const third = commitFiles(dir, { 'c.yaml': podYaml('c') }, 'c');
    git(dir, 'branch', 'deploy');
    await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === third,
      'branch back',
    );
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/c']);
  });

  it('watches a bare repository that is pushed into', async () => {
    const dir = repo();
    const bare = path.join(path.dirname(dir), 'shop.git');
    git(path.dirname(dir), 'init', '-q', '--bare', '-b', 'main', bare);
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'a');
    git(dir, 'push', '-q', bare, 'main');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: bare, settings: {} });
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === first, 'first synced');

    const second = commitFiles(dir, { 'b.yaml': podYaml('b') }, 'b');
    git(dir, 'push', '-q', bare, 'main');
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === second, 'push seen');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b']);
  });

  it('runs a pinned commit until unpinned, and keeps the pin in the store', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'a');
    const second = commitFiles(dir, { 'b.yaml': podYaml('b') }, 'b');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'main' } });
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === second, 'head synced');

    controller.pin('shop', first);
    const pinned = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === first,
      'pinned commit synced',
    );
    expect(pinned.pinned).toBe(first);
    expect(store.app('shop')?.settings).toMatchObject({ pinned: first, ref: 'main' });
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);

    // New commits on the branch wait while pinned.
    const third = commitFiles(dir, { 'c.yaml': podYaml('c') }, 'c');
    await controller.idle();
    expect(controller.status('shop')?.lastApplied?.commit).toBe(first);

    controller.unpin('shop');
    const unpinned = await statusWhen(
      controller,
      'shop',
      (s) => s.sync === 'Synced' && s.lastApplied?.commit === third,
      'branch head after unpin',
    );
    expect(unpinned.pinned).toBeUndefined();
    expect(store.app('shop')?.settings).not.toHaveProperty('pinned');
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a', 'Pod/default/b', 'Pod/default/c']);
  });

  it('picks up from the store after a restart without syncing the same commit again', async () => {
    const dir = repo();
    const first = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'a');
    const { store, controller, syncs } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'main' } });
    await statusWhen(controller, 'shop', (s) => s.lastApplied?.commit === first, 'synced');
    await controller.stop();
    expect(syncs).toHaveLength(1);

    const again = createAppsController({
      store,
      sources: createSourceReader(),
      sync: () => {
        throw new Error('no sync expected');
      },
    });
    cleanups.push(() => again.stop());
    again.start();
    expect(again.apps().map((a) => a.name)).toEqual(['shop']);
    await again.idle();
    expect(again.status('shop')).toMatchObject({
      sync: 'Synced',
      lastApplied: { commit: first },
    });
  });
});

describe('apps controller, selfHeal off', () => {
  it('shows drift the agents left as OutOfSync until a sync; berth app sync syncs the same commit', async () => {
    const dir = repo();
    const commit = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'add a');
    const { store, controller, syncs } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { selfHeal: false } });
    await statusWhen(controller, 'shop', (s) => s.sync === 'Synced', 'synced');
    expect(syncs).toHaveLength(1);

    store.addEvent({
      at: new Date(Date.now() + 1_000).toISOString(),
      type: 'Warning',
      reason: 'DriftDetected',
      object: 'pod/a',
      app: 'shop',
      node: 'n1',
      message:
        "container main was removed outside berth (docker rm?); left as found: selfHeal is off for this pod's app (its next sync, e.g. berth app sync, puts it back)",
    });
    const drifted = controller.status('shop');
    expect(drifted).toMatchObject({
      sync: 'OutOfSync',
      reason:
        'drift left as found (selfHeal is off): pod/a: container main was removed outside berth (docker rm?); berth app sync shop puts it back',
      problems: ['pod/a: container main was removed outside berth (docker rm?)'],
    });

    // A plain trigger (a webhook) finds the ref where it was: no sync.
    controller.trigger('shop');
    await controller.idle();
    expect(syncs).toHaveLength(1);
    // Forced (berth app sync): the same commit synced again, which puts the drift back.
    controller.trigger('shop', { force: true });
    await controller.idle();
    expect(syncs.map((sync) => sync.commit)).toEqual([commit, commit]);
    // The event is older than the new sync only once the clock passed it; a later sync clears it.
    await waitFor(
      () => Date.now() > Date.parse(store.events()[0]!.at) + 5,
      'the clock past the event',
    );
    controller.trigger('shop', { force: true });
    await controller.idle();
    expect(controller.status('shop')).toMatchObject({ sync: 'Synced', problems: [] });
  });

  it('ignores drift events of apps with selfHeal on (the agents put it back)', async () => {
    const dir = repo();
    commitFiles(dir, { 'a.yaml': podYaml('a') }, 'add a');
    const { store, controller } = harness();
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: {} });
    await statusWhen(controller, 'shop', (s) => s.sync === 'Synced', 'synced');
    store.addEvent({
      at: new Date(Date.now() + 1_000).toISOString(),
      type: 'Warning',
      reason: 'DriftDetected',
      object: 'pod/a',
      app: 'shop',
      message: 'container main was removed outside berth (docker rm?)',
    });
    expect(controller.status('shop')?.sync).toBe('Synced');
  });
});

describe('apps controller, retries', () => {
  it('retries a failing sync with backoff from 5 s, doubling, on the same commit; reset by success', async () => {
    const dir = repo();
    const commit = commitFiles(dir, { 'a.yaml': podYaml('a') }, 'a');
    const clock = new ManualClock();
    const { store, controller, syncs } = harness({ clock, failFirst: 3, watchLocal: false });
    controller.start();
    controller.add({ name: 'shop', source: dir, settings: { ref: 'main' } });
    await controller.idle();
    expect(syncs).toHaveLength(1);
    const failed = controller.status('shop');
    expect(failed?.sync).toBe('Failed');
    expect(failed?.reason).toContain('engine unavailable');

    const advanceAndSettle = async (ms: number): Promise<void> => {
      clock.advance(ms);
      await controller.idle();
    };
    await advanceAndSettle(4_999);
    expect(syncs).toHaveLength(1);
    await advanceAndSettle(1);
    expect(syncs).toHaveLength(2);
    await advanceAndSettle(9_999);
    expect(syncs).toHaveLength(2);
    await advanceAndSettle(1);
    expect(syncs).toHaveLength(3);
    await advanceAndSettle(19_999);
    expect(syncs).toHaveLength(3);
    await advanceAndSettle(1);
    expect(syncs).toHaveLength(4);
    expect(syncs.every((s) => s.commit === commit)).toBe(true);
    expect(controller.status('shop')).toMatchObject({ sync: 'Synced', lastApplied: { commit } });
    expect(inventory(store, 'shop')).toEqual(['Pod/default/a']);
    // Synced: no retry waits (a local repository has no interval either).
    expect(clock.pendingTimers()).toBe(0);
  });

  it('caps the retry delay at 5 minutes and jitters intervals by 10%', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 30].map(retryDelayMs)).toEqual([
      5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
    expect(jitteredMs(60_000, 0)).toBe(54_000);
    expect(jitteredMs(60_000, 0.5)).toBe(60_000);
    expect(jitteredMs(60_000, 0.999_999)).toBe(66_000);
  });
});
