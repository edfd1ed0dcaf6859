/**
 * What client commands (`apply`, `diff`, `get`, `logs`) need from an operator, wherever it runs:
 * embedded in the command itself (`berth apply` with no server), or a running `berth serve`
 * reached over HTTP. Both sides implement `OperatorSession`; the commands do not know which.
 */
import type { PodReport } from '../api/protocol.js';
import type { AppRefusal, ObjectReport } from '../engine/decide.js';
import type { ManifestObject } from '../manifests/types.js';
import type { ServiceView } from '../services/types.js';
import type { Allocation, InventoryEntry, NodeRecord, PodAssignment } from '../store/store.js';

/** One sync of an app: the objects git wants for it now. */
export interface SyncRequest {
  /** The app (a named source) whose inventory the plan prunes from. */
  readonly app: string;
  /** Where the objects were read, e.g. `/srv/guestbook` or `https://host/repo.git#main:path`. */
  readonly source: string;
  /** The commit they were read at, when the source is git. */
  readonly commit?: string;
  readonly objects: readonly ManifestObject[];
  /** @default true */
  readonly prune?: boolean;
  /** @default false */
  readonly allowEmpty?: boolean;
}

export interface SyncResponse {
  /** Set when the plan was refused: nothing changed. */
  readonly refused?: AppRefusal;
  /** What happened to each object of the app and to the pods made for it. */
  readonly reports: readonly ObjectReport[];
}

/** A node as the operator sees it now: its registration and its agent's latest report. */
export interface NodeReadout extends NodeRecord {
  readonly ready: boolean;
  /** The agent's latest status report: every pod it runs, being started or being removed. */
  readonly pods: readonly PodReport[];
}

/** Everything the client commands read, taken at one moment. */
export interface OperatorReadout {
  /** Per app, what berth made for it as last applied (its inventory). */
  readonly apps: readonly { readonly name: string; readonly objects: readonly InventoryEntry[] }[];
  /** Every pod berth made, with its node ('' while unscheduled) and last reported status. */
  readonly assignments: readonly PodAssignment[];
  readonly nodes: readonly NodeReadout[];
  readonly allocations: readonly Allocation[];
  /** Every service with its address, node ports and ready endpoints. @default none */
  readonly services?: readonly ServiceView[];
  /**
   * `namespace/name` of every pod that still has containers on a node (being removed
   * included), as far as the operator can tell.
   */
  readonly podsOnNodes: readonly string[];
}

export interface OperatorSession {
  /** For messages: "embedded operator" or the server's URL. */
  readonly where: string;
  sync(request: SyncRequest): Promise<SyncResponse>;
  read(): Promise<OperatorReadout>;
  /** Ends the session. An embedded operator stops its loops and leaves pods running. */
  close(): Promise<void>;
}
