/**
 * Issue-2 benchmarks: cold load of a commit (read + parse + validate + default) against a
 * floor of native `git archive` plus JSON.parse of the same objects, and the reload after a
 * commit that changed one file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadManifests, ManifestCache } from '../operator/manifests/load.js';
import { createSourceReader } from '../operator/source/index.js';
import { ms, printVerdicts, time, type Verdict } from './harness.js';
import { commitOneChange, createManifestRepo, manifestText } from './manifest-repo.js';

const RUNS = 5;

async function coldAndFloor(
  root: string,
  count: number,
): Promise<{ coldMs: number; floorMs: number; repo: string }> {
  const repo = createManifestRepo(root, count);
  const jsonTexts: string[] = [];
  for (let i = 0; i < count; i += 1) {
    for (const doc of parseAllDocuments(manifestText(i))) {
      if (!('errors' in doc) || doc.errors.length === 0) jsonTexts.push(JSON.stringify(doc.toJS()));
    }
  }
  const floor = await time(RUNS, () => {
    execFileSync('git', ['archive', '--format=tar', 'HEAD'], { cwd: repo, maxBuffer: 1 << 30 });
    for (const text of jsonTexts) JSON.parse(text);
  });
  let objectCount = 0;
  const cold = await time(RUNS, async () => {
    const reader = createSourceReader();
    const snapshot = await reader.open({ location: repo, ref: 'HEAD' });
    const set = await loadManifests(snapshot.files, { cache: new ManifestCache() });
    if (set.problems.length > 0) throw new Error(`bench repo invalid: ${set.problems[0]?.message}`);
    objectCount = set.objects.length;
  });
  if (objectCount !== count) throw new Error(`expected ${count} objects, loaded ${objectCount}`);
  return { coldMs: cold.medianMs, floorMs: floor.medianMs, repo };
}

async function reload(repo: string, count: number): Promise<{ reloadMs: number; parsed: number }> {
  const reader = createSourceReader();
  const cache = new ManifestCache();
  await loadManifests((await reader.open({ location: repo, ref: 'HEAD' })).files, { cache });
  let generation = 1;
  let parsed = 0;
  const samples: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    commitOneChange(repo, (run * 37) % count, generation++);
    const t = await time(1, async () => {
      const snapshot = await reader.open({ location: repo, ref: 'HEAD' });
      const set = await loadManifests(snapshot.files, { cache });
      parsed = set.parsedCount;
      if (set.objects.length !== count) throw new Error('reload lost objects');
    });
    samples.push(t.medianMs);
  }
  samples.sort((a, b) => a - b);
  return { reloadMs: samples[Math.floor(samples.length / 2)] ?? Number.NaN, parsed };
}

export async function benchManifestLoad(): Promise<Verdict[]> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-load-'));
  try {
    const small = await coldAndFloor(root, 1_000);
    const large = await coldAndFloor(root, 10_000);
    const again = await reload(large.repo, 10_000);
    const ratio1k = small.coldMs / small.floorMs;
    const ratio10k = large.coldMs / large.floorMs;
    const verdicts: Verdict[] = [
      {
        name: 'cold load, 1,000 manifests',
        figure: `${ms(small.coldMs)} = ${ratio1k.toFixed(2)}x floor (${ms(small.floorMs)}: git archive + JSON.parse)`,
        target: '<= 10x floor',
        met: ratio1k <= 10,
      },
      {
        name: 'cold load, 10,000 manifests',
        figure: `${ms(large.coldMs)} = ${ratio10k.toFixed(2)}x floor (${ms(large.floorMs)})`,
        target: 'reported',
        met: true,
      },
      {
        name: 'reload after a one-file commit, 10,000 manifests',
        figure: `${ms(again.reloadMs)} (files parsed: ${again.parsed})`,
        target: '< 30 ms',
        met: again.reloadMs < 30 && again.parsed === 1,
      },
    ];
    printVerdicts('manifest load (median of 5)', verdicts);
    return verdicts;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
