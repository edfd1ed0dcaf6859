/**
 * Scalar resolution as Kubernetes reads YAML: kubectl → sigs.k8s.io/yaml → go-yaml v2
 * (gopkg.in/yaml.v2 v2.4.0, `resolve.go`), which follows YAML 1.1 with its own rules:
 *
 * - a plain scalar is looked up by its first character: `+ - 0-9` may be a number, `. ` a
 *   float, `y Y n N t T f F o O ~` a word from a fixed table, anything else is a string;
 * - the table: `y Y yes Yes YES true True TRUE on On ON` → true, `n N no No NO false False
 *   FALSE off Off OFF` → false, `"" ~ null Null NULL` → null, `.nan .NaN .NAN`, `.inf .Inf
 *   .INF +.inf …`, `-.inf …` → floats. Nothing else is a word (`yES`, `Yes!` are strings);
 * - numbers: underscores are dropped anywhere, then Go's `strconv.ParseInt(s, 0, 64)`
 *   (so `0755` is octal, `0x1F` hex, `0b101` binary, `0o17` octal), then `ParseUint` for
 *   2^63…2^64-1, then the float pattern `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`;
 * - timestamps stay strings when decoded into `interface{}`; there are no sexagesimal
 *   numbers (`1:30` is a string).
 *
 * Where the `yaml` package's own 'yaml-1.1' schema differs, this module wins: that schema
 * does not read `y`/`n` as booleans, reads `190:20:30` as a base-60 number, `0o17`/`0b1_0`
 * differently and timestamps as dates. berth therefore parses with the 'failsafe' schema
 * (every scalar a string) and resolves plain scalars here.
 */

/** What a scalar resolves to, keeping what JSON conversion and key conversion need to know. */
export type Resolved =
  | { readonly type: 'null' }
  | { readonly type: 'bool'; readonly value: boolean }
  /**
   * An integer as go-yaml holds it: int64, or uint64 when `unsigned`. `exact` is set when the
   * value is beyond ±(2^53 - 1), where `value` (a double) is no longer exact.
   */
  | {
      readonly type: 'int';
      readonly value: number;
      readonly exact: bigint | undefined;
      readonly unsigned: boolean;
    }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'str'; readonly value: string };

export type ResolvedType = Resolved['type'];

const NULL: Resolved = { type: 'null' };
const TRUE: Resolved = { type: 'bool', value: true };
const FALSE: Resolved = { type: 'bool', value: false };

const WORDS = new Map<string, Resolved>();
for (const word of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) {
  WORDS.set(word, TRUE);
}
for (const word of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) {
  WORDS.set(word, FALSE);
}
for (const word of ['', '~', 'null', 'Null', 'NULL']) WORDS.set(word, NULL);
for (const word of ['.nan', '.NaN', '.NAN']) WORDS.set(word, { type: 'float', value: Number.NaN });
for (const word of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) {
  WORDS.set(word, { type: 'float', value: Number.POSITIVE_INFINITY });
}
for (const word of ['-.inf', '-.Inf', '-.INF']) {
  WORDS.set(word, { type: 'float', value: Number.NEGATIVE_INFINITY });
}

/** First characters that make go-yaml try the word table or a number. */
const HINT_WORD = new Set('yYnNtTfFoO~');
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
/** Decimal integers that need no BigInt: no leading zero, at most 15 digits (< 2^53). */
const SMALL_DECIMAL = /^[-+]?(0|[1-9][0-9]{0,14})$/;

const MAX_UINT64 = (1n << 64n) - 1n;
const INT64_CUTOFF = 1n << 63n;

function str(value: string): Resolved {
  return { type: 'str', value };
}

/** Resolves an untagged plain scalar exactly as go-yaml v2 does. */
export function resolvePlain(source: string): Resolved {
  if (source === '') return NULL;
  const first = source[0] as string;
  const isSign = first === '+' || first === '-';
  const isDigit = first >= '0' && first <= '9';
  if (!isSign && !isDigit && first !== '.' && !HINT_WORD.has(first)) return str(source);
  const word = WORDS.get(source);
  if (word !== undefined) return word;
  if (first === '.') {
    // go-yaml calls ParseFloat on the text as is (no underscore removal here).
    if (DOT_FLOAT.test(source)) {
      const value = Number(source);
      if (Number.isFinite(value)) return { type: 'float', value };
    }
    return str(source);
  }
  if (!isSign && !isDigit) return str(source);
  // + 0 turns -0 into 0: Go's ParseInt has no negative zero.
  if (SMALL_DECIMAL.test(source)) return integer(Number(source) + 0, undefined, false);
  const plain = source.includes('_') ? source.replaceAll('_', '') : source;
  const signed = parseGoInt64(plain);
  if (signed !== undefined) return fromBigInt(signed, false);
  const unsigned = parseGoUint64(plain);
  if (unsigned !== undefined) return fromBigInt(unsigned, true);
  if (YAML_STYLE_FLOAT.test(plain)) {
    const value = Number(plain);
    // Go's ParseFloat fails with ErrRange on overflow; go-yaml then keeps the text.
    if (Number.isFinite(value)) return { type: 'float', value };
  }
  return str(source);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function integer(value: number, exact: bigint | undefined, unsigned: boolean): Resolved {
  return { type: 'int', value, exact, unsigned };
}

function fromBigInt(value: bigint, unsigned: boolean): Resolved {
  const safe = value <= MAX_SAFE && value >= -MAX_SAFE;
  return integer(Number(value), safe ? undefined : value, unsigned);
}

function digitValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 122) return lower - 97 + 10;
  return -1;
}

/** Go's `strconv.ParseUint(s, 0, 64)`: base from the prefix (0b, 0o, 0x, 0), no sign. */
function parseGoUint64(s: string): bigint | undefined {
  if (s === '') return undefined;
  let base = 10;
  let digits = s;
  if (s[0] === '0') {
    const prefix = s.length >= 3 ? (s[1] as string).toLowerCase() : '';
    if (prefix === 'b') base = 2;
    else if (prefix === 'o') base = 8;
    else if (prefix === 'x') base = 16;
    if (base === 10) {
      base = 8;
      digits = s.slice(1);
    } else {
      digits = s.slice(2);
    }
  }
  const bigBase = BigInt(base);
  let value = 0n;
  for (let i = 0; i < digits.length; i++) {
    const digit = digitValue(digits.charCodeAt(i));
    if (digit < 0 || digit >= base) return undefined;
    value = value * bigBase + BigInt(digit);
    if (value > MAX_UINT64) return undefined;
  }
  return value;
}

/** Go's `strconv.ParseInt(s, 0, 64)`. */
function parseGoInt64(s: string): bigint | undefined {
  let negative = false;
  let rest = s;
  if (s[0] === '+' || s[0] === '-') {
    negative = s[0] === '-';
    rest = s.slice(1);
  }
  const magnitude = parseGoUint64(rest);
  if (magnitude === undefined) return undefined;
  if (!negative && magnitude >= INT64_CUTOFF) return undefined;
  if (negative && magnitude > INT64_CUTOFF) return undefined;
  return negative ? -magnitude : magnitude;
}

/** The core tags go-yaml resolves scalars against, by their short name (`int` for `!!int`). */
export type CoreScalarTag = 'str' | 'bool' | 'int' | 'float' | 'null' | 'timestamp' | 'binary';

const TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})|[ ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?)?$/;

/** go-yaml's `parseTimestamp`: the four `time.Parse` layouts it tries, with their ranges. */
function isGoTimestamp(source: string): boolean {
  const match = TIMESTAMP.exec(source);
  if (match === null) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return false;
  const hour = Number(match[4] ?? match[7] ?? 0);
  const minute = Number(match[5] ?? match[8] ?? 0);
  const second = Number(match[6] ?? match[9] ?? 0);
  return hour < 24 && minute < 60 && second < 60;
}

export type TaggedResult =
  | { readonly ok: true; readonly resolved: Resolved }
  | { readonly ok: false; readonly message: string };

/**
 * A scalar with an explicit core tag (`!!int "12"`), as go-yaml v2: resolve the text, then
 * require the result to have the tag's type (an int may stand where a float is asked).
 */
export function resolveTagged(tag: CoreScalarTag, source: string): TaggedResult {
  switch (tag) {
    case 'str':
      return { ok: true, resolved: str(source) };
    case 'binary':
      return decodeBinary(source);
    case 'timestamp':
      if (isGoTimestamp(source)) return { ok: true, resolved: str(source) };
      return notA(tag, source);
    case 'null':
    case 'bool':
    case 'int':
    case 'float': {
      const resolved = resolvePlain(source);
      if (resolved.type === tag) return { ok: true, resolved };
      if (tag === 'float' && resolved.type === 'int' && !resolved.unsigned) {
        return { ok: true, resolved: { type: 'float', value: resolved.value } };
      }
      return notA(tag, source);
    }
    default: {
      const never: never = tag;
      throw new Error(`unhandled tag ${String(never)}`);
    }
  }
}

function notA(tag: CoreScalarTag, source: string): TaggedResult {
  return { ok: false, message: `${JSON.stringify(source)} is not a valid !!${tag} value` };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `!!binary`: go-yaml decodes standard base64 (line breaks ignored) into a Go string, which
 * JSON then carries as text. Bytes that are not UTF-8 would be silently replaced by U+FFFD on
 * the way to JSON, so berth refuses them instead.
 */
function decodeBinary(source: string): TaggedResult {
  const compact = source.replace(/[\r\n]/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    return { ok: false, message: '!!binary value is not valid base64' };
  }
  const latin1 = atob(compact);
  const bytes = new Uint8Array(latin1.length);
  for (let i = 0; i < latin1.length; i++) bytes[i] = latin1.charCodeAt(i);
  try {
    return { ok: true, resolved: str(UTF8.decode(bytes)) };
  } catch {
    return {
      ok: false,
      message:
        '!!binary value decodes to bytes that are not UTF-8 text, which JSON cannot carry; put the base64 text in a plain string instead',
    };
  }
}

/**
 * Go's `strconv.FormatFloat(f, 'g', -1, 32)`, which sigs.k8s.io/yaml uses to turn a float
 * map key into a JSON field name: the shortest decimal that identifies the float32 value,
 * in %e form when the exponent is < -4 or >= 6 (`1e+06`, `1e-05`), else in %f form.
 */
export function formatGoFloat32(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  const f = Math.fround(value);
  if (f === Number.POSITIVE_INFINITY) return '+Inf';
  if (f === Number.NEGATIVE_INFINITY) return '-Inf';
  const negative = f < 0 || Object.is(f, -0);
  const magnitude = Math.abs(f);
  if (magnitude === 0) return negative ? '-0' : '0';
  let precision = 1;
  let exponential = magnitude.toExponential(0);
  while (precision < 9 && Math.fround(Number(exponential)) !== magnitude) {
    precision++;
    exponential = magnitude.toExponential(precision - 1);
  }
  const [mantissa = '', exponentText = '0'] = exponential.split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  let out: string;
  if (exponent < -4 || exponent >= 6) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const sign = exponent < 0 ? '-' : '+';
    const absExponent = Math.abs(exponent);
    out = `${digits[0]}${fraction}e${sign}${absExponent < 10 ? `0${absExponent}` : absExponent}`;
  } else if (exponent < 0) {
    out = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  } else if (digits.length <= exponent + 1) {
    out = digits + '0'.repeat(exponent + 1 - digits.length);
  } else {
    out = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  }
  return negative ? `-${out}` : out;
}

/**
 * A resolved scalar as a JSON field name, as sigs.k8s.io/yaml converts map keys: ints in
 * decimal, floats by `formatGoFloat32` (infinities and NaN as `.inf`, `-.inf`, `.nan`), bools
 * as `true`/`false`. Null keys and integers beyond int64 (go-yaml's uint64) have no JSON form:
 * the result is an error message.
 */
export function keyString(
  resolved: Resolved,
): { readonly ok: true; readonly key: string } | { ok: false; message: string } {
  switch (resolved.type) {
    case 'str':
      return { ok: true, key: resolved.value };
    case 'bool':
      return { ok: true, key: resolved.value ? 'true' : 'false' };
    case 'int':
      if (resolved.unsigned) {
        return {
          ok: false,
          message: `integer key ${String(resolved.exact ?? resolved.value)} is beyond int64, which Kubernetes' YAML reader cannot use as a field name; quote it`,
        };
      }
      return { ok: true, key: String(resolved.exact ?? resolved.value) };
    case 'float': {
      const text = formatGoFloat32(resolved.value);
      const key =
        text === '+Inf' ? '.inf' : text === '-Inf' ? '-.inf' : text === 'NaN' ? '.nan' : text;
      return { ok: true, key };
    }
    case 'null':
      return {
        ok: false,
        message:
          'a null key (empty, ~ or null) cannot become a JSON field name; quote it if it is meant as text',
      };
    default: {
      const never: never = resolved;
      throw new Error(`unhandled scalar ${String(never)}`);
    }
  }
}
