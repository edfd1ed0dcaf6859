/**
 * The `pre-receive` and `post-receive` hooks berth installs in every repository it hosts, and
 * the callback they talk to. git runs a hook in its own process, so the hook (a small node
 * script) posts the ref updates to `BERTH_HOOK_URL` with `BERTH_HOOK_TOKEN`, both passed down
 * through http-backend's environment, and prints the lines berth answers; git shows them on the
 * pusher's terminal as `remote: ...`. A refusing answer (or no answer) makes `pre-receive` exit
 * non-zero, and git then moves no ref.
 */
import { promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ApiFailure, bearerMatches, isRecord, readJsonBody, sendJson } from '../api/http.js';

export type HookKind = 'pre-receive' | 'post-receive';
export const HOOK_KINDS: readonly HookKind[] = ['pre-receive', 'post-receive'];

/** The script both hooks run (CommonJS, no dependencies); written next to them. */
export const HOOK_SCRIPT_FILE = 'berth-hook.cjs';

/** A sha of all zeros: the old side of a created ref, the new side of a deleted one. */
export function isZeroSha(sha: string): boolean {
  return /^0+$/.test(sha);
}

/**
 * The hook program. Reads `<old> <new> <ref>` lines from stdin, posts them, prints the answer's
 * lines, exits 1 when the answer refuses or cannot be had (pre-receive only; post-receive's exit
 * status changes nothing in git).
 */
export const HOOK_SCRIPT = `'use strict';
// Written by berth. Asks the berth server that hosts this repository about each pushed ref.
const http = require('node:http');
const kind = process.argv[2] === 'post-receive' ? 'post-receive' : 'pre-receive';
const url = process.env.BERTH_HOOK_URL;
const secret = process.env.BERTH_HOOK_TOKEN;
const app = process.env.BERTH_APP;
function finish(lines, ok) {
  const text = lines.map((line) => line + '\\n').join('');
  process.stdout.write(text, () => process.exit(ok || kind === 'post-receive' ? 0 : 1));
}
if (!url || !secret || !app) {
  finish(['berth: this repository takes pushes only through berth; nothing was changed'], false);
} else {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { input += chunk; });
  process.stdin.on('end', () => {
    const updates = input.split('\\n').filter((line) => line.trim() !== '').map((line) => {
      const [oldSha, newSha, ref] = line.trim().split(' ');
      return { oldSha, newSha, ref };
    });
    const env = {};
    for (const name of ['GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH']) {
      if (process.env[name] !== undefined) env[name] = process.env[name];
    }
    const body = JSON.stringify({ app, updates, cwd: process.cwd(), env });
    const unreachable = (why) => finish([
      'berth: cannot reach the berth server to ' + (kind === 'pre-receive' ? 'check this push' : 'report this push') + ' (' + why + ')' +
        (kind === 'pre-receive' ? '; nothing was changed' : ''),
    ], false);
    const request = http.request(url + '/' + kind, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: 'Bearer ' + secret,
      },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => {
        let answer;
        try { answer = JSON.parse(text); } catch { answer = undefined; }
        if (response.statusCode !== 200 || !answer || !Array.isArray(answer.lines)) {
          const why = answer && answer.error && answer.error.message;
          unreachable('it answered ' + response.statusCode + (why ? ': ' + why : ''));
          return;
        }
        finish(answer.lines.map(String), answer.ok === true);
      });
      response.on('error', (error) => unreachable(error.message));
    });
    request.on('error', (error) => unreachable(error.message));
    request.end(body);
  });
}
`;

/** Quotes `value` for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The files of a hooks folder: the script, and one shell hook per kind that runs it with node
 * (found next to the hook, so the repository may move).
 */
export function hookFiles(nodePath: string): Map<string, string> {
  const files = new Map<string, string>([[HOOK_SCRIPT_FILE, HOOK_SCRIPT]]);
  for (const kind of HOOK_KINDS) {
    files.set(
      kind,
      `#!/bin/sh\n# Written by berth.\nexec ${shellQuote(nodePath)} "$(dirname -- "$0")/${HOOK_SCRIPT_FILE}" ${kind}\n`,
    );
  }
  return files;
}

/** Writes the hooks into `hooksDir` where they are missing or differ; all executable. */
export async function installHooks(hooksDir: string, nodePath = process.execPath): Promise<void> {
  await fsp.mkdir(hooksDir, { recursive: true });
  for (const [name, text] of hookFiles(nodePath)) {
    const file = path.join(hooksDir, name);
    const current = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (current !== text) {
      const temp = `${file}.${process.pid}.tmp`;
      await fsp.writeFile(temp, text, { mode: 0o755 });
      await fsp.rename(temp, file);
    }
    await fsp.chmod(file, 0o755);
  }
}

/** One ref a push updates, as git hands it to the hooks. */
export interface RefUpdate {
  readonly ref: string;
  /** All zeros when the push creates the ref. */
  readonly oldSha: string;
  /** All zeros when the push deletes the ref. */
  readonly newSha: string;
}

/** What a hook posted: the app, its updates, and where git keeps the pushed objects for now. */
export interface HookCall {
  readonly kind: HookKind;
  readonly app: string;
  readonly updates: readonly RefUpdate[];
  /** The hook's working directory (the bare repository); relative git paths start here. */
  readonly cwd: string;
  /** GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_QUARANTINE_PATH as git set them. */
  readonly env: Readonly<Record<string, string>>;
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const QUARANTINE_ENV = new Set([
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_QUARANTINE_PATH',
]);

/** Checks a hook's body field by field; throws `bad-request` naming the first wrong one. */
export function parseHookCall(kind: HookKind, body: unknown): HookCall {
  const bad = (what: string) => new ApiFailure('bad-request', `hook call: ${what}`);
  if (!isRecord(body)) throw bad('body must be a JSON object');
  const { app, updates, cwd, env } = body;
  if (typeof app !== 'string') throw bad('app must be a string');
  if (typeof cwd !== 'string' || !path.isAbsolute(cwd)) throw bad('cwd must be an absolute path');
  if (!Array.isArray(updates)) throw bad('updates must be a list');
  const parsed: RefUpdate[] = [];
  for (const update of updates as unknown[]) {
    if (!isRecord(update)) throw bad('each update must be an object');
    const { ref, oldSha, newSha } = update;
    if (typeof ref !== 'string' || !ref.startsWith('refs/')) throw bad('update.ref must be a ref');
    if (typeof oldSha !== 'string' || !SHA.test(oldSha)) throw bad('update.oldSha must be a sha');
    if (typeof newSha !== 'string' || !SHA.test(newSha)) throw bad('update.newSha must be a sha');
    parsed.push({ ref, oldSha, newSha });
  }
  const gitEnv: Record<string, string> = {};
  if (env !== undefined) {
    if (!isRecord(env)) throw bad('env must be an object');
    for (const [name, value] of Object.entries(env)) {
      if (!QUARANTINE_ENV.has(name) || typeof value !== 'string') throw bad(`env.${name} refused`);
      gitEnv[name] = value;
    }
  }
  return { kind, app, updates: parsed, cwd, env: gitEnv };
}

/** The callback's answer: whether to accept (pre-receive) and the lines to print. */
export interface HookAnswer {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

/**
 * Serves `POST <base>/pre-receive` and `<base>/post-receive` (`rest` is the part after the base):
 * checks the hook secret, parses the call, answers what `answer` decides.
 */
export async function serveHookCall(
  request: IncomingMessage,
  response: ServerResponse,
  rest: string,
  secret: string,
  answer: (call: HookCall) => Promise<HookAnswer>,
): Promise<void> {
  if (!bearerMatches(request, secret)) {
    throw new ApiFailure('unauthorized', 'the hook callback needs its secret');
  }
  const kind = HOOK_KINDS.find((candidate) => candidate === rest);
  if (kind === undefined) throw new ApiFailure('not-found', `no hook callback ${rest}`);
  if (request.method !== 'POST') {
    throw new ApiFailure('method-not-allowed', 'hook callbacks are POST');
  }
  const call = parseHookCall(kind, await readJsonBody(request, 4 * 1024 * 1024));
  const result = await answer(call);
  sendJson(response, 200, { ok: result.ok, lines: result.lines });
}
