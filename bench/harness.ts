/**
 * Small timing helpers for `npm run bench`. Every figure is reported next to a baseline
 * measured in the same run, because the machines are shared and noisy: ratios travel,
 * absolute milliseconds do not.
 */
import { performance } from 'node:perf_hooks';

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

export async function time(runs: number, body: () => Promise<unknown> | unknown): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await body();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return {
    medianMs: samples[Math.floor(samples.length / 2)] ?? Number.NaN,
    minMs: samples[0] ?? Number.NaN,
    runs,
  };
}

export interface Verdict {
  readonly name: string;
  readonly figure: string;
  readonly target: string;
  readonly met: boolean;
}

export function printVerdicts(title: string, verdicts: readonly Verdict[]): void {
  console.log(`\n${title}`);
  const width = Math.max(...verdicts.map((v) => v.name.length));
  for (const v of verdicts) {
    console.log(
      `  ${v.met ? 'met ' : 'MISS'}  ${v.name.padEnd(width)}  ${v.figure}   (target ${v.target})`,
    );
  }
}

export const ms = (value: number): string => `${value.toFixed(1)} ms`;
