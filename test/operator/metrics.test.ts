/**
 * The metrics registry, pure: the text format's escaping, counters, histogram buckets (each
 * counts every observation at or below its bound), gauges with one 1 per app, and the source
 * reader wrapper that times https opens only.
 */
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../operator/model/errors.js';
import {
  createOperatorMetrics,
  escapeLabelValue,
  measuredSourceReader,
  podPhaseOf,
} from '../../operator/operator/metrics.js';
import type { SourceReader, SourceSnapshot } from '../../operator/source/types.js';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('operator metrics', () => {
  it('escapes label values as the text format says', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('counts syncs by app and result, and fills histogram buckets cumulatively', () => {
    const metrics = createOperatorMetrics();
    metrics.syncFinished('shop', 'succeeded', 0.003);
    metrics.syncFinished('shop', 'succeeded', 0.2);
    metrics.syncFinished('we"b', 'failed', 7);
    metrics.webhookDelivery('accepted');
    metrics.reconcileFinished(0.001);
    const text = metrics.render({
      apps: [{ name: 'shop', sync: 'Synced', health: 'Degraded' }],
      podPhases: ['Running', 'Running', 'Pending', 'Weird'],
    });
    expect(sample(text, 'berth_syncs_total{app="shop",result="succeeded"}')).toBe(2);
    expect(sample(text, 'berth_syncs_total{app="we\\"b",result="failed"}')).toBe(1);
    expect(sample(text, 'berth_sync_duration_seconds_bucket{le="0.005"}')).toBe(1);
    expect(sample(text, 'berth_sync_duration_seconds_bucket{le="0.25"}')).toBe(2);
    expect(sample(text, 'berth_sync_duration_seconds_bucket{le="10"}')).toBe(3);
    expect(sample(text, 'berth_sync_duration_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(sample(text, 'berth_sync_duration_seconds_count')).toBe(3);
    expect(sample(text, 'berth_sync_duration_seconds_sum')).toBeCloseTo(7.203);
    expect(sample(text, 'berth_reconcile_duration_seconds_count')).toBe(1);
    expect(sample(text, 'berth_git_fetch_errors_total')).toBe(0);
    expect(sample(text, 'berth_webhook_deliveries_total{result="accepted"}')).toBe(1);
    expect(sample(text, 'berth_pods{phase="Running"}')).toBe(2);
    expect(sample(text, 'berth_pods{phase="Pending"}')).toBe(1);
    expect(sample(text, 'berth_pods{phase="Weird"}')).toBe(1);
    expect(sample(text, 'berth_app_health{app="shop",health="Degraded"}')).toBe(1);
    expect(sample(text, 'berth_app_health{app="shop",health="Healthy"}')).toBe(0);
    expect(sample(text, 'berth_app_sync_state{app="shop",state="Synced"}')).toBe(1);
  });

  it('reads a pod phase from stored JSON defensively', () => {
    expect(podPhaseOf({ status: { phase: 'Running' } })).toBe('Running');
    expect(podPhaseOf({ metadata: {} })).toBe('Pending');
    expect(podPhaseOf(null)).toBe('Unknown');
  });

  it('times opens of https sources only, counting failures but not a missing ref', async () => {
    const metrics = createOperatorMetrics();
    let fail: Error | undefined;
    const inner: SourceReader = {
      async open() {
        if (fail !== undefined) throw fail;
        return {
          kind: 'git',
          location: 'x',
          commit: 'c',
          files: [],
          problems: [],
        } as unknown as SourceSnapshot;
      },
    };
    let clock = 0;
    const reader = measuredSourceReader(inner, metrics, () => {
      clock += 250;
      return clock;
    });
    await reader.open({ location: '/srv/local' });
    await reader.open({ location: 'https://git.example/shop.git' });
    fail = new BerthError('SOURCE_REF_NOT_FOUND', 'gone');
    await expect(reader.open({ location: 'https://git.example/shop.git' })).rejects.toThrow('gone');
    fail = new BerthError('SOURCE_UNREACHABLE', 'down');
    await expect(reader.open({ location: 'https://git.example/shop.git' })).rejects.toThrow('down');
    const text = metrics.render({ apps: [], podPhases: [] });
    expect(sample(text, 'berth_git_fetch_duration_seconds_count')).toBe(3);
    expect(sample(text, 'berth_git_fetch_duration_seconds_sum')).toBeCloseTo(0.75);
    expect(sample(text, 'berth_git_fetch_errors_total')).toBe(1);
  });
});
