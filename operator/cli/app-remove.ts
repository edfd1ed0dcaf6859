/**
 * `berth app remove NAME --prune`: the server deletes what the app applied (the pass a sync of
 * an empty source with prune allowed makes) and forgets the app; this side then waits until the
 * nodes have removed the deleted pods' containers, and says what was deleted and what was kept.
 */
import type { DaemonClient } from '../api/operator-client.js';
import type { AppRemoval } from '../daemon/controller.js';
import type { OperatorReadout } from '../operator/session.js';
import type { ObjectRef } from '../plan/types.js';
import { type CliIo, EXIT, writeLine } from './io.js';

/** Exit status when pods are still there at the timeout. */
export const EXIT_PODS_LEFT = 1;
const POLL_MS = 250;

export interface PruneRemoveOptions {
  readonly timeoutMs: number;
  /** --timeout as given, for messages. @default the seconds */
  readonly timeoutText?: string;
  /** Aborted to stop waiting (the removal itself is done). */
  readonly stopSignal: AbortSignal;
  /** Between looks at the readout. @default 250 ms */
  readonly pollMs?: number;
}

const KIND_ORDER: readonly ObjectRef['kind'][] = ['ReplicationController', 'Service', 'Pod'];

/** `3 replicationcontrollers, 3 services, 6 pods deleted`, or `nothing deleted`. */
export function deletedSummary(deleted: readonly ObjectRef[]): string {
  const parts: string[] = [];
  for (const kind of KIND_ORDER) {
    const count = deleted.filter((ref) => ref.kind === kind).length;
    if (count === 0) continue;
    parts.push(`${count} ${kind.toLowerCase()}${count === 1 ? '' : 's'}`);
  }
  return parts.length === 0 ? 'nothing deleted' : `${parts.join(', ')} deleted`;
}

function podKeyOf(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** The deleted pods still assigned or with containers on a node, each with where it is. */
export function podsLeft(readout: OperatorReadout, pods: readonly string[]): Map<string, string> {
  const assigned = new Map(readout.assignments.map((a) => [a.podKey, a.node]));
  const onNodes = new Set(readout.podsOnNodes);
  const reported = new Map<string, string>();
  for (const node of readout.nodes) {
    for (const pod of node.pods) {
      const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
      reported.set(
        `${pod.namespace}/${pod.name}`,
        `on node ${node.name}${typeof phase === 'string' ? ` (${phase})` : ''}`,
      );
    }
  }
  const left = new Map<string, string>();
  for (const key of pods) {
    if (!assigned.has(key) && !onNodes.has(key)) continue;
    const node = assigned.get(key);
    left.set(
      key,
      reported.get(key) ??
        (node === undefined || node === '' ? 'being removed' : `on node ${node}`),
    );
  }
  return left;
}

export function removedBar(gone: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((gone / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${gone}/${total} pods removed`;
}

function keptLines(name: string, kept: AppRemoval['kept']): string[] {
  return kept.map(
    (entry) =>
      `kept: ${entry.ref.kind.toLowerCase()}/${entry.ref.name} (${entry.reason}); it keeps running as app ${name}'s`,
  );
}

/** Removes the app with prune and waits for its pods; the exit status. */
export async function removeAppPruned(
  client: DaemonClient,
  name: string,
  options: PruneRemoveOptions,
  io: CliIo,
): Promise<number> {
  const removal = await client.removeApp(name, { prune: true });
  const pods = [...new Set(removal.deleted.filter((ref) => ref.kind === 'Pod').map(podKeyOf))];
  const deadline = Date.now() + options.timeoutMs;
  const tty = io.stdout.isTTY === true;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) io.stdout.write('\r\x1b[2K');
    barShown = false;
  };
  try {
    for (;;) {
      const left =
        pods.length === 0 ? new Map<string, string>() : podsLeft(await client.read(), pods);
      if (left.size === 0) {
        clearBar();
        writeLine(io.stdout, `app ${name} removed: ${deletedSummary(removal.deleted)}`);
        for (const line of keptLines(name, removal.kept)) writeLine(io.stdout, line);
        return EXIT.ok;
      }
      if (tty) {
        clearBar();
        io.stdout.write(removedBar(pods.length - left.size, pods.length));
        barShown = true;
      }
      const stopped = options.stopSignal.aborted;
      if (stopped || Date.now() >= deadline) {
        clearBar();
        writeLine(io.stdout, `app ${name} removed: ${deletedSummary(removal.deleted)}`);
        for (const line of keptLines(name, removal.kept)) writeLine(io.stdout, line);
        writeLine(
          io.stderr,
          stopped
            ? `berth app remove: stopped waiting; ${left.size} of ${pods.length} pods still being removed:`
            : `berth app remove: ${left.size} of ${pods.length} pods not gone after ${options.timeoutText ?? `${Math.round(options.timeoutMs / 1000)}s`}:`,
        );
        for (const [key, where] of left) {
          writeLine(io.stderr, `  pod/${key.slice(key.indexOf('/') + 1)} ${where}`);
        }
        return EXIT_PODS_LEFT;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.pollMs ?? POLL_MS);
        function done(): void {
          clearTimeout(timer);
          options.stopSignal.removeEventListener('abort', done);
          resolve();
        }
        options.stopSignal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    clearBar();
  }
}
