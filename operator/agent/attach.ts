/**
 * Attached mode, the agent's side of the node protocol: register with the operator, heartbeat,
 * long-poll the assigned pod set and hand each new whole set to the node agent, and report the
 * node's pod status whenever it changes. Level-triggered throughout: a lost answer or report
 * is repaired by the next one, and an operator that forgot the node (restart) is answered by
 * registering again. Only a failure a person must fix (wrong token, other protocol version)
 * ends the attachment.
 */

import { randomBytes } from 'node:crypto';
import type { NodeClient } from '../api/node-client.js';
import { DEFAULT_WATCH_TIMEOUT_SECONDS, type NodeEvent, type PodReport } from '../api/protocol.js';
import { BerthError, isBerthError } from '../model/errors.js';
import type { Pod } from '../model/generated/types.js';
import type { ServiceView } from '../services/types.js';

/** A pod report as the node agent makes it; `status` is Kubernetes-shaped. */
export interface AgentPodReport {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly status: object;
}

/** What attached mode needs of the node agent (node-agent.ts's NodeAgent has this shape). */
export interface AttachableAgent {
  setDesiredPods(pods: readonly Pod[], version: string): void;
  /**
   * The services this node carries (proxy and DNS); agents without them ignore it. A promise
   * settles once the node's proxy rules hold them (see SERVICES_FIRST_WAIT_MS).
   */
  setServices?(services: readonly ServiceView[]): void | Promise<void>;
  pods(): readonly AgentPodReport[];
  onChange(listener: () => void): () => void;
  /** Events to carry to the operator (drift repaired); agents without them leave it out. */
  onPodEvent?(listener: (event: Omit<NodeEvent, 'id'>) => void): () => void;
  capacity(): Promise<{ cpu: number; memoryBytes: number }>;
}

/**
 * How long a new assignment waits for the node's service rules before its pods are handed to
 * the agent. The operator takes a pod out of its services' endpoints in the same pass that
 * takes it off its node, so one answer carries both; the rules go first, so a pod being torn
 * down gets no new connection (Kubernetes: the endpoint leaves before the kubelet kills). A
 * proxy that is slow or failing delays the pods by this much at most.
 */
export const SERVICES_FIRST_WAIT_MS = 2_000;

/** Events kept for the operator while it does not answer; the oldest go first past this. */
const PENDING_EVENTS_KEPT = 1000;

export interface AttachOptions {
  readonly agent: AttachableAgent;
  readonly client: NodeClient;
  readonly labels: Readonly<Record<string, string>>;
  /** The agent's own API address, told to the operator. */
  readonly address?: string;
  /** How long one assignment watch waits on the operator. @default 30 s */
  readonly watchTimeoutSeconds?: number;
  /** Status changes closer together than this go in one report. @default 200 ms */
  readonly statusDebounceMs?: number;
  /** Backoff after a failed call: first wait, doubled up to the cap. @default 500 ms to 10 s */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** @default SERVICES_FIRST_WAIT_MS */
  readonly servicesFirstWaitMs?: number;
  /** Progress and trouble, one line each (the CLI prints them). */
  readonly log?: (line: string) => void;
  /**
   * Routine events (registered, a new assignment), one line each. @default `log`; an agent
   * embedded in a command passes a no-op so only trouble is shown.
   */
  readonly info?: (line: string) => void;
}

export interface Attachment {
  /** Stops every loop and aborts calls in flight; the node agent and its pods are left alone. */
  stop(): Promise<void>;
  /** Settles when stopped; rejects with the BerthError a person must fix (bad token, version). */
  readonly done: Promise<void>;
  /** The assignment version last handed to the agent; undefined before the first. */
  assignmentVersion(): string | undefined;
}

/**
 * Failures of the protocol a person must fix. Everything else (operator down, engine slow to
 * answer the capacity question, a 5xx) is retried with backoff.
 */
function isFatal(error: unknown): boolean {
  if (!isBerthError(error)) return false;
  switch (error.code) {
    case 'API_UNAUTHORIZED':
    case 'API_PROTOCOL_VERSION':
      return true;
    case 'API_BAD_RESPONSE':
      return !error.retry;
    default:
      return false;
  }
}

export function attachToOperator(options: AttachOptions): Attachment {
  const { agent, client } = options;
  const log = options.log ?? (() => {});
  const info = options.info ?? log;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS;
  const statusDebounceMs = options.statusDebounceMs ?? 200;
  const retryInitialMs = options.retryInitialMs ?? 500;
  const retryMaxMs = options.retryMaxMs ?? 10_000;
  const servicesFirstWaitMs = options.servicesFirstWaitMs ?? SERVICES_FIRST_WAIT_MS;

  const abort = new AbortController();
  const { signal } = abort;
  let fatal: unknown;
  let version: string | undefined;
  let heartbeatMs = 5_000;
  let registration: Promise<void> | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let statusInFlight = false;
  let statusAgain = false;
  /** Events not yet in an accepted report, oldest first. */
  const pendingEvents: NodeEvent[] = [];
  const eventPrefix = randomBytes(6).toString('hex');
  let eventSeq = 0;

  /** Waits for `work` (never rejecting) at most ms, or less when stopped. */
  async function within(work: void | Promise<void>, ms: number): Promise<void> {
    if (work === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort = (): void => {};
    const capped = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([work.catch(() => {}), capped]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Waits ms, or less when stopped. Never rejects. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  function fail(error: unknown): void {
    if (fatal === undefined) fatal = error;
    abort.abort();
  }

  function describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
  }

  /** One registration at a time; every loop that learns the node is unknown shares it. */
  function ensureRegistered(): Promise<void> {
    registration ??= (async () => {
      let wait = retryInitialMs;
      while (!signal.aborted) {
        try {
          const capacity = await agent.capacity();
          const answer = await client.register(
            {
              labels: options.labels,
              capacity,
              ...(options.address === undefined ? {} : { address: options.address }),
            },
            signal,
          );
          heartbeatMs = Math.max(100, answer.heartbeatIntervalSeconds * 1000);
          info(
            `registered with the operator (heartbeat every ${answer.heartbeatIntervalSeconds}s)`,
          );
          scheduleStatus(0);
          return;
        } catch (error) {
          if (signal.aborted) return;
          if (isFatal(error)) {
            fail(error);
            return;
          }
          log(`register failed, retrying in ${wait} ms: ${describe(error)}`);
          await pause(wait);
          wait = Math.min(wait * 2, retryMaxMs);
        }
      }
    })().finally(() => {
      registration = undefined;
    });
    return registration;
  }

  /** Handles a failed call of a loop: re-register, give up, or back off. */
  async function recover(error: unknown, what: string, wait: number): Promise<void> {
    if (signal.aborted) return;
    if (isBerthError(error) && error.code === 'API_NODE_UNKNOWN') {
      log(`operator does not know this node (${what}); registering again`);
      await ensureRegistered();
      return;
    }
    if (isFatal(error)) {
      fail(error);
      return;
    }
    log(`${what} failed, retrying in ${wait} ms: ${describe(error)}`);
    await pause(wait);
  }

  async function heartbeatLoop(): Promise<void> {
    let wait = retryInitialMs;
    while (!signal.aborted) {
      await pause(heartbeatMs);
      if (signal.aborted) return;
      try {
        await client.heartbeat(signal);
        wait = retryInitialMs;
      } catch (error) {
        await recover(error, 'heartbeat', wait);
        wait = Math.min(wait * 2, retryMaxMs);
      }
    }
  }

  async function watchLoop(): Promise<void> {
    let wait = retryInitialMs;
    while (!signal.aborted) {
      try {
        const answer = await client.watchAssignments(version ?? '', watchTimeoutSeconds, signal);
        wait = retryInitialMs;
        if (answer.version !== version) {
          version = answer.version;
          // Services first: a pod that left the set left its endpoints in this same answer.
          await within(agent.setServices?.(answer.services ?? []), servicesFirstWaitMs);
          agent.setDesiredPods(answer.pods, answer.version);
          info(`assignment ${answer.version}: ${answer.pods.length} pod(s)`);
        }
      } catch (error) {
        await recover(error, 'assignment watch', wait);
        wait = Math.min(wait * 2, retryMaxMs);
      }
    }
  }

  function scheduleStatus(delayMs: number): void {
    if (signal.aborted) return;
    if (statusInFlight) {
      statusAgain = true;
      return;
    }
    if (statusTimer !== undefined) return;
    statusTimer = setTimeout(() => {
      statusTimer = undefined;
      void sendStatus();
    }, delayMs);
  }

  let statusWait = retryInitialMs;
  async function sendStatus(): Promise<void> {
    statusInFlight = true;
    statusAgain = false;
    try {
      const events = pendingEvents.slice();
      await client.reportStatus(agent.pods() as readonly PodReport[], signal, events);
      // Accepted: those events are the operator's now (newer ones stay for the next report).
      const sent = new Set(events);
      const left = pendingEvents.filter((event) => !sent.has(event));
      pendingEvents.splice(0, pendingEvents.length, ...left);
      statusWait = retryInitialMs;
    } catch (error) {
      if (!signal.aborted) {
        if (isBerthError(error) && error.code === 'API_NODE_UNKNOWN') {
          // Registering schedules a full report again.
          void ensureRegistered();
        } else if (isFatal(error)) {
          fail(error);
        } else {
          log(`status report failed, retrying in ${statusWait} ms: ${describe(error)}`);
          statusInFlight = false;
          scheduleStatus(statusWait);
          statusWait = Math.min(statusWait * 2, retryMaxMs);
          return;
        }
      }
    } finally {
      statusInFlight = false;
    }
    if (statusAgain) scheduleStatus(statusDebounceMs);
  }

  const unsubscribeChange = agent.onChange(() => scheduleStatus(statusDebounceMs));
  const unsubscribeEvents =
    agent.onPodEvent?.((event) => {
      eventSeq += 1;
      pendingEvents.push({ ...event, id: `${eventPrefix}-${eventSeq}` });
      if (pendingEvents.length > PENDING_EVENTS_KEPT) pendingEvents.shift();
      scheduleStatus(statusDebounceMs);
    }) ?? (() => {});
  const unsubscribe = (): void => {
    unsubscribeChange();
    unsubscribeEvents();
  };

  const done = (async () => {
    await ensureRegistered();
    await Promise.all([heartbeatLoop(), watchLoop()]);
    unsubscribe();
    if (statusTimer !== undefined) clearTimeout(statusTimer);
    if (fatal !== undefined) {
      throw isBerthError(fatal)
        ? fatal
        : new BerthError('API_BAD_RESPONSE', describe(fatal), { cause: fatal });
    }
  })();

  return {
    async stop() {
      abort.abort();
      await done.catch(() => {});
    },
    done,
    assignmentVersion: () => version,
  };
}
