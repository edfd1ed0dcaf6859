/**
 * The operator's metrics in Prometheus' text exposition format (version 0.0.4), written by
 * hand: counters and histograms fed as things happen (syncs, git fetches, webhook deliveries,
 * reconcile passes), gauges read at scrape time (pods by phase, each app's sync and health
 * state). Label values are escaped as the format says; nothing else is exported.
 */
import type { AppStatus, HealthState, SyncState } from '../daemon/status.js';
import { isBerthError } from '../model/errors.js';
import type { SourceReader } from '../source/types.js';
import { hasUrlScheme } from '../source/url.js';

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds; Prometheus client libraries' defaults, plus longer ones for slow syncs and fetches. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

const SYNC_STATES: readonly SyncState[] = ['Synced', 'OutOfSync', 'Syncing', 'Failed'];
const HEALTH_STATES: readonly HealthState[] = ['Healthy', 'Progressing', 'Degraded', 'Missing'];
const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;

export type SyncResult = 'succeeded' | 'refused' | 'failed';

/** What the gauges are read from at scrape time. */
export interface MetricsSnapshot {
  /** Every app's status (the apps controller's). */
  readonly apps: readonly Pick<AppStatus, 'name' | 'sync' | 'health'>[];
  /** The phase of every pod the operator assigned (Pending when no agent reported it). */
  readonly podPhases: readonly string[];
}

export interface OperatorMetrics {
  syncFinished(app: string, result: SyncResult, seconds: number): void;
  reconcileFinished(seconds: number): void;
  gitFetchFinished(seconds: number, failed: boolean): void;
  webhookDelivery(result: string): void;
  /** The whole exposition: the fed metrics and the gauges of `snapshot`. */
  render(snapshot: MetricsSnapshot): string;
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

class Counter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Record<string, string> = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels, value: by });
    else entry.value += by;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    const entries = [...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // A counter without labels is shown from the start, at 0.
    if (entries.length === 0 && this.unlabelled) lines.push(`${this.name} 0`);
    for (const [key, { value }] of entries) lines.push(`${this.name}${key} ${numberText(value)}`);
    return lines;
  }
  unlabelled = false;
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = DURATION_BUCKETS,
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    for (let index = 0; index < this.buckets.length; index += 1) {
      if (value <= this.buckets[index]!) this.counts[index]! += 1;
    }
    this.sum += value;
    this.count += 1;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((bound, index) => {
      lines.push(`${this.name}_bucket{le="${numberText(bound)}"} ${this.counts[index] ?? 0}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${numberText(this.sum)}`);
    lines.push(`${this.name}_count ${this.count}`);
    return lines;
  }
}

function gauge(
  name: string,
  help: string,
  samples: readonly { labels: Record<string, string>; value: number }[],
): string[] {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...samples.map((sample) => `${name}${labelText(sample.labels)} ${numberText(sample.value)}`),
  ];
}

export function createOperatorMetrics(): OperatorMetrics {
  const syncs = new Counter('berth_syncs_total', 'Syncs of apps, by app and result.');
  const syncDuration = new Histogram(
    'berth_sync_duration_seconds',
    'Time a sync of an app took (plan, store and hand-out to the nodes).',
  );
  const reconcileDuration = new Histogram(
    'berth_reconcile_duration_seconds',
    'Time a reconcile pass over every app took.',
  );
  const fetchDuration = new Histogram(
    'berth_git_fetch_duration_seconds',
    'Time fetching and opening an https source at its ref took.',
  );
  const fetchErrors = new Counter(
    'berth_git_fetch_errors_total',
    'Fetches of https sources that failed.',
  );
  fetchErrors.unlabelled = true;
  const webhooks = new Counter(
    'berth_webhook_deliveries_total',
    'Webhook deliveries, by how they ended.',
  );

  return {
    syncFinished(app, result, seconds) {
      syncs.inc({ app, result });
      syncDuration.observe(seconds);
    },
    reconcileFinished(seconds) {
      reconcileDuration.observe(seconds);
    },
    gitFetchFinished(seconds, failed) {
      fetchDuration.observe(seconds);
      if (failed) fetchErrors.inc();
    },
    webhookDelivery(result) {
      webhooks.inc({ result });
    },
    render(snapshot) {
      const phases = new Map<string, number>(POD_PHASES.map((phase) => [phase, 0]));
      for (const phase of snapshot.podPhases) phases.set(phase, (phases.get(phase) ?? 0) + 1);
      const apps = [...snapshot.apps].sort((a, b) => (a.name < b.name ? -1 : 1));
      const lines = [
        ...syncs.render(),
        ...syncDuration.render(),
        ...reconcileDuration.render(),
        ...fetchDuration.render(),
        ...fetchErrors.render(),
        ...webhooks.render(),
        ...gauge(
          'berth_pods',
          'Pods the operator assigned, by phase.',
          [...phases].map(([phase, value]) => ({ labels: { phase }, value })),
        ),
        ...gauge(
          'berth_app_sync_state',
          "An app's sync state (1 for the current one).",
          apps.flatMap((app) =>
            SYNC_STATES.map((state) => ({
              labels: { app: app.name, state },
              value: app.sync === state ? 1 : 0,
            })),
          ),
        ),
        ...gauge(
          'berth_app_health',
          "An app's health (1 for the current one).",
          apps.flatMap((app) =>
            HEALTH_STATES.map((health) => ({
              labels: { app: app.name, health },
              value: app.health === health ? 1 : 0,
            })),
          ),
        ),
      ];
      return `${lines.join('\n')}\n`;
    },
  };
}

/** The phase of a stored pod assignment's pod: its reported phase, else Pending. */
export function podPhaseOf(pod: unknown): string {
  if (typeof pod !== 'object' || pod === null) return 'Unknown';
  const status = (pod as { status?: unknown }).status;
  if (typeof status !== 'object' || status === null) return 'Pending';
  const phase = (status as { phase?: unknown }).phase;
  return typeof phase === 'string' && phase !== '' ? phase : 'Pending';
}

/**
 * A reader that times every open of an https source (a fetch, then reading the commit) into
 * `berth_git_fetch_duration_seconds`; failures other than a missing ref go to
 * `berth_git_fetch_errors_total`.
 */
export function measuredSourceReader(
  reader: SourceReader,
  metrics: OperatorMetrics,
  now: () => number = () => performance.now(),
): SourceReader {
  return {
    async open(request) {
      if (!hasUrlScheme(request.location)) return reader.open(request);
      const started = now();
      try {
        const snapshot = await reader.open(request);
        metrics.gitFetchFinished((now() - started) / 1000, false);
        return snapshot;
      } catch (error) {
        const refGone = isBerthError(error) && error.code === 'SOURCE_REF_NOT_FOUND';
        metrics.gitFetchFinished((now() - started) / 1000, !refGone);
        throw error;
      }
    },
  };
}
