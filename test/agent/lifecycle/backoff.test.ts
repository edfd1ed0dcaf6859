import { describe, expect, it } from 'vitest';
import {
  CRASH_LOOP_MAX_DELAY_MS,
  CRASH_LOOP_RESET_AFTER_MS,
  crashLoopDelayMs,
  INITIAL_BACKOFF,
  retryDelayMs,
  scheduleRestart,
} from '../../../operator/agent/lifecycle/backoff.js';

describe('crashLoopDelayMs', () => {
  it.each([
    [0, 0],
    [1, 10_000],
    [2, 20_000],
    [3, 40_000],
    [4, 80_000],
    [5, 160_000],
    [6, 300_000],
    [7, 300_000],
    [50, 300_000],
  ])('restart %i after a reset waits %i ms', (restarts, delay) => {
    expect(crashLoopDelayMs(restarts)).toBe(delay);
  });
});

describe('scheduleRestart', () => {
  it('follows 0, 10 s, 20 s, 40 s ... 5 min for a container that keeps crashing', () => {
    let state = INITIAL_BACKOFF;
    let now = 1_000_000;
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const scheduled = scheduleRestart(state, 1_000, now);
      delays.push(scheduled.delayMs);
      expect(scheduled.restartAtMs).toBe(now + scheduled.delayMs);
      state = scheduled.next;
      now = scheduled.restartAtMs + 1_000;
    }
    expect(delays).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });

  it('starts over after a container ran 10 min', () => {
    const deep = { restartsSinceReset: 6 };
    expect(scheduleRestart(deep, CRASH_LOOP_RESET_AFTER_MS, 0).delayMs).toBe(0);
    expect(scheduleRestart(deep, CRASH_LOOP_RESET_AFTER_MS, 0).next.restartsSinceReset).toBe(1);
    expect(scheduleRestart(deep, CRASH_LOOP_RESET_AFTER_MS - 1, 0).delayMs).toBe(
      CRASH_LOOP_MAX_DELAY_MS,
    );
  });

  it('keeps the schedule when the run time is unknown', () => {
    expect(scheduleRestart({ restartsSinceReset: 2 }, undefined, 5).restartAtMs).toBe(20_005);
  });
});

describe('retryDelayMs', () => {
  it('waits 1 s after a first failure, then 10 s doubling to 5 min', () => {
    expect([0, 1, 2, 3, 4, 8, 20].map(retryDelayMs)).toEqual([
      0, 1_000, 10_000, 20_000, 40_000, 300_000, 300_000,
    ]);
  });
});
