/**
 * berth's git host: bare repositories under `reposDir`, served at `/git/<app>.git` over git's
 * smart HTTP protocol by `git http-backend`, so a plain `git clone`, `fetch` and `push` work.
 * Pushes need the token as the HTTP basic password; reads are open from loopback (unless told
 * otherwise). A push to a new app name makes its repository. Every push is checked before any
 * ref moves (`checkPush`, through the `pre-receive` hook) and reported after (`onPushed`,
 * through `post-receive`); the hooks call back into this handler under `/git/_hooks/`, with a
 * secret of their own that only this process and the hooks it starts know.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ApiFailure, pathSegments, sendFailure } from '../api/http.js';
import { checkAppName } from '../operator/sync-app.js';
import {
  type HookAnswer,
  type HookCall,
  installHooks,
  type RefUpdate,
  serveHookCall,
} from './hooks.js';
import { runHttpBackend } from './http-backend.js';
import type { PushObjects } from './pushed-files.js';
import { appNameProblem, createBareRepo, isDirectory, repoPathOf } from './repos.js';

/** Where the handler answers; the server routes `/git/...` to it. */
export const GIT_PATH_PREFIX = '/git';
/** The hooks' callback, below the prefix; `_hooks` is no app name, so no repository hides it. */
export const HOOK_PATH = `${GIT_PATH_PREFIX}/_hooks`;

/** One ref a push to `app` moves (or creates, or deletes: then a sha is all zeros). */
export interface PushedRef extends RefUpdate {
  readonly app: string;
}

/** What `checkPush` decides on: a ref update, before it happens. */
export interface PushCheck extends PushedRef {
  /** The app's bare repository. */
  readonly repoPath: string;
  /**
   * The pushed objects are quarantined until the check accepts: read them with git run in
   * `objects.cwd` with `objects.env` (and GIT_DIR=repoPath), or with `readPushedFiles`.
   */
  readonly objects: PushObjects;
}

export interface PushVerdict {
  readonly ok: boolean;
  /** Printed on the pusher's terminal as `remote: <line>`, e.g. `deploy/web.yaml:3:5: ...`. */
  readonly lines: readonly string[];
}

export interface GitServerOptions {
  /** Holds `<app>.git` for each app; made when missing. */
  readonly reposDir: string;
  /** The HTTP basic password pushes (and reads off loopback) need; any user name. */
  readonly token: string;
  /** Reads (clone, fetch, ls-remote) need no token from a loopback client. @default true */
  readonly openReadsOnLoopback?: boolean;
  /** Decides on each ref of a push before it moves; a refusal moves none. @default accept */
  readonly checkPush?: (push: PushCheck) => Promise<PushVerdict>;
  /** Told of each ref a push moved, after it moved; its lines reach the pusher. */
  readonly onPushed?: (push: PushedRef) => Promise<readonly string[]>;
  /** Told when a push to a new name made its repository. If it throws, the repository is removed. */
  readonly onAppCreated?: (app: string) => void | Promise<void>;
  /**
   * Where the hooks reach this handler's callback (`http://HOST:PORT/git/_hooks`). @default the
   * local address the push came in on, over plain http
   */
  readonly hookUrl?: string;
  readonly log?: (line: string) => void;
}

export interface GitServer {
  /** Serves a request whose path starts with `/git/`; anything else is 404. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** The bare repository of `app` (it may not exist yet); BerthError APP_NAME_INVALID for a bad name. */
  repoPath(app: string): string;
}

/** The smart-HTTP paths below `<app>.git` that berth serves. */
const SMART_PATHS = new Set(['info/refs', 'git-upload-pack', 'git-receive-pack']);
const RECEIVE = 'git-receive-pack';
const UPLOAD = 'git-upload-pack';

export function createGitServer(options: GitServerOptions): GitServer {
  const reposDir = path.resolve(options.reposDir);
  const log = options.log ?? (() => {});
  const openReads = options.openReadsOnLoopback ?? true;
  const hookSecret = randomBytes(32).toString('hex');
  /** Creations in flight per app, so two first pushes make one repository and one event. */
  const creating = new Map<string, Promise<void>>();
  /** Apps whose hooks this process has checked (a berth upgrade rewrites them once). */
  const hooksChecked = new Set<string>();

  const ensureRepo = async (app: string): Promise<void> => {
    const repo = repoPathOf(reposDir, app);
    if (hooksChecked.has(app) && (await isDirectory(repo))) return;
    let pending = creating.get(app);
    if (pending === undefined) {
      pending = (async () => {
        const made = await createBareRepo(reposDir, app);
        if (made) {
          log(`git: created repository for app ${app}`);
          try {
            await options.onAppCreated?.(app);
          } catch (error) {
            await fsp.rm(repo, { recursive: true, force: true });
            throw error;
          }
        } else {
          await installHooks(path.join(repo, 'hooks'));
        }
        hooksChecked.add(app);
      })().finally(() => creating.delete(app));
      creating.set(app, pending);
    }
    await pending;
  };

  const answerHook = async (call: HookCall): Promise<HookAnswer> => {
    const problem = appNameProblem(call.app);
    if (problem !== undefined) throw new ApiFailure('bad-request', problem);
    const repoPath = repoPathOf(reposDir, call.app);
    const lines: string[] = [];
    let ok = true;
    for (const update of call.updates) {
      const pushed: PushedRef = { app: call.app, ...update };
      if (call.kind === 'pre-receive') {
        if (options.checkPush === undefined) continue;
        try {
          const verdict = await options.checkPush({
            ...pushed,
            repoPath,
            objects: { cwd: call.cwd, env: call.env },
          });
          lines.push(...verdict.lines);
          if (!verdict.ok) ok = false;
        } catch (error) {
          ok = false;
          lines.push(
            `berth: could not check ${update.ref}: ${messageOf(error)}; nothing was changed`,
          );
        }
      } else {
        if (options.onPushed === undefined) continue;
        try {
          lines.push(...(await options.onPushed(pushed)));
        } catch (error) {
          lines.push(
            `berth: the push was taken, but ${update.ref} was not handled: ${messageOf(error)}`,
          );
        }
      }
    }
    if (call.kind === 'pre-receive') {
      const refs = call.updates.map((update) => update.ref).join(', ');
      log(`git: push to ${call.app} (${refs}) ${ok ? 'accepted' : 'refused'}`);
    }
    return { ok, lines };
  };

  const serveGit = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://berth.invalid');
    const segments = pathSegments(url.pathname);
    if (segments === undefined || segments[0] !== GIT_PATH_PREFIX.slice(1)) {
      sendText(response, 404, `berth serves git repositories at ${GIT_PATH_PREFIX}/<app>.git\n`);
      return;
    }
    if (segments[1] === '_hooks') {
      try {
        await serveHookCall(request, response, segments.slice(2).join('/'), hookSecret, answerHook);
      } catch (error) {
        sendFailure(response, error);
      }
      return;
    }
    const repoName = segments[1] ?? '';
    const app = repoName.endsWith('.git') ? repoName.slice(0, -'.git'.length) : repoName;
    const problem = appNameProblem(app);
    if (problem !== undefined) {
      sendText(response, 404, `no repository here: ${problem}\n`);
      return;
    }
    const rest = segments.slice(2).join('/');
    if (!SMART_PATHS.has(rest)) {
      sendText(
        response,
        404,
        `berth serves git's smart HTTP protocol only (clone, fetch and push ${GIT_PATH_PREFIX}/${app}.git)\n`,
      );
      return;
    }
    const service = rest === 'info/refs' ? url.searchParams.get('service') : rest;
    if (service !== RECEIVE && service !== UPLOAD) {
      sendText(
        response,
        403,
        "berth serves git's smart HTTP protocol only; use git 1.6.6 or newer\n",
      );
      return;
    }
    const push = service === RECEIVE;
    const user = basicUser(request, options.token);
    const allowed = user !== undefined || (!push && openReads && isLoopback(request));
    if (!allowed) {
      response.setHeader('www-authenticate', 'Basic realm="berth"');
      sendText(
        response,
        401,
        push
          ? 'pushing to berth needs its token as the password\n'
          : 'reading from berth off this host needs its token as the password\n',
      );
      return;
    }
    const repo = repoPathOf(reposDir, app);
    if (push) {
      await ensureRepo(app);
    } else if (!(await isDirectory(repo))) {
      sendText(response, 404, `no app named ${app} here; a push to ${app}.git makes it\n`);
      return;
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...(process.env.HOME === undefined ? {} : { HOME: process.env.HOME }),
      // Command-line config wins over every file: berth's hooks run whatever a user's
      // config says, and receive-pack takes pushes from the user named below.
      GIT_CONFIG_COUNT: '3',
      GIT_CONFIG_KEY_0: 'core.hooksPath',
      GIT_CONFIG_VALUE_0: path.join(repo, 'hooks'),
      GIT_CONFIG_KEY_1: 'http.receivepack',
      GIT_CONFIG_VALUE_1: 'true',
      GIT_CONFIG_KEY_2: 'receive.denyNonFastForwards',
      GIT_CONFIG_VALUE_2: 'false',
    };
    if (push) {
      env.BERTH_APP = app;
      env.BERTH_HOOK_TOKEN = hookSecret;
      env.BERTH_HOOK_URL = options.hookUrl ?? localHookUrl(request);
    }
    runHttpBackend(request, response, {
      projectRoot: reposDir,
      pathInfo: `/${app}.git/${rest}`,
      query: url.search.replace(/^\?/, ''),
      remoteUser: user ?? 'anonymous',
      env,
      log,
    });
  };

  return {
    handle(request, response) {
      serveGit(request, response).catch((error: unknown) => {
        log(`git: ${request.method ?? ''} ${request.url ?? ''} failed: ${messageOf(error)}`);
        if (!response.headersSent) sendText(response, 500, `berth: ${messageOf(error)}\n`);
        else response.destroy();
      });
    },
    repoPath(app) {
      checkAppName(app);
      return repoPathOf(reposDir, app);
    },
  };
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The basic-auth user name when the password is `token` (compared as digests, so neither its
 * length nor its content leaks through timing); undefined otherwise.
 */
export function basicUser(request: IncomingMessage, token: string): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const given = createHash('sha256')
    .update(decoded.slice(colon + 1))
    .digest();
  const expected = createHash('sha256').update(token).digest();
  if (!timingSafeEqual(given, expected)) return undefined;
  const user = decoded.slice(0, colon);
  return user === '' ? 'berth' : user;
}

export function isLoopback(request: IncomingMessage): boolean {
  const address = request.socket.remoteAddress ?? '';
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/** The callback URL on the address this request came in on. */
function localHookUrl(request: IncomingMessage): string {
  const raw = request.socket.localAddress ?? '127.0.0.1';
  const address = raw.replace(/^::ffff:(?=\d+\.)/, '');
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${request.socket.localPort ?? 80}${HOOK_PATH}`;
}
