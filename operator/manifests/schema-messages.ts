/**
 * Turns ajv's validation errors into Problems a person can act on: one message per node,
 * kubectl-style field paths, the position of the offending node (for an unknown field, the
 * key itself), and a hint (quote it, did you mean ...) where one helps.
 */
import type { ErrorObject } from 'ajv';
import {
  type FieldPath,
  formatFieldPath,
  type Origin,
  type Problem,
  type ProblemCode,
} from '../model/problem.js';

/** Where the errors of one object are reported. */
export interface ProblemContext {
  /** Origin of a path relative to the validated value. */
  locate(path: FieldPath): Origin;
  /** `kind/name` of the object, when known. */
  readonly object: string | undefined;
  /** Prefix of field paths in messages (a List's `['items', 3]` when no object names the item). */
  readonly fieldPrefix: FieldPath;
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** Number formats checked as ranges (code schema.range); other formats are schema.format. */
export const NUMBER_FORMATS: Readonly<
  Record<string, { readonly text: string; check(n: number): boolean }>
> = {
  int32: {
    text: `a 32-bit integer (${INT32_MIN} to ${INT32_MAX})`,
    check: (n) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX,
  },
  int64: {
    // 2^63 is not exactly representable below it in a double; the bound is the nearest double.
    text: 'a 64-bit integer',
    check: (n) => Number.isInteger(n) && Math.abs(n) < 2 ** 63,
  },
};

/** RFC 3339 as Go's time.RFC3339 parses it (fractional seconds allowed). */
export const RFC3339_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

export function schemaErrorsToProblems(
  errors: readonly ErrorObject[],
  data: unknown,
  context: ProblemContext,
): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const collapsed = collapseAlternatives(errors);
  // A node of the wrong type gets only the type message (1.5 for an int32 is not also "out of range").
  const wrongType = new Set(
    collapsed.filter((e) => e.keyword === 'type').map((e) => e.instancePath),
  );
  for (const error of collapsed) {
    if (error.keyword !== 'type' && wrongType.has(error.instancePath)) continue;
    const problem = errorToProblem(error, data, context);
    const key = `${problem.code}\u0000${problem.field ?? ''}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

/**
 * anyOf/oneOf report one error per failed branch plus their own; keep one error per node:
 * the alternatives' type errors merge into one "must be X or Y", anything else becomes a
 * single "does not match any allowed form".
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const alternatives = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  if (alternatives.length === 0) return [...errors];
  const out: ErrorObject[] = [];
  for (const error of errors) {
    const owner = alternatives.find(
      (alt) => alt !== error && error.schemaPath.startsWith(`${alt.schemaPath}/`),
    );
    if (owner !== undefined) continue;
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') {
      const branches = errors.filter(
        (e) =>
          e.schemaPath.startsWith(`${error.schemaPath}/`) && e.instancePath === error.instancePath,
      );
      if (branches.length > 0 && branches.every((b) => b.keyword === 'type')) {
        const types = branches.flatMap((b) => String(b.params.type).split(','));
        out.push({ ...error, keyword: 'type', params: { type: [...new Set(types)].join(',') } });
        continue;
      }
    }
    out.push(error);
  }
  return out;
}

function errorToProblem(error: ErrorObject, data: unknown, context: ProblemContext): Problem {
  const path = decodeInstancePath(error.instancePath, data);
  const value = error.data;
  let code: ProblemCode;
  let message: string;
  let at: FieldPath = path;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      at = [...path, key];
      code = 'schema.unknown-field';
      const known = knownProperties(error.parentSchema);
      const suggestion = closestName(key, known);
      message = `unknown field "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`;
      break;
    }
    case 'required': {
      const key = String(error.params.missingProperty);
      at = [...path, key];
      code = 'schema.required';
      message = `required field "${key}" is missing`;
      break;
    }
    case 'type':
      code = 'schema.type';
      message = typeMessage(String(error.params.type).split(','), value);
      break;
    case 'enum': {
      code = 'schema.enum';
      const allowed = Array.isArray(error.params.allowedValues) ? error.params.allowedValues : [];
      message = enumMessage(allowed, value);
      break;
    }
    case 'const':
      code = 'schema.enum';
      message = `must be ${JSON.stringify(error.params.allowedValue)}, not ${typeof value === 'string' ? JSON.stringify(value) : describeValue(value)}`;
      break;
    case 'format': {
      const format = String(error.params.format);
      const numberFormat = NUMBER_FORMATS[format];
      if (numberFormat !== undefined) {
        code = 'schema.range';
        message = `must be ${numberFormat.text}, got ${describeValue(value)}`;
      } else if (format === 'date-time') {
        code = 'schema.format';
        message = `must be an RFC 3339 date-time such as "2015-06-01T12:00:00Z", got ${describeValue(value)}`;
      } else {
        code = 'schema.format';
        message = `must be in ${format} format, got ${describeValue(value)}`;
      }
      break;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      code = 'schema.range';
      message = `must be ${String(error.params.comparison)} ${String(error.params.limit)}, got ${describeValue(value)}`;
      break;
    case 'minItems':
    case 'maxItems':
      code = 'schema.range';
      message = `must have ${error.keyword === 'minItems' ? 'at least' : 'at most'} ${String(error.params.limit)} item(s)`;
      break;
    case 'minLength':
    case 'maxLength':
      code = 'schema.range';
      message = `must be ${error.keyword === 'minLength' ? 'at least' : 'at most'} ${String(error.params.limit)} character(s) long`;
      break;
    case 'pattern':
      code = 'schema.format';
      message = `must match ${String(error.params.pattern)}, got ${describeValue(value)}`;
      break;
    case 'anyOf':
    case 'oneOf':
      code = 'schema.type';
      message = `does not match any allowed form, got ${describeValue(value)}`;
      break;
    default:
      code = 'schema.type';
      message = `is not valid (${error.keyword}), got ${describeValue(value)}`;
  }
  const field = formatFieldPath([...context.fieldPrefix, ...at]);
  const problem: Problem = {
    code,
    origin: context.locate(at),
    field,
    message,
    ...(context.object === undefined ? {} : { object: context.object }),
  };
  return problem;
}

/** `/spec/containers/0/name` → `['spec', 'containers', 0, 'name']`, numbers only where the data holds a list. */
export function decodeInstancePath(pointer: string, data: unknown): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = isRecord(node) ? node[segment] : undefined;
    }
  }
  return path;
}

function knownProperties(schema: unknown): string[] {
  if (!isRecord(schema)) return [];
  const properties = schema.properties;
  return isRecord(properties) ? Object.keys(properties) : [];
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

function typeMessage(expected: readonly string[], value: unknown): string {
  const names = expected.map((t) => TYPE_NAMES[t] ?? t);
  const wanted =
    names.length <= 1
      ? (names[0] ?? 'another type')
      : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  return `must be ${wanted}, got ${describeValue(value)}${typeHint(expected, value)}`;
}

function typeHint(expected: readonly string[], value: unknown): string {
  // Only when a string is the one thing expected: a port (integer or name) is not helped by quotes.
  if (expected.length === 1 && expected[0] === 'string') {
    if (typeof value === 'number') return `: quote it ("${String(value)}")`;
    if (typeof value === 'boolean') {
      return `: quote it ("${String(value)}"); unquoted yes/no/on/off/true/false are booleans in YAML`;
    }
  }
  if (expected.includes('string') && typeof value === 'boolean') {
    return `: unquoted yes/no/on/off/true/false are booleans in YAML; quote it if you meant the word`;
  }
  const numeric = expected.includes('integer') || expected.includes('number');
  if (numeric && typeof value === 'string' && /^[+-]?\d+(\.\d+)?$/.test(value.trim())) {
    return `: write it without quotes (${value.trim()})`;
  }
  if (expected.includes('boolean') && typeof value === 'string' && /^(true|false)$/i.test(value)) {
    return `: write it without quotes (${value.toLowerCase()})`;
  }
  if (expected.includes('array') && !Array.isArray(value)) {
    return ': write each entry on its own line starting with "- "';
  }
  return '';
}

function enumMessage(allowed: readonly unknown[], value: unknown): string {
  const shown = allowed.map((v) => (v === '' ? '"" (empty)' : String(v))).join(', ');
  const candidates = allowed.filter((v): v is string => typeof v === 'string' && v !== '');
  const suggestion = typeof value === 'string' ? closestName(value, candidates) : undefined;
  const got = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
  return `must be one of ${shown}, not ${got}${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`;
}

/** `string "abc"`, `number 8080`, `boolean true`, `null`, `a list`, `a mapping`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
    case 'number':
      return `number ${String(value)}`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/**
 * The candidate a person most likely meant: same letters ignoring case, or within a small
 * edit distance (one edit for short words, two for longer ones, transpositions count as one).
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const sameIgnoringCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameIgnoringCase !== undefined) return sameIgnoringCase;
  const limit = word.length <= 2 ? 0 : word.length <= 5 ? 1 : 2;
  if (limit === 0) return undefined;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (
      distance < bestDistance ||
      (distance === bestDistance && best !== undefined && candidate < best)
    ) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
