/**
 * `git push` as the way to deploy: what berth's git host asks before a push's refs move
 * (`checkPush`: the pushed manifests must validate, else the push is refused with each problem
 * as `file:line:col: ...` on the pusher's terminal) and what it does after (`onPushed`: a push
 * to a new name makes the app, the app's sync starts at once, and the pusher is told what the
 * sync will do and where to watch it).
 */
import type { PushCheck, PushedRef, PushVerdict } from '../gitserver/git-server.js';
import { isZeroSha } from '../gitserver/hooks.js';
import { readPushedFiles } from '../gitserver/pushed-files.js';
import { repoPathOf } from '../gitserver/repos.js';
import { loadManifests, type ManifestFile } from '../manifests/load.js';
import { formatProblem } from '../model/problem.js';
import { isPlanRefusal, type LiveObject, planChanges } from '../plan/plan.js';
import type { PlannedObject, PlanSummary } from '../plan/types.js';
import { gitBlobId } from '../source/directory.js';
import { isManifestName } from '../source/paths.js';
import type { SourceReader } from '../source/types.js';
import type { Store } from '../store/store.js';
import { type AppSettings, type AppsController, HOSTED_SCHEME } from './controller.js';
import { shortSha } from './status.js';

/** The branch a push ref names (`refs/heads/main` → `main`), or undefined for tags and others. */
export function branchOf(ref: string): string | undefined {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
}

/** `2 to create, 1 to update, 0 to replace, 0 to delete`. */
export function formatPlanSummary(summary: PlanSummary): string {
  return `${summary.create} to create, ${summary.update} to update, ${summary.replace} to replace, ${summary.delete} to delete`;
}

export interface PushDeployOptions {
  readonly controller: AppsController;
  readonly store: Store;
  /** Reads the pushed commit after the push (for the plan summary). */
  readonly sources: SourceReader;
  /** Where the hosted repositories are (`<data-dir>/git`). */
  readonly reposDir: string;
  readonly log?: (line: string) => void;
}

export interface PushDeploy {
  checkPush(push: PushCheck): Promise<PushVerdict>;
  onPushed(push: PushedRef): Promise<readonly string[]>;
}

export function createPushDeploy(options: PushDeployOptions): PushDeploy {
  const { controller, store, sources, reposDir } = options;
  const log = options.log ?? (() => {});

  const settingsOf = (app: string): AppSettings | undefined =>
    controller.app(app)?.settings ?? (store.app(app)?.settings as AppSettings | undefined);

  /** What a sync of `objects` would do to `app`, against every app's last applied objects. */
  const planSummary = (
    app: string,
    objects: Parameters<typeof planChanges>[0],
    live: readonly LiveObject[],
    inventory: ReadonlySet<string>,
    prune: boolean,
  ): string => {
    const plan = planChanges(objects, live, inventory, { prune, allowEmpty: true });
    if (isPlanRefusal(plan)) return `berth: ${plan.message}`;
    const conflicts = plan.conflicts ?? [];
    const summary = formatPlanSummary(plan.summary);
    return conflicts.length === 0
      ? summary
      : `${summary} (${conflicts.length} left alone: not ${app}'s to change)`;
  };

  return {
    async checkPush(push) {
      if (isZeroSha(push.newSha)) {
        const tracked = settingsOf(push.app)?.ref;
        const lines =
          tracked !== undefined && branchOf(push.ref) === tracked
            ? [`berth: ${push.ref} is deleted; app ${push.app} keeps running what it last applied`]
            : [];
        return { ok: true, lines };
      }
      const subPath = settingsOf(push.app)?.path;
      // The files a source lists at that commit: manifest names, less what .berthignore ignores.
      const pushed = await readPushedFiles(push, subPath, { only: isManifestName });
      const files: ManifestFile[] = pushed.map((file) => ({
        display: file.path,
        blobId: gitBlobId(file.content),
        size: file.content.length,
        read: async () => file.content,
      }));
      const set = await loadManifests(files);
      if (set.problems.length === 0) return { ok: true, lines: [] };
      const count = set.problems.length;
      log(`git: push to ${push.app} ${push.ref} refused: ${count} problems`);
      return {
        ok: false,
        lines: [
          ...set.problems.map(formatProblem),
          `berth: ${push.ref} at ${shortSha(push.newSha)} does not validate (${count} ${count === 1 ? 'problem' : 'problems'}); nothing was changed`,
        ],
      };
    },

    async onPushed(push) {
      const branch = branchOf(push.ref);
      if (isZeroSha(push.newSha)) return [];
      let spec = controller.app(push.app);
      const lines: string[] = [];
      if (spec === undefined) {
        const known = store.app(push.app);
        const hosted = `${HOSTED_SCHEME}${push.app}`;
        if (known !== undefined && known.source !== hosted) {
          return [
            `berth: app ${push.app} is applied from ${known.source}; this push is kept but not deployed`,
          ];
        }
        if (branch === undefined) return [];
        const settings = known?.settings as AppSettings | undefined;
        controller.add({
          name: push.app,
          source: hosted,
          settings: { ...settings, ref: settings?.ref ?? branch, hosted: true },
        });
        spec = controller.app(push.app);
        lines.push(`berth: app ${push.app} created, tracking ${settings?.ref ?? branch}`);
      }
      if (spec === undefined) return lines;
      const tracked = spec.settings.ref;
      if (tracked !== undefined && branch !== tracked && push.ref !== tracked) {
        return [
          ...lines,
          `berth: app ${push.app} tracks ${tracked}; ${push.ref} is kept, not deployed`,
        ];
      }

      // The live state as it is before this sync, read before it starts.
      const live: LiveObject[] = [];
      const seen = new Set<string>();
      const ours = store.inventory(push.app);
      const inventory = new Set(ours.map((entry) => entry.key));
      for (const name of [push.app, ...store.inventoryApps()]) {
        for (const entry of name === push.app ? ours : store.inventory(name)) {
          if (seen.has(entry.key)) continue;
          seen.add(entry.key);
          live.push({ kind: entry.ref.kind, object: entry.applied as PlannedObject });
        }
      }
      controller.trigger(push.app);

      if (spec.settings.pinned !== undefined) {
        lines.push(
          `berth: app ${push.app} is pinned to ${shortSha(spec.settings.pinned)}; this push is deployed after berth app unpin ${push.app}`,
        );
      } else {
        try {
          const snapshot = await sources.open({
            location: repoPathOf(reposDir, push.app),
            ref: push.newSha,
            ...(spec.settings.path === undefined ? {} : { path: spec.settings.path }),
          });
          const set = await loadManifests(snapshot.files);
          lines.push(
            planSummary(push.app, set.objects, live, inventory, spec.settings.prune ?? true),
          );
        } catch (error) {
          lines.push(
            `berth: cannot tell what the sync will do: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      lines.push(`watch it: berth status ${push.app}`);
      return lines;
    },
  };
}
