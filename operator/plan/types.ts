/**
 * The plan: what a sync would do, object by object, with the reason. Pure data, produced by
 * the planner from desired and live state, rendered by `berth diff`, carried out by the sync.
 */
import type { Pod, ReplicationController, Service } from '../model/generated/types.js';

export type PlannedKind = 'Pod' | 'ReplicationController' | 'Service';
export type PlannedObject = Pod | ReplicationController | Service;

/** Finishes the sentence "this object will be ..." ("unchanged" for in-sync objects). */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'unchanged';

export interface ObjectRef {
  readonly kind: PlannedKind;
  readonly namespace: string;
  readonly name: string;
}

export interface Change {
  readonly action: ChangeAction;
  readonly ref: ObjectRef;
  /** Why, in words a person acts on: "spec.containers[0].image changed", "left git". */
  readonly reason: string;
  /** The object as git wants it (normalized: user's fields plus API defaults); absent for delete. */
  readonly desired?: PlannedObject;
  /** The object as it is live (normalized the same way); absent for create. */
  readonly live?: PlannedObject;
  /** Where the desired object was written, for messages. */
  readonly origin?: { readonly file: string; readonly line: number; readonly column: number };
}

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  readonly unchanged: number;
}

export interface Plan {
  /** In the order they will be carried out: services, then controllers and pods, deletions last. */
  readonly changes: readonly Change[];
  readonly summary: PlanSummary;
  /** Desired objects not planned because an object of that name is not berth's to change. */
  readonly conflicts?: readonly PlanConflict[];
}

/** A desired object the plan leaves alone: one of that name exists and berth did not make it. */
export interface PlanConflict {
  readonly ref: ObjectRef;
  readonly reason: string;
  readonly origin?: { readonly file: string; readonly line: number; readonly column: number };
}

export interface PlanOptions {
  /** Delete objects of the inventory that left git. @default true */
  readonly prune: boolean;
  /** Allow a plan that deletes every object of the source. @default false */
  readonly allowEmpty: boolean;
}

/** Why no plan was made; nothing is to be carried out. */
export interface PlanRefusal {
  readonly refused: true;
  /** Everything would be deleted; or a written cluster IP or node port cannot be had. */
  readonly code: 'PLAN_DELETES_EVERYTHING' | 'PLAN_ALLOCATION_REFUSED';
  readonly message: string;
  /** The deletions the plan would have made. */
  readonly deletions: readonly ObjectRef[];
}
