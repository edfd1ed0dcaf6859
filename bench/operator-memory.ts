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
const TARGET_BYTES = 512 * 2 ** 20;

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

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export async function benchOperatorMemory(): Promise<Verdict[]> {
  const baseline = await child('baseline');
  const loaded = await child('pods');
  const perPod = (loaded.rssBytes - baseline.rssBytes) / loaded.pods;
  const heapPerPod = (loaded.heapUsedBytes - baseline.heapUsedBytes) / loaded.pods;
  const passes = [...loaded.passMs].sort((a, b) => a - b);
  const medianPass = passes[Math.floor(passes.length / 2)] ?? Number.NaN;
  const verdicts: Verdict[] = [
    {
      name: `operator RSS holding ${loaded.pods} pods (100 RCs x 100, 100 nodes)`,
      figure: `${mib(loaded.rssBytes)} (heap ${mib(loaded.heapUsedBytes)}); baseline without pods ${mib(baseline.rssBytes)} (heap ${mib(baseline.heapUsedBytes)}); ${(perPod / 1024).toFixed(1)} KiB RSS, ${(heapPerPod / 1024).toFixed(1)} KiB heap per pod`,
      target: 'RSS < 512 MiB (no number in the issue)',
      met: loaded.rssBytes < TARGET_BYTES,
    },
    {
      name: `one reconcile pass with ${loaded.pods} pods (store-backed state)`,
      figure: `median ${medianPass.toFixed(0)} ms of ${passes.length}, min ${(passes[0] ?? Number.NaN).toFixed(0)} ms; first sync ${loaded.syncMs.toFixed(0)} ms`,
      target: 'reported',
      met: true,
    },
  ];
  printVerdicts('operator memory', verdicts);
  return verdicts;
}
