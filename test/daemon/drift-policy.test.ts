/**
 * The drift policy stamp: pods of apps with selfHeal off are handed to their nodes with
 * `berth.io/self-heal: "false"` and the app's newest successful sync; other pods are handed as
 * the engine made them (the same objects); a new sync or a changed setting hands the nodes
 * their sets again.
 */
import { describe, expect, it } from 'vitest';
import {
  SELF_HEAL_ANNOTATION,
  SYNC_ID_ANNOTATION,
} from '../../operator/agent/lifecycle/drift-policy.js';
import type { NodeEndpoint } from '../../operator/api/node-endpoint.js';
import { stampDriftPolicy } from '../../operator/daemon/drift-policy.js';
import type { Pod } from '../../operator/model/generated/types.js';
import type { AppRecord, InventoryEntry, SyncRecord } from '../../operator/store/store.js';

function pod(name: string, owner?: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      annotations: { keep: 'me' },
      ...(owner === undefined
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: 'v1',
                kind: 'ReplicationController',
                name: owner,
                uid: 'u',
                controller: true,
              },
            ],
          }),
    },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
  };
}

/** A store with two apps: `held` (selfHeal off: a bare pod and an RC) and `healed`. */
function fakeStore() {
  const apps: AppRecord[] = [
    {
      name: 'held',
      source: '/r/held',
      settings: { selfHeal: false },
      createdAt: '',
      updatedAt: '',
    },
    { name: 'healed', source: '/r/healed', settings: {}, createdAt: '', updatedAt: '' },
  ];
  const syncs: SyncRecord[] = [
    {
      id: 4,
      app: 'held',
      commit: 'c1',
      startedAt: '',
      outcome: 'succeeded',
      summary: { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 },
      message: '',
    },
  ];
  const inventories: Record<string, string[]> = {
    held: ['Pod/default/a', 'ReplicationController/default/workers'],
    healed: ['Pod/default/b'],
  };
  return {
    apps: () => apps,
    // The stamp reads only the keys of the inventory.
    inventory: (app: string) => (inventories[app] ?? []).map((key) => ({ key }) as InventoryEntry),
    syncHistory: (app: string) => syncs.filter((s) => s.app === app).reverse(),
    syncs,
    apps_: apps,
  };
}

function fakeEndpoint(): {
  endpoint: NodeEndpoint;
  assigned: Map<string, readonly Pod[]>;
  calls: number[];
} {
  const assigned = new Map<string, readonly Pod[]>();
  const calls = [0];
  const endpoint = {
    assign(node: string, pods: readonly Pod[]) {
      calls[0] = (calls[0] ?? 0) + 1;
      assigned.set(node, pods);
    },
  } as unknown as NodeEndpoint; // only assign is used by the stamp
  return { endpoint, assigned, calls };
}

describe('drift policy stamp', () => {
  it('stamps the pods of apps with selfHeal off, and only those', () => {
    const store = fakeStore();
    const { endpoint, assigned } = fakeEndpoint();
    const stamp = stampDriftPolicy(endpoint, store);
    const a = pod('a');
    const worker = pod('workers-x1', 'workers');
    const b = pod('b');
    stamp.endpoint.assign('n1', [a, worker, b]);
    const handed = assigned.get('n1')!;
    expect(handed[0]?.metadata.annotations).toEqual({
      keep: 'me',
      [SELF_HEAL_ANNOTATION]: 'false',
      [SYNC_ID_ANNOTATION]: '4',
    });
    expect(handed[1]?.metadata.annotations?.[SYNC_ID_ANNOTATION]).toBe('4');
    // Not of a held app: the very object the engine made.
    expect(handed[2]).toBe(b);
    // The engine's pods are never changed.
    expect(a.metadata.annotations).toEqual({ keep: 'me' });
  });

  it('hands the sets again after a new sync, and not when nothing changed', () => {
    const store = fakeStore();
    const { endpoint, assigned, calls } = fakeEndpoint();
    const stamp = stampDriftPolicy(endpoint, store);
    stamp.endpoint.assign('n1', [pod('a')]);
    stamp.endpoint.assign('n2', [pod('b')]);
    const before = calls[0];
    stamp.refresh();
    expect(calls[0]).toBe(before);

    store.syncs.push({ ...store.syncs[0]!, id: 9 });
    stamp.refresh();
    expect(calls[0]).toBe((before ?? 0) + 2);
    expect(assigned.get('n1')?.[0]?.metadata.annotations?.[SYNC_ID_ANNOTATION]).toBe('9');

    // selfHeal back on: handed without the stamp.
    (store.apps_[0] as { settings: unknown }).settings = { selfHeal: true };
    stamp.refresh();
    expect(assigned.get('n1')?.[0]?.metadata.annotations).toEqual({ keep: 'me' });
  });
});
