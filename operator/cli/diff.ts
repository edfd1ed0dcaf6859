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
import { isPlanRefusal, planChanges, refKey, refOf } from '../plan/plan.js';
import type { Plan, PlanRefusal } from '../plan/types.js';
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

/** Computes the plan from the objects at `--to` (desired) and at `--from` (standing for live). */
export type Planner = (
  desired: readonly ManifestObject[],
  live: readonly ManifestObject[],
) => Plan | PlanRefusal;

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
