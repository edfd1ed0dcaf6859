import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS, type ManifestObject } from '../../operator/manifests/types.js';
import { BerthError } from '../../operator/model/errors.js';
import {
  checkAppName,
  defaultAppName,
  type SyncAppParts,
  syncApp,
} from '../../operator/operator/sync-app.js';
import { openStore, type Store } from '../../operator/store/index.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()?.();
});

function load(yaml: string): ManifestObject[] {
  const result = processFile('app.yaml', new TextEncoder().encode(yaml), DEFAULT_PARSE_LIMITS);
  expect(result.problems).toEqual([]);
  return [...result.objects];
}

function pod(name: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  containers: [{name: c, image: busybox:1}]
`;
}

function service(name: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{port: 80}]
`;
}

/** An engine on a real store in a temp dir, with no nodes: pods stay Pending, which is enough. */
function operatorParts(): SyncAppParts & { store: Store; reopen(): SyncAppParts } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-sync-app-'));
  const clock = new ManualClock();
  const make = (store: Store): SyncAppParts => ({
    store,
    engine: createEngine({
      endpoint: createNodeEndpoint({ token: 't', now: () => clock.now() }),
      state: createStoreState(store, { now: () => new Date(clock.now()).toISOString() }),
      clock,
      random: () => 0.5,
    }),
    now: () => new Date(clock.now()).toISOString(),
  });
  let store = openStore(dataDir);
  cleanups.push(() => {
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    ...make(store),
    reopen() {
      store.close();
      store = openStore(dataDir);
      return make(store);
    },
  };
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return error instanceof BerthError ? error.code : String(error);
  }
  return undefined;
}

describe('app names', () => {
  it('names an app after the source folder, repository or --path', () => {
    expect(defaultAppName('guestbook/')).toBe('guestbook');
    expect(defaultAppName('/srv/repos/Shop_Front.git')).toBe('shop-front');
    expect(defaultAppName('https://example.test/team/blog.git')).toBe('blog');
    expect(defaultAppName('/srv/mono', 'apps/web')).toBe('web');
    expect(defaultAppName('.', undefined)).toBe('default');
  });

  it('refuses names that are not DNS-1123 labels', () => {
    expect(codeOf(() => checkAppName('Guest Book'))).toBe('APP_NAME_INVALID');
    expect(codeOf(() => checkAppName('a'.repeat(64)))).toBe('APP_NAME_INVALID');
    expect(codeOf(() => checkAppName('guestbook-2'))).toBeUndefined();
  });
});

describe('syncApp', () => {
  it('keeps one inventory per app: a sync of one app never prunes another', () => {
    const parts = operatorParts();
    syncApp(parts, { app: 'a', source: '/src/a', objects: load(pod('one')) });
    syncApp(parts, { app: 'b', source: '/src/b', objects: load(pod('two')) });
    const again = syncApp(parts, { app: 'a', source: '/src/a', objects: load(pod('three')) });
    expect(
      again.reports
        .filter((r) => r.ref.kind === 'Pod' && r.action !== 'scheduled' && r.action !== 'pending')
        .map((r) => `${r.ref.name} ${r.action}`)
        .sort(),
    ).toEqual(['one delete', 'three create']);
    expect(again.reports.every((r) => r.app === 'a')).toBe(true);
    expect(parts.store.inventory('a').map((e) => e.key)).toEqual(['Pod/default/three']);
    expect(parts.store.inventory('b').map((e) => e.key)).toEqual(['Pod/default/two']);
    expect(
      parts.store
        .assignments()
        .map((a) => a.podKey)
        .sort(),
    ).toEqual(['default/three', 'default/two']);
  });

  it('leaves an object of another app alone and says whose it is', () => {
    const parts = operatorParts();
    syncApp(parts, { app: 'a', source: '/src/a', objects: load(service('web')) });
    const result = syncApp(parts, { app: 'b', source: '/src/b', objects: load(service('web')) });
    expect(result.reports).toEqual([
      expect.objectContaining({
        app: 'b',
        action: 'unchanged',
        reason: 'Service/default/web belongs to app a; left alone',
      }),
    ]);
    expect(parts.store.inventory('b')).toEqual([]);
  });

  it('refuses a sync that deletes every object of the app, unless allowEmpty', () => {
    const parts = operatorParts();
    syncApp(parts, {
      app: 'a',
      source: '/src/a',
      objects: load(`${pod('one')}---\n${service('web')}`),
    });
    const refused = syncApp(parts, { app: 'a', source: '/src/a', objects: [] });
    expect(refused.refused).toMatchObject({ code: 'PLAN_DELETES_EVERYTHING', app: 'a' });
    expect(parts.store.inventory('a')).toHaveLength(2);
    expect(parts.store.syncHistory('a')[0]).toMatchObject({ outcome: 'refused' });

    const allowed = syncApp(parts, { app: 'a', source: '/src/a', objects: [], allowEmpty: true });
    expect(allowed.refused).toBeUndefined();
    expect(parts.store.inventory('a')).toEqual([]);
    expect(parts.store.assignments()).toEqual([]);
  });

  it('keeps an object marked berth.io/prune: disabled, and everything with prune off', () => {
    const parts = operatorParts();
    const kept = `apiVersion: v1
kind: Pod
metadata:
  name: kept
  annotations: {berth.io/prune: disabled}
spec:
  containers: [{name: c, image: busybox:1}]
`;
    syncApp(parts, {
      app: 'a',
      source: '/src/a',
      objects: load(`${kept}---\n${pod('gone')}---\n${pod('stays')}`),
    });
    syncApp(parts, { app: 'a', source: '/src/a', objects: load(pod('stays')) });
    expect(parts.store.inventory('a').map((e) => e.key)).toEqual([
      'Pod/default/kept',
      'Pod/default/stays',
    ]);
    syncApp(parts, { app: 'a', source: '/src/a', objects: load(pod('new')), prune: false });
    expect(parts.store.inventory('a').map((e) => e.key)).toEqual([
      'Pod/default/kept',
      'Pod/default/new',
      'Pod/default/stays',
    ]);
  });

  it('refuses to sync an app from another source, and records each sync in the history', () => {
    const parts = operatorParts();
    syncApp(parts, { app: 'a', source: '/src/a', commit: 'c1', objects: load(pod('one')) });
    expect(
      codeOf(() => syncApp(parts, { app: 'a', source: '/elsewhere/a', objects: load(pod('one')) })),
    ).toBe('APP_SOURCE_CONFLICT');
    expect(parts.store.app('a')?.source).toBe('/src/a');
    const [last] = parts.store.syncHistory('a');
    expect(last).toMatchObject({ commit: 'c1', outcome: 'succeeded', summary: { create: 1 } });
  });

  it('after a restart, an app not synced again keeps its objects while another app syncs', () => {
    const parts = operatorParts();
    syncApp(parts, { app: 'a', source: '/src/a', objects: load(pod('one')) });
    const restarted = parts.reopen();
    syncApp(restarted, { app: 'b', source: '/src/b', objects: load(pod('two')) });
    expect(restarted.store.inventory('a').map((e) => e.key)).toEqual(['Pod/default/one']);
    expect(
      restarted.store
        .assignments()
        .map((a) => a.podKey)
        .sort(),
    ).toEqual(['default/one', 'default/two']);
  });
});
