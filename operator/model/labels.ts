/**
 * Names, label and annotation keys and values, and label selectors, with the rules of the
 * Kubernetes API server (apimachinery's `util/validation` and `labels`). Each `validate*`
 * returns a message stating the expected form, or `undefined` when the value is valid; each
 * `is*` is the same check as a predicate.
 */

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;
export const DNS1035_LABEL_MAX = 63;
export const LABEL_NAME_MAX = 63;
export const LABEL_VALUE_MAX = 63;
export const PORT_NAME_MAX = 15;
/** Kubernetes bounds the sum of annotation key and value bytes of one object. */
export const ANNOTATIONS_TOTAL_MAX_BYTES = 256 * 1024;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PORT_NAME_CHARS = /^[-a-z0-9]+$/;
const HAS_LETTER = /[a-z]/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const DNS1123_LABEL_FORM = `a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${DNS1123_LABEL_MAX} characters (e.g. "my-name")`;
const DNS1123_SUBDOMAIN_FORM = `a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most ${DNS1123_SUBDOMAIN_MAX} characters (e.g. "example.com")`;
const DNS1035_LABEL_FORM = `a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most ${DNS1035_LABEL_MAX} characters (e.g. "my-name")`;
const LABEL_KEY_FORM = `a label key: a name of at most ${LABEL_NAME_MAX} letters, digits, '-', '_' and '.', starting and ending with a letter or digit, optionally after a DNS-1123 subdomain prefix and '/' (e.g. "app" or "example.com/tier")`;
const LABEL_VALUE_FORM = `a label value: empty, or at most ${LABEL_VALUE_MAX} letters, digits, '-', '_' and '.', starting and ending with a letter or digit (e.g. "frontend")`;
const PORT_NAME_FORM = `an IANA service name: at most ${PORT_NAME_MAX} lowercase letters, digits and '-', with at least one letter, no '--', not starting or ending with '-' (e.g. "http")`;
const ENV_VAR_NAME_FORM = `an environment variable name: letters, digits, '_', '-' and '.', not starting with a digit, and not '.', '..' or starting with '..' (e.g. "MY_VAR")`;

function lengthNote(value: string, max: number): string {
  return value.length > max ? `; this one has ${value.length} characters` : '';
}

function check(value: string, max: number, pattern: RegExp, form: string): string | undefined {
  if (value.length <= max && pattern.test(value)) return undefined;
  return `must be ${form}${lengthNote(value, max)}`;
}

export function validateDns1123Label(value: string): string | undefined {
  return check(value, DNS1123_LABEL_MAX, DNS1123_LABEL, DNS1123_LABEL_FORM);
}
export function isDns1123Label(value: string): boolean {
  return validateDns1123Label(value) === undefined;
}

export function validateDns1123Subdomain(value: string): string | undefined {
  return check(value, DNS1123_SUBDOMAIN_MAX, DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_FORM);
}
export function isDns1123Subdomain(value: string): boolean {
  return validateDns1123Subdomain(value) === undefined;
}

export function validateDns1035Label(value: string): string | undefined {
  return check(value, DNS1035_LABEL_MAX, DNS1035_LABEL, DNS1035_LABEL_FORM);
}
export function isDns1035Label(value: string): boolean {
  return validateDns1035Label(value) === undefined;
}

/** IANA_SVC_NAME (RFC 6335), lowercase only as Kubernetes requires: container and probe port names. */
export function validatePortName(value: string): string | undefined {
  const ok =
    value.length <= PORT_NAME_MAX &&
    PORT_NAME_CHARS.test(value) &&
    HAS_LETTER.test(value) &&
    !value.includes('--') &&
    !value.startsWith('-') &&
    !value.endsWith('-');
  return ok ? undefined : `must be ${PORT_NAME_FORM}${lengthNote(value, PORT_NAME_MAX)}`;
}
export function isPortName(value: string): boolean {
  return validatePortName(value) === undefined;
}

/** Container environment variable names, as Kubernetes accepts them (wider than C identifiers). */
export function validateEnvVarName(value: string): string | undefined {
  const ok = ENV_VAR_NAME.test(value) && value !== '.' && !value.startsWith('..');
  return ok ? undefined : `must be ${ENV_VAR_NAME_FORM}`;
}

/**
 * Kubernetes' "qualified name": label keys, annotation keys, resource names. The name part
 * allows uppercase; the optional prefix is a DNS-1123 subdomain.
 */
export function validateLabelKey(key: string): string | undefined {
  const reason = qualifiedNameProblem(key);
  return reason === undefined ? undefined : `must be ${LABEL_KEY_FORM}; ${reason}`;
}
export function isLabelKey(key: string): boolean {
  return qualifiedNameProblem(key) === undefined;
}

function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `"${key}" has more than one '/'`;
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix === '') return "the prefix before '/' is empty";
    if (validateDns1123Subdomain(prefix) !== undefined) {
      return `the prefix "${prefix}" is not a DNS-1123 subdomain (lowercase, at most ${DNS1123_SUBDOMAIN_MAX} characters)`;
    }
  }
  if (name === '') return 'the name part is empty';
  if (name.length > LABEL_NAME_MAX) return `the name part has ${name.length} characters`;
  if (!QUALIFIED_NAME.test(name)) return `the name part "${name}" has characters outside the form`;
  return undefined;
}

export function validateLabelValue(value: string): string | undefined {
  if (value === '') return undefined;
  return check(value, LABEL_VALUE_MAX, QUALIFIED_NAME, LABEL_VALUE_FORM);
}
export function isLabelValue(value: string): boolean {
  return validateLabelValue(value) === undefined;
}

/** One problem in a map of labels or annotations: `key` is undefined for the map as a whole. */
export interface MapEntryProblem {
  readonly key: string | undefined;
  /** Whether the key itself or its value is wrong. */
  readonly part: 'key' | 'value' | 'map';
  readonly message: string;
}

/** Labels and node selectors: every key a label key, every value a label value. */
export function validateLabels(labels: Readonly<Record<string, string>>): MapEntryProblem[] {
  const problems: MapEntryProblem[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const keyMessage = validateLabelKey(key);
    if (keyMessage !== undefined) problems.push({ key, part: 'key', message: keyMessage });
    const valueMessage = validateLabelValue(value);
    if (valueMessage !== undefined) problems.push({ key, part: 'value', message: valueMessage });
  }
  return problems;
}

const utf8 = new TextEncoder();

/**
 * Annotation keys follow the label key rules (checked lowercased, as Kubernetes does); values
 * are free text, but keys and values together may hold at most 256 KiB.
 */
export function validateAnnotations(
  annotations: Readonly<Record<string, string>>,
): MapEntryProblem[] {
  const problems: MapEntryProblem[] = [];
  let totalBytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    const reason = qualifiedNameProblem(key.toLowerCase());
    if (reason !== undefined) {
      problems.push({
        key,
        part: 'key',
        message: `must be an annotation key, which has the form of ${LABEL_KEY_FORM}; ${reason}`,
      });
    }
    totalBytes += utf8.encode(key).length + utf8.encode(value).length;
  }
  if (totalBytes > ANNOTATIONS_TOTAL_MAX_BYTES) {
    problems.push({
      key: undefined,
      part: 'map',
      message: `annotations may hold at most ${ANNOTATIONS_TOTAL_MAX_BYTES} bytes (256 KiB) of keys and values together; these hold ${totalBytes}`,
    });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Selectors

export type SelectorOperator =
  | 'Equals'
  | 'NotEquals'
  | 'In'
  | 'NotIn'
  | 'Exists'
  | 'DoesNotExist'
  | 'GreaterThan'
  | 'LessThan';

export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** One value for Equals, NotEquals, GreaterThan, LessThan; a sorted set for In, NotIn; none otherwise. */
  readonly values: readonly string[];
}

/** A parsed label selector: every requirement must hold. No requirements matches everything. */
export interface Selector {
  readonly ok: true;
  /** Sorted by key, as Kubernetes keeps them. */
  readonly requirements: readonly Requirement[];
}

export interface SelectorError {
  readonly ok: false;
  readonly message: string;
}

const SELECTOR_FORM =
  'a selector is a comma-separated list of requirements: "key=value", "key==value", "key!=value", "key in (a,b)", "key notin (a,b)", "key", "!key", "key>1" or "key<1" (e.g. "tier=frontend,env in (prod,qa),!canary")';

type Token =
  | { readonly kind: 'identifier'; readonly text: string }
  | {
      readonly kind: 'symbol';
      readonly text: '!' | '!=' | '=' | '==' | '(' | ')' | ',' | '>' | '<';
    }
  | { readonly kind: 'end' };

const SYMBOL_CHARS = '=!(),<>';

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (isSpace(ch)) {
      i += 1;
    } else if (SYMBOL_CHARS.includes(ch)) {
      const two = text.slice(i, i + 2);
      if (two === '!=' || two === '==') {
        tokens.push({ kind: 'symbol', text: two });
        i += 2;
      } else {
        tokens.push({ kind: 'symbol', text: ch as '!' | '=' | '(' | ')' | ',' | '>' | '<' });
        i += 1;
      }
    } else {
      let end = i;
      while (end < text.length) {
        const c = text[end] ?? '';
        if (isSpace(c) || SYMBOL_CHARS.includes(c)) break;
        end += 1;
      }
      tokens.push({ kind: 'identifier', text: text.slice(i, end) });
      i = end;
    }
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

class SelectorSyntaxError extends Error {}

class SelectorParser {
  private position = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token {
    return this.tokens[this.position] ?? { kind: 'end' };
  }
  private next(): Token {
    const token = this.peek();
    if (this.position < this.tokens.length) this.position += 1;
    return token;
  }
  private describe(token: Token): string {
    return token.kind === 'end' ? 'the end' : `"${token.text}"`;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    if (this.peek().kind === 'end') return requirements;
    for (;;) {
      requirements.push(this.requirement());
      const token = this.next();
      if (token.kind === 'end') return requirements;
      if (!(token.kind === 'symbol' && token.text === ',')) {
        throw new SelectorSyntaxError(`expected ',' or the end, found ${this.describe(token)}`);
      }
    }
  }

  private key(): string {
    const token = this.next();
    if (token.kind !== 'identifier') {
      throw new SelectorSyntaxError(`expected a key, found ${this.describe(token)}`);
    }
    return token.text;
  }

  private requirement(): Requirement {
    const first = this.peek();
    if (first.kind === 'symbol' && first.text === '!') {
      this.next();
      return { key: this.key(), operator: 'DoesNotExist', values: [] };
    }
    const key = this.key();
    const op = this.peek();
    if (op.kind === 'end' || (op.kind === 'symbol' && op.text === ',')) {
      return { key, operator: 'Exists', values: [] };
    }
    this.next();
    if (op.kind === 'identifier') {
      if (op.text === 'in' || op.text === 'notin') {
        return { key, operator: op.text === 'in' ? 'In' : 'NotIn', values: this.valueSet() };
      }
      throw new SelectorSyntaxError(`expected an operator after "${key}", found "${op.text}"`);
    }
    switch (op.text) {
      case '=':
      case '==':
        return { key, operator: 'Equals', values: [this.singleValue()] };
      case '!=':
        return { key, operator: 'NotEquals', values: [this.singleValue()] };
      case '>':
      case '<': {
        const value = this.singleValue();
        if (!/^-?[0-9]+$/.test(value)) {
          throw new SelectorSyntaxError(`"${key}${op.text}${value}" needs an integer value`);
        }
        return { key, operator: op.text === '>' ? 'GreaterThan' : 'LessThan', values: [value] };
      }
      default:
        throw new SelectorSyntaxError(`expected an operator after "${key}", found "${op.text}"`);
    }
  }

  /** The value after `=`, `==`, `!=`, `>`, `<`; nothing before `,` or the end is the empty value. */
  private singleValue(): string {
    const token = this.peek();
    if (token.kind === 'end' || (token.kind === 'symbol' && token.text === ',')) return '';
    this.next();
    if (token.kind !== 'identifier') {
      throw new SelectorSyntaxError(`expected a value, found ${this.describe(token)}`);
    }
    return token.text;
  }

  /** `(a, b)`; an empty slot between commas or parentheses is the empty value, as in Kubernetes. */
  private valueSet(): string[] {
    const open = this.next();
    if (!(open.kind === 'symbol' && open.text === '(')) {
      throw new SelectorSyntaxError(
        `expected '(' to start a set of values, found ${this.describe(open)}`,
      );
    }
    const values = new Set<string>();
    for (;;) {
      const token = this.peek();
      let value = '';
      if (token.kind === 'identifier') {
        value = token.text;
        this.next();
      }
      values.add(value);
      const after = this.next();
      if (after.kind === 'symbol' && after.text === ')') break;
      if (!(after.kind === 'symbol' && after.text === ',')) {
        throw new SelectorSyntaxError(
          `expected ',' or ')' in a set of values, found ${this.describe(after)}`,
        );
      }
    }
    return [...values].sort();
  }
}

/**
 * Parses an equality- and set-based selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`), as
 * `kubectl -l` reads one. Keys must be label keys and values label values.
 */
export function parseSelector(text: string): Selector | SelectorError {
  let requirements: Requirement[];
  try {
    requirements = new SelectorParser(tokenize(text)).parse();
  } catch (error) {
    if (error instanceof SelectorSyntaxError) {
      return {
        ok: false,
        message: `invalid selector "${text}": ${error.message}; ${SELECTOR_FORM}`,
      };
    }
    throw error;
  }
  const problems: string[] = [];
  for (const requirement of requirements) {
    const keyMessage = validateLabelKey(requirement.key);
    if (keyMessage !== undefined) problems.push(`key "${requirement.key}" ${keyMessage}`);
    for (const value of requirement.values) {
      const valueMessage = validateLabelValue(value);
      if (valueMessage !== undefined) problems.push(`value "${value}" ${valueMessage}`);
    }
  }
  if (problems.length > 0) {
    return { ok: false, message: `invalid selector "${text}": ${problems.join('; ')}` };
  }
  return {
    ok: true,
    requirements: requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

export function isSelectorError(value: Selector | SelectorError): value is SelectorError {
  return !value.ok;
}

/** The equality selector a label map stands for (RC and Service `selector` fields). */
export function selectorFromMap(map: Readonly<Record<string, string>>): Selector {
  const requirements = Object.keys(map)
    .sort()
    .map((key): Requirement => ({ key, operator: 'Equals', values: [map[key] ?? ''] }));
  return { ok: true, requirements };
}

function integerOf(text: string): bigint | undefined {
  return /^[+-]?[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

function requirementMatches(
  requirement: Requirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = has ? labels[requirement.key] : undefined;
  switch (requirement.operator) {
    case 'Equals':
    case 'In':
      return value !== undefined && requirement.values.includes(value);
    case 'NotEquals':
    case 'NotIn':
      return value === undefined || !requirement.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      const actual = value === undefined ? undefined : integerOf(value);
      const bound = integerOf(requirement.values[0] ?? '');
      if (actual === undefined || bound === undefined) return false;
      return requirement.operator === 'GreaterThan' ? actual > bound : actual < bound;
    }
    default: {
      const unreachable: never = requirement.operator;
      return unreachable;
    }
  }
}

/** True when every requirement holds for `labels`; an empty selector matches everything. */
export function selectorMatches(
  selector: Selector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const actual = labels ?? {};
  return selector.requirements.every((requirement) => requirementMatches(requirement, actual));
}

/**
 * True when `labels` has every key of `map` with the same value. An empty map matches
 * everything; callers for which an empty selector means "nothing" (a Service without a
 * selector) must check that themselves.
 */
export function mapSelectorMatches(
  map: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const actual = labels ?? {};
  return Object.entries(map).every(
    ([key, value]) => Object.hasOwn(actual, key) && actual[key] === value,
  );
}

/** The text form `kubectl` prints: `a=b,c!=d,e in (x,y),f notin (z),g,!h`. */
export function formatSelector(selector: Selector): string {
  return selector.requirements
    .map((r) => {
      switch (r.operator) {
        case 'Equals':
          return `${r.key}=${r.values[0] ?? ''}`;
        case 'NotEquals':
          return `${r.key}!=${r.values[0] ?? ''}`;
        case 'In':
          return `${r.key} in (${r.values.join(',')})`;
        case 'NotIn':
          return `${r.key} notin (${r.values.join(',')})`;
        case 'Exists':
          return r.key;
        case 'DoesNotExist':
          return `!${r.key}`;
        case 'GreaterThan':
          return `${r.key}>${r.values[0] ?? ''}`;
        case 'LessThan':
          return `${r.key}<${r.values[0] ?? ''}`;
        default: {
          const unreachable: never = r.operator;
          return unreachable;
        }
      }
    })
    .join(',');
}
