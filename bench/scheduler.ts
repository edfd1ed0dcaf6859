/**
 * Issue-4 benchmark: the batch scheduler places 100,000 pods onto 5,000 simulated nodes
 * (varied sizes and labels; controller-owned groups, some with a nodeSelector, some with a
 * host port). Baseline in the same run: the plain reference scheduler on a slice of the pods.
 */
import {
  isPlaced,
  type NodeInfo,
  type PodToPlace,
  schedule,
  scheduleReference,
} from '../operator/scheduler/index.js';
import { printVerdicts, time, type Verdict } from './harness.js';

const NODE_COUNT = 5_000;
const POD_COUNT = 100_000;
const REFERENCE_POD_COUNT = 1_000;
const TARGET_PER_SECOND = 200_000;
const MI = 1024 ** 2;

/** A small deterministic generator, so every run schedules the same cluster. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function pick<T>(next: () => number, items: readonly T[]): T {
  const item = items[Math.floor(next() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const DISKS = ['ssd', 'hdd'];

export function generateNodes(count: number): NodeInfo[] {
  const next = random(1);
  return Array.from({ length: count }, (_, i): NodeInfo => {
    const size = pick(next, [1, 2, 4, 8]);
    return {
      name: `node-${String(i).padStart(5, '0')}`,
      ready: next() > 0.01,
      labels: {
        zone: pick(next, ZONES),
        disk: pick(next, DISKS),
        ...(next() < 0.1 ? { gpu: 'true' } : {}),
      },
      allocatable: { cpuMillis: 4000 * size, memoryBytes: 8192 * MI * size },
      pods: [],
    };
  });
}

export function generatePods(count: number): PodToPlace[] {
  const next = random(2);
  const pods: PodToPlace[] = [];
  let group = 0;
  while (pods.length < count) {
    group += 1;
    const replicas = 1 + Math.floor(next() * 60);
    const owner = `default/ReplicationController/app-${group}`;
    const cpuMillis = pick(next, [100, 250, 500, 1000]);
    const memoryBytes = pick(next, [128, 256, 512, 1024]) * MI;
    const roll = next();
    const nodeSelector: Record<string, string> | undefined =
      roll < 0.15
        ? { zone: pick(next, ZONES) }
        : roll < 0.2
          ? { zone: pick(next, ZONES), disk: 'ssd' }
          : roll < 0.22
            ? { gpu: 'true' }
            : undefined;
    const hostPorts =
      next() < 0.03 ? [{ port: 8000 + (group % 50), protocol: 'TCP' as const, hostIP: '' }] : [];
    for (let r = 0; r < replicas && pods.length < count; r += 1) {
      pods.push({
        key: `default/app-${group}-${r}`,
        owner,
        cpuMillis,
        memoryBytes,
        hostPorts,
        ...(nodeSelector === undefined ? {} : { nodeSelector }),
      });
    }
  }
  return pods;
}

export async function benchScheduler(): Promise<Verdict[]> {
  const nodes = generateNodes(NODE_COUNT);
  const pods = generatePods(POD_COUNT);
  let placed = 0;
  const fast = await time(5, () => {
    placed = schedule(pods, nodes).filter(isPlaced).length;
  });
  const slice = pods.slice(0, REFERENCE_POD_COUNT);
  const reference = await time(3, () => scheduleReference(slice, nodes));
  const fastRate = POD_COUNT / (fast.medianMs / 1000);
  const referenceRate = REFERENCE_POD_COUNT / (reference.medianMs / 1000);
  const verdicts: Verdict[] = [
    {
      name: `schedule ${POD_COUNT} pods onto ${NODE_COUNT} nodes`,
      figure: `${Math.round(fastRate).toLocaleString('en')} placements/s (${placed} placed, ${fast.medianMs.toFixed(0)} ms; reference scheduler ${Math.round(referenceRate).toLocaleString('en')}/s, ${(fastRate / referenceRate).toFixed(0)}x)`,
      target: `≥ ${TARGET_PER_SECOND.toLocaleString('en')} placements/s`,
      met: fastRate >= TARGET_PER_SECOND,
    },
  ];
  printVerdicts('Scheduler', verdicts);
  return verdicts;
}
