/**
 * Run by crash.test.ts as a child process: writes batches to the store in a loop until killed,
 * printing each batch number once its writes are committed. Argument: the data dir.
 */
import type { ObjectRef } from '../../operator/plan/types.js';
import { openStore } from '../../operator/store/index.js';

const INVENTORY_SIZE = 20;
const ASSIGNMENT_COUNT = 10;
const APP = 'crash';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: crash-writer <data dir>');
const store = openStore(dataDir);

function batchOf(value: unknown): number {
  return (value as { batch: number }).batch;
}

const current = store.inventory(APP)[0];
let batch = current === undefined ? 0 : batchOf(current.applied);
// A large payload makes each transaction span several pages, so a kill can land inside one.
const padding = 'x'.repeat(2000);

for (;;) {
  batch += 1;
  const at = new Date(0).toISOString();
  const objects = Array.from({ length: INVENTORY_SIZE }, (_, index) => ({
    ref: { kind: 'Pod', namespace: 'default', name: `pod-${index}` } satisfies ObjectRef,
    applied: { batch, index, padding },
  }));
  store.replaceInventory(APP, objects, at);
  store.putAssignments(
    Array.from({ length: ASSIGNMENT_COUNT }, (_, index) => ({
      podKey: `default/pod-${index}`,
      node: `node-${(batch + index) % 3}`,
      pod: { batch, padding },
    })),
  );
  const id = store.startSync(APP, `commit-${batch}`, at);
  store.finishSync(id, {
    finishedAt: at,
    outcome: 'succeeded',
    summary: { create: batch, update: 0, replace: 0, delete: 0, unchanged: 0 },
  });
  process.stdout.write(`${batch}\n`);
}
