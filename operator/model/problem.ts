/**
 * Where a thing came from, and what is wrong with it. Every message berth prints about a
 * manifest is a Problem, so every message can name file, line, column and field.
 */

/** A position in a source file. `file` is posix, relative to the source root; line and column are 1-based. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Stable codes for manifest problems; tests and `-o json` consumers match on these. */
export type ProblemCode =
  // reading files
  | 'file.too-large'
  | 'file.binary'
  | 'file.encoding'
  | 'file.symlink-outside'
  | 'file.unreadable'
  // YAML / JSON syntax
  | 'yaml.syntax'
  | 'yaml.duplicate-key'
  | 'yaml.alias-limit'
  | 'json.syntax'
  | 'json.duplicate-key'
  | 'yaml.tag'
  | 'yaml.key'
  | 'yaml.depth-limit'
  | 'number.unrepresentable'
  // object shape
  | 'object.not-a-mapping'
  | 'object.missing-kind'
  | 'object.unknown-kind'
  | 'object.api-version'
  | 'schema.type'
  | 'schema.required'
  | 'schema.unknown-field'
  | 'schema.enum'
  | 'schema.range'
  | 'schema.format'
  // semantic rules the Kubernetes API server enforces
  | 'name.invalid'
  | 'label.invalid'
  | 'annotation.invalid'
  | 'selector.invalid'
  | 'selector.mismatch'
  | 'quantity.invalid'
  | 'port.invalid'
  | 'port.duplicate-name'
  | 'container.duplicate-name'
  | 'volume.invalid'
  | 'volume.duplicate-name'
  | 'volume.undefined'
  | 'field.invalid'
  | 'object.duplicate'
  // more semantic rules (added by manifests/validate.ts)
  | 'field.required'
  | 'port.conflict'
  | 'resource.invalid'
  | 'env.invalid'
  | 'probe.invalid';

export interface Problem {
  readonly code: ProblemCode;
  readonly origin: Origin;
  /** `kind/name` as kubectl prints it (`pod/frontend`), when the object is known. */
  readonly object?: string;
  /** Field path in kubectl's form: `spec.containers[0].ports[1].containerPort`. */
  readonly field?: string;
  /** What is wrong and, where it helps, the expected form. */
  readonly message: string;
}

/** `file:line:col: kind/name: field.path: message`; parts that are unknown are left out. */
export function formatProblem(problem: Problem): string {
  const { file, line, column } = problem.origin;
  const parts = [`${file}:${line}:${column}`];
  if (problem.object !== undefined) parts.push(problem.object);
  if (problem.field !== undefined && problem.field !== '') parts.push(problem.field);
  parts.push(problem.message);
  return parts.join(': ');
}

/** Sort by file, then line, then column, then message: the order `berth validate` prints. */
export function compareProblems(a: Problem, b: Problem): number {
  if (a.origin.file !== b.origin.file) return a.origin.file < b.origin.file ? -1 : 1;
  if (a.origin.line !== b.origin.line) return a.origin.line - b.origin.line;
  if (a.origin.column !== b.origin.column) return a.origin.column - b.origin.column;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** Field paths are arrays while computed: `['spec', 'containers', 0, 'name']`. */
export type FieldPath = readonly (string | number)[];

/** `['spec','containers',0,'name']` → `spec.containers[0].name`. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}
