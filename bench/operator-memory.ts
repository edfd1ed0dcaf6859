/**
 * Issue-4 benchmark: the operator's resident memory holding 10,000 pods (100 RCs x 100
 * replicas on 100 fake nodes that report every pod Running), against the same child process
 * that loads the same modules, opens the store and registers the nodes but syncs nothing.
 * Each side runs in a fresh child (bench/operator-memory-child.ts) so neither inherits the
 * other's heap.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { printVerdicts, type Verdict } from './harness.js';
import type { ChildReport } from './operator-memory-child.js';

const CHILD = fileURLToPath(new URL('./operator-memory-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// Issue 4: operator memory with 10,000 pods tracked under 300 MB RSS.
const TARGET_BYTES = 300 * 10 ** 6;
/** Issue 4: a pass over 10,000 pods where nothing changed, and one where little did. */
const NO_CHANGE_TARGET_MS = 100;
const SOME_CHANGE_TARGET_MS = 200;

const run = promisify(execFile);

async function child(mode: ChildReport['mode']): Promise<ChildReport> {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, mode], {
    cwd: REPO_ROOT,
    timeout: 300_000,
    maxBuffer: 1 << 20,
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ChildReport;
}

function timing(samples: readonly number[]): { median: number; text: string } {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const min = sorted[0] ?? Number.NaN;
  return {
    median,
    text: `median ${median.toFixed(0)} ms of ${sorted.length}, min ${min.toFixed(0)} ms`,
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export async function benchOperatorMemory(): Promise<Verdict[]> {
  const baseline = await child('baseline');
  const loaded = await child('pods');
  const perPod = (loaded.rssBytes - baseline.rssBytes) / loaded.pods;
  const heapPerPod = (loaded.heapUsedBytes - baseline.heapUsedBytes) / loaded.pods;
  const noChange = timing(loaded.passMs);
  const statusChange = timing(loaded.statusPassMs);
  const scale = timing(loaded.scalePassMs);
  const verdicts: Verdict[] = [
    {
      name: `operator RSS holding ${loaded.pods} pods (100 RCs x 100, 100 nodes)`,
      figure: `${mib(loaded.rssBytes)} (heap ${mib(loaded.heapUsedBytes)}); baseline without pods ${mib(baseline.rssBytes)} (heap ${mib(baseline.heapUsedBytes)}); ${(perPod / 1024).toFixed(1)} KiB RSS, ${(heapPerPod / 1024).toFixed(1)} KiB heap per pod`,
      target: 'RSS < 300 MB',
      met: loaded.rssBytes < TARGET_BYTES,
    },
    {
      name: `reconcile pass with ${loaded.pods} pods, nothing changed (store-backed state)`,
      figure: `${noChange.text}; first sync ${loaded.syncMs.toFixed(0)} ms, first pass after the status reports ${loaded.firstPassMs.toFixed(0)} ms`,
      target: `median < ${NO_CHANGE_TARGET_MS} ms`,
      met: noChange.median < NO_CHANGE_TARGET_MS,
    },
    {
      name: 'pass after every node reports again with 1% of pods in a new status',
      figure: statusChange.text,
      target: `median < ${SOME_CHANGE_TARGET_MS} ms`,
      met: statusChange.median < SOME_CHANGE_TARGET_MS,
    },
    {
      name: 'sync (one pass) that scales one RC by 10 replicas',
      figure: scale.text,
      target: `median < ${SOME_CHANGE_TARGET_MS} ms`,
      met: scale.median < SOME_CHANGE_TARGET_MS,
    },
  ];
  printVerdicts('operator memory', verdicts);
  return verdicts;
}
