import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/agent/lifecycle/clock.js';

describe('ManualClock', () => {
  it('fires due timers in time order, at their own time, and not cancelled ones', () => {
    const clock = new ManualClock(1_000);
    const fired: [string, number][] = [];
    clock.setTimer(() => fired.push(['b', clock.now()]), 200);
    clock.setTimer(() => fired.push(['a', clock.now()]), 100);
    const cancel = clock.setTimer(() => fired.push(['c', clock.now()]), 150);
    clock.setTimer(() => fired.push(['late', clock.now()]), 1_000);
    cancel();
    clock.advance(500);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_200],
    ]);
    expect(clock.now()).toBe(1_500);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('fires a timer set by a timer when it falls due within the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimer(() => {
      fired.push(clock.now());
      clock.setTimer(() => fired.push(clock.now()), 10);
    }, 10);
    clock.advance(25);
    expect(fired).toEqual([10, 20]);
  });
});
