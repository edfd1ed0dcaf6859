/**
 * The watch-mode daemon's app controller: keeps every app's live state equal to its tracked
 * ref. Apps come from the store's apps table (added, pushed) and from the config file; each has
 * one serial worker. A run resolves the ref (or the pinned commit) to a commit, reads the
 * manifests at that commit (never a working tree's files), validates them, and syncs them
 * through `sync` (syncApp on the operator). What wakes a worker:
 * - a local repository (working tree or bare): its refs, watched with chokidar;
 * - an https URL: a fetch every interval (jittered, from the end of the last run), and `trigger`
 *   (webhooks);
 * - a repository berth hosts (`berth://<app>`): `trigger` from the push's post-receive.
 * A commit that does not validate is not applied (Degraded, the last good commit runs on); a
 * sync that throws is retried with backoff (5 s doubling to 5 min) on the same commit, forever;
 * a tracked branch that disappears keeps the last applied state (Missing).
 */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import git from 'isomorphic-git';
import { type Clock, systemClock } from '../agent/lifecycle/clock.js';
import { repoPathOf } from '../gitserver/repos.js';
import { loadManifests, ManifestCache } from '../manifests/load.js';
import { BerthError, isBerthError } from '../model/errors.js';
import { formatProblem } from '../model/problem.js';
import type { SyncRequest, SyncResponse } from '../operator/session.js';
import { checkAppName } from '../operator/sync-app.js';
import { PRUNE_ANNOTATION, PRUNE_DISABLED, refKey } from '../plan/plan.js';
import type { ObjectRef } from '../plan/types.js';
import type { SourceReader } from '../source/types.js';
import { checkSourceUrl, DEFAULT_CACHE_DIR, hasUrlScheme } from '../source/url.js';
import type { AppRecord, Store } from '../store/store.js';
import type { AppConfig } from './config.js';
import { DEFAULT_INTERVAL_MS } from './config.js';
import {
  type AppliedCommit,
  type AppStatus,
  appHealth,
  podsOfApp,
  type SyncState,
  shortSha,
} from './status.js';

/** The scheme of sources berth hosts: `berth://<app>` is `<reposDir>/<app>.git`. */
export const HOSTED_SCHEME = 'berth://';
/** First retry of a failed sync. */
export const RETRY_BASE_MS = 5_000;
/** Longest wait between retries. */
export const RETRY_MAX_MS = 5 * 60_000;
/** How far (as a fraction) an interval is moved at random, so fetches of many apps spread out. */
export const INTERVAL_JITTER = 0.1;
/** The event an agent reports for drift it left as found (selfHeal off). */
export const DRIFT_DETECTED = 'DriftDetected';
/** The backstop look at a watched local repository's refs. */
export const LOCAL_RECHECK_MS = 5_000;

/** The daemon's settings of an app, as kept in the store's `settings_json`. */
export interface AppSettings {
  /** Tracked branch, tag or commit. @default the repository's HEAD */
  readonly ref?: string;
  /** Manifest folder inside the repository. @default the root */
  readonly path?: string;
  /** Fetch interval of https sources, in ms. @default DEFAULT_INTERVAL_MS */
  readonly interval?: number;
  /** Delete what left git. @default true */
  readonly prune?: boolean;
  /**
   * Put back drift made by hand at once. Off: drift is left as found, reported, shown as
   * OutOfSync, and put back by the app's next sync. @default true
   */
  readonly selfHeal?: boolean;
  /** Commit run instead of the ref's (`berth app pin`). */
  readonly pinned?: string;
  /** A repository berth hosts (made by a push). */
  readonly hosted?: boolean;
  /** The daemon keeps this store app in sync (apps `berth apply` made once are left alone). */
  readonly watch?: boolean;
  /** The app came from the config file; it is kept only while the file names it. */
  readonly config?: boolean;
}

/** An app the controller keeps in sync. */
export interface AppSpec {
  readonly name: string;
  /** A local path, an https URL, or `berth://<app>`. */
  readonly source: string;
  readonly settings: AppSettings;
}

export interface AppsControllerOptions {
  readonly store: Store;
  /** One sync of an app (syncApp on the operator's store and engine). */
  readonly sync: (request: SyncRequest) => SyncResponse | Promise<SyncResponse>;
  /** Reads sources at a commit; keep one per process. */
  readonly sources: SourceReader;
  /** Where hosted repositories live (`<data-dir>/git`). */
  readonly reposDir?: string;
  /** Where URL sources are fetched. @default the reader's */
  readonly cacheDir?: string;
  /** Timers for retries and intervals. @default systemClock */
  readonly clock?: Clock;
  /** In [0, 1), for the interval's jitter. @default Math.random */
  readonly random?: () => number;
  /** One line per thing worth knowing (a sync, a refusal, a failure). */
  readonly log?: (line: string) => void;
  /** Watch local repositories' refs with chokidar. @default true */
  readonly watchLocal?: boolean;
  /**
   * While watching, local repositories are also looked at this often: a backstop for a ref
   * change the file watcher coalesced away (a ref rewritten twice within milliseconds).
   * @default LOCAL_RECHECK_MS
   */
  readonly localRecheckMs?: number;
  /** Told after an app's settings were written (added, changed, pinned, from the config). */
  readonly onSettingsChanged?: () => void;
  /**
   * Drops what the engine was given for a removed app (`Engine.forget`), after the pass that
   * deleted its objects. @default nothing
   */
  readonly forget?: (app: string) => void;
}

/** What `remove` did. */
export interface AppRemoval {
  /** With prune: what was deleted: the app's objects, then the pods of its RCs. */
  readonly deleted: readonly ObjectRef[];
  /**
   * With prune: the app's objects that stay (`berth.io/prune: disabled`), with why. They keep
   * running in the app's inventory: a later sync of the app takes them up again.
   */
  readonly kept: readonly { readonly ref: ObjectRef; readonly reason: string }[];
}

export interface RemoveOptions {
  /**
   * Also delete every object the app applied (its pods, RCs and their pods, services), as a
   * sync of an empty source with prune allowed does, `berth.io/prune: disabled` respected; its
   * cluster IPs and node ports are released. @default false: what it runs keeps running
   */
  readonly prune?: boolean;
}

export interface AppsController {
  /** Starts a worker for every watched app in the store (and the config's). */
  start(): void;
  /** The config file's apps now; apps it no longer names stop (their objects stay). */
  setConfigApps(apps: readonly AppConfig[], configDir?: string): void;
  /** Adds (or changes) an app, kept in the store, and syncs it at once. */
  add(app: AppSpec): void;
  /**
   * Stops keeping the app in sync and forgets its record; its objects keep running unless
   * `prune`. Undefined for an unknown app (with prune, one with an inventory is known).
   */
  remove(name: string, options?: RemoveOptions): Promise<AppRemoval | undefined>;
  /**
   * Runs the app's worker at once (a push, a webhook); false for an unknown app. `force`
   * (`berth app sync`) syncs even when the ref has not moved: drift left by selfHeal off is
   * put back.
   */
  trigger(name: string, options?: { readonly force?: boolean }): boolean;
  /** Runs `commit` instead of the ref's until `unpin`. */
  pin(name: string, commit: string): void;
  unpin(name: string): void;
  /** The apps kept in sync, by name. */
  apps(): readonly AppSpec[];
  app(name: string): AppSpec | undefined;
  status(name: string): AppStatus | undefined;
  statuses(): AppStatus[];
  /** Resolves once no worker runs or waits to run (timers aside). */
  idle(): Promise<void>;
  /** Stops every worker and watcher; a run in progress finishes its step first. Safe twice. */
  stop(): Promise<void>;
}

interface Worker {
  spec: AppSpec;
  readonly kind: 'local' | 'url' | 'hosted';
  readonly location: string;
  readonly cache: ManifestCache;
  running: Promise<void> | undefined;
  queued: boolean;
  /** The next run syncs even when the ref has not moved. */
  forced: boolean;
  stopped: boolean;
  cancelTimer: (() => void) | undefined;
  watcher: FSWatcher | undefined;
  /** The commit the ref (or pin) resolved to at the last run. */
  target: string | undefined;
  /** A working tree's branch, read when no ref is set (`refs/heads/<branch>`, or HEAD). */
  headRef: string | undefined;
  lastApplied: AppliedCommit | undefined;
  refGone: string | undefined;
  invalid: { commit: string; problems: string[] } | undefined;
  refused: { commit: string; message: string } | undefined;
  failure: { commit: string | undefined; message: string; attempts: number } | undefined;
}

function settingsOf(record: AppRecord): AppSettings {
  return record.settings as AppSettings;
}

/** `ref` as a person reads it: `branch main` for a branch name, else the ref. */
function refWords(ref: string | undefined): string {
  if (ref === undefined || ref === 'HEAD') return 'HEAD';
  if (/^[0-9a-f]{7,40}$/i.test(ref)) return `commit ${ref}`;
  return `branch ${ref.replace(/^refs\/heads\//, '')}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The wait before retry number `attempts` (1 = first retry): 5 s doubling to 5 min. */
export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
}

/** `intervalMs` moved by up to INTERVAL_JITTER either way; `random` in [0, 1). */
export function jitteredMs(intervalMs: number, random: number): number {
  return Math.round(intervalMs * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random));
}

/** The daemon's settings of a config file's app. */
function configSpec(app: AppConfig, configDir: string | undefined): AppSpec {
  const source =
    app.sourceKind === 'path' && configDir !== undefined
      ? path.resolve(configDir, app.source)
      : app.source;
  return {
    name: app.name,
    source,
    settings: {
      ...(app.ref === undefined ? {} : { ref: app.ref }),
      ...(app.path === undefined ? {} : { path: app.path }),
      ...(app.intervalMs === undefined ? {} : { interval: app.intervalMs }),
      prune: app.prune,
      selfHeal: app.selfHeal,
      watch: true,
      config: true,
    },
  };
}

/**
 * The git directory that holds `location`: a bare repository itself, or the `.git` of the
 * working tree `location` is in (at its root or below; linked worktrees: their own). Undefined
 * when there is none; `workingTree` says whether it was found through a `.git`.
 */
async function findGitDir(
  location: string,
): Promise<{ gitdir: string; workingTree: boolean } | undefined> {
  const bare = await Promise.all(
    ['HEAD', 'objects', 'refs'].map((name) =>
      fsp.stat(path.join(location, name)).catch(() => undefined),
    ),
  );
  if (bare[0]?.isFile() === true && bare[1]?.isDirectory() === true) {
    return { gitdir: location, workingTree: false };
  }
  let current = path.resolve(location);
  for (;;) {
    const dotGit = path.join(current, '.git');
    const stat = await fsp.stat(dotGit).catch(() => undefined);
    if (stat?.isDirectory() === true) return { gitdir: dotGit, workingTree: true };
    if (stat?.isFile() === true) {
      const text = await fsp.readFile(dotGit, 'utf8');
      const match = /^gitdir:\s*(.+)$/m.exec(text);
      if (match?.[1] !== undefined) {
        return { gitdir: path.resolve(current, match[1].trim()), workingTree: true };
      }
    }
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** The git directory of a working tree or bare repository (`location` itself when none). */
async function gitDirOf(location: string): Promise<string> {
  return (await findGitDir(location))?.gitdir ?? location;
}

/**
 * The ref a working tree is read at when none is given: the branch checked out (HEAD's
 * symbolic ref, e.g. `refs/heads/main`), or `HEAD` when it is detached. Committed content
 * only: what is edited but not committed is never deployed. Undefined for a bare repository
 * (its HEAD) and for a folder outside git.
 */
export async function workingTreeRef(location: string): Promise<string | undefined> {
  const found = await findGitDir(location);
  if (found === undefined || !found.workingTree) return undefined;
  const head = await fsp.readFile(path.join(found.gitdir, 'HEAD'), 'utf8').catch(() => undefined);
  if (head === undefined) return undefined;
  const symbolic = /^ref:\s*(refs\/heads\/\S+)\s*$/.exec(head.trim())?.[1];
  return symbolic ?? 'HEAD';
}

/** Watched below a git dir: HEAD, packed-refs and refs/heads/** (lock files aside). */
function refPathWanted(gitdir: string, file: string): boolean {
  const rel = path.relative(gitdir, file).split(path.sep).join('/');
  if (rel === '' || rel === 'refs' || rel === 'refs/heads') return true;
  if (rel.endsWith('.lock')) return false;
  return rel === 'HEAD' || rel === 'packed-refs' || rel.startsWith('refs/heads/');
}

export function createAppsController(options: AppsControllerOptions): AppsController {
  const { store, sources } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const watchLocal = options.watchLocal ?? true;
  const workers = new Map<string, Worker>();
  let configApps = new Map<string, AppSpec>();
  let started = false;
  let stopped = false;
  const nowIso = (): string => new Date(clock.now()).toISOString();

  const locationOf = (spec: AppSpec): { kind: Worker['kind']; location: string } => {
    if (spec.source.startsWith(HOSTED_SCHEME)) {
      if (options.reposDir === undefined) {
        throw new BerthError(
          'APP_SOURCE_UNSUPPORTED',
          `app ${spec.name} is hosted by berth, but this operator hosts no repositories`,
        );
      }
      return {
        kind: 'hosted',
        location: repoPathOf(options.reposDir, spec.source.slice(HOSTED_SCHEME.length)),
      };
    }
    if (hasUrlScheme(spec.source)) return { kind: 'url', location: spec.source };
    return { kind: 'local', location: spec.source };
  };

  /** The newest commit a sync of the app applied, from its history. */
  const appliedFromHistory = (name: string): AppliedCommit | undefined => {
    const record = store
      .syncHistory(name, 50)
      .find((sync) => sync.outcome === 'succeeded' && sync.commit !== '');
    if (record === undefined) return undefined;
    return { commit: record.commit, message: '', at: record.finishedAt ?? record.startedAt };
  };

  const commitMessage = async (worker: Worker, commit: string): Promise<string> => {
    try {
      // A URL's commits are in the reader's cache, one folder per URL (as UrlFetcher keeps it).
      const gitdir =
        worker.kind === 'url'
          ? path.join(
              options.cacheDir ?? DEFAULT_CACHE_DIR,
              createHash('sha256').update(checkSourceUrl(worker.location).href).digest('hex'),
            )
          : await gitDirOf(worker.location);
      const read = await git.readCommit({ fs, gitdir, oid: commit });
      return read.commit.message.split('\n')[0] ?? '';
    } catch {
      return '';
    }
  };

  const schedule = (worker: Worker): void => {
    if (worker.stopped || stopped) return;
    worker.cancelTimer?.();
    worker.cancelTimer = undefined;
    if (worker.running !== undefined) {
      worker.queued = true;
      return;
    }
    worker.running = (async () => {
      do {
        worker.queued = false;
        try {
          await runOnce(worker);
        } catch (error) {
          // runOnce records its own failures; this is a bug's last line of defence.
          log(`app ${worker.spec.name}: run failed: ${messageOf(error)}`);
        }
      } while (worker.queued && !worker.stopped && !stopped);
    })().finally(() => {
      worker.running = undefined;
      armTimer(worker);
      notifyIdle();
    });
  };

  /** After a run: a retry when it failed, the next fetch for URL sources. */
  const armTimer = (worker: Worker): void => {
    if (worker.stopped || stopped) return;
    let delay: number | undefined;
    if (worker.failure !== undefined) delay = retryDelayMs(worker.failure.attempts);
    else if (worker.kind === 'url') {
      delay = jitteredMs(worker.spec.settings.interval ?? DEFAULT_INTERVAL_MS, random());
    } else if (worker.kind === 'local' && watchLocal) {
      delay = options.localRecheckMs ?? LOCAL_RECHECK_MS;
    }
    if (delay === undefined) return;
    worker.cancelTimer?.();
    worker.cancelTimer = clock.setTimer(() => {
      worker.cancelTimer = undefined;
      schedule(worker);
    }, delay);
  };

  const recordRefused = (name: string, commit: string, message: string): void => {
    try {
      const id = store.startSync(name, commit, nowIso());
      store.finishSync(id, {
        finishedAt: nowIso(),
        outcome: 'refused',
        summary: { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0 },
        message,
      });
    } catch (error) {
      log(`app ${name}: cannot record the refused sync: ${messageOf(error)}`);
    }
  };

  const runOnce = async (worker: Worker): Promise<void> => {
    const { spec } = worker;
    const settings = spec.settings;
    const forced = worker.forced;
    worker.forced = false;
    // A working tree without a ref follows its checked-out branch, committed content only.
    worker.headRef =
      settings.ref === undefined && worker.kind === 'local'
        ? await workingTreeRef(worker.location)
        : undefined;
    const ref = settings.pinned ?? settings.ref ?? worker.headRef;
    let snapshot: Awaited<ReturnType<SourceReader['open']>>;
    try {
      snapshot = await sources.open({
        location: worker.location,
        ...(ref === undefined ? {} : { ref }),
        ...(settings.path === undefined ? {} : { path: settings.path }),
        ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
      });
    } catch (error) {
      if (isBerthError(error) && error.code === 'SOURCE_REF_NOT_FOUND') {
        const gone =
          settings.pinned !== undefined
            ? `pinned commit ${settings.pinned} does not exist`
            : worker.lastApplied === undefined
              ? `${refWords(ref)} does not exist`
              : `${refWords(ref)} no longer exists`;
        if (worker.refGone !== gone) log(`app ${spec.name}: ${gone}`);
        worker.refGone = gone;
        worker.failure = undefined;
        return;
      }
      fail(worker, undefined, error);
      return;
    }
    worker.refGone = undefined;
    const commit = snapshot.commit;
    if (commit === undefined) {
      fail(worker, undefined, new Error(`${spec.source} is not a git repository`));
      return;
    }
    worker.target = commit;
    const settled =
      !forced &&
      worker.lastApplied?.commit === commit &&
      worker.failure === undefined &&
      worker.invalid === undefined &&
      worker.refused === undefined;
    if (settled) return;
    if (
      worker.failure === undefined &&
      (worker.invalid?.commit === commit || worker.refused?.commit === commit)
    ) {
      // Already found wanting; nothing changed since.
      return;
    }

    const set = await loadManifests(snapshot.files, { cache: worker.cache });
    if (worker.stopped || stopped) return;
    const problems = [...snapshot.problems, ...set.problems];
    if (problems.length > 0) {
      const lines = problems.map(formatProblem);
      worker.invalid = { commit, problems: lines };
      worker.refused = undefined;
      worker.failure = undefined;
      const keeps =
        worker.lastApplied === undefined
          ? 'nothing applied'
          : `still running ${shortSha(worker.lastApplied.commit)}`;
      log(
        `app ${spec.name}: commit ${shortSha(commit)} does not validate (${lines.length} problems); ${keeps}`,
      );
      recordRefused(spec.name, commit, `does not validate: ${lines[0]}`);
      return;
    }

    let response: SyncResponse;
    try {
      response = await options.sync({
        app: spec.name,
        source: spec.source,
        commit,
        objects: set.objects,
        prune: settings.prune ?? true,
      });
    } catch (error) {
      fail(worker, commit, error);
      return;
    }
    worker.invalid = undefined;
    worker.failure = undefined;
    if (response.refused !== undefined) {
      worker.refused = { commit, message: response.refused.message };
      log(`app ${spec.name}: sync of ${shortSha(commit)} refused: ${response.refused.message}`);
      return;
    }
    worker.refused = undefined;
    worker.lastApplied = { commit, message: await commitMessage(worker, commit), at: nowIso() };
    log(`app ${spec.name}: synced ${shortSha(commit)}`);
  };

  const fail = (worker: Worker, commit: string | undefined, error: unknown): void => {
    const attempts = (worker.failure?.attempts ?? 0) + 1;
    worker.failure = { commit, message: messageOf(error), attempts };
    log(
      `app ${worker.spec.name}: sync failed (attempt ${attempts}): ${messageOf(error)}; retrying in ${Math.round(retryDelayMs(attempts) / 1000)} s`,
    );
  };

  const startWatch = async (worker: Worker): Promise<void> => {
    if (!watchLocal || worker.kind !== 'local') return;
    const gitdir = await gitDirOf(worker.location);
    if (worker.stopped || stopped) return;
    const watcher = watch(gitdir, {
      ignoreInitial: true,
      ignored: (file: string) => !refPathWanted(gitdir, file),
    });
    watcher.on('all', () => schedule(worker));
    // git moves a ref into place with a rename; chokidar's per-file watcher can miss a second
    // rename soon after the first, but the folder's own watcher sees every one.
    watcher.on('raw', (_event, name, details) => {
      const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watched !== 'string' || typeof name !== 'string' || name === '') return;
      const full = path.basename(watched) === name ? watched : path.join(watched, name);
      if (refPathWanted(gitdir, full)) schedule(worker);
    });
    watcher.on('error', (error) =>
      log(`app ${worker.spec.name}: watching ${gitdir}: ${messageOf(error)}`),
    );
    worker.watcher = watcher;
  };

  const stopWorker = async (worker: Worker): Promise<void> => {
    worker.stopped = true;
    worker.cancelTimer?.();
    worker.cancelTimer = undefined;
    const watcher = worker.watcher;
    worker.watcher = undefined;
    await watcher?.close();
    await worker.running;
  };

  /** Starts or updates the worker of `spec`; a changed source or settings restarts its run. */
  const ensureWorker = (spec: AppSpec): void => {
    const existing = workers.get(spec.name);
    if (existing !== undefined && !existing.stopped) {
      const same =
        existing.spec.source === spec.source &&
        JSON.stringify(existing.spec.settings) === JSON.stringify(spec.settings);
      if (same) return;
      if (existing.spec.source === spec.source) {
        existing.spec = spec;
        schedule(existing);
        return;
      }
      void stopWorker(existing);
    }
    let where: { kind: Worker['kind']; location: string };
    try {
      where = locationOf(spec);
    } catch (error) {
      log(`app ${spec.name}: ${messageOf(error)}`);
      return;
    }
    const worker: Worker = {
      spec,
      ...where,
      cache: new ManifestCache(),
      running: undefined,
      queued: false,
      forced: false,
      stopped: false,
      cancelTimer: undefined,
      watcher: undefined,
      target: undefined,
      headRef: undefined,
      lastApplied: appliedFromHistory(spec.name),
      refGone: undefined,
      invalid: undefined,
      refused: undefined,
      failure: undefined,
    };
    workers.set(spec.name, worker);
    if (!started) return;
    void startWatch(worker).catch((error: unknown) =>
      log(`app ${spec.name}: cannot watch: ${messageOf(error)}`),
    );
    schedule(worker);
  };

  /** The store's watched apps, with the config's in place of their records. */
  const wantedSpecs = (): Map<string, AppSpec> => {
    const wanted = new Map<string, AppSpec>();
    for (const record of store.apps()) {
      const settings = settingsOf(record);
      if (settings.watch !== true && settings.hosted !== true) continue;
      if (settings.config === true && !configApps.has(record.name)) continue;
      wanted.set(record.name, { name: record.name, source: record.source, settings });
    }
    for (const [name, spec] of configApps) {
      const pinned = settingsOf(store.app(name) ?? ({ settings: {} } as AppRecord)).pinned;
      wanted.set(name, {
        ...spec,
        settings: { ...spec.settings, ...(pinned === undefined ? {} : { pinned }) },
      });
    }
    return wanted;
  };

  const reconcileWorkers = (): void => {
    const wanted = wantedSpecs();
    for (const [name, worker] of workers) {
      if (!wanted.has(name)) {
        workers.delete(name);
        void stopWorker(worker);
      }
    }
    for (const spec of wanted.values()) ensureWorker(spec);
  };

  /** Writes the app's record (its settings) to the store. */
  const persist = (spec: AppSpec): void => {
    const known = store.app(spec.name);
    if (known !== undefined && known.source !== spec.source) {
      throw new BerthError(
        'APP_SOURCE_CONFLICT',
        `app ${spec.name} is applied from ${known.source}, not ${spec.source}`,
        { hint: 'give this source its own app name, or remove the app first' },
      );
    }
    store.putApp(
      { name: spec.name, source: spec.source, settings: { ...spec.settings } },
      nowIso(),
    );
    options.onSettingsChanged?.();
  };

  const idleWaiters: (() => void)[] = [];
  const notifyIdle = (): void => {
    for (const worker of workers.values()) if (worker.running !== undefined) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  /**
   * With selfHeal off, the newest drift the agents left as found since the app's last
   * successful sync (`pod/x: what`), from the events; undefined when there is none.
   */
  const driftLeft = (spec: AppSpec): string | undefined => {
    if (spec.settings.selfHeal !== false) return undefined;
    const synced = store.syncHistory(spec.name, 50).find((sync) => sync.outcome === 'succeeded');
    const since = synced?.startedAt ?? '';
    const found = store
      .events({ app: spec.name, limit: 50 })
      .find((event) => event.reason === DRIFT_DETECTED && event.at >= since);
    if (found === undefined) return undefined;
    return `${found.object}: ${found.message.replace(/; left as found.*$/, '')}`;
  };

  const statusOf = (worker: Worker): AppStatus => {
    const { spec } = worker;
    const settings = spec.settings;
    const inventory = new Set(store.inventory(spec.name).map((entry) => entry.key));
    const pods = podsOfApp(inventory, store.assignments());
    const { health, reason: healthReason } = appHealth({
      ...(worker.refGone === undefined ? {} : { refGone: worker.refGone }),
      ...(worker.invalid === undefined ? {} : { invalid: worker.invalid }),
      ...(worker.lastApplied === undefined ? {} : { lastApplied: worker.lastApplied }),
      pods,
    });
    let sync: SyncState;
    let reason = healthReason;
    let problems: readonly string[] = [];
    const drift = driftLeft(spec);
    if (worker.failure !== undefined) {
      sync = 'Failed';
      reason = `sync failed ${worker.failure.attempts} time(s): ${worker.failure.message}`;
      problems = [worker.failure.message];
    } else if (worker.refused !== undefined) {
      sync = 'OutOfSync';
      reason = `sync of ${shortSha(worker.refused.commit)} refused: ${worker.refused.message}`;
      problems = [worker.refused.message];
    } else if (worker.invalid !== undefined) {
      sync = 'OutOfSync';
      problems = worker.invalid.problems;
    } else if (worker.refGone !== undefined) {
      sync = 'OutOfSync';
    } else if (drift !== undefined) {
      sync = 'OutOfSync';
      reason = `drift left as found (selfHeal is off): ${drift}; berth app sync ${spec.name} puts it back`;
      problems = [drift];
    } else if (
      worker.running !== undefined &&
      (worker.target === undefined || worker.target !== worker.lastApplied?.commit)
    ) {
      sync = 'Syncing';
    } else if (worker.lastApplied !== undefined && worker.lastApplied.commit === worker.target) {
      sync = 'Synced';
    } else if (worker.target === undefined && worker.lastApplied !== undefined) {
      sync = worker.running !== undefined ? 'Syncing' : 'OutOfSync';
    } else {
      sync = 'OutOfSync';
    }
    return {
      name: spec.name,
      source: spec.source,
      ...(settings.ref !== undefined
        ? { ref: settings.ref }
        : worker.headRef?.startsWith('refs/heads/') === true
          ? { ref: worker.headRef.slice('refs/heads/'.length) }
          : {}),
      ...(settings.path === undefined ? {} : { path: settings.path }),
      ...(settings.pinned === undefined ? {} : { pinned: settings.pinned }),
      ...(worker.lastApplied === undefined ? {} : { lastApplied: worker.lastApplied }),
      sync,
      health,
      reason,
      problems,
    };
  };

  /**
   * Deletes what the app applied: one sync of no objects with prune and allowEmpty, the pass
   * `berth apply EMPTY_DIR --app NAME --allow-empty` makes. What stays in its inventory after
   * it is what `berth.io/prune: disabled` kept.
   */
  const pruneApp = async (name: string, source: string): Promise<AppRemoval> => {
    const response = await options.sync({
      app: name,
      source,
      objects: [],
      prune: true,
      allowEmpty: true,
    });
    if (response.refused !== undefined) {
      throw new BerthError(
        'APP_REMOVE_REFUSED',
        `app ${name}: deleting its objects was refused: ${response.refused.message}`,
        {
          hint: 'nothing was deleted and the app stays; fix what the message names and remove it again',
        },
      );
    }
    const deleted: ObjectRef[] = [];
    const seen = new Set<string>();
    for (const report of response.reports) {
      if (report.action !== 'delete' || seen.has(refKey(report.ref))) continue;
      seen.add(refKey(report.ref));
      deleted.push(report.ref);
    }
    const reasons = new Map(
      response.reports
        .filter((report) => report.action === 'unchanged')
        .map((report) => [refKey(report.ref), report.reason]),
    );
    const kept = store.inventory(name).map((entry) => {
      const annotations = (entry.applied as { metadata?: { annotations?: Record<string, string> } })
        .metadata?.annotations;
      const reason =
        annotations?.[PRUNE_ANNOTATION] === PRUNE_DISABLED
          ? `${PRUNE_ANNOTATION}: ${PRUNE_DISABLED}`
          : (reasons.get(entry.key) ?? 'kept');
      return { ref: entry.ref, reason };
    });
    return { deleted, kept };
  };

  const workerOf = (name: string): Worker => {
    const worker = workers.get(name);
    if (worker === undefined) {
      throw new BerthError('APP_NOT_FOUND', `no app named ${name}`, {
        hint: 'berth status lists the apps',
      });
    }
    return worker;
  };

  const setPin = (name: string, pinned: string | undefined): void => {
    const worker = workerOf(name);
    const { pinned: _old, ...rest } = worker.spec.settings;
    const settings: AppSettings = pinned === undefined ? rest : { ...rest, pinned };
    const spec: AppSpec = { ...worker.spec, settings };
    // Config apps keep their record too: the pin outlives a restart and a re-read of the file.
    persist(spec);
    worker.spec = spec;
    worker.invalid = undefined;
    worker.refused = undefined;
    log(pinned === undefined ? `app ${name}: unpinned` : `app ${name}: pinned to ${pinned}`);
    schedule(worker);
  };

  return {
    start() {
      if (started || stopped) return;
      // Workers are made first, then started once each.
      reconcileWorkers();
      started = true;
      for (const worker of workers.values()) {
        void startWatch(worker).catch((error: unknown) =>
          log(`app ${worker.spec.name}: cannot watch: ${messageOf(error)}`),
        );
        schedule(worker);
      }
    },
    setConfigApps(apps, configDir) {
      const next = new Map<string, AppSpec>();
      for (const app of apps) next.set(app.name, configSpec(app, configDir));
      configApps = next;
      for (const spec of next.values()) {
        const known = store.app(spec.name);
        if (known !== undefined && known.source !== spec.source) {
          log(
            `app ${spec.name}: the config file names ${spec.source}, but the app is applied from ${known.source}; left as it is`,
          );
          configApps.delete(spec.name);
          continue;
        }
        const pinned = (known?.settings as AppSettings | undefined)?.pinned;
        store.putApp(
          {
            name: spec.name,
            source: spec.source,
            settings: { ...spec.settings, ...(pinned === undefined ? {} : { pinned }) },
          },
          nowIso(),
        );
      }
      options.onSettingsChanged?.();
      if (started) reconcileWorkers();
    },
    add(app) {
      checkAppName(app.name);
      const spec: AppSpec = { ...app, settings: { ...app.settings, watch: true } };
      locationOf(spec);
      persist(spec);
      if (started) ensureWorker(spec);
    },
    async remove(name, removeOptions = {}) {
      const worker = workers.get(name);
      const record = store.app(name);
      const inventory = removeOptions.prune === true ? store.inventory(name) : [];
      if (worker === undefined && record === undefined && inventory.length === 0) {
        return undefined;
      }
      const configSpec = configApps.get(name);
      configApps.delete(name);
      workers.delete(name);
      // The worker's step in progress finishes first: no sync of the app runs after this.
      if (worker !== undefined) await stopWorker(worker);
      let removal: AppRemoval = { deleted: [], kept: [] };
      if (removeOptions.prune === true) {
        try {
          removal = await pruneApp(name, record?.source ?? worker?.spec.source ?? name);
        } catch (error) {
          // Nothing was deleted: the app stays as it was, kept in sync again.
          if (configSpec !== undefined) configApps.set(name, configSpec);
          if (worker !== undefined && started && !stopped) ensureWorker(worker.spec);
          throw error;
        }
      }
      store.removeApp(name);
      if (removeOptions.prune === true) {
        options.forget?.(name);
        const what = removal.deleted.length === 0 ? 'nothing' : `${removal.deleted.length} objects`;
        const kept =
          removal.kept.length === 0
            ? ''
            : `; ${removal.kept.length} kept (${PRUNE_ANNOTATION}: ${PRUNE_DISABLED})`;
        log(`app ${name}: removed; ${what} deleted${kept}`);
      } else {
        log(`app ${name}: removed; what it runs keeps running`);
      }
      return removal;
    },
    trigger(name, triggerOptions) {
      const worker = workers.get(name);
      if (worker === undefined) return false;
      if (triggerOptions?.force === true) worker.forced = true;
      schedule(worker);
      return true;
    },
    pin(name, commit) {
      if (commit.trim() === '') throw new BerthError('CLI_USAGE', 'give the commit to pin');
      setPin(name, commit);
    },
    unpin(name) {
      setPin(name, undefined);
    },
    apps() {
      return [...workers.values()].map((worker) => worker.spec);
    },
    app(name) {
      return workers.get(name)?.spec;
    },
    status(name) {
      const worker = workers.get(name);
      return worker === undefined ? undefined : statusOf(worker);
    },
    statuses() {
      return [...workers.values()]
        .map(statusOf)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        notifyIdle();
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const all = [...workers.values()];
      await Promise.all(all.map(stopWorker));
      for (const resolve of idleWaiters.splice(0)) resolve();
    },
  };
}
