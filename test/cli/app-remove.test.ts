/**
 * `berth app remove NAME --prune`'s waiting and output, against a DaemonClient whose readout
 * the test scripts: the summary once the deleted pods are gone, the progress bar on a terminal,
 * exit 1 with what is left at the timeout; and its usage errors through main().
 */
import { describe, expect, it } from 'vitest';
import type { AppRemoveResponse } from '../../operator/api/operator-api.js';
import type { DaemonClient } from '../../operator/api/operator-client.js';
import {
  deletedSummary,
  EXIT_PODS_LEFT,
  removeAppPruned,
  removedBar,
} from '../../operator/cli/app-remove.js';
import { main } from '../../operator/cli/main.js';
import type { OperatorReadout } from '../../operator/operator/session.js';
import type { ObjectRef } from '../../operator/plan/types.js';
import { captureIo } from '../helpers/capture-io.js';

function ref(kind: ObjectRef['kind'], name: string): ObjectRef {
  return { kind, namespace: 'default', name };
}

const REMOVAL: AppRemoveResponse = {
  removed: true,
  deleted: [
    ref('ReplicationController', 'web'),
    ref('Pod', 'solo'),
    ref('Service', 'web'),
    ref('Pod', 'web-a1b2c'),
  ],
  kept: [{ ref: ref('Pod', 'keeper'), reason: 'berth.io/prune: disabled' }],
};

/** A readout with these pods still on node n1 (and the kept one). */
function readout(onNode: readonly string[]): OperatorReadout {
  const pods = [...onNode, 'keeper'];
  return {
    apps: [],
    assignments: [{ podKey: 'default/keeper', node: 'n1', pod: {}, version: 1 }],
    nodes: [
      {
        name: 'n1',
        labels: {},
        capacity: { cpu: 1, memoryBytes: 1 },
        registeredAt: '',
        ready: true,
        pods: pods.map((name) => ({
          namespace: 'default',
          name,
          uid: name,
          status: { phase: 'Running' },
        })),
      },
    ],
    allocations: [],
    podsOnNodes: pods.map((name) => `default/${name}`),
  };
}

/** A client whose removal answers REMOVAL and whose readouts come from `readouts` in turn. */
function fakeClient(readouts: readonly OperatorReadout[]): DaemonClient & { removals: unknown[] } {
  let reads = 0;
  const removals: unknown[] = [];
  const unused = async (): Promise<never> => {
    throw new Error('not used');
  };
  return {
    where: 'fake',
    removals,
    async removeApp(name, options) {
      removals.push({ name, ...options });
      return REMOVAL;
    },
    async read() {
      const next = readouts[Math.min(reads, readouts.length - 1)]!;
      reads += 1;
      return next;
    },
    apps: unused,
    app: unused,
    addApp: unused,
    pin: unused,
    unpin: unused,
    syncApp: unused,
    history: unused,
    events: unused,
  };
}

describe('berth app remove --prune', () => {
  it('says what was deleted, in kind order, and nothing when there was nothing', () => {
    expect(deletedSummary(REMOVAL.deleted)).toBe(
      '1 replicationcontroller, 1 service, 2 pods deleted',
    );
    const many = [
      ...['a', 'b', 'c'].map((n) => ref('ReplicationController', n)),
      ...['a', 'b', 'c'].map((n) => ref('Service', n)),
      ...['1', '2', '3', '4', '5', '6'].map((n) => ref('Pod', n)),
    ];
    expect(deletedSummary(many)).toBe('3 replicationcontrollers, 3 services, 6 pods deleted');
    expect(deletedSummary([])).toBe('nothing deleted');
    expect(removedBar(1, 4, 8)).toBe('[##------] 1/4 pods removed');
  });

  it('waits until the deleted pods are gone, with a bar on a terminal, then prints the summary', async () => {
    const client = fakeClient([
      readout(['solo', 'web-a1b2c']),
      readout(['web-a1b2c']),
      readout([]),
    ]);
    const io = captureIo();
    Object.assign(io.stdout, { isTTY: true });
    const code = await removeAppPruned(
      client,
      'shop',
      { timeoutMs: 10_000, stopSignal: new AbortController().signal, pollMs: 1 },
      io,
    );
    expect(code).toBe(0);
    expect(client.removals).toEqual([{ name: 'shop', prune: true }]);
    const out = io.out();
    expect(out).toContain(`[${'-'.repeat(20)}] 0/2 pods removed`);
    expect(out).toContain(`[${'#'.repeat(10)}${'-'.repeat(10)}] 1/2 pods removed`);
    const lines = out.split('\r\u001b[2K').join('\n').split('\n');
    expect(lines.filter((line) => line.startsWith('app ') || line.startsWith('kept'))).toEqual([
      'app shop removed: 1 replicationcontroller, 1 service, 2 pods deleted',
      "kept: pod/keeper (berth.io/prune: disabled); it keeps running as app shop's",
    ]);
    expect(io.err()).toBe('');
  });

  it('prints no bar when stdout is not a terminal', async () => {
    const io = captureIo();
    const code = await removeAppPruned(
      fakeClient([readout(['solo']), readout([])]),
      'shop',
      { timeoutMs: 10_000, stopSignal: new AbortController().signal, pollMs: 1 },
      io,
    );
    expect(code).toBe(0);
    expect(io.out()).toBe(
      "app shop removed: 1 replicationcontroller, 1 service, 2 pods deleted\nkept: pod/keeper (berth.io/prune: disabled); it keeps running as app shop's\n",
    );
  });

  it('exits 1 at the timeout, naming the pods left and where they are', async () => {
    const io = captureIo();
    const code = await removeAppPruned(
      fakeClient([readout(['web-a1b2c'])]),
      'shop',
      {
        timeoutMs: 30,
        timeoutText: '30ms',
        stopSignal: new AbortController().signal,
        pollMs: 5,
      },
      io,
    );
    expect(code).toBe(EXIT_PODS_LEFT);
    expect(io.out()).toContain('app shop removed: 1 replicationcontroller');
    expect(io.err()).toBe(
      'berth app remove: 1 of 2 pods not gone after 30ms:\n  pod/web-a1b2c on node n1 (Running)\n',
    );
  });

  it('refuses --prune and --timeout where they do not belong', async () => {
    for (const [args, message] of [
      [['app', 'sync', 'shop', '--prune'], '--prune is for berth app remove'],
      [['app', 'remove', 'shop', '--timeout', '5s'], '--timeout is for berth app remove --prune'],
      [['app', 'remove', 'shop', '--prune', '--timeout', 'soon'], '"soon" is not a duration'],
    ] as const) {
      const io = captureIo({ BERTH_SERVER: 'http://127.0.0.1:9', BERTH_TOKEN: 'x' });
      expect(await main([...args], io)).toBe(2);
      expect(io.err()).toContain(message);
    }
  });

  it('describes --prune in berth app --help', async () => {
    const io = captureIo();
    expect(await main(['app', '--help'], io)).toBe(0);
    expect(io.out()).toContain('--prune             delete what NAME applied too');
    expect(io.out()).toContain('--timeout D         how long --prune waits for the pods');
  });
});
