import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DesiredSet,
  type ManifestDirWatch,
  watchManifestDir,
} from '../../operator/agent/standalone.js';
import { formatProblem } from '../../operator/model/problem.js';
import { waitFor } from './fake-node-agent.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function podYaml(name: string, image = 'busybox'): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: main
      image: ${image}
`;
}

async function setup(): Promise<{ dir: string; watch: ManifestDirWatch; loads: DesiredSet[] }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-standalone-'));
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  await fsp.writeFile(path.join(dir, 'web.yaml'), podYaml('web'));
  const loads: DesiredSet[] = [];
  const watch = watchManifestDir({ dir, onLoad: (set) => loads.push(set), debounceMs: 50 });
  cleanups.push(() => watch.close());
  await watch.ready;
  return { dir, watch, loads };
}

const podNames = (watch: ManifestDirWatch) =>
  (watch.current()?.pods ?? []).map((p) => p.metadata?.name).join(',');

describe('watching a manifest directory', () => {
  it('loads the directory at start, defaulted as the loader does', async () => {
    const { watch, loads } = await setup();
    expect(loads).toHaveLength(1);
    const pod = watch.current()?.pods[0];
    expect(pod?.metadata?.name).toBe('web');
    expect(pod?.metadata?.namespace).toBe('default');
    expect(pod?.spec?.restartPolicy).toBe('Always');
  });

  it('follows added, changed and deleted files within a second', async () => {
    const { dir, watch } = await setup();
    const started = Date.now();
    await fsp.writeFile(path.join(dir, 'db.yaml'), podYaml('db'));
    await waitFor(() => podNames(watch) === 'db,web', 'added file', 1_000 + 2_000);
    expect(Date.now() - started).toBeLessThan(1_000);

    const before = watch.current()!.version;
    await fsp.writeFile(path.join(dir, 'db.yaml'), podYaml('db', 'redis'));
    await waitFor(() => watch.current()!.version !== before, 'changed file');
    expect(watch.current()!.pods[0]?.spec?.containers[0]?.image).toBe('redis');

    await fsp.rm(path.join(dir, 'db.yaml'));
    await waitFor(() => podNames(watch) === 'web', 'deleted file');
  });

  it('keeps the last good version of a file saved half-written, and reports why', async () => {
    const { dir, watch } = await setup();
    await fsp.writeFile(
      path.join(dir, 'web.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n',
    );
    await waitFor(() => (watch.current()?.problems.length ?? 0) > 0, 'the problem of the bad save');
    const current = watch.current()!;
    expect(podNames(watch)).toBe('web');
    expect(current.keptFiles).toEqual([path.join(dir, 'web.yaml')]);
    expect(formatProblem(current.problems[0]!)).toMatch(/web\.yaml:\d+:\d+: /);

    await fsp.writeFile(path.join(dir, 'web.yaml'), podYaml('web2'));
    await waitFor(() => podNames(watch) === 'web2', 'the fixed file');
    expect(watch.current()!.problems).toEqual([]);
  });

  it('keeps running pods when a file gets an invalid pod, and ignores RCs and Services', async () => {
    const { dir, watch } = await setup();
    await fsp.writeFile(path.join(dir, 'web.yaml'), podYaml('Web_Bad'));
    await fsp.writeFile(
      path.join(dir, 'svc.yaml'),
      `apiVersion: v1
kind: Service
metadata:
  name: redis
spec:
  selector:
    app: redis
  ports:
    - port: 6379
`,
    );
    await waitFor(
      () =>
        watch.current()!.ignored.includes('service/redis') && watch.current()!.problems.length > 0,
      'the ignored service and the invalid pod',
    );
    expect(podNames(watch)).toBe('web');
    expect(watch.current()!.problems.map((p) => p.code)).toContain('name.invalid');
  });

  it('publishes only loads that changed something', async () => {
    const { dir, watch, loads } = await setup();
    // Same bytes again: a file event and a reload, but the set is unchanged.
    const before = watch.loadCount();
    await fsp.writeFile(path.join(dir, 'web.yaml'), podYaml('web'));
    await waitFor(() => watch.loadCount() > before, 'a reload after the rewrite');
    expect(loads).toHaveLength(1);
    await fsp.writeFile(path.join(dir, 'z.yaml'), podYaml('z'));
    await waitFor(() => podNames(watch) === 'web,z', 'the new file');
    expect(loads.map((l) => l.pods.length)).toEqual([1, 2]);
  });

  it('rejects ready when the directory cannot be read, instead of handing out an empty set', async () => {
    const dir = path.join(os.tmpdir(), `berth-missing-${process.pid}-${Date.now()}`);
    const loads: DesiredSet[] = [];
    const watch = watchManifestDir({ dir, onLoad: (set) => loads.push(set) });
    cleanups.push(() => watch.close());
    await expect(watch.ready).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect(loads).toEqual([]);
  });
});
