/**
 * Renders a Plan for people (unified diffs of each changing object as YAML, then a summary
 * line) and for machines (JSON). Pure: plan in, text out; whether to colour is the caller's
 * decision (it knows whether stdout is a terminal).
 */
import { type StructuredPatchHunk, structuredPatch } from 'diff';
import { stringify } from 'yaml';
import type {
  Change,
  ChangeAction,
  ObjectRef,
  Plan,
  PlannedKind,
  PlanSummary,
} from '../plan/types.js';

export interface RenderOptions {
  /** ANSI colours: red `-`, green `+`, cyan headers. Only for a terminal. */
  readonly color: boolean;
  /** Unchanged lines kept around each change in an update (@default 3). */
  readonly context?: number;
}

const ANSI = { red: '\u001b[31m', green: '\u001b[32m', cyan: '\u001b[36m', reset: '\u001b[0m' };

type Paint = (text: string, colour: keyof typeof ANSI) => string;

function painter(color: boolean): Paint {
  return color ? (text, colour) => `${ANSI[colour]}${text}${ANSI.reset}` : (text) => text;
}

const KIND_NAMES: Record<PlannedKind, string> = {
  Pod: 'pod',
  ReplicationController: 'replicationcontroller',
  Service: 'service',
};

/** Marks in front of a change's header, as plan tools mark them. */
const ACTION_MARKS: Record<Exclude<ChangeAction, 'unchanged'>, string> = {
  create: '+',
  update: '~',
  replace: '-/+',
  delete: '-',
};

/** `replicationcontroller/frontend`, with ` in NAMESPACE` outside the default namespace. */
export function formatRef(ref: ObjectRef): string {
  const base = `${KIND_NAMES[ref.kind]}/${ref.name}`;
  return ref.namespace === 'default' ? base : `${base} in ${ref.namespace}`;
}

/** `~ replicationcontroller/frontend (update: spec.replicas 3 → 5)` */
export function formatChangeHeader(change: Change): string {
  if (change.action === 'unchanged') return `= ${formatRef(change.ref)} (unchanged)`;
  const reason = change.reason === '' ? '' : `: ${change.reason}`;
  return `${ACTION_MARKS[change.action]} ${formatRef(change.ref)} (${change.action}${reason})`;
}

/** An object as YAML with every map's keys sorted, so equal objects print equal text. */
export function toSortedYaml(object: unknown): string {
  if (object === undefined) return '';
  return stringify(object, { sortMapEntries: true, lineWidth: 0 });
}

/** The unified diff lines (hunk headers included) from `live` to `desired` of one change. */
export function renderChangeDiff(change: Change, options: RenderOptions): string[] {
  const paint = painter(options.color);
  const before = toSortedYaml(change.live);
  const after = toSortedYaml(change.desired);
  // Creations and deletions show the whole object; updates show the changed region.
  const whole = change.live === undefined || change.desired === undefined;
  const context = whole
    ? before.split('\n').length + after.split('\n').length
    : (options.context ?? 3);
  const patch = structuredPatch('live', 'desired', before, after, undefined, undefined, {
    context,
  });
  const lines: string[] = [];
  for (const hunk of patch.hunks) {
    lines.push(paint(hunkHeader(hunk), 'cyan'));
    for (const line of hunk.lines) {
      if (line.startsWith('\\')) continue; // "\ No newline at end of file": never for YAML text
      if (line.startsWith('+')) lines.push(paint(line, 'green'));
      else if (line.startsWith('-')) lines.push(paint(line, 'red'));
      else lines.push(line);
    }
  }
  return lines;
}

/** `@@ -6,7 +6,7 @@`; an empty side starts at line 0, as diff(1) and git print it. */
function hunkHeader(hunk: StructuredPatchHunk): string {
  const side = (start: number, count: number) => `${count === 0 ? start - 1 : start},${count}`;
  return `@@ -${side(hunk.oldStart, hunk.oldLines)} +${side(hunk.newStart, hunk.newLines)} @@`;
}

/** `3 to create, 1 to update, 0 to replace, 2 to delete`, or `in sync: 4 objects`. */
export function formatSummary(summary: PlanSummary): string {
  const changing = summary.create + summary.update + summary.replace + summary.delete;
  if (changing === 0) {
    return `in sync: ${summary.unchanged} ${summary.unchanged === 1 ? 'object' : 'objects'}`;
  }
  return `${summary.create} to create, ${summary.update} to update, ${summary.replace} to replace, ${summary.delete} to delete`;
}

/** Whether carrying out the plan would change anything. */
export function planHasChanges(plan: Plan): boolean {
  return plan.changes.some((change) => change.action !== 'unchanged');
}

/**
 * The whole text rendering: each changing object's header and diff, then the objects the plan
 * leaves alone (one of that name is not berth's), then the summary.
 */
export function renderPlanText(plan: Plan, options: RenderOptions): string {
  const paint = painter(options.color);
  const lines: string[] = [];
  for (const change of plan.changes) {
    if (change.action === 'unchanged') continue;
    lines.push(paint(formatChangeHeader(change), 'cyan'));
    lines.push(...renderChangeDiff(change, options));
    lines.push('');
  }
  for (const conflict of plan.conflicts ?? []) {
    lines.push(paint(`! ${formatRef(conflict.ref)} (left alone: ${conflict.reason})`, 'red'));
  }
  if ((plan.conflicts ?? []).length > 0) lines.push('');
  lines.push(formatSummary(plan.summary));
  return `${lines.join('\n')}\n`;
}

/** The plan as data: every change (unchanged ones included) and the summary. */
export function planToJson(plan: Plan) {
  return {
    summary: plan.summary,
    conflicts: (plan.conflicts ?? []).map((conflict) => ({
      kind: conflict.ref.kind,
      namespace: conflict.ref.namespace,
      name: conflict.ref.name,
      reason: conflict.reason,
      origin: conflict.origin ?? null,
    })),
    changes: plan.changes.map((change) => ({
      action: change.action,
      kind: change.ref.kind,
      namespace: change.ref.namespace,
      name: change.ref.name,
      reason: change.reason,
      origin: change.origin ?? null,
      desired: change.desired ?? null,
      live: change.live ?? null,
    })),
  };
}
