/**
 * `berth apply SOURCE`: loads and validates the source (an invalid one is refused whole), hands
 * it to the operator as one sync of its app, then waits until every pod of the app is Running and
 * Ready, printing progress. The operator is a running `berth serve` when one is found (same data
 * dir, --server or $BERTH_SERVER); otherwise one embedded in this command, with this host's
 * agent. Pods are left running when the command ends; the store in the data dir remembers them,
 * so applying the same source again changes nothing.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { PodStatusReport } from '../agent/lifecycle/status-types.js';
import { connectOperatorServer } from '../api/operator-client.js';
import { TEMPLATE_HASH_ANNOTATION, templateHash } from '../controllers/template-hash.js';
import { isPodOfApp } from '../daemon/status.js';
import type { ObjectReport } from '../engine/decide.js';
import { loadManifests } from '../manifests/load.js';
import { BerthError } from '../model/errors.js';
import type { Pod, ReplicationController } from '../model/generated/types.js';
import { formatProblem } from '../model/problem.js';
import { findOperatorServer } from '../operator/discovery.js';
import type { EmbeddedOperator, EmbeddedOperatorOptions } from '../operator/embedded.js';
import type { OperatorReadout, OperatorSession } from '../operator/session.js';
import { checkAppName, defaultAppName } from '../operator/sync-app.js';
import { defaultNodeName } from './agent.js';
import { type CliIo, EXIT, processStopSignal, writeLine } from './io.js';
import { openSourceFromFlags, SOURCE_FLAGS_HELP, sourceOptions } from './source-flags.js';

export const APPLY_HELP = `Usage: berth apply SOURCE [options]

Makes the cluster run what SOURCE declares: validates every manifest (an invalid source is
refused whole, nothing applied), syncs it once as an app, then waits until every pod of the app
is Running and Ready. The operator is a running \`berth serve\` when one is found (on the data
dir, or --server / $BERTH_SERVER); otherwise one embedded in this command, with this host's agent.

${SOURCE_FLAGS_HELP}
      --app NAME          the app: berth prunes only what it made for this app
                          (@default the name of the SOURCE folder or repository, or of --path)
      --allow-empty       allow a sync that deletes every object of the app
      --no-prune          keep objects that left git instead of deleting them
      --timeout DURATION  how long to wait for the pods (e.g. 90s, 2m) (@default 2m)
      --no-wait           return once the pods' containers are started (or failed to), without
                          waiting for them to be Running and Ready; with a server, at once
      --server URL        the operator to use (@default $BERTH_SERVER, else a \`berth serve\`
                          running on the data dir, else one embedded in this command)
      --token TOKEN       the server's token (@default $BERTH_TOKEN, else <data-dir>/token)
      --data-dir DIR      the operator's data dir: store and lock, read by berth get too
                          (@default $XDG_DATA_HOME/berth/operator, else ~/.local/share/berth/operator)
      --node-name NAME    this host's node name, embedded operator only
                          (@default the host name, or $BERTH_NODE_NAME)
      --service-cidr CIDR where cluster IPs come from, embedded operator only
                          (@default 10.96.0.0/16; keep it the same on every run)
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

/** What identifies a source across applies: an absolute path or the URL, and the --path. */
export function sourceIdentity(location: string, subPath: string | undefined, cwd: string): string {
  const where = /^[a-z][a-z0-9+.-]*:\/\//i.test(location)
    ? location.replace(/\/+$/, '')
    : path.resolve(cwd, location);
  const below =
    subPath === undefined ? '' : path.posix.normalize(subPath).replace(/^\.?\/+|\/+$/g, '');
  return below === '' || below === '.' ? where : `${where}#${below}`;
}

export async function runApply(argv: readonly string[], io: CliIo, deps: ApplyDeps = {}) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...sourceOptions,
      app: { type: 'string' },
      'allow-empty': { type: 'boolean' },
      'no-prune': { type: 'boolean' },
      timeout: { type: 'string', default: '2m' },
      'no-wait': { type: 'boolean' },
      server: { type: 'string' },
      token: { type: 'string' },
      'data-dir': { type: 'string' },
      'node-name': { type: 'string' },
      'service-cidr': { type: 'string' },
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
  const location = positionals[0]!;
  const app = values.app ?? defaultAppName(location, values.path);
  checkAppName(app);

  const snapshot = await openSourceFromFlags(location, values, io);
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

  const embedded = await import('../operator/embedded.js');
  const dataDir = path.resolve(
    io.cwd,
    values['data-dir'] ?? embedded.defaultOperatorDataDir(io.env),
  );
  const server = await findOperatorServer({
    ...(values.server === undefined ? {} : { server: values.server }),
    ...(values.token === undefined ? {} : { token: values.token }),
    env: io.env,
    dataDir,
  });
  const nodeName = values['node-name'] ?? io.env.BERTH_NODE_NAME ?? defaultNodeName();
  const session: OperatorSession =
    server !== undefined
      ? connectOperatorServer(server)
      : await (await import('../operator/embedded-session.js')).openEmbeddedSession({
          nodeName,
          dataDir,
          ...(values['service-cidr'] === undefined ? {} : { serviceCidr: values['service-cidr'] }),
          log: (line) => writeLine(io.stderr, `berth apply: ${line}`),
          nodeReadyTimeoutMs: NODE_REGISTER_TIMEOUT_MS,
          onNodeNotReady: (node) =>
            writeLine(io.stderr, `berth apply: node ${node} did not register; pods stay Pending`),
          ...(deps.startOperator === undefined ? {} : { startOperator: deps.startOperator }),
        });
  try {
    const result = await session.sync({
      app,
      source: sourceIdentity(location, values.path, io.cwd),
      ...(snapshot.commit === undefined ? {} : { commit: snapshot.commit }),
      objects: set.objects,
      prune: values['no-prune'] !== true,
      allowEmpty: values['allow-empty'] === true,
    });
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
    for (const report of result.reports) {
      if (report.action === 'unchanged' && report.reason !== 'in sync' && report.reason !== '') {
        writeLine(
          io.stderr,
          `note: ${report.ref.kind.toLowerCase()}/${report.ref.name}: ${report.reason}`,
        );
      }
    }
    if (values['no-wait'] === true && server !== undefined) return EXIT.ok;
    const owned = deps.stopSignal === undefined ? processStopSignal() : undefined;
    try {
      return await waitForPods(
        session,
        app,
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
    await session.close();
  }
}

function describeReport(report: ObjectReport): string {
  const { ref } = report;
  const name = `${ref.kind.toLowerCase()}/${ref.name}`;
  const where = report.node === undefined ? '' : ` on ${report.node}`;
  const reason = report.reason === '' ? '' : ` (${report.reason})`;
  return `${name} ${report.action}${where}${reason}`;
}

/** The pods berth made for `app`: its bare pods and the pods of its controllers. */
export function podsOfApp(readout: OperatorReadout, app: string): OperatorReadout['assignments'] {
  const owned = new Set(
    (readout.apps.find((entry) => entry.name === app)?.objects ?? []).map((entry) => entry.key),
  );
  return readout.assignments.filter(
    (assignment) =>
      typeof assignment.pod === 'object' &&
      assignment.pod !== null &&
      isPodOfApp(owned, assignment.pod as Pod),
  );
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

/**
 * The app's ReplicationControllers not yet converged: fewer or more pods than `replicas`, or
 * pods still on an older template (a rollout in progress). One line each, for messages.
 */
export function unsettledControllers(readout: OperatorReadout, app: string): string[] {
  const pods = podsOfApp(readout, app).map((assignment) => assignment.pod as Pod);
  const out: string[] = [];
  for (const entry of readout.apps.find((candidate) => candidate.name === app)?.objects ?? []) {
    if (entry.ref.kind !== 'ReplicationController') continue;
    const rc = entry.applied as ReplicationController;
    const replicas = rc.spec?.replicas ?? 1;
    const hash = rc.spec?.template === undefined ? undefined : templateHash(rc.spec.template);
    const owned = pods.filter(
      (pod) =>
        pod.metadata.ownerReferences?.some(
          (ref) =>
            ref.controller === true &&
            ref.kind === 'ReplicationController' &&
            ref.name === entry.ref.name,
        ) && (pod.metadata.namespace ?? 'default') === entry.ref.namespace,
    );
    const current = owned.filter(
      (pod) => pod.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] === hash,
    ).length;
    if (owned.length !== replicas || current !== replicas) {
      out.push(
        current === owned.length
          ? `rc/${entry.ref.name}: ${owned.length} of ${replicas} pods`
          : `rc/${entry.ref.name}: rolling out, ${current} of ${replicas} pods on the new template`,
      );
    }
  }
  return out;
}

/**
 * On a terminal, one line at the bottom redrawn in place (a bar of ready pods); plain lines are
 * printed above it. Elsewhere only the plain lines.
 */
function progressWriter(io: CliIo): {
  line(text: string): void;
  bar(text: string): void;
  end(): void;
} {
  const tty = io.stdout.isTTY === true;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) io.stdout.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    line(text) {
      clearBar();
      writeLine(io.stdout, text);
    },
    bar(text) {
      if (!tty) return;
      clearBar();
      io.stdout.write(text);
      barShown = true;
    },
    end: clearBar,
  };
}

export function readyBar(ready: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((ready / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${ready}/${total} pods ready`;
}

/** Polls the operator until every pod of the app is ready (or started) and removed ones are gone. */
async function waitForPods(
  session: OperatorSession,
  app: string,
  reports: readonly ObjectReport[],
  timeoutMs: number,
  stopSignal: AbortSignal,
  io: CliIo,
  until: 'ready' | 'started',
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const shown = new Map<string, string>();
  const progress = progressWriter(io);
  try {
    for (;;) {
      const readout = await session.read();
      const ofApp = podsOfApp(readout, app);
      // An embedded agent runs in this process: even without waiting for readiness, the
      // command stays until each pod's containers are started, else they would never be.
      const desired = (until === 'ready' ? ofApp : ofApp.filter((a) => a.node !== '')).map(
        (a) => a.podKey,
      );
      const statuses = new Map<string, PodStatusReport>();
      for (const node of readout.nodes) {
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
          progress.line(line);
        }
        const done = until === 'ready' ? view?.isReady === true : view?.creating === false;
        if (!done) notReady.push(key);
      }
      const assigned = new Set(readout.assignments.map((a) => a.podKey));
      const lingering = readout.podsOnNodes.filter((key) => !assigned.has(key));
      if (until === 'started' && notReady.length === 0) {
        progress.line(`started: ${desired.length} pod${desired.length === 1 ? '' : 's'}`);
        return EXIT.ok;
      }
      // A rollout replaces pods one at a time: every pod ready is not yet the end of it.
      const unsettled = until === 'ready' ? unsettledControllers(readout, app) : [];
      if (notReady.length === 0 && lingering.length === 0 && unsettled.length === 0) {
        progress.line(`ready: ${desired.length} pod${desired.length === 1 ? '' : 's'}`);
        return EXIT.ok;
      }
      progress.bar(readyBar(desired.length - notReady.length, desired.length));
      const stopped = stopSignal.aborted;
      if (stopped || Date.now() >= deadline) {
        progress.end();
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
        for (const line of unsettled) writeLine(io.stderr, `  ${line}`);
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
  } finally {
    progress.end();
  }
}
