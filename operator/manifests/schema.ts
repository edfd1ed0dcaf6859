/**
 * From a parsed document to schema-valid objects: checks kind and apiVersion, expands
 * `kind: List`, and validates each object against the Kubernetes v1 JSON Schemas
 * (schemas/, bundled into operator/model/generated/schema.ts). Pure; the validators are
 * compiled once per process, on first use.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { MANIFEST_SCHEMA, MANIFEST_SCHEMA_ID } from '../model/generated/schema.js';
import type { Pod, ReplicationController, Service } from '../model/generated/types.js';
import type { FieldPath, Origin, Problem } from '../model/problem.js';
import { formatFieldPath } from '../model/problem.js';
import {
  closestName,
  describeValue,
  isRecord,
  NUMBER_FORMATS,
  type ProblemContext,
  RFC3339_DATE_TIME,
  schemaErrorsToProblems,
} from './schema-messages.js';
import {
  type ManifestObject,
  objectRef,
  type RawDocument,
  SUPPORTED_KINDS,
  type SupportedKind,
} from './types.js';

/** Kinds a document may have: the supported object kinds plus `List`. */
export const DOCUMENT_KINDS = [...SUPPORTED_KINDS, 'List'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export interface ExtractResult {
  objects: ManifestObject[];
  problems: Problem[];
}

type Validators = Readonly<Record<DocumentKind, ValidateFunction>>;
let validators: Validators | undefined;

/** Compiles the bundled schema once; later calls reuse the same validate functions. */
function getValidators(): Validators {
  if (validators !== undefined) return validators;
  const ajv = new Ajv({
    allErrors: true,
    // parentSchema (known fields for suggestions) and data (the offending value) on each error.
    verbose: true,
    // Messages are ours (schema-messages.ts); skip generating ajv's.
    messages: false,
    strict: true,
    allowUnionTypes: true,
  });
  for (const [name, format] of Object.entries(NUMBER_FORMATS)) {
    ajv.addFormat(name, { type: 'number', validate: (n: number) => format.check(n) });
  }
  ajv.addFormat('date-time', { type: 'string', validate: RFC3339_DATE_TIME });
  ajv.addSchema(MANIFEST_SCHEMA);
  const compile = (kind: DocumentKind): ValidateFunction => {
    const validate = ajv.getSchema(`${MANIFEST_SCHEMA_ID}#/definitions/${kind}`);
    if (validate === undefined) throw new Error(`schema bundle has no definition for ${kind}`);
    return validate;
  };
  validators = {
    Pod: compile('Pod'),
    ReplicationController: compile('ReplicationController'),
    Service: compile('Service'),
    List: compile('List'),
  };
  return validators;
}

/**
 * The objects of one document, or the problems that keep them out. Only a document (or List
 * item) with no problems becomes a ManifestObject; every problem is collected, none stops
 * the others. Fields that are `null` count as absent, as the Kubernetes API decodes them
 * (`creationTimestamp: null` in exported manifests is common).
 */
export function extractObjects(doc: RawDocument): ExtractResult {
  const result: ExtractResult = { objects: [], problems: [] };
  extractAt(dropNullFields(doc.value), [], doc, result);
  return result;
}

function extractAt(
  value: unknown,
  prefix: FieldPath,
  doc: RawDocument,
  result: ExtractResult,
): void {
  const locate = (path: FieldPath): Origin =>
    doc.locate(prefix.length === 0 ? path : [...prefix, ...path]);
  const origin = prefix.length === 0 ? doc.origin : doc.locate(prefix);
  const documentField = (path: FieldPath): string => formatFieldPath([...prefix, ...path]);

  if (!isRecord(value)) {
    result.problems.push({
      code: 'object.not-a-mapping',
      origin,
      ...(prefix.length === 0 ? {} : { field: documentField([]) }),
      message: `a manifest must be a mapping with apiVersion, kind and metadata, got ${describeValue(value)}`,
    });
    return;
  }

  const kind = value.kind;
  if (kind === undefined || kind === '') {
    result.problems.push({
      code: 'object.missing-kind',
      origin,
      field: documentField(['kind']),
      message: `required field "kind" is missing: say what this is (${kindList()})`,
    });
    return;
  }
  if (typeof kind !== 'string') {
    result.problems.push({
      code: 'schema.type',
      origin: locate(['kind']),
      field: documentField(['kind']),
      message: `must be a string naming the object's kind (${kindList()}), got ${describeValue(kind)}`,
    });
    return;
  }
  if (!isDocumentKind(kind)) {
    const suggestion = closestName(kind, DOCUMENT_KINDS);
    result.problems.push({
      code: 'object.unknown-kind',
      origin: locate(['kind']),
      field: documentField(['kind']),
      message: `unknown kind "${kind}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}: berth supports ${kindList()}`,
    });
    return;
  }

  const object = kind === 'List' ? undefined : objectRef(kind, nameOf(value));
  const apiVersion = value.apiVersion;
  if (apiVersion !== 'v1') {
    const got =
      apiVersion === undefined ? 'apiVersion is missing' : `got ${describeValue(apiVersion)}`;
    result.problems.push({
      code: 'object.api-version',
      origin: apiVersion === undefined ? origin : locate(['apiVersion']),
      ...(object === undefined ? {} : { object }),
      field: object === undefined ? documentField(['apiVersion']) : 'apiVersion',
      message: `apiVersion must be v1 for ${kind}; berth supports the core v1 API (${got})`,
    });
    return;
  }

  const validate = getValidators()[kind];
  const valid = validate(value);
  if (!valid) {
    const context: ProblemContext = {
      locate,
      object,
      // Fields of a named object are relative to it; a List's own fields to the document.
      fieldPrefix: object === undefined ? prefix : [],
    };
    result.problems.push(...schemaErrorsToProblems(validate.errors ?? [], value, context));
  }

  if (kind === 'List') {
    const items = value.items;
    if (!Array.isArray(items)) return;
    items.forEach((item, index) => {
      // Non-mapping items are already reported by the List's schema (items are mappings).
      if (isRecord(item)) extractAt(item, [...prefix, 'items', index], doc, result);
    });
    return;
  }

  if (!valid) return;
  result.objects.push(toManifestObject(kind, value, origin, locate));
}

function toManifestObject(
  kind: SupportedKind,
  value: Record<string, unknown>,
  origin: Origin,
  locate: (path: FieldPath) => Origin,
): ManifestObject {
  // The casts are sound: `value` has just passed the schema the generated types come from.
  switch (kind) {
    case 'Pod':
      return { kind, object: value as unknown as Pod, origin, locate };
    case 'ReplicationController':
      return { kind, object: value as unknown as ReplicationController, origin, locate };
    case 'Service':
      return { kind, object: value as unknown as Service, origin, locate };
    default: {
      const unreachable: never = kind;
      throw new Error(`unsupported kind ${String(unreachable)}`);
    }
  }
}

function nameOf(value: Record<string, unknown>): string | undefined {
  const metadata = value.metadata;
  if (!isRecord(metadata)) return undefined;
  return typeof metadata.name === 'string' ? metadata.name : undefined;
}

function isDocumentKind(kind: string): kind is DocumentKind {
  return (DOCUMENT_KINDS as readonly string[]).includes(kind);
}

function kindList(): string {
  return `${DOCUMENT_KINDS.slice(0, -1).join(', ')} or ${DOCUMENT_KINDS.at(-1)}`;
}

/**
 * The value without mapping entries whose value is null, at any depth. Copies only the
 * mappings and lists that change, so a document without nulls is returned as is. List
 * elements that are null stay (the schema reports them).
 */
export function dropNullFields(value: unknown): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const cleaned = dropNullFields(item);
      if (cleaned !== item) {
        copy ??= value.slice();
        copy[i] = cleaned;
      }
    }
    return copy ?? value;
  }
  if (!isRecord(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === null) {
      copy ??= { ...value };
      delete copy[key];
      continue;
    }
    const cleaned = dropNullFields(item);
    if (cleaned !== item) {
      copy ??= { ...value };
      copy[key] = cleaned;
    }
  }
  return copy ?? value;
}
