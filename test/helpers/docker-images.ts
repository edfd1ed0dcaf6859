import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { withMachineLock as withLockDir } from '../../images/machine-lock.js';
import { busyboxRecipe, type ImageRecipe } from '../images/busybox.js';
import { dockerStatusCode } from './docker.js';
import { tarArchive } from './docker-tar.js';

/**
 * Test images built on the machine, never pulled: no registry is reachable where berth's
 * tests run. The root filesystem is written as a tar stream and handed to Docker's image
 * import (`POST /images/create?fromSrc=-`, what `docker import` does). Import rather than
 * build: one API call, no build context, no builder or build cache, and no container has
 * to run during the build; `changes` still sets ENV and CMD like a Dockerfile would.
 */

export const TEST_IMAGE = 'berth-test/busybox:1';

/** The image's Comment records the recipe digest, so a stale image under the tag is rebuilt. */
const RECIPE_COMMENT_PREFIX = 'berth test image, recipe ';

export interface TestImage {
  readonly name: string;
  readonly id: string;
  /** False when an image from the same recipe was already there. */
  readonly built: boolean;
}

export class TestImageError extends Error {
  readonly code = 'TEST_IMAGE_IMPORT_FAILED';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TestImageError';
  }
}

// Calls on one client share a pending build; across clients and workers the machine lock
// (withMachineLock) makes sure only one of them imports.
const inFlight = new WeakMap<Dockerode, Map<string, Promise<TestImage>>>();

/**
 * Makes sure `name` is the busybox test image. Does nothing when an image built from the
 * same recipe already carries the tag; imports it otherwise (also replacing an image of an
 * older recipe under the same tag).
 */
export function ensureTestImage(docker: Dockerode, name = TEST_IMAGE): Promise<TestImage> {
  let byName = inFlight.get(docker);
  if (byName === undefined) {
    byName = new Map();
    inFlight.set(docker, byName);
  }
  const pending = byName.get(name);
  if (pending !== undefined) return pending;
  // Through a promise so a missing busybox rejects like any other failure instead of throwing.
  const started = Promise.resolve()
    .then(() => ensureRecipeImage(docker, name, busyboxRecipe()))
    .finally(() => {
      byName.delete(name);
    });
  byName.set(name, started);
  return started;
}

/** Same as ensureTestImage for any recipe. */
export async function ensureRecipeImage(
  docker: Dockerode,
  name: string,
  recipe: ImageRecipe,
): Promise<TestImage> {
  const archive = tarArchive(recipe.entries);
  const comment = `${RECIPE_COMMENT_PREFIX}${recipeDigest(archive, recipe.changes)}`;
  const before = await inspectImage(docker, name);
  if (before?.Comment === comment) return { name, id: before.Id, built: false };

  return withMachineLock(`image-${name}`, async () => {
    // Another worker may have imported it while this one waited for the lock.
    const current = await inspectImage(docker, name);
    if (current?.Comment === comment) return { name, id: current.Id, built: false };
    const id = await importArchive(docker, name, archive, recipe.changes, comment);
    // The image of the older recipe lost its tag: remove it unless a container still uses it.
    if (current !== undefined && current.Id !== id) await removeImageIfUnused(docker, current.Id);
    return { name, id, built: true };
  });
}

function recipeDigest(archive: Buffer, changes: readonly string[]): string {
  const hash = createHash('sha256').update(archive);
  for (const change of changes) hash.update('\n').update(change);
  return `sha256:${hash.digest('hex')}`;
}

async function inspectImage(
  docker: Dockerode,
  name: string,
): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(name).inspect();
  } catch (error) {
    if (dockerStatusCode(error) === 404) return undefined;
    throw error;
  }
}

/** Imports and tags in one call (what `docker import --change ... - repo:tag` does). */
async function importArchive(
  docker: Dockerode,
  name: string,
  archive: Buffer,
  changes: readonly string[],
  comment: string,
): Promise<string> {
  const { repo, tag } = splitImageName(name);
  try {
    const progress = await docker.importImage(Readable.from([archive]), {
      repo,
      tag,
      message: comment,
      changes: [...changes],
    });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(progress, (error) =>
        error === null ? resolve() : reject(error),
      );
    });
  } catch (error) {
    throw new TestImageError(`importing test image ${name} failed: ${String(error)}`, error);
  }
  const tagged = await inspectImage(docker, name);
  if (tagged?.Comment !== comment) {
    throw new TestImageError(`image ${name} does not carry the imported recipe right after import`);
  }
  return tagged.Id;
}

async function removeImageIfUnused(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getImage(id).remove();
  } catch (error) {
    // 404: already gone; 409: a container still uses it, so it stays until that one goes.
    const status = dockerStatusCode(error);
    if (status !== 404 && status !== 409) throw error;
  }
}

const LOCK_WAIT_MS = 120_000;

/** Serialises `work` across every process on this machine (see images/machine-lock.ts). */
export function withMachineLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  return withLockDir(
    {
      name: `berth-test-lock-${key}`,
      waitMs: LOCK_WAIT_MS,
      timeoutError: (lockDir) =>
        new TestImageError(
          `waited ${LOCK_WAIT_MS / 1000}s for ${lockDir}; remove it if no test run is active`,
        ),
    },
    work,
  );
}

/** "repo/name:tag" → repo and tag (tag defaults to latest; a registry port is not a tag). */
export function splitImageName(name: string): { repo: string; tag: string } {
  const lastColon = name.lastIndexOf(':');
  if (lastColon > name.lastIndexOf('/')) {
    return { repo: name.slice(0, lastColon), tag: name.slice(lastColon + 1) };
  }
  return { repo: name, tag: 'latest' };
}
