/**
 * `berth apply SOURCE`: loads and validates the source (an invalid one is refused whole),
 * runs the embedded operator on this host for one sync, then waits until every desired pod
 * is Running and Ready, printing progress. Pods are left running when the command ends; the
 * store in the data dir remembers them, so applying the same source again changes nothing.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { PodStatusReport } from '../agent/lifecycle/status-types.js';
import type { ObjectReport } from '../engine/decide.js';
import { loadManifests } from '../manifests/load.js';
import { BerthError } from '../model/errors.js';
import { formatProblem } from '../model/problem.js';
import type { EmbeddedOperator, EmbeddedOperatorOptions } from '../operator/embedded.js';
import { defaultNodeName } from './agent.js';
import { type CliIo, EXIT, processStopSignal, writeLine } from './io.js';
import { openSourceFromFlags, SOURCE_FLAGS_HELP, sourceOptions } from './source-flags.js';

export const APPLY_HELP = `Usage: berth apply SOURCE [options]

Makes this host run what SOURCE declares: validates every manifest (an invalid source is
refused whole, nothing applied), syncs once with the operator embedded in this command and
the local node agent, then waits until every desired pod is Running and Ready.

${SOURCE_FLAGS_HELP}
      --timeout DURATION  how long to wait for the pods (e.g. 90s, 2m) (@default 2m)
      --no-wait           return once the pods' containers are started (or failed to),
                          without waiting for them to be Running and Ready
      --data-dir DIR      the operator's data dir: store and lock, read by berth get too
                          (@default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)
      --node-name NAME    this host's node name (@default the host name, or $BERTH_NODE_NAME)
  -h, --help              show this help

Exit status: 0 all pods ready (or --no-wait), 1 not ready at the timeout (the reasons are
printed), 2 an invalid source, a refused plan or a usage error.`;

const EXIT_NOT_READY = 1;
const POLL_MS = 250;
const NODE_REGISTER_TIMEOUT_MS = 15_000;

export interface ApplyDeps {
  readonly startOperator?: (options: EmbeddedOperatorOptions) => Promise<EmbeddedOperator>;
  /** Aborted to stop waiting (pods stay). @default aborted by SIGINT or SIGTERM */
  readonly stopSignal?: AbortSignal;
}

/** `90s`, `2m`, `1h`, `500ms`, or a bare number of seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new BerthError('CLI_USAGE', `${flag}: "${text}" is not a duration`, {
      hint: 'e.g. 90s, 2m, 1h',
    });
  }
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  return Number(match[1]) * unitMs;
}

export async function runApply(argv: readonly string[], io: CliIo, deps: ApplyDeps = {}) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...sourceOptions,
      timeout: { type: 'string', default: '2m' },
      'no-wait': { type: 'boolean' },
      'data-dir': { type: 'string' },
      'node-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, APPLY_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new BerthError('CLI_USAGE', 'berth apply takes exactly one SOURCE', {
      hint: 'berth apply guestbook/   (see berth apply --help)',
    });
  }
  const timeoutMs = parseDuration(values.timeout, '--timeout');

  const snapshot = await openSourceFromFlags(positionals[0]!, values, io);
  const set = await loadManifests(snapshot.files);
  const problems = [...snapshot.problems, ...set.problems];
  if (problems.length > 0) {
    for (const problem of problems) writeLine(io.stdout, formatProblem(problem));
    writeLine(
      io.stderr,
      `invalid: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing applied`,
    );
    return EXIT.error;
  }

  const nodeName = values['node-name'] ?? io.env.BERTH_NODE_NAME ?? defaultNodeName();
  const embedded = await import('../operator/embedded.js');
  const start = deps.startOperator ?? embedded.startEmbeddedOperator;
  const operator = await start({
    nodeName,
    dataDir: path.resolve(io.cwd, values['data-dir'] ?? embedded.defaultOperatorDataDir(io.env)),
    log: (line) => writeLine(io.stderr, `berth apply: ${line}`),
  });
  try {
    if (!(await operator.nodeReady(NODE_REGISTER_TIMEOUT_MS))) {
      writeLine(io.stderr, `berth apply: node ${nodeName} did not register; pods stay Pending`);
    }
    const result = operator.engine.sync('app', set.objects);
    if (result.refused !== undefined) {
      writeLine(io.stderr, `berth apply: refused: ${result.refused.message}`);
      return EXIT.error;
    }
    const changes = result.reports.filter((report) => report.action !== 'unchanged');
    if (changes.length === 0) {
      writeLine(io.stdout, `in sync: ${result.reports.length} objects unchanged`);
    } else {
      for (const report of changes) writeLine(io.stdout, describeReport(report));
    }
    const owned = deps.stopSignal === undefined ? processStopSignal() : undefined;
    try {
      return await waitForPods(
        operator,
        result.reports,
        timeoutMs,
        deps.stopSignal ?? owned!.signal,
        io,
        values['no-wait'] === true ? 'started' : 'ready',
      );
    } finally {
      owned?.dispose();
    }
  } finally {
    await operator.close();
  }
}

function describeReport(report: ObjectReport): string {
  const { ref } = report;
  const name = `${ref.kind.toLowerCase()}/${ref.name}`;
  const where = report.node === undefined ? '' : ` on ${report.node}`;
  const reason = report.reason === '' ? '' : ` (${report.reason})`;
  return `${name} ${report.action}${where}${reason}`;
}

interface PodView {
  readonly phase: string;
  readonly ready: number;
  readonly total: number;
  readonly isReady: boolean;
  /** Some container is still being created (no outcome yet). */
  readonly creating: boolean;
  /** Waiting reasons of the containers, e.g. CrashLoopBackOff: message. */
  readonly trouble: readonly string[];
}

function viewOf(status: PodStatusReport): PodView {
  const containers = status.containerStatuses ?? [];
  const ready = containers.filter((c) => c.ready === true).length;
  const readyCondition = status.conditions?.find((c) => c.type === 'Ready');
  const trouble: string[] = [];
  for (const container of containers) {
    const waiting = container.state?.waiting;
    if (waiting?.reason !== undefined) {
      trouble.push(
        `${container.name}: ${waiting.reason}${waiting.message === undefined ? '' : `: ${waiting.message}`}`,
      );
    }
  }
  return {
    phase: status.phase ?? 'Unknown',
    ready,
    total: containers.length,
    isReady: status.phase === 'Running' && readyCondition?.status === 'True',
    creating:
      containers.length === 0 ||
      containers.some((c) => {
        const reason = c.state?.waiting?.reason;
        return reason === 'ContainerCreating' || reason === 'PodInitializing';
      }),
    trouble,
  };
}

/** Polls the endpoint's status reports until every desired pod is ready and removed ones are gone. */
async function waitForPods(
  operator: EmbeddedOperator,
  reports: readonly ObjectReport[],
  timeoutMs: number,
  stopSignal: AbortSignal,
  io: CliIo,
  until: 'ready' | 'started',
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const shown = new Map<string, string>();
  for (;;) {
    const bound = operator.store.assignments().filter((a) => a.node !== '');
    // The local agent runs in this process: even without waiting for readiness, the command
    // stays until each pod's containers are started, else they would never be.
    const desired = (until === 'ready' ? operator.store.assignments() : bound).map((a) => a.podKey);
    const statuses = new Map<string, PodStatusReport>();
    for (const node of operator.endpoint.nodes()) {
      // The wire type is the generic PodStatus; berth's agents send the narrower report.
      for (const pod of node.pods) {
        statuses.set(`${pod.namespace}/${pod.name}`, pod.status as unknown as PodStatusReport);
      }
    }
    const notReady: string[] = [];
    for (const key of desired) {
      const status = statuses.get(key);
      const name = key.slice(key.indexOf('/') + 1);
      const view = status === undefined ? undefined : viewOf(status);
      // No line before the node's first report on the pod: its status is not known yet.
      const line =
        view === undefined ? undefined : `pod/${name} ${view.phase} ${view.ready}/${view.total}`;
      if (line !== undefined && shown.get(key) !== line) {
        shown.set(key, line);
        writeLine(io.stdout, line);
      }
      const done = until === 'ready' ? view?.isReady === true : view?.creating === false;
      if (!done) notReady.push(key);
    }
    const wanted = new Set(desired);
    const lingering = [...(await operator.agent.podsOnEngine())].filter((key) => !wanted.has(key));
    if (until === 'started' && notReady.length === 0) {
      writeLine(io.stdout, `started: ${desired.length} pod${desired.length === 1 ? '' : 's'}`);
      return EXIT.ok;
    }
    if (notReady.length === 0 && lingering.length === 0) {
      writeLine(io.stdout, `ready: ${desired.length} pod${desired.length === 1 ? '' : 's'}`);
      return EXIT.ok;
    }
    const stopped = stopSignal.aborted;
    if (stopped || Date.now() >= deadline) {
      writeLine(
        io.stderr,
        stopped
          ? 'berth apply: stopped waiting; pods left as they are. Not ready:'
          : `berth apply: not ready after ${Math.round(timeoutMs / 1000)}s:`,
      );
      for (const key of notReady) {
        const name = key.slice(key.indexOf('/') + 1);
        const status = statuses.get(key);
        const pending = reports.find(
          (r) => r.action === 'pending' && `${r.ref.namespace}/${r.ref.name}` === key,
        );
        const reasons =
          status === undefined
            ? [pending?.reason ?? 'not started on any node yet']
            : viewOf(status).trouble;
        const phase = status?.phase ?? 'Pending';
        writeLine(io.stderr, `  pod/${name} ${phase}: ${reasons.join('; ') || 'not ready'}`);
      }
      for (const key of lingering) writeLine(io.stderr, `  pod/${key} still being removed`);
      return EXIT_NOT_READY;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, POLL_MS);
      function done(): void {
        clearTimeout(timer);
        stopSignal.removeEventListener('abort', done);
        resolve();
      }
      stopSignal.addEventListener('abort', done, { once: true });
    });
  }
}
