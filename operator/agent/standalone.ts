/**
 * Standalone mode: a directory of manifests is the node's desired pod set, like the kubelet's
 * static pod directory. The directory is read with the project's own source reader and loader
 * (same validation and defaults as `berth validate`), watched with chokidar, and every change
 * hands the whole new set to the node agent.
 *
 * A file that fails to load keeps its last good version: saving a half-written file must never
 * stop the pods it held. Only Pods run here; ReplicationControllers and Services need the
 * operator and are reported as ignored.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'chokidar';
import { loadManifests, ManifestCache } from '../manifests/load.js';
import { objectRef } from '../manifests/types.js';
import type { Pod } from '../model/generated/types.js';
import type { Problem } from '../model/problem.js';
import { createSourceReader } from '../source/index.js';
import type { SourceReader } from '../source/types.js';

/** One file's contribution as loaded now. */
export interface FileManifests {
  /** Display path of the file. */
  readonly file: string;
  readonly pods: readonly Pod[];
  /** `replicationcontroller/x`, `service/y`: objects that need the operator. */
  readonly ignored: readonly string[];
  readonly problems: readonly Problem[];
}

/** What survives between loads: the last good pods of each file still present. */
export interface StandaloneState {
  readonly goodPods: ReadonlyMap<string, readonly Pod[]>;
}

export const EMPTY_STANDALONE_STATE: StandaloneState = { goodPods: new Map() };

export interface DesiredSet {
  readonly state: StandaloneState;
  /** Sorted by namespace, then name. */
  readonly pods: readonly Pod[];
  /** Hash of the set: equal sets, equal versions. */
  readonly version: string;
  /** Every problem of this load, sorted as loaded. */
  readonly problems: readonly Problem[];
  /** Files with problems whose last good version is still in force. */
  readonly keptFiles: readonly string[];
  readonly ignored: readonly string[];
}

function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}

/** Order-independent version of a pod set. */
export function podSetVersion(pods: readonly Pod[]): string {
  const hash = createHash('sha256');
  for (const pod of [...pods].sort((a, b) => compareKeys(podKey(a), podKey(b)))) {
    hash.update(JSON.stringify(pod)).update('\n');
  }
  return hash.digest('hex').slice(0, 16);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Pure: the next desired set from the files as loaded now and the previous state. A file with
 * problems contributes its last good pods (none if it never loaded cleanly); a file that is
 * gone contributes nothing. The loader reports a pod defined in two files on both, so each keeps
 * its last good version; should two good versions still collide, the first file in path order wins.
 */
export function nextDesiredSet(
  previous: StandaloneState,
  files: readonly FileManifests[],
): DesiredSet {
  const goodPods = new Map<string, readonly Pod[]>();
  const keptFiles: string[] = [];
  const problems: Problem[] = [];
  const ignored: string[] = [];
  for (const file of [...files].sort((a, b) => compareKeys(a.file, b.file))) {
    problems.push(...file.problems);
    ignored.push(...file.ignored);
    if (file.problems.length === 0) {
      goodPods.set(file.file, file.pods);
      continue;
    }
    const kept = previous.goodPods.get(file.file);
    if (kept !== undefined) {
      goodPods.set(file.file, kept);
      keptFiles.push(file.file);
    }
  }
  const byKey = new Map<string, Pod>();
  for (const pods of goodPods.values()) {
    for (const pod of pods) {
      const key = podKey(pod);
      if (!byKey.has(key)) byKey.set(key, pod);
    }
  }
  const pods = [...byKey.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, pod]) => pod);
  return {
    state: { goodPods },
    pods,
    version: podSetVersion(pods),
    problems,
    keptFiles,
    ignored,
  };
}

/**
 * Pure: groups a load's objects and problems by file. `files` lists every file present, so a
 * file whose objects all failed the schema still appears (with its problems).
 */
export function groupByFile(
  files: readonly string[],
  objects: readonly { kind: string; object: unknown; origin: { file: string } }[],
  problems: readonly Problem[],
): FileManifests[] {
  const entries = new Map<string, { pods: Pod[]; ignored: string[]; problems: Problem[] }>();
  const entry = (file: string) => {
    let found = entries.get(file);
    if (found === undefined) {
      found = { pods: [], ignored: [], problems: [] };
      entries.set(file, found);
    }
    return found;
  };
  for (const file of files) entry(file);
  for (const object of objects) {
    const target = entry(object.origin.file);
    const metadata = (object.object as { metadata?: { name?: string } }).metadata;
    if (object.kind === 'Pod') target.pods.push(object.object as Pod);
    else if (object.kind === 'ReplicationController' || object.kind === 'Service') {
      target.ignored.push(objectRef(object.kind, metadata?.name));
    }
  }
  for (const problem of problems) entry(problem.origin.file).problems.push(problem);
  return [...entries].map(([file, e]) => ({ file, ...e }));
}

export interface ManifestDirOptions {
  readonly dir: string;
  /** Called after every load whose set or problems differ from the previous load's. */
  readonly onLoad: (set: DesiredSet) => void;
  /** A load that could not read the directory at all (gone, unreadable); the set stays as it was. */
  readonly onError?: (error: unknown) => void;
  /** Quiet time after the last file event before reloading. @default 100 ms */
  readonly debounceMs?: number;
  readonly reader?: SourceReader;
}

export interface ManifestDirWatch {
  /**
   * Settles after the first load (whether or not it had problems); rejects when the directory
   * could not be read at all, rather than handing out an empty set that would stop every pod.
   */
  readonly ready: Promise<DesiredSet>;
  /** The latest set handed to onLoad. */
  current(): DesiredSet | undefined;
  /** How many loads have finished (published or not): lets callers wait for a reload. */
  loadCount(): number;
  close(): Promise<void>;
}

/** Loads `dir` once now and again after each change (add, change, unlink), debounced. */
export function watchManifestDir(options: ManifestDirOptions): ManifestDirWatch {
  const debounceMs = options.debounceMs ?? 100;
  const reader = options.reader ?? createSourceReader();
  const cache = new ManifestCache();
  let state = EMPTY_STANDALONE_STATE;
  let latest: DesiredSet | undefined;
  let lastFingerprint: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let loading: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let loadsDone = 0;
  let lastError: unknown;

  async function loadOnce(): Promise<DesiredSet | undefined> {
    try {
      const snapshot = await reader.open({ location: options.dir });
      const set = await loadManifests(snapshot.files, { cache });
      const grouped = groupByFile(
        snapshot.files.map((f) => f.display),
        set.objects,
        [...snapshot.problems, ...set.problems],
      );
      const next = nextDesiredSet(state, grouped);
      state = next.state;
      return next;
    } catch (error) {
      lastError = error;
      options.onError?.(error);
      return undefined;
    }
  }

  function publish(next: DesiredSet): void {
    latest = next;
    const fingerprint = JSON.stringify([next.version, next.problems, next.keptFiles, next.ignored]);
    if (fingerprint === lastFingerprint) return;
    lastFingerprint = fingerprint;
    options.onLoad(next);
  }

  /** One load at a time; events during a load cause one more load after it. */
  function reload(): Promise<void> {
    if (closed) return Promise.resolve();
    if (loading !== undefined) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        const next = await loadOnce();
        if (next !== undefined && !closed) publish(next);
        loadsDone += 1;
      } while (again && !closed);
    })().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  function schedule(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, debounceMs);
  }

  const watcher: FSWatcher = watch(options.dir, {
    ignoreInitial: true,
    // A repository's own database is no manifest; the reader skips it too.
    ignored: (file: string) => /(^|[/\\])\.git([/\\]|$)/.test(file),
  });
  watcher.on('all', schedule);
  watcher.on('error', (error) => options.onError?.(error));

  const ready = (async () => {
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    // The first load starts after the watcher is ready, so no change can fall between them.
    await reload();
    if (latest === undefined) throw lastError ?? new Error('closed before the first load');
    return latest;
  })();

  return {
    ready,
    current: () => latest,
    loadCount: () => loadsDone,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await watcher.close();
      await loading;
    },
  };
}
