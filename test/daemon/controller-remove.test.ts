/**
 * The apps controller's removal with prune, on a real git repository, store and engine (no
 * nodes: pods stay Pending): the removal is one sync of no objects with prune and allowEmpty
 * under the app's source, the engine is told to forget the app, and a refused removal deletes
 * nothing and leaves the app kept in sync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { type AppsController, createAppsController } from '../../operator/daemon/controller.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { isBerthError } from '../../operator/model/errors.js';
import type { SyncRequest, SyncResponse } from '../../operator/operator/session.js';
import { syncApp } from '../../operator/operator/sync-app.js';
import { createSourceReader } from '../../operator/source/index.js';
import { openStore, type Store } from '../../operator/store/index.js';
import { commitFiles, initRepo, makeTempDir, podYaml } from '../helpers/git-repo.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Harness {
  readonly store: Store;
  readonly controller: AppsController;
  readonly syncs: SyncRequest[];
  readonly forgotten: string[];
}

/** A controller over a store and engine in a temp dir; `refuseEmpty` refuses syncs of nothing. */
function harness(options: { refuseEmpty?: boolean } = {}): Harness {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-controller-remove-'));
  const store = openStore(dataDir);
  const clock = new ManualClock();
  const engine = createEngine({
    endpoint: createNodeEndpoint({ token: 't', now: () => clock.now() }),
    state: createStoreState(store, { now: () => new Date(clock.now()).toISOString() }),
    clock,
    random: () => 0.5,
  });
  const syncs: SyncRequest[] = [];
  const forgotten: string[] = [];
  const controller = createAppsController({
    store,
    sources: createSourceReader(),
    watchLocal: false,
    sync: (request): SyncResponse => {
      syncs.push(request);
      if (options.refuseEmpty === true && request.objects.length === 0) {
        return {
          refused: {
            refused: true,
            code: 'PLAN_ALLOCATION_REFUSED',
            app: request.app,
            message: 'service/x: nodePort 30001 is in use',
            deletions: [],
          },
          reports: [],
        };
      }
      return syncApp({ store, engine, now: () => new Date().toISOString() }, request);
    },
    forget: (app) => forgotten.push(app),
  });
  cleanups.push(() => {
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  cleanups.push(() => controller.stop());
  return { store, controller, syncs, forgotten };
}

function repo(): string {
  const dir = makeTempDir('controller-remove-repo');
  cleanups.push(() => dir.remove());
  const work = initRepo(path.join(dir.path, 'shop'));
  commitFiles(work, { 'a.yaml': podYaml('a'), 'b.yaml': podYaml('b') }, 'a and b');
  return work;
}

async function synced(h: Harness, source: string): Promise<void> {
  h.controller.start();
  h.controller.add({ name: 'shop', source, settings: { prune: true } });
  await waitFor(() => h.controller.status('shop')?.sync === 'Synced', 'shop Synced');
  expect(h.store.inventory('shop')).toHaveLength(2);
}

describe('apps controller: remove with prune', () => {
  it('syncs no objects with prune and allowEmpty under the app source, then forgets the app', async () => {
    const h = harness();
    const source = repo();
    await synced(h, source);

    const removal = await h.controller.remove('shop', { prune: true });
    expect(h.syncs.at(-1)).toEqual({
      app: 'shop',
      source,
      objects: [],
      prune: true,
      allowEmpty: true,
    });
    expect(removal?.deleted.map((ref) => ref.name).sort()).toEqual(['a', 'b']);
    expect(removal?.kept).toEqual([]);
    expect(h.forgotten).toEqual(['shop']);
    expect(h.store.inventory('shop')).toEqual([]);
    expect(h.store.assignments()).toEqual([]);
    expect(h.store.app('shop')).toBeUndefined();
    expect(h.controller.app('shop')).toBeUndefined();
    // The removal's sync is in the app's history.
    expect(h.store.syncHistory('shop', 1)[0]).toMatchObject({ outcome: 'succeeded', commit: '' });
    expect(await h.controller.remove('shop', { prune: true })).toBeUndefined();
  });

  it('deletes nothing when the pass is refused, and keeps the app in sync', async () => {
    const h = harness({ refuseEmpty: true });
    await synced(h, repo());

    const error = await h.controller.remove('shop', { prune: true }).catch((e: unknown) => e);
    expect(isBerthError(error) && error.code).toBe('APP_REMOVE_REFUSED');
    expect(isBerthError(error) && error.message).toBe(
      'app shop: deleting its objects was refused: service/x: nodePort 30001 is in use',
    );
    expect(h.forgotten).toEqual([]);
    expect(h.store.inventory('shop')).toHaveLength(2);
    expect(h.store.app('shop')).toBeDefined();
    expect(h.controller.app('shop')).toBeDefined();
    const before = h.syncs.length;
    expect(h.controller.trigger('shop', { force: true })).toBe(true);
    await waitFor(() => h.syncs.length > before, 'the worker syncs again');
    expect(h.syncs.at(-1)?.objects).toHaveLength(2);
  });
});
