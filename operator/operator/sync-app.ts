/**
 * One sync of an app on an operator (embedded or serving): the app's record is checked and
 * kept, the sync is written to its history, and the engine makes the objects what the app
 * wants. Shared by `berth apply`'s embedded operator and the server's API.
 */
import type { Engine } from '../engine/engine.js';
import { BerthError } from '../model/errors.js';
import type { PlanSummary } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { SyncRequest, SyncResponse } from './session.js';

export interface SyncAppParts {
  readonly store: Store;
  readonly engine: Engine;
  /** ISO time for the app record and the history; the store reads no clock. */
  readonly now: () => string;
}

/** An app name: a DNS-1123 label, as Kubernetes names objects. */
const APP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function checkAppName(name: string): void {
  if (name.length > 63 || !APP_NAME.test(name)) {
    throw new BerthError('APP_NAME_INVALID', `"${name}" is not a valid app name`, {
      hint: 'use lowercase letters, digits and "-", at most 63 characters, e.g. --app guestbook',
    });
  }
}

/** The app name a source gets when none is given: its folder or repository name. */
export function defaultAppName(source: string, subPath?: string): string {
  const trimmed = (subPath !== undefined && subPath !== '' && subPath !== '.' ? subPath : source)
    .replace(/[#?].*$/, '')
    .replace(/[/\\]+$/, '');
  const base = trimmed.slice(Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\')) + 1);
  const name = base
    .replace(/\.git$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name === '' ? 'default' : name;
}

export function syncApp(parts: SyncAppParts, request: SyncRequest): SyncResponse {
  const { store, engine } = parts;
  checkAppName(request.app);
  const known = store.app(request.app);
  if (known !== undefined && known.source !== request.source) {
    throw new BerthError(
      'APP_SOURCE_CONFLICT',
      `app ${request.app} is applied from ${known.source}, not ${request.source}`,
      {
        hint: `give this source its own app with --app NAME, or apply ${known.source} as before`,
      },
    );
  }
  const startedAt = parts.now();
  const syncId = store.startSync(request.app, request.commit ?? '', startedAt);
  try {
    const result = engine.sync(request.app, request.objects, {
      ...(request.prune === undefined ? {} : { prune: request.prune }),
      ...(request.allowEmpty === undefined ? {} : { allowEmpty: request.allowEmpty }),
    });
    if (result.refused === undefined) {
      store.putApp(
        { name: request.app, source: request.source, settings: known?.settings ?? {} },
        startedAt,
      );
    }
    store.finishSync(syncId, {
      finishedAt: parts.now(),
      outcome: result.refused === undefined ? 'succeeded' : 'refused',
      summary: summaryOf(result.reports),
      ...(result.refused === undefined ? {} : { message: result.refused.message }),
    });
    return result;
  } catch (error) {
    store.finishSync(syncId, {
      finishedAt: parts.now(),
      outcome: 'failed',
      summary: { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 },
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
}

/** Counts of the source objects' actions (pods made for RCs are not source objects). */
function summaryOf(reports: SyncResponse['reports']): PlanSummary {
  const counts = { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 };
  const seen = new Set<string>();
  for (const report of reports) {
    if (report.action === 'scheduled' || report.action === 'pending') continue;
    const key = `${report.ref.kind}/${report.ref.namespace}/${report.ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    counts[report.action] += 1;
  }
  return counts;
}
