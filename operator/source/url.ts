/**
 * URL sources: a git repository fetched over https (http only to loopback) with isomorphic-git
 * into `<cacheDir>/<sha256 of url>`, a bare repository that later opens update. A fetch that
 * fails is an error, never a silent fall back to what the cache held.
 */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import git, { type GitHttpRequest, type GitHttpResponse, type HttpClient } from 'isomorphic-git';
import { BerthError } from '../model/errors.js';
import { errorMessage, type ObjectStore } from './git-objects.js';
import {
  checkRefName,
  isGitError,
  looksLikeSha,
  peelToCommit,
  type ResolvedCommit,
  refNotFoundError,
} from './git-refs.js';
import type { GitRepository } from './git-repository.js';
import type { SourceReaderStats } from './types.js';

export const DEFAULT_CACHE_DIR = path.join(os.homedir(), '.cache', 'berth', 'sources');

/** Each fetch adds a pack; past this many the cache is fetched afresh (lookups scan every pack index). */
const MAX_PACKS = 32;
/** git's --unshallow asks for this depth. */
const FULL_DEPTH = 2_147_483_647;

/** True for anything with a URL scheme (`https://`, `ssh://`, `file:///`...). */
export function hasUrlScheme(location: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(location);
}

/** `git@host:owner/repo.git`, git's scp-like ssh syntax. */
export function looksLikeScpAddress(location: string): boolean {
  return /^(?:[^@/\s]+@)?[^/:\s]{2,}:(?!\/\/)/.test(location);
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  const octets = host.split('.');
  return (
    octets.length === 4 &&
    octets[0] === '127' &&
    octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
  );
}

/** Validates a URL source: https anywhere, http only to this machine; anything else is refused. */
export function checkSourceUrl(location: string): URL {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new BerthError('SOURCE_UNSUPPORTED_URL', `'${location}' is not a valid URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  const scheme = url.protocol.replace(/:$/, '');
  throw new BerthError(
    'SOURCE_UNSUPPORTED_URL',
    scheme === 'http'
      ? `${redactUrl(url)}: plain http is only accepted for this machine (127.0.0.1, ::1, localhost); use https`
      : `${redactUrl(url)}: ${scheme} URLs are not supported; berth fetches over https only`,
    { hint: 'give the https URL of the repository, or clone it and give the local path' },
  );
}

/** The URL as shown in messages: without user name or password. */
export function redactUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

export interface UrlFetcherOptions {
  readonly http: HttpClient;
  /** A request that receives nothing for this long is abandoned. */
  readonly idleTimeoutMs: number;
  /** Packs the cache of one URL may pile up before it is fetched afresh. @default 32 */
  readonly maxPacks?: number;
}

export class UrlFetcher {
  /** One fetch at a time per cache folder; a second open of the same URL waits for the first. */
  private readonly busy = new Map<string, Promise<unknown>>();
  private readonly http: HttpClient;
  private readonly maxPacks: number;

  constructor(
    private readonly store: ObjectStore,
    private readonly stats: SourceReaderStats,
    options: UrlFetcherOptions,
  ) {
    this.http = withIdleTimeout(options.http, options.idleTimeoutMs);
    this.maxPacks = options.maxPacks ?? MAX_PACKS;
  }

  /** Fetches `ref` (default HEAD) of `url` into the cache and resolves it to a commit. */
  async fetch(
    url: URL,
    ref: string | undefined,
    cacheDir: string,
  ): Promise<{ repository: GitRepository; commit: ResolvedCommit }> {
    const gitdir = path.join(cacheDir, createHash('sha256').update(url.href).digest('hex'));
    const previous = this.busy.get(gitdir) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.fetchInto(url, ref, gitdir));
    this.busy.set(gitdir, run);
    try {
      return await run;
    } finally {
      if (this.busy.get(gitdir) === run) this.busy.delete(gitdir);
    }
  }

  private async fetchInto(
    url: URL,
    ref: string | undefined,
    gitdir: string,
  ): Promise<{ repository: GitRepository; commit: ResolvedCommit }> {
    const wanted = ref ?? 'HEAD';
    checkRefName(wanted);
    const repository: GitRepository = { gitdir, headGitdir: gitdir, label: redactUrl(url) };
    await this.ensureRepository(gitdir, url);
    // A full sha names immutable content: when the cache has it, there is nothing to fetch.
    if (/^[0-9a-f]{40}$/i.test(wanted)) {
      const local = await this.tryPeel(repository, wanted.toLowerCase());
      if (local !== undefined) return { repository, commit: local };
      await this.fetchEverything(url, gitdir);
      return { repository, commit: await this.localCommit(repository, url, wanted.toLowerCase()) };
    }
    let fetchHead: string | null;
    try {
      fetchHead = await this.fetchRef(url, gitdir, wanted);
    } catch (error) {
      if (!isGitError(error, 'NotFoundError')) throw error;
      if (!looksLikeSha(wanted)) throw await this.remoteRefNotFound(url, wanted);
      // Not a branch or tag: an abbreviated sha, which only a full history can expand.
      await this.fetchEverything(url, gitdir);
      const full = await this.expandLocal(gitdir, wanted.toLowerCase());
      if (full === undefined) throw await this.remoteRefNotFound(url, wanted);
      return { repository, commit: await peelToCommit(this.store, repository, full, wanted) };
    }
    if (await this.tooManyPacks(gitdir)) {
      // Each fetch adds a pack; start afresh with one shallow fetch of this ref. Other refs
      // are fetched whole again on their next open.
      await fsp.rm(gitdir, { recursive: true, force: true });
      await this.ensureRepository(gitdir, url);
      fetchHead = await this.fetchRef(url, gitdir, wanted);
    }
    if (fetchHead === null) {
      throw new BerthError('SOURCE_REF_NOT_FOUND', `${redactUrl(url)} has no commits yet`);
    }
    await git.writeRef({ fs, gitdir, ref: trackingRef(wanted), value: fetchHead, force: true });
    return { repository, commit: await peelToCommit(this.store, repository, fetchHead, wanted) };
  }

  private async ensureRepository(gitdir: string, url: URL): Promise<void> {
    if (!fs.existsSync(path.join(gitdir, 'HEAD'))) {
      await fsp.mkdir(gitdir, { recursive: true });
      await git.init({ fs, dir: gitdir, bare: true });
      // For a person looking into the cache: which URL this folder holds.
      await fsp.writeFile(
        path.join(gitdir, 'description'),
        `berth source cache of ${redactUrl(url)}\n`,
      );
    }
    // isomorphic-git records fetched refs through the remote's refspec.
    const known = await git.getConfig({ fs, gitdir, path: 'remote.origin.url' });
    if (known !== url.href)
      await git.addRemote({ fs, gitdir, remote: 'origin', url: url.href, force: true });
  }

  /** Shallow fetch of one branch or tag; returns the fetched object id (null: empty remote). */
  private async fetchRef(url: URL, gitdir: string, wanted: string): Promise<string | null> {
    const run = (depth: number | undefined) =>
      this.network(url, () =>
        git.fetch({
          fs,
          http: this.http,
          gitdir,
          url: url.href,
          // `ref` names the local ref whose commit is offered as "have", so updates are incremental.
          ref: trackingRef(wanted),
          remoteRef: wanted,
          singleBranch: true,
          tags: false,
          cache: this.store.gitCache,
          ...(depth === undefined ? {} : { depth }),
        }),
      );
    let result: Awaited<ReturnType<typeof git.fetch>>;
    try {
      result = await run(1);
    } catch (error) {
      // A server without shallow support still serves the whole history.
      if (!isGitError(error, 'RemoteCapabilityError')) throw error;
      result = await run(undefined);
    }
    return result.fetchHead;
  }

  /** Every branch and tag with full history: the only way to find a commit by sha over git's v1 protocol. */
  private async fetchEverything(url: URL, gitdir: string): Promise<void> {
    const shallow = fs.existsSync(path.join(gitdir, 'shallow'));
    await this.network(url, () =>
      git.fetch({
        fs,
        http: this.http,
        gitdir,
        url: url.href,
        singleBranch: false,
        tags: true,
        cache: this.store.gitCache,
        ...(shallow ? { depth: FULL_DEPTH } : {}),
      }),
    );
  }

  /**
   * Runs a network operation. Failures of the transport or of the server become
   * SOURCE_UNREACHABLE naming the URL and the reason; failures writing the cache are
   * SOURCE_READ_FAILED. Ref-not-found and capability errors go back to the caller.
   */
  private async network<T>(url: URL, operation: () => Promise<T>): Promise<T> {
    this.stats.fetches += 1;
    try {
      return await operation();
    } catch (error) {
      if (isGitError(error, 'NotFoundError') || isGitError(error, 'RemoteCapabilityError'))
        throw error;
      if (
        error instanceof TransportError ||
        isGitError(error, 'HttpError') ||
        isGitError(error, 'SmartHttpError')
      ) {
        throw unreachable(url, error);
      }
      throw new BerthError(
        'SOURCE_READ_FAILED',
        `cannot update the cached copy of ${redactUrl(url)}: ${errorMessage(error)}`,
        {
          cause: error,
          hint: 'the cache folder may be damaged; deleting it makes berth fetch afresh',
        },
      );
    }
  }

  private async remoteRefNotFound(url: URL, wanted: string): Promise<BerthError> {
    const refs = await this.network(url, () =>
      git.listServerRefs({ http: this.http, url: url.href, prefix: 'refs/', protocolVersion: 1 }),
    );
    const branches = refs
      .filter((r) => r.ref.startsWith('refs/heads/'))
      .map((r) => r.ref.slice('refs/heads/'.length));
    const tags = refs
      .filter((r) => r.ref.startsWith('refs/tags/') && !r.ref.endsWith('^{}'))
      .map((r) => r.ref.slice('refs/tags/'.length));
    return refNotFoundError(redactUrl(url), wanted, branches, tags);
  }

  private async tryPeel(
    repository: GitRepository,
    oid: string,
  ): Promise<ResolvedCommit | undefined> {
    try {
      return await peelToCommit(this.store, repository, oid, oid);
    } catch {
      return undefined;
    }
  }

  private async localCommit(
    repository: GitRepository,
    url: URL,
    oid: string,
  ): Promise<ResolvedCommit> {
    const found = await this.tryPeel(repository, oid);
    if (found === undefined) throw await this.remoteRefNotFound(url, oid);
    return found;
  }

  private async expandLocal(gitdir: string, short: string): Promise<string | undefined> {
    try {
      return await git.expandOid({ fs, gitdir, oid: short, cache: this.store.gitCache });
    } catch (error) {
      if (isGitError(error, 'NotFoundError')) return undefined;
      if (isGitError(error, 'AmbiguousError')) {
        throw new BerthError(
          'SOURCE_REF_NOT_FOUND',
          `short sha '${short}' is ambiguous; give more digits`,
        );
      }
      throw error;
    }
  }

  private async tooManyPacks(gitdir: string): Promise<boolean> {
    const names = await fsp
      .readdir(path.join(gitdir, 'objects', 'pack'))
      .catch(() => [] as string[]);
    return names.filter((name) => name.endsWith('.pack')).length > this.maxPacks;
  }
}

/** The local ref that remembers what a remote ref was at the last fetch. */
function trackingRef(remoteRef: string): string {
  return `refs/berth/fetched/${remoteRef}`;
}

/** A failure of the HTTP transport itself (refused, reset, timed out), as opposed to of git. */
class TransportError extends Error {}

function unreachable(url: URL, error: unknown): BerthError {
  let reason = errorMessage(error);
  let retry = true;
  if (isGitError(error, 'HttpError')) {
    const data = error.data as { statusCode?: number; statusMessage?: string } | undefined;
    const status = data?.statusCode ?? 0;
    reason = `HTTP ${status} ${data?.statusMessage ?? ''}`.trim();
    if (status === 401 || status === 403)
      reason += ' (the repository needs credentials berth does not have)';
    // A wrong URL or missing access will not fix itself; a busy or failing server may.
    retry = status >= 500 || status === 408 || status === 429;
  } else if (isGitError(error, 'SmartHttpError')) {
    reason = `the server did not answer as a git smart-HTTP server (${reason})`;
    retry = false;
  }
  return new BerthError('SOURCE_UNREACHABLE', `cannot fetch ${redactUrl(url)}: ${reason}`, {
    retry,
    cause: error,
    hint: 'check the URL and the network; berth does not fall back to a cached copy',
  });
}

/**
 * An isomorphic-git HTTP client that abandons a request when no data arrives for `idleMs`
 * (isomorphic-git's fetch has no timeout of its own; a stalled server would hang forever).
 */
export function withIdleTimeout(client: HttpClient, idleMs: number): HttpClient {
  return {
    async request(request: GitHttpRequest): Promise<GitHttpResponse> {
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => controller.abort(new Error(`no response for ${Math.round(idleMs / 1000)} s`)),
          idleMs,
        );
      };
      arm();
      let response: GitHttpResponse;
      try {
        response = await client.request({ ...request, signal: controller.signal });
      } catch (error) {
        clearTimeout(timer);
        throw transportError(controller.signal.aborted ? controller.signal.reason : error);
      }
      const body = response.body;
      if (body === undefined) {
        clearTimeout(timer);
        return response;
      }
      arm();
      async function* watched(): AsyncGenerator<Uint8Array> {
        try {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            arm();
            yield chunk;
          }
        } catch (error) {
          throw transportError(controller.signal.aborted ? controller.signal.reason : error);
        } finally {
          clearTimeout(timer);
        }
      }
      return { ...response, body: watched() };
    },
  };
}

/** Keeps the system error code (ECONNREFUSED...) in the message: it is what a person searches for. */
function transportError(cause: unknown): TransportError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = errorMessage(cause);
  return new TransportError(
    typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message,
    {
      cause,
    },
  );
}
