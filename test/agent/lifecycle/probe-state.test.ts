import { describe, expect, it } from 'vitest';
import {
  initialProbeCounter,
  type ProbeCounter,
  probeSettings,
  recordProbeResult,
} from '../../../operator/agent/lifecycle/probe-state.js';

describe('probeSettings', () => {
  it('applies the Kubernetes defaults, 0 counting as unset', () => {
    expect(probeSettings({ exec: { command: ['true'] } })).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(
      probeSettings({
        initialDelaySeconds: 5,
        periodSeconds: 0,
        failureThreshold: 1,
        timeoutSeconds: 2,
      }),
    ).toMatchObject({
      initialDelayMs: 5_000,
      periodMs: 10_000,
      failureThreshold: 1,
      timeoutMs: 2_000,
    });
  });
});

function fold(counter: ProbeCounter, results: boolean[], success = 1, failure = 3): boolean[] {
  const settings = {
    initialDelayMs: 0,
    periodMs: 1,
    timeoutMs: 1,
    successThreshold: success,
    failureThreshold: failure,
  };
  const verdicts: boolean[] = [];
  let current = counter;
  for (const ok of results) {
    current = recordProbeResult(current, ok, settings);
    verdicts.push(current.passing);
  }
  return verdicts;
}

describe('recordProbeResult', () => {
  it('liveness passes until failureThreshold failures in a row', () => {
    expect(initialProbeCounter('liveness').passing).toBe(true);
    expect(
      fold(initialProbeCounter('liveness'), [false, false, true, false, false, false]),
    ).toEqual([true, true, true, true, true, false]);
  });

  it('readiness fails until successThreshold successes in a row, then flips back on failures', () => {
    expect(initialProbeCounter('readiness').passing).toBe(false);
    expect(
      fold(initialProbeCounter('readiness'), [true, false, true, true, false, false], 2, 2),
    ).toEqual([false, false, false, true, true, false]);
  });
});
