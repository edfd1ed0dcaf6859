/**
 * Safety of the planner over random sources, live states and inventories: objects outside the
 * inventory are never acted on, only inventory objects that left git are deleted, every desired
 * object is accounted for once, and the order is services, then controllers and pods, then
 * deletions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlanRefusal, planChanges, refKey } from '../../operator/plan/plan.js';
import { applied, pod, rc, service, want } from './objects.js';

const names = ['a', 'b', 'c', 'd', 'e', 'f'];
const entry = fc.record({
  kind: fc.constantFrom('Pod', 'ReplicationController', 'Service'),
  name: fc.constantFrom(...names),
  image: fc.constantFrom('nginx:1.24', 'nginx:1.25'),
  inGit: fc.boolean(),
  live: fc.boolean(),
  liveImage: fc.constantFrom('nginx:1.24', 'nginx:1.25'),
  inInventory: fc.boolean(),
  keep: fc.boolean(),
});

function build(kind: string, name: string, image: string) {
  if (kind === 'Pod') return pod(name, image);
  if (kind === 'ReplicationController') return rc(name, image);
  return service(name, image === 'nginx:1.24' ? 80 : 8080);
}

describe('planChanges (property)', () => {
  it('acts only on the inventory, accounts for every desired object, keeps the order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => `${e.kind}/${e.name}`, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (entries, prune, allowEmpty) => {
          const desired = entries
            .filter((e) => e.inGit)
            .map((e) => want(build(e.kind, e.name, e.image)));
          const live = entries
            .filter((e) => e.live)
            .map((e, i) => {
              const object = build(e.kind, e.name, e.liveImage);
              if (e.keep) object.metadata.annotations = { 'berth.io/prune': 'disabled' };
              return applied(object, i);
            });
          const inventory = new Set(
            entries.filter((e) => e.inInventory).map((e) => `${e.kind}/default/${e.name}`),
          );
          const result = planChanges(desired, live, inventory, { prune, allowEmpty });
          if (isPlanRefusal(result)) {
            expect(allowEmpty).toBe(false);
            expect(desired).toEqual([]);
            for (const ref of result.deletions) expect(inventory.has(refKey(ref))).toBe(true);
            return;
          }
          const liveKeys = new Set(
            entries.filter((e) => e.live).map((e) => `${e.kind}/default/${e.name}`),
          );
          for (const change of result.changes) {
            const key = refKey(change.ref);
            // Anything that exists live and is touched belongs to the inventory.
            if (liveKeys.has(key) && change.action !== 'unchanged') {
              expect(inventory.has(key)).toBe(true);
            }
            if (change.action === 'delete') {
              const e = entries.find((x) => `${x.kind}/default/${x.name}` === key);
              expect(e?.inGit).toBe(false);
              expect(e?.keep).toBe(false);
              expect(prune).toBe(true);
            }
          }
          const accounted = [
            ...result.changes.filter((c) => c.action !== 'delete' && c.desired !== undefined),
            ...(result.conflicts ?? []),
          ].map((c) => refKey(c.ref));
          expect(accounted.sort()).toEqual(
            desired.map((d) => `${d.kind}/default/${d.object.metadata.name}`).sort(),
          );
          const rank = result.changes.map((c) =>
            c.action === 'delete'
              ? 3
              : c.ref.kind === 'Service'
                ? 0
                : c.ref.kind === 'ReplicationController'
                  ? 1
                  : 2,
          );
          expect(rank).toEqual([...rank].sort((x, y) => x - y));
          const total = Object.values(result.summary).reduce((sum, n) => sum + n, 0);
          expect(total).toBe(result.changes.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
