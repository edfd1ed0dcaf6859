import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../operator/agent/lifecycle/clock.js';
import { createNodeEndpoint } from '../../operator/api/node-endpoint.js';
import { runDiff } from '../../operator/cli/diff.js';
import { main } from '../../operator/cli/main.js';
import { createEngine } from '../../operator/engine/engine.js';
import { createStoreState } from '../../operator/engine/store-state.js';
import { loadManifests } from '../../operator/manifests/load.js';
import type { ManifestObject } from '../../operator/manifests/types.js';
import { isBerthError } from '../../operator/model/errors.js';
import { refOf } from '../../operator/plan/plan.js';
import { createSourceReader } from '../../operator/source/index.js';
import { DATABASE_FILE_NAME, openStore } from '../../operator/store/index.js';
import { captureIo } from '../helpers/capture-io.js';
import { makeTempDir, writeTree } from '../helpers/git-repo.js';

/*
 * `berth diff SOURCE` against the operator's store, no Docker: the live state is written to a
 * store in a temp data dir as the engine writes it (each loaded ManifestObject's `object`).
 * Golden files are in test/fixtures/diff-live/; `npx vitest run -u test/cli/diff-live.test.ts`
 * rewrites them.
 */

const RC = (replicas: number, image = 'nginx:1.25') => `apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend
  labels:
    app: frontend
spec:
  replicas: ${replicas}
  selector:
    app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: web
          image: ${image}
          ports:
            - containerPort: 80
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector:
    app: frontend
  ports:
    - port: 80
      targetPort: 80
`;

const POD = (image: string) => `apiVersion: v1
kind: Pod
metadata:
  name: redis
  labels:
    app: redis
spec:
  containers:
    - name: redis
      image: ${image}
      ports:
        - containerPort: 6379
`;

const APPLIED_AT = '2026-01-01T00:00:00.000Z';

let temp: { path: string; remove(): void };
let counter = 0;

beforeAll(() => {
  temp = makeTempDir('cli-diff-live');
});
afterAll(() => {
  temp.remove();
});

/** A fresh folder `<temp>/<n>/<name>` holding `files`. */
function folder(name: string, files: Record<string, string>): string {
  counter += 1;
  const dir = path.join(temp.path, String(counter), name);
  mkdirSync(dir, { recursive: true });
  writeTree(dir, files);
  return dir;
}

async function load(files: Record<string, string>): Promise<readonly ManifestObject[]> {
  const snapshot = await createSourceReader().open({ location: folder('seed', files) });
  const set = await loadManifests(snapshot.files);
  expect(set.problems).toEqual([]);
  return set.objects;
}

/** A data dir whose store holds, per app, the objects of `files` as last applied. */
async function dataDirWith(apps: Record<string, Record<string, string>>): Promise<string> {
  counter += 1;
  const dataDir = path.join(temp.path, String(counter), 'data');
  const loaded = await Promise.all(
    Object.entries(apps).map(async ([app, files]) => [app, await load(files)] as const),
  );
  const store = openStore(dataDir);
  try {
    for (const [app, objects] of loaded) {
      store.recordApplied(
        app,
        objects.map((o) => ({ ref: refOf(o.kind, o.object), applied: o.object })),
        APPLIED_AT,
      );
    }
  } finally {
    store.close();
  }
  return dataDir;
}

async function diff(
  args: readonly string[],
): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await runDiff(args, io);
  return { status, out: io.out(), err: io.err() };
}

describe('berth diff SOURCE against the store renders each kind of change (golden files)', () => {
  const cases: {
    name: string;
    live: Record<string, string> | undefined;
    source: Record<string, string>;
    status: number;
  }[] = [
    { name: 'create', live: undefined, source: { 'rc.yaml': RC(3) }, status: 1 },
    {
      name: 'update',
      live: { 'service.yaml': SERVICE, 'rc.yaml': RC(3) },
      source: { 'service.yaml': SERVICE, 'rc.yaml': RC(5) },
      status: 1,
    },
    {
      name: 'replace',
      live: { 'pod.yaml': POD('redis:7') },
      source: { 'pod.yaml': POD('redis:7.2') },
      status: 1,
    },
    {
      name: 'delete',
      live: { 'service.yaml': SERVICE, 'pod.yaml': POD('redis:7') },
      source: { 'service.yaml': SERVICE },
      status: 1,
    },
    {
      name: 'in-sync',
      live: { 'service.yaml': SERVICE, 'rc.yaml': RC(3) },
      source: { 'service.yaml': SERVICE, 'rc.yaml': RC(3), 'README.md': 'not a manifest\n' },
      status: 0,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.status}`, async () => {
      const dataDir =
        c.live === undefined
          ? path.join(temp.path, 'never-created')
          : await dataDirWith({ guestbook: c.live });
      const source = folder('guestbook', c.source);
      const run = await diff([source, '--data-dir', dataDir]);
      expect(run.err).toBe('');
      await expect(run.out).toMatchFileSnapshot(`../fixtures/diff-live/${c.name}.txt`);
      expect(run.status).toBe(c.status);
    });
  }

  it('in-sync prints only the summary', async () => {
    const dataDir = await dataDirWith({ guestbook: { 'rc.yaml': RC(3) } });
    const run = await diff([folder('guestbook', { 'rc.yaml': RC(3) }), '--data-dir', dataDir]);
    expect(run.out).toBe('in sync: 1 object\n');
    expect(run.status).toBe(0);
  });

  it('-o json: the plan as data with app, source and commit', async () => {
    const dataDir = await dataDirWith({ guestbook: { 'service.yaml': SERVICE, 'rc.yaml': RC(3) } });
    const source = folder('guestbook', { 'service.yaml': SERVICE, 'rc.yaml': RC(5) });
    const run = await diff([source, '--data-dir', dataDir, '-o', 'json']);
    expect(run.err).toBe('');
    const report = JSON.parse(run.out) as { app: string; source: string; commit: null };
    expect(report.app).toBe('guestbook');
    expect(report.source).toBe(source);
    expect(report.commit).toBeNull();
    await expect(run.out.replaceAll(source, '<SOURCE>')).toMatchFileSnapshot(
      '../fixtures/diff-live/update.json',
    );
    expect(run.status).toBe(1);
  });
});

describe('berth diff SOURCE: apps', () => {
  it('diffs the app named by --app, not by the folder', async () => {
    const dataDir = await dataDirWith({ web: { 'rc.yaml': RC(3) } });
    const source = folder('checkout', { 'rc.yaml': RC(4) });
    const named = await diff([source, '--app', 'web', '--data-dir', dataDir]);
    expect(named.out).toContain('~ replicationcontroller/frontend (update: spec.replicas: 3 → 4)');
    expect(named.status).toBe(1);
    // As app "checkout" the same RC belongs to another app: left alone, said on stderr.
    const unnamed = await diff([source, '--data-dir', dataDir]);
    expect(unnamed.out).toBe('in sync: 0 objects\n');
    expect(unnamed.err).toBe(
      "note: ReplicationController/default/frontend exists and was not created by berth for this source; left alone (it is app web's)\n",
    );
    expect(unnamed.status).toBe(0);
  });

  it('names the app after --path when given', async () => {
    const dataDir = await dataDirWith({ frontend: { 'rc.yaml': RC(3) } });
    const source = folder('repo', { 'frontend/rc.yaml': RC(3) });
    const run = await diff([source, '--path', 'frontend', '--data-dir', dataDir]);
    expect(run.out).toBe('in sync: 1 object\n');
    expect(run.status).toBe(0);
  });

  it('compares with this app only: other apps neither change nor count', async () => {
    const dataDir = await dataDirWith({
      guestbook: { 'rc.yaml': RC(3) },
      other: { 'pod.yaml': POD('redis:7') },
    });
    const run = await diff([folder('guestbook', { 'rc.yaml': RC(3) }), '--data-dir', dataDir]);
    expect(run.err).toBe('');
    expect(run.out).toBe('in sync: 1 object\n');
    expect(run.status).toBe(0);
  });

  it('warns that apply would refuse a plan emptying the app', async () => {
    const dataDir = await dataDirWith({
      guestbook: { 'rc.yaml': RC(3), 'pod.yaml': POD('redis:7') },
    });
    const run = await diff([
      folder('guestbook', { 'README.md': 'moved\n' }),
      '--data-dir',
      dataDir,
    ]);
    expect(run.out).toContain('0 to create, 0 to update, 0 to replace, 2 to delete\n');
    expect(run.err).toBe(
      'warning: this deletes all 2 objects of app guestbook and the source has none; berth apply refuses that without --allow-empty (is the path or ref right?)\n',
    );
    expect(run.status).toBe(1);
  });

  it('refuses an invalid app name', async () => {
    const io = captureIo();
    const status = await main(['diff', folder('guestbook', {}), '--app', 'Not_An_App'], io);
    expect(io.err()).toContain('"Not_An_App" is not a valid app name');
    expect(status).toBe(2);
  });
});

describe('a freshly applied source shows no difference', () => {
  it('diff after the engine synced it (store-backed state): exit 0, in sync', async () => {
    const objects = await load({
      'service.yaml': SERVICE,
      'rc.yaml': RC(2),
      'pod.yaml': POD('redis:7'),
    });
    counter += 1;
    const dataDir = path.join(temp.path, String(counter), 'data');
    const store = openStore(dataDir);
    try {
      const clock = new ManualClock();
      const engine = createEngine({
        endpoint: createNodeEndpoint({ token: 't', now: () => clock.now() }),
        state: createStoreState(store, { now: () => new Date(clock.now()).toISOString() }),
        clock,
        random: () => 0.5,
      });
      const result = engine.sync('guestbook', objects);
      expect(result.refused).toBeUndefined();
    } finally {
      store.close();
    }
    const source = folder('guestbook', {
      'service.yaml': SERVICE,
      'rc.yaml': RC(2),
      'pod.yaml': POD('redis:7'),
    });
    const run = await diff([source, '--data-dir', dataDir]);
    expect(run.err).toBe('');
    expect(run.out).toBe('in sync: 3 objects\n');
    expect(run.status).toBe(0);
  });
});

describe('berth diff SOURCE changes nothing', () => {
  it('leaves the store file, its inventory and the data dir as they were', async () => {
    const dataDir = await dataDirWith({
      guestbook: { 'rc.yaml': RC(3), 'pod.yaml': POD('redis:7') },
    });
    const database = path.join(dataDir, DATABASE_FILE_NAME);
    const fingerprint = () => ({
      sha256: createHash('sha256').update(readFileSync(database)).digest('hex'),
      mtimeMs: statSync(database).mtimeMs,
    });
    const inventory = () => {
      const store = openStore(dataDir);
      try {
        return store.inventoryApps().map((app) => [app, store.inventory(app)]);
      } finally {
        store.close();
      }
    };
    const beforeInventory = inventory();
    const beforeFile = fingerprint();
    const run = await diff([folder('guestbook', { 'rc.yaml': RC(5) }), '--data-dir', dataDir]);
    expect(run.out).toContain('1 to update, 0 to replace, 1 to delete');
    expect(run.status).toBe(1);
    expect(fingerprint()).toEqual(beforeFile);
    expect(inventory()).toEqual(beforeInventory);
    expect(existsSync(path.join(dataDir, 'berth.lock'))).toBe(false);
  });

  it('does not create a store in an empty data dir', async () => {
    counter += 1;
    const dataDir = path.join(temp.path, String(counter), 'empty');
    mkdirSync(dataDir, { recursive: true });
    const run = await diff([folder('guestbook', { 'rc.yaml': RC(1) }), '--data-dir', dataDir]);
    expect(run.status).toBe(1);
    expect(existsSync(path.join(dataDir, DATABASE_FILE_NAME))).toBe(false);
  });
});

describe('berth diff SOURCE errors exit 2', () => {
  it('an invalid source: problems on stderr, nothing on stdout, the operator not read', async () => {
    const dataDir = await dataDirWith({ guestbook: { 'rc.yaml': RC(3) } });
    const source = folder('guestbook', {
      'rc.yaml': RC(3).replace('replicas: 3', 'replicas: three'),
    });
    const io = captureIo();
    const status = await main(['diff', source, '--data-dir', dataDir], io);
    expect(io.out()).toBe('');
    expect(io.err()).toMatch(/rc\.yaml:8:\d+: replicationcontroller\/frontend: spec\.replicas: /);
    expect(io.err()).toMatch(/^invalid: 1 problem; nothing compared$/m);
    expect(status).toBe(2);
  });

  it('a data dir held by a running berth apply says so, with what to do', async () => {
    const dataDir = await dataDirWith({ guestbook: { 'rc.yaml': RC(3) } });
    const source = folder('guestbook', { 'rc.yaml': RC(3) });
    const holder = openStore(dataDir);
    try {
      const error = await runDiff([source, '--data-dir', dataDir], captureIo()).catch(
        (e: unknown) => e,
      );
      expect(isBerthError(error) && error.code).toBe('STORE_LOCKED');
      const io = captureIo();
      const status = await main(['diff', source, '--data-dir', dataDir], io);
      expect(io.out()).toBe('');
      expect(io.err()).toContain(`data dir ${dataDir} is in use by another berth operator`);
      expect(io.err()).toContain('a berth apply is running on it right now');
      expect(io.err()).toMatch(/^hint: retry when it finishes, or run `berth serve --data-dir /m);
      expect(status).toBe(2);
    } finally {
      holder.close();
    }
  });

  it('--ref does not go with --from/--to', async () => {
    const io = captureIo();
    const status = await main(['diff', 'x/', '--ref', 'main', '--from', 'a', '--to', 'b'], io);
    expect(io.err()).toContain('--ref does not go with --from and --to');
    expect(status).toBe(2);
  });
});
