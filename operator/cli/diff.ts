/**
 * `berth diff SOURCE`: what a sync of SOURCE would change in what the operator runs now, as
 * unified diffs of each object or as JSON. Read-only: the operator is read (a running
 * `berth serve`, else the store in the data dir), nothing is changed.
 * `berth diff SOURCE --from REF --to REF` compares two commits instead, the objects at `--from`
 * standing in for live state, as if all of it were running and owned by berth.
 */
import { parseArgs } from 'node:util';
import { planHasChanges, planToJson, renderPlanText } from '../diff/render.js';
import { loadManifests } from '../manifests/load.js';
import type { ManifestObject } from '../manifests/types.js';
import { BerthError } from '../model/errors.js';
import { formatProblem, type Problem } from '../model/problem.js';
import { checkAppName, defaultAppName } from '../operator/sync-app.js';
import { isPlanRefusal, type LiveObject, planChanges, refKey, refOf } from '../plan/plan.js';
import type { Plan, PlannedObject, PlanRefusal } from '../plan/types.js';
import { sourceIdentity } from './apply.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { OPERATOR_FLAGS, OPERATOR_FLAGS_HELP, readOperator } from './operator-flags.js';
import { openSourceFromFlags, SOURCE_FLAGS_HELP, sourceOptions } from './source-flags.js';

export const DIFF_HELP = `Usage: berth diff SOURCE [--ref REF] [--path PATH] [--app NAME] [-o text|json]
       berth diff SOURCE --from REF --to REF [--path PATH] [-o text|json]

Show what a sync would create, update, replace or delete: for each changing object a unified
diff of its manifest as YAML (live → desired), then a summary line. Nothing is changed.

The first form compares SOURCE with what the operator runs for its app: the app's objects as
last applied are live; objects of other apps with the same names are left alone (a note on
stderr says so).
${SOURCE_FLAGS_HELP}
      --app NAME          the app SOURCE is applied as (@default the name of its folder or
                          repository, as berth apply names it)

${OPERATOR_FLAGS_HELP}

The second form needs no operator: it compares two commits of a git SOURCE, the objects at
--from standing in for what runs (as if berth owned all of them).
      --from REF          branch, tag or commit taken as the live state
      --to REF            branch, tag or commit taken as the desired state

  -o, --output FORMAT     text or json (@default text); text is coloured on a terminal
                          unless NO_COLOR is set

Exit status: 0 in sync, 1 differences, 2 invalid manifests or an error.`;

/** Computes the plan from the objects at `--to` (desired) and at `--from` (standing for live). */
export type Planner = (
  desired: readonly ManifestObject[],
  live: readonly ManifestObject[],
) => Plan | PlanRefusal;

export interface DiffDeps {
  /** The two-commit planner. */
  readonly plan: Planner;
  /** The clock (ms) for reading the operator's node readiness. @default Date.now */
  readonly now?: () => number;
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
      ...sourceOptions,
      ...OPERATOR_FLAGS,
      app: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
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
    return diffLive(positionals[0]!, { ...values, output }, io, deps.now?.() ?? Date.now());
  }
  if (from === undefined || to === undefined) {
    throw new BerthError('CLI_USAGE', 'berth diff needs both --from and --to', {
      hint: 'berth diff SOURCE --from v1 --to main',
    });
  }
  if (values.ref !== undefined) {
    throw new BerthError('CLI_USAGE', '--ref does not go with --from and --to', {
      hint: 'compare two commits with --from REF --to REF, or SOURCE at --ref with live state',
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

  const plan = deps.plan(desired.objects, live.objects);
  if (isPlanRefusal(plan)) {
    writeLine(io.stderr, `berth: ${plan.message}`);
    return EXIT.error;
  }
  const changed = planHasChanges(plan);
  if (output === 'json') {
    const report = {
      from: { ref: from, commit: live.commit ?? null },
      to: { ref: to, commit: desired.commit ?? null },
      ...planToJson(plan),
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

/**
 * The two-commit comparison: every object at `--from` counts as live and made by berth for
 * this source, so objects missing at `--to` are deleted. A plan deleting everything is shown,
 * not refused: nothing is carried out.
 */
export function planTwoCommits(
  desired: readonly ManifestObject[],
  live: readonly ManifestObject[],
): Plan | PlanRefusal {
  const inventory = new Set(live.map((o) => refKey(refOf(o.kind, o.object))));
  return planChanges(desired, live, inventory, { prune: true, allowEmpty: true });
}

interface LiveFlagValues {
  ref?: string | undefined;
  path?: string | undefined;
  'cache-dir'?: string | undefined;
  app?: string | undefined;
  server?: string | undefined;
  token?: string | undefined;
  'data-dir'?: string | undefined;
  output: 'text' | 'json';
}

/**
 * SOURCE against what the operator runs: desired is the source, live is every app's inventory
 * (as last applied), and only this app's objects may change. Never refused: a plan that
 * empties the app is shown with a warning, as apply would refuse it.
 */
async function diffLive(
  location: string,
  values: LiveFlagValues,
  io: CliIo,
  now: number,
): Promise<number> {
  const app = values.app ?? defaultAppName(location, values.path);
  checkAppName(app);
  const snapshot = await openSourceFromFlags(location, values, io);
  const set = await loadManifests(snapshot.files);
  const problems = [...snapshot.problems, ...set.problems];
  if (problems.length > 0) {
    for (const problem of problems) writeLine(io.stderr, formatProblem(problem));
    const word = problems.length === 1 ? 'problem' : 'problems';
    writeLine(io.stderr, `invalid: ${problems.length} ${word}; nothing compared`);
    return EXIT.error;
  }

  const readout = await readOperator(values, io, now);
  const ours = readout.apps.find((other) => other.name === app)?.objects ?? [];
  const inventory = new Set(ours.map((entry) => entry.key));
  // Live is every app's objects; where two apps name one object, this app's record counts.
  const live: LiveObject[] = [];
  const owners = new Map<string, string>();
  for (const other of [{ name: app, objects: ours }, ...readout.apps]) {
    for (const entry of other.objects) {
      if (owners.has(entry.key)) continue;
      owners.set(entry.key, other.name);
      // The store keeps each object as the engine applied it: a manifest object of its kind.
      live.push({ kind: entry.ref.kind, object: entry.applied as PlannedObject });
    }
  }
  const plan = planChanges(set.objects, live, inventory, { prune: true, allowEmpty: true });
  if (isPlanRefusal(plan)) {
    // allowEmpty is set: the planner does not refuse; kept for the type.
    writeLine(io.stderr, `berth: ${plan.message}`);
    return EXIT.error;
  }

  for (const conflict of plan.conflicts ?? []) {
    const owner = owners.get(refKey(conflict.ref));
    const of = owner === undefined ? '' : ` (it is app ${owner}'s)`;
    writeLine(io.stderr, `note: ${conflict.reason}${of}`);
  }
  const deletions = plan.changes.filter((change) => change.action === 'delete').length;
  if (set.objects.length === 0 && deletions > 0 && deletions === ours.length) {
    writeLine(
      io.stderr,
      `warning: this deletes all ${deletions} objects of app ${app} and the source has none; berth apply refuses that without --allow-empty (is the path or ref right?)`,
    );
  }

  if (values.output === 'json') {
    const report = {
      app,
      source: sourceIdentity(location, values.path, io.cwd),
      commit: snapshot.commit ?? null,
      ...planToJson(plan),
    };
    writeLine(io.stdout, JSON.stringify(report, null, 2));
  } else {
    const color = io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
    // Conflicts went to stderr as notes: stdout is the diff.
    io.stdout.write(renderPlanText({ ...plan, conflicts: [] }, { color }));
  }
  return planHasChanges(plan) ? EXIT.differences : EXIT.ok;
}
