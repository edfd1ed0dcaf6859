/**
 * An app's `selfHeal` setting, carried to the agents: every pod of an app with selfHeal off is
 * handed to its node with `berth.io/self-heal: "false"` and `berth.io/sync-id` (the app's
 * newest successful sync). The agent then leaves drift made by hand as found (and reports it)
 * until a pod comes with another sync id: the app's next sync (a new commit, `berth app sync`)
 * puts the drift back. Pods of apps with selfHeal on (the default) are handed as the engine
 * made them.
 *
 * The stamp is put on at the node endpoint, on the pods handed out, never on what the engine
 * stores or plans: the setting is no part of the pods' desired state and changes no spec hash.
 */
import { SELF_HEAL_ANNOTATION, SYNC_ID_ANNOTATION } from '../agent/lifecycle/drift-policy.js';
import type { NodeEndpoint } from '../api/node-endpoint.js';
import type { Pod } from '../model/generated/types.js';
import type { Store } from '../store/store.js';
import { isPodOfApp } from './status.js';

/** Per app with selfHeal off: its inventory keys and the sync id its pods carry. */
interface HeldApp {
  readonly app: string;
  readonly keys: ReadonlySet<string>;
  readonly syncId: string;
}

export interface DriftPolicyStamp {
  /** The endpoint the engine hands pod sets to: pods of apps with selfHeal off get the stamp. */
  readonly endpoint: NodeEndpoint;
  /**
   * Reads the apps' settings and syncs again (after a sync, or a changed setting) and hands
   * the nodes their stamped sets anew when a stamp changed.
   */
  refresh(): void;
}

type DriftStore = Pick<Store, 'apps' | 'inventory' | 'syncHistory'>;

function heldApps(store: DriftStore): HeldApp[] {
  const held: HeldApp[] = [];
  for (const record of store.apps()) {
    const settings = record.settings as { readonly selfHeal?: unknown };
    if (settings.selfHeal !== false) continue;
    const synced = store.syncHistory(record.name, 50).find((sync) => sync.outcome === 'succeeded');
    held.push({
      app: record.name,
      keys: new Set(store.inventory(record.name).map((entry) => entry.key)),
      syncId: synced === undefined ? '' : String(synced.id),
    });
  }
  return held;
}

/** `pods` with the drift policy of their app; the same objects where nothing is stamped. */
export function stampPods(pods: readonly Pod[], held: readonly HeldApp[]): readonly Pod[] {
  if (held.length === 0) return pods;
  return pods.map((pod) => {
    const app = held.find((entry) => isPodOfApp(entry.keys, pod));
    if (app === undefined) return pod;
    return {
      ...pod,
      metadata: {
        ...pod.metadata,
        annotations: {
          ...(pod.metadata.annotations ?? {}),
          [SELF_HEAL_ANNOTATION]: 'false',
          [SYNC_ID_ANNOTATION]: app.syncId,
        },
      },
    };
  });
}

/** Wraps `endpoint` so that the pods handed to nodes carry their app's drift policy. */
export function stampDriftPolicy(endpoint: NodeEndpoint, store: DriftStore): DriftPolicyStamp {
  let held: HeldApp[] | undefined;
  let heldKey = '';
  /** The pods last given per node, as the engine made them. */
  const given = new Map<string, readonly Pod[]>();
  const current = (): HeldApp[] => {
    if (held === undefined) {
      held = heldApps(store);
      heldKey = keyOf(held);
    }
    return held;
  };
  const stamped: NodeEndpoint = {
    ...endpoint,
    assign(node, pods) {
      given.set(node, pods);
      endpoint.assign(node, stampPods(pods, current()));
    },
  };
  return {
    endpoint: stamped,
    refresh() {
      const next = heldApps(store);
      const key = keyOf(next);
      const before = heldKey;
      held = next;
      heldKey = key;
      if (key === before) return;
      for (const [node, pods] of given) endpoint.assign(node, stampPods(pods, next));
    },
  };
}

function keyOf(held: readonly HeldApp[]): string {
  return JSON.stringify(held.map((entry) => [entry.app, entry.syncId, [...entry.keys].sort()]));
}
