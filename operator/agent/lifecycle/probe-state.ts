import { PROBE_DEFAULTS } from '../../manifests/defaults.js';
import type { Probe } from '../../model/generated/types.js';

/** Kubernetes' probe defaults (0 or missing counts as unset), the same the manifests get. */
export { PROBE_DEFAULTS };

export interface ProbeSettings {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}

export function probeSettings(probe: Probe): ProbeSettings {
  return {
    initialDelayMs: Math.max(0, probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: positive(probe.periodSeconds, PROBE_DEFAULTS.periodSeconds) * 1000,
    timeoutMs: positive(probe.timeoutSeconds, PROBE_DEFAULTS.timeoutSeconds) * 1000,
    successThreshold: positive(probe.successThreshold, PROBE_DEFAULTS.successThreshold),
    failureThreshold: positive(probe.failureThreshold, PROBE_DEFAULTS.failureThreshold),
  };
}

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

/** Consecutive results of one probe on one container, and what they add up to. */
export interface ProbeCounter {
  readonly successes: number;
  readonly failures: number;
  /**
   * Liveness starts passing (a container is alive until shown otherwise); readiness and
   * startup start failing.
   */
  readonly passing: boolean;
  readonly lastMessage: string | undefined;
}

export function initialProbeCounter(kind: ProbeKind): ProbeCounter {
  return { successes: 0, failures: 0, passing: kind === 'liveness', lastMessage: undefined };
}

/** Folds one probe result in: the verdict flips only after the threshold in a row. */
export function recordProbeResult(
  counter: ProbeCounter,
  ok: boolean,
  settings: ProbeSettings,
  message?: string,
): ProbeCounter {
  if (ok) {
    const successes = counter.successes + 1;
    return {
      successes,
      failures: 0,
      passing: counter.passing || successes >= settings.successThreshold,
      lastMessage: undefined,
    };
  }
  const failures = counter.failures + 1;
  return {
    successes: 0,
    failures,
    passing: counter.passing && failures < settings.failureThreshold,
    lastMessage: message,
  };
}
