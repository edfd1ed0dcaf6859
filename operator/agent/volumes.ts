/**
 * Volume preparation: turns a pod's `spec.volumes` into host paths and engine volumes its
 * containers mount (PreparedVolume). Everything a pod owns lives under
 * `<dataDir>/pods/<uid>/volumes/<name>` or in engine volumes labelled with the pod's uid, so
 * removal needs only the uid (also for an orphan found after an agent restart).
 *
 * Bad input is a value, never a throw: `{ ok: false, reason: 'VolumeError', ... }` is what
 * the lifecycle puts in the pod's status while every other pod keeps running.
 */
import fs from 'node:fs';
import { lstat, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import git, { type GitHttpRequest, type HttpClient } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import type { Pod, Volume } from '../model/generated/types.js';
import { isQuantityError, parseQuantity, toBytes } from '../model/quantity.js';
import type { PreparedVolume } from './runtime.js';

/** The engine side of volumes: tmpfs volumes for `emptyDir.medium: Memory`. */
export interface VolumeEngine {
  /** Creates (idempotently) a local-driver tmpfs volume labelled with the pod's uid. */
  createTmpfsVolume(request: {
    readonly name: string;
    readonly sizeBytes: number | undefined;
    readonly podUid: string;
    readonly node: string;
  }): Promise<void>;
  /** Removes every engine volume labelled with this pod uid (and node); missing is fine. */
  removePodVolumes(podUid: string, node: string): Promise<void>;
}

export interface VolumeOptions {
  readonly node: string;
  /** Deadline of one gitRepo clone. @default 120000 */
  readonly gitTimeoutMs?: number;
}

export type PrepareVolumesResult =
  | { readonly ok: true; readonly volumes: Map<string, PreparedVolume> }
  | VolumeFailure;

export interface VolumeFailure {
  readonly ok: false;
  readonly reason: 'VolumeError';
  /** The volume that failed. */
  readonly volume: string;
  readonly message: string;
}

/** `<dataDir>/pods/<uid>`: everything on disk that belongs to one pod. */
export function podDataDir(dataDir: string, podUid: string): string {
  return join(dataDir, 'pods', podUid);
}

/** Host folder of a disk-backed volume (emptyDir, gitRepo). */
export function podVolumeDir(dataDir: string, podUid: string, volumeName: string): string {
  return join(podDataDir(dataDir, podUid), 'volumes', volumeName);
}

/** Engine volume name of a `medium: Memory` emptyDir. */
export function tmpfsVolumeName(podUid: string, volumeName: string): string {
  return `berth-${podUid}-${volumeName}`;
}

/**
 * Prepares every volume of the pod. Idempotent: an existing emptyDir keeps its content (it
 * survives container re-creation), a gitRepo already cloned is not cloned again.
 */
export async function prepareVolumes(
  pod: Pod,
  dataDir: string,
  engine: VolumeEngine,
  options: VolumeOptions,
): Promise<PrepareVolumesResult> {
  const uid = pod.metadata.uid;
  const volumes = new Map<string, PreparedVolume>();
  for (const volume of pod.spec.volumes ?? []) {
    if (uid === undefined || uid === '' || /[/\\]|^\.\.?$/.test(uid)) {
      return failure(volume.name, 'the pod has no usable metadata.uid to keep its volumes under');
    }
    try {
      const prepared = await prepareVolume(uid, volume, dataDir, engine, options);
      if ('ok' in prepared) return prepared;
      volumes.set(volume.name, prepared);
    } catch (error) {
      return failure(volume.name, errorText(error));
    }
  }
  return { ok: true, volumes };
}

/** Removes the pod's folder under the data dir and its engine volumes. */
export async function removePodVolumes(
  podUid: string,
  dataDir: string,
  engine: VolumeEngine,
  node: string,
): Promise<void> {
  if (podUid === '' || /[/\\]|^\.\.?$/.test(podUid)) return;
  await rm(podDataDir(dataDir, podUid), { recursive: true, force: true });
  await engine.removePodVolumes(podUid, node);
}

function failure(volume: string, message: string): VolumeFailure {
  return { ok: false, reason: 'VolumeError', volume, message: `volume ${volume}: ${message}` };
}

async function prepareVolume(
  uid: string,
  volume: Volume,
  dataDir: string,
  engine: VolumeEngine,
  options: VolumeOptions,
): Promise<PreparedVolume | VolumeFailure> {
  if (volume.emptyDir !== undefined) {
    const medium = volume.emptyDir.medium ?? '';
    if (medium === '') {
      const dir = podVolumeDir(dataDir, uid, volume.name);
      await mkdir(dir, { recursive: true, mode: 0o777 });
      return { kind: 'bind', hostPath: dir };
    }
    if (medium !== 'Memory') {
      return failure(volume.name, `emptyDir medium ${medium} is not supported ("" or Memory)`);
    }
    let sizeBytes: number | undefined;
    if (volume.emptyDir.sizeLimit !== undefined) {
      const quantity = parseQuantity(volume.emptyDir.sizeLimit);
      if (isQuantityError(quantity)) return failure(volume.name, quantity.message);
      sizeBytes = toBytes(quantity);
    }
    const name = tmpfsVolumeName(uid, volume.name);
    await engine.createTmpfsVolume({ name, sizeBytes, podUid: uid, node: options.node });
    return { kind: 'engine-volume', name };
  }
  if (volume.hostPath !== undefined) {
    return prepareHostPath(volume.name, volume.hostPath.path, volume.hostPath.type ?? '');
  }
  if (volume.gitRepo !== undefined) {
    const dir = podVolumeDir(dataDir, uid, volume.name);
    const cloned = await cloneGitRepo(volume.name, dir, volume.gitRepo, options);
    return cloned ?? { kind: 'bind', hostPath: dir };
  }
  if (volume.secret !== undefined) {
    return failure(volume.name, 'secret volumes are not supported: berth has no Secret objects');
  }
  const kind = Object.keys(volume).find((key) => key !== 'name') ?? 'none';
  return failure(
    volume.name,
    `volume kind ${kind} is not supported by berth (emptyDir, hostPath, gitRepo)`,
  );
}

async function prepareHostPath(
  volumeName: string,
  path: string,
  type: string,
): Promise<PreparedVolume | VolumeFailure> {
  if (!isAbsolute(path)) return failure(volumeName, `hostPath ${path} is not absolute`);
  const kindOf = async (): Promise<string | undefined> => {
    try {
      const info = await stat(path);
      if (info.isDirectory()) return 'Directory';
      if (info.isFile()) return 'File';
      if (info.isSocket()) return 'Socket';
      if (info.isCharacterDevice()) return 'CharDevice';
      if (info.isBlockDevice()) return 'BlockDevice';
      return 'other';
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  switch (type) {
    case '':
      // Nothing checked, as in Kubernetes; the engine refuses a bind of a missing path.
      return { kind: 'bind', hostPath: path };
    case 'DirectoryOrCreate':
      await mkdir(path, { recursive: true, mode: 0o755 });
      break;
    case 'FileOrCreate': {
      await mkdir(resolve(path, '..'), { recursive: true, mode: 0o755 });
      // 'a' creates when missing and never truncates what is there.
      const handle = await open(path, 'a', 0o644);
      await handle.close();
      break;
    }
  }
  const expected = type.replace(/OrCreate$/, '');
  const actual = await kindOf();
  if (actual !== expected) {
    return failure(
      volumeName,
      `hostPath ${path} is ${actual === undefined ? 'missing' : `a ${actual}`}, type ${type} needs a ${expected}`,
    );
  }
  return { kind: 'bind', hostPath: path };
}

/** Git's own name for a clone target: the URL's last segment without `.git`. */
function defaultCloneDirectory(url: string): string {
  return basename(url.replace(/\/+$/, '')).replace(/\.git$/, '') || 'repository';
}

/**
 * Clones as the kubelet's gitRepo does (`git clone URL DIR; git checkout REVISION`), with
 * isomorphic-git: it never runs hooks and only talks HTTP(S) to the repository's own origin
 * (redirects and other hosts are refused). A clone that is already there is kept.
 */
async function cloneGitRepo(
  volumeName: string,
  volumeDir: string,
  source: { repository: string; revision?: string; directory?: string },
  options: VolumeOptions,
): Promise<VolumeFailure | undefined> {
  let origin: string;
  try {
    const url = new URL(source.repository);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return failure(
        volumeName,
        `gitRepo ${source.repository}: only http and https URLs are supported`,
      );
    }
    origin = url.origin;
  } catch {
    return failure(volumeName, `gitRepo ${source.repository} is not a URL`);
  }
  const directory = source.directory ?? '';
  if (directory.split(/[/\\]/).includes('..') || isAbsolute(directory)) {
    return failure(volumeName, `gitRepo directory ${directory} must be relative without ..`);
  }
  const target =
    directory === '.'
      ? volumeDir
      : join(volumeDir, directory || defaultCloneDirectory(source.repository));
  if (!target.startsWith(volumeDir + sep) && target !== volumeDir) {
    return failure(volumeName, `gitRepo directory ${directory} leaves the volume`);
  }
  if (await exists(join(target, '.git'))) return undefined;
  await mkdir(volumeDir, { recursive: true, mode: 0o777 });
  await mkdir(target, { recursive: true });
  if ((await readdir(target)).length > 0) {
    return failure(volumeName, `gitRepo target ${directory || '(default)'} is not empty`);
  }

  const timeoutMs = options.gitTimeoutMs ?? 120_000;
  const abort = new AbortController();
  const sameOriginHttp: HttpClient = {
    request: (request: GitHttpRequest) => {
      if (new URL(request.url).origin !== origin) {
        return Promise.reject(
          new Error(`refusing request to ${request.url}: not the repository's origin`),
        );
      }
      // Redirects are not followed: they could lead anywhere.
      const fetchOptions = { ...request.fetchOptions, followRedirects: false };
      return http.request({ ...request, signal: abort.signal, fetchOptions });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`clone did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await git.clone({ fs, http: sameOriginHttp, dir: target, url: source.repository });
        if (source.revision !== undefined && source.revision !== '') {
          await git.checkout({ fs, dir: target, ref: source.revision, force: true });
        }
      })(),
      deadline,
    ]);
  } catch (error) {
    // A partial clone would look finished to the next attempt (its .git exists).
    await rm(target, { recursive: true, force: true });
    return failure(volumeName, `gitRepo ${source.repository}: ${errorText(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
