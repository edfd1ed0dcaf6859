/**
 * Kubernetes' CrashLoopBackOff, as a pure schedule: the first restart happens at once, then
 * each further one waits 10 s, doubling up to 5 min; a container that ran 10 min or more
 * before it exited starts the schedule over.
 */
export const CRASH_LOOP_INITIAL_DELAY_MS = 10_000;
export const CRASH_LOOP_MAX_DELAY_MS = 300_000;
/** Running this long before exiting resets the schedule. */
export const CRASH_LOOP_RESET_AFTER_MS = 600_000;

/** What the agent remembers between exits of one container. */
export interface BackoffState {
  /** Restarts since the schedule last started over. */
  readonly restartsSinceReset: number;
}

export const INITIAL_BACKOFF: BackoffState = { restartsSinceReset: 0 };

/** The wait before restart number `restartsSinceReset + 1` (0 for the first). */
export function crashLoopDelayMs(restartsSinceReset: number): number {
  if (restartsSinceReset <= 0) return 0;
  const doubled = CRASH_LOOP_INITIAL_DELAY_MS * 2 ** (restartsSinceReset - 1);
  return Math.min(doubled, CRASH_LOOP_MAX_DELAY_MS);
}

export interface ScheduledRestart {
  /** Earliest time (ms since epoch) the restart may happen. */
  readonly restartAtMs: number;
  readonly delayMs: number;
  /** The state to keep once this restart is scheduled. */
  readonly next: BackoffState;
}

/**
 * Schedules the restart after an exit seen at `exitSeenAtMs` of a container that ran for
 * `ranForMs` (undefined when unknown, e.g. it never started).
 */
export function scheduleRestart(
  state: BackoffState,
  ranForMs: number | undefined,
  exitSeenAtMs: number,
): ScheduledRestart {
  const restarts =
    ranForMs !== undefined && ranForMs >= CRASH_LOOP_RESET_AFTER_MS ? 0 : state.restartsSinceReset;
  const delayMs = crashLoopDelayMs(restarts);
  return {
    restartAtMs: exitSeenAtMs + delayMs,
    delayMs,
    next: { restartsSinceReset: restarts + 1 },
  };
}

/**
 * Wait before retrying a failed step (image pull, sandbox, volume) after `failures` failures
 * in a row: 1 s after the first (a transient failure stays cheap), then 10 s doubling to the
 * same 5 min cap as the crash loop.
 */
export function retryDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  if (failures === 1) return 1_000;
  return Math.min(CRASH_LOOP_INITIAL_DELAY_MS * 2 ** (failures - 2), CRASH_LOOP_MAX_DELAY_MS);
}
