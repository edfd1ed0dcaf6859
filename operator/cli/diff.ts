/**
 * `berth diff SOURCE --from REF --to REF`: what would change between two commits, as unified
 * diffs of each object or as JSON. The commit `--from` stands in for live state, as if all of
 * it were running and owned by berth. Diffing against a running operator needs live state,
 * which comes with the operator process.
 */
import { parseArgs } from 'node:util';
import { planHasChanges, planToJson, renderPlanText } from '../diff/render.js';
import { loadManifests } from '../manifests/load.js';
import type { ManifestObject } from '../manifests/types.js';
import { BerthError } from '../model/errors.js';
import { formatProblem, type Problem } from '../model/problem.js';
import type {
  Change,
  ChangeAction,
  ObjectRef,
  Plan,
  PlannedKind,
  PlannedObject,
  PlanSummary,
} from '../plan/types.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { openSourceFromFlags } from './source-flags.js';

export const DIFF_HELP = `Usage: berth diff SOURCE --from REF --to REF [--path PATH] [-o text|json]

Show what a sync would create, update, replace or delete: for each changing object a unified
diff of its manifest as YAML (live → desired), then a summary line.

Without a running operator there is no live state: --from and --to compare two commits of a
git SOURCE, the objects at --from standing in for what runs (as if berth owned all of them).
      --from REF          branch, tag or commit taken as the live state
      --to REF            branch, tag or commit taken as the desired state
      --path PATH         only read manifests below this folder of the source
      --cache-dir DIR     where URL sources are fetched (@default ~/.cache/berth/sources,
                          or $BERTH_CACHE_DIR)
  -o, --output FORMAT     text or json (@default text); text is coloured on a terminal
                          unless NO_COLOR is set

Exit status: 0 in sync, 1 differences, 2 invalid manifests or an error.`;

/** Computes the plan from desired objects and (normalized) live objects. */
export type Planner = (desired: readonly ManifestObject[], live: readonly PlannedObject[]) => Plan;

export interface DiffDeps {
  readonly plan: Planner;
}

export async function runDiff(
  argv: readonly string[],
  io: CliIo,
  deps: DiffDeps = { plan: planTwoCommits },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      path: { type: 'string' },
      'cache-dir': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, DIFF_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new BerthError('CLI_USAGE', 'berth diff takes exactly one SOURCE', {
      hint: 'berth diff guestbook/ --from v1 --to main   (see berth diff --help)',
    });
  }
  const output = values.output;
  if (output !== 'text' && output !== 'json') {
    throw new BerthError('CLI_USAGE', `unknown output format "${output}"`, {
      hint: 'use -o text or -o json',
    });
  }
  const from = values.from;
  const to = values.to;
  if (from === undefined && to === undefined) {
    throw new BerthError(
      'CLI_USAGE',
      'berth diff against live state needs a running operator, which this version does not have yet',
      { hint: 'compare two commits instead: berth diff SOURCE --from REF --to REF' },
    );
  }
  if (from === undefined || to === undefined) {
    throw new BerthError('CLI_USAGE', 'berth diff needs both --from and --to', {
      hint: 'berth diff SOURCE --from v1 --to main',
    });
  }
  const location = positionals[0]!;
  const flags = { path: values.path, 'cache-dir': values['cache-dir'] };
  const live = await loadAt(location, { ...flags, ref: from }, io);
  const desired = await loadAt(location, { ...flags, ref: to }, io);

  const invalid = [
    ...live.problems.map((problem) => ({ ref: from, problem })),
    ...desired.problems.map((problem) => ({ ref: to, problem })),
  ];
  if (invalid.length > 0) {
    for (const { ref, problem } of invalid) {
      writeLine(io.stderr, `${ref}: ${formatProblem(problem)}`);
    }
    const word = invalid.length === 1 ? 'problem' : 'problems';
    writeLine(io.stderr, `invalid: ${invalid.length} ${word}; nothing compared`);
    return EXIT.error;
  }

  const plan = deps.plan(
    desired.objects,
    live.objects.map((o) => o.object),
  );
  const changed = planHasChanges(plan);
  if (output === 'json') {
    const report = {
      from: { ref: from, commit: live.commit ?? null },
      to: { ref: to, commit: desired.commit ?? null },
      ...(planToJson(plan) as object),
    };
    writeLine(io.stdout, JSON.stringify(report, null, 2));
  } else {
    const color = io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
    io.stdout.write(renderPlanText(plan, { color }));
  }
  return changed ? EXIT.differences : EXIT.ok;
}

interface LoadedCommit {
  readonly commit: string | undefined;
  readonly objects: readonly ManifestObject[];
  readonly problems: readonly Problem[];
}

async function loadAt(
  location: string,
  flags: { ref: string; path: string | undefined; 'cache-dir': string | undefined },
  io: CliIo,
): Promise<LoadedCommit> {
  const snapshot = await openSourceFromFlags(location, flags, io);
  const set = await loadManifests(snapshot.files);
  return {
    commit: snapshot.commit,
    objects: set.objects,
    problems: [...snapshot.problems, ...set.problems],
  };
}

// ---------------------------------------------------------------------------------------------
// The two-commit comparison (no live state). Both sides are validated, defaulted manifests, so
// they compare field by field without normalizing live-only fields away.
// ---------------------------------------------------------------------------------------------

const KIND_ORDER: Record<PlannedKind, number> = { Service: 0, ReplicationController: 1, Pod: 2 };

function refOf(kind: PlannedKind, object: PlannedObject): ObjectRef {
  return {
    kind,
    namespace: object.metadata?.namespace ?? 'default',
    name: object.metadata?.name ?? '',
  };
}

function keyOf(ref: ObjectRef): string {
  return `${ref.kind}\u0000${ref.namespace}\u0000${ref.name}`;
}

/** Code-unit order, the same under every locale (output is compared to golden files). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function kindOf(object: PlannedObject): PlannedKind {
  // Every PlannedObject is a validated manifest, whose kind is one of the three.
  return object.kind as PlannedKind;
}

/** One changed leaf: where, and its values on each side (undefined when absent). */
interface FieldChange {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldChanges(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      fieldChanges(before[key], after[key], path === '' ? key : `${path}.${key}`, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, index) => {
      fieldChanges(item, after[index], `${path}[${index}]`, out);
    });
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out.push({ path, before, after });
}

function describeValue(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  return Array.isArray(value) ? `${value.length} items` : '{…}';
}

/** "spec.replicas 3 → 5, metadata.labels.tier changed" (at most three fields named). */
function describeFieldChanges(changes: readonly FieldChange[]): string {
  const shown = changes.slice(0, 3).map(({ path, before, after }) => {
    const scalar = (v: unknown) => v === undefined || v === null || typeof v !== 'object';
    return scalar(before) && scalar(after)
      ? `${path} ${describeValue(before)} → ${describeValue(after)}`
      : `${path} changed`;
  });
  const more = changes.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/**
 * Fields whose change the Kubernetes v1 API refuses on an existing object, so the object is
 * deleted and created again: a pod's spec beyond its container images and deadline, a
 * service's cluster IP once set.
 */
function needsReplace(kind: PlannedKind, changes: readonly FieldChange[]): boolean {
  return changes.some(({ path, before }) => {
    if (kind === 'Pod') {
      if (!path.startsWith('spec.')) return false;
      return (
        !/^spec\.(containers|initContainers)\[\d+\]\.image$/.test(path) &&
        path !== 'spec.activeDeadlineSeconds'
      );
    }
    if (kind === 'Service')
      return path === 'spec.clusterIP' && before !== undefined && before !== '';
    return false;
  });
}

/**
 * The two-commit comparison `berth diff --from --to` uses: every object of `live` (the
 * `--from` commit) counts as owned, so objects missing from `desired` are deleted.
 */
export function planTwoCommits(
  desired: readonly ManifestObject[],
  live: readonly PlannedObject[],
): Plan {
  const liveByKey = new Map<string, PlannedObject>();
  for (const object of live) liveByKey.set(keyOf(refOf(kindOf(object), object)), object);
  const changes: Change[] = [];
  const seen = new Set<string>();
  for (const manifest of desired) {
    const ref = refOf(manifest.kind, manifest.object);
    const key = keyOf(ref);
    seen.add(key);
    const before = liveByKey.get(key);
    const origin = manifest.origin;
    const base = { ref, desired: manifest.object, origin };
    if (before === undefined) {
      changes.push({ ...base, action: 'create', reason: 'new in git' });
      continue;
    }
    const fields: FieldChange[] = [];
    fieldChanges(before, manifest.object, '', fields);
    const action: ChangeAction =
      fields.length === 0 ? 'unchanged' : needsReplace(ref.kind, fields) ? 'replace' : 'update';
    const reason =
      action === 'replace'
        ? `${describeFieldChanges(fields)}; not changeable in place`
        : describeFieldChanges(fields);
    changes.push({ ...base, live: before, action, reason });
  }
  for (const object of live) {
    const ref = refOf(kindOf(object), object);
    if (seen.has(keyOf(ref))) continue;
    changes.push({ action: 'delete', ref, live: object, reason: 'left git' });
  }
  const rank = (change: Change) =>
    (change.action === 'delete' ? 3 : 0) + KIND_ORDER[change.ref.kind];
  changes.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      compareText(a.ref.namespace, b.ref.namespace) ||
      compareText(a.ref.name, b.ref.name),
  );
  const summary: PlanSummary = {
    create: changes.filter((c) => c.action === 'create').length,
    update: changes.filter((c) => c.action === 'update').length,
    replace: changes.filter((c) => c.action === 'replace').length,
    delete: changes.filter((c) => c.action === 'delete').length,
    unchanged: changes.filter((c) => c.action === 'unchanged').length,
  };
  return { changes, summary };
}
