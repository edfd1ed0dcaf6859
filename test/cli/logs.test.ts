/**
 * `berth logs` choices without Docker: a stand-in runtime lists containers per node, so the
 * tests see which nodes are searched (the local name and the store's nodes), which container
 * wins among re-created ones, and the usage errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../../operator/agent/runtime.js';
import { type LogsRuntime, runLogs } from '../../operator/cli/logs.js';
import { isBerthError } from '../../operator/model/errors.js';
import { openStore } from '../../operator/store/store.js';
import { captureIo } from '../helpers/capture-io.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-logs-'));
  dirs.push(dir);
  return dir;
}

function container(
  id: string,
  node: string,
  fields: Partial<ObservedContainer> = {},
): ObservedContainer & { node: string } {
  return {
    node,
    id,
    labels: {},
    role: 'container',
    podNamespace: 'default',
    podName: 'web',
    podUid: 'uid-web',
    containerName: 'app',
    specHash: 'h',
    state: 'running',
    exitCode: undefined,
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: undefined,
    error: undefined,
    oomKilled: false,
    image: 'busybox',
    ...fields,
  };
}

/** Lists by node; each container's log is its id, so the output names the chosen one. */
function fakeRuntime(containers: readonly (ObservedContainer & { node: string })[]): LogsRuntime & {
  listed: string[];
  asked: { id: string; follow: boolean; tail?: number }[];
} {
  const listed: string[] = [];
  const asked: { id: string; follow: boolean; tail?: number }[] = [];
  return {
    listed,
    asked,
    async list(node) {
      listed.push(node);
      return containers.filter((c) => c.node === node);
    },
    async logs(id, options) {
      asked.push({ id, ...options });
      return Readable.from([`log of ${id}\n`]);
    },
  };
}

async function failure(run: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run;
  } catch (error) {
    if (isBerthError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a BerthError');
}

describe('runLogs', () => {
  it('searches the local node and the nodes in the store, and prefers the running container', async () => {
    const dataDir = tempDir();
    const store = openStore(dataDir);
    store.upsertNode({
      name: 'other',
      labels: {},
      capacity: { cpu: 1, memoryBytes: 1 },
      registeredAt: '2026-01-01T00:00:00Z',
    });
    store.close();
    const runtime = fakeRuntime([
      container('old', 'other', { state: 'exited', startedAt: '2026-01-02T00:00:00Z' }),
      container('current', 'other'),
      container('elsewhere', 'far', { podName: 'web' }),
    ]);
    const io = captureIo({ BERTH_NODE_NAME: 'here' });
    const exit = await runLogs(['web', '--tail', '5', '--data-dir', dataDir], io, { runtime });
    expect(exit).toBe(0);
    expect(io.out()).toBe('log of current\n');
    expect(runtime.asked).toEqual([{ id: 'current', follow: false, tail: 5 }]);
    expect(runtime.listed).toEqual(['here', 'other']);
  });

  it('takes the container started last when none runs, and ignores sandboxes', async () => {
    const runtime = fakeRuntime([
      container('sandbox', 'n', { role: 'sandbox', containerName: '' }),
      container('first', 'n', { state: 'exited', startedAt: '2026-01-01T00:00:00Z' }),
      container('second', 'n', { state: 'exited', startedAt: '2026-01-03T00:00:00Z' }),
    ]);
    const io = captureIo();
    expect(await runLogs(['web', '-f', '--node-name', 'n'], io, { runtime })).toBe(0);
    expect(runtime.asked).toEqual([{ id: 'second', follow: true }]);
  });

  it('refuses a bad --tail and a second positional', async () => {
    const runtime = fakeRuntime([]);
    const bad = await failure(
      runLogs(['web', '--tail', 'x', '--node-name', 'n'], captureIo(), { runtime }),
    );
    expect(bad).toEqual({ code: 'CLI_USAGE', message: '--tail: "x" is not a number of lines' });
    const two = await failure(runLogs(['a', 'b'], captureIo(), { runtime }));
    expect(two.code).toBe('CLI_USAGE');
  });
});
