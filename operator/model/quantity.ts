/**
 * Kubernetes resource quantities ("500m", "0.5", "128Mi", "1Gi", "1e3"), parsed to an exact
 * decimal so that comparisons never go through floating point: `0.5` equals `500m` and `1Gi`
 * equals `1024Mi`. Follows apimachinery's `resource.Quantity`: values finer than nano are rounded
 * away from zero to 1n, binary-suffixed values are capped at 2^63-1, and the canonical text is
 * the one the API server would print ("1.5" → "1500m", "1.5Gi" → "1536Mi").
 */

/** The three suffix families; a quantity remembers its family to print itself the same way. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** An exact value `coefficient × 10^exponent`, normalised so equal values have equal fields. */
export interface Quantity {
  readonly ok: true;
  /** No trailing decimal zeros; zero is `0n` with exponent 0. */
  readonly coefficient: bigint;
  /** Never below -9: finer values are rounded to nano as Kubernetes does. */
  readonly exponent: number;
  readonly format: QuantityFormat;
}

export interface QuantityError {
  readonly ok: false;
  /** Why the text is not a quantity, with the accepted form. */
  readonly message: string;
}

/** The accepted form, for messages here and in validation. */
export const QUANTITY_FORM =
  'a quantity is a decimal number with an optional suffix: m (milli), k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or an exponent such as e3 (e.g. "500m", "0.5", "128Mi", "1Gi")';

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const DECIMAL_SUFFIX_BY_EXPONENT: ReadonlyMap<number, string> = new Map(
  Object.entries(DECIMAL_SUFFIXES).map(([suffix, exponent]) => [exponent, suffix]),
);
const BINARY_SUFFIXES: readonly string[] = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** Kubernetes keeps values only down to nano (10^-9). */
const MIN_EXPONENT = -9;
const MAX_INT64 = (1n << 63n) - 1n;
const INT32_LIMIT = 2 ** 31;

// sign, integer digits, optional fraction, then a suffix made of letters or an exponent.
const QUANTITY_PATTERN = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/;
const EXPONENT_PATTERN = /^[eE]([+-]?[0-9]+)$/;

function fail(text: string, reason: string): QuantityError {
  return { ok: false, message: `"${text}" is not a valid quantity (${reason}); ${QUANTITY_FORM}` };
}

/**
 * Parses a quantity as the API server reads one from JSON or YAML: a string (surrounding
 * whitespace ignored, as Kubernetes' JSON decoding does) or a plain number.
 */
export function parseQuantity(text: string | number): Quantity | QuantityError {
  if (typeof text === 'number') {
    if (!Number.isFinite(text)) return fail(String(text), 'not a finite number');
    return parseQuantity(String(text));
  }
  const trimmed = text.trim();
  if (trimmed === '') return fail(text, 'empty');
  const match = QUANTITY_PATTERN.exec(trimmed);
  if (match === null) return fail(text, 'unexpected characters');
  const sign = match[1] ?? '';
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  const suffix = match[4] ?? '';
  if (whole === '' && fraction === '') return fail(text, 'no digits');

  let coefficient = BigInt(`${whole}${fraction}` || '0');
  let exponent = -fraction.length;
  let format: QuantityFormat;
  const decimalExponent = DECIMAL_SUFFIXES[suffix];
  const binaryPower = suffix === '' ? -1 : BINARY_SUFFIXES.indexOf(suffix);
  if (decimalExponent !== undefined) {
    format = 'DecimalSI';
    exponent += decimalExponent;
  } else if (binaryPower > 0) {
    format = 'BinarySI';
    coefficient *= 1n << BigInt(10 * binaryPower);
  } else {
    const exponentMatch = EXPONENT_PATTERN.exec(suffix);
    if (exponentMatch === null) return fail(text, `unknown suffix "${suffix}"`);
    const power = Number(exponentMatch[1]);
    if (!(Math.abs(power) < INT32_LIMIT)) return fail(text, 'exponent out of range');
    format = 'DecimalExponent';
    exponent += power;
  }
  if (sign === '-') coefficient = -coefficient;

  let value = roundToNano(normalise(coefficient, exponent));
  if (format === 'BinarySI') {
    // apimachinery caps binary quantities silently; a bigger one cannot be stored in int64 bytes.
    if (compareParts(abs(value), { coefficient: MAX_INT64, exponent: 0 }) > 0) {
      value = normalise(value.coefficient < 0n ? -MAX_INT64 : MAX_INT64, 0);
    }
    // A fraction of one byte cannot be printed with a binary suffix.
    if (
      compareParts(abs(value), { coefficient: 1n, exponent: 0 }) < 0 &&
      value.coefficient !== 0n
    ) {
      format = 'DecimalSI';
    }
  }
  return { ok: true, coefficient: value.coefficient, exponent: value.exponent, format };
}

export function isQuantityError(value: Quantity | QuantityError): value is QuantityError {
  return !value.ok;
}

/** True when both quantities have the same value, whatever their text ("1Gi" and "1024Mi"). */
export function quantityEquals(a: Quantity, b: Quantity): boolean {
  return a.coefficient === b.coefficient && a.exponent === b.exponent;
}

/** Negative, zero or positive as `a` is less than, equal to or greater than `b`. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  return compareParts(a, b);
}

/** ceil(q × 1000), away from zero: CPU in millicores, as Kubernetes' `MilliValue`. */
export function toMillis(q: Quantity): number {
  return scaledValue(q, -3);
}

/** ceil(q), away from zero: memory and storage in bytes, as Kubernetes' `Value`. */
export function toBytes(q: Quantity): number {
  return scaledValue(q, 0);
}

/** The value as a float, for display and rough arithmetic only. */
export function toNumber(q: Quantity): number {
  return Number(`${q.coefficient}e${q.exponent}`);
}

/**
 * The canonical text the API server would print: no fractional digits, the largest suffix
 * that loses nothing, and the suffix family the quantity was written with ("1.5" → "1500m",
 * "1.5Gi" → "1536Mi", "1e3" → "1e3").
 */
export function formatQuantity(q: Quantity): string {
  if (q.coefficient === 0n) return '0';
  if (q.format === 'BinarySI') {
    const binary = formatBinary(q);
    if (binary !== undefined) return binary;
  }
  // The largest multiple of three at or below the exponent keeps the mantissa whole.
  const exponent3 = Math.floor(q.exponent / 3) * 3;
  const mantissa = q.coefficient * 10n ** BigInt(q.exponent - exponent3);
  if (q.format !== 'DecimalExponent') {
    const suffix = DECIMAL_SUFFIX_BY_EXPONENT.get(exponent3);
    if (suffix !== undefined) return `${mantissa}${suffix}`;
  }
  // DecimalSI has no suffix past E (10^18): Kubernetes falls back to exponent notation.
  return exponent3 === 0 ? `${mantissa}` : `${mantissa}e${exponent3}`;
}

function formatBinary(q: Quantity): string | undefined {
  // Whole numbers of at least 1024 in magnitude keep their binary suffix; others print as DecimalSI.
  if (q.exponent < 0) return undefined;
  const whole = q.coefficient * 10n ** BigInt(q.exponent);
  if (whole > -1024n && whole < 1024n) return undefined;
  let mantissa = whole;
  let power = 0;
  while (power < BINARY_SUFFIXES.length - 1 && mantissa % 1024n === 0n) {
    mantissa /= 1024n;
    power += 1;
  }
  return `${mantissa}${BINARY_SUFFIXES[power] ?? ''}`;
}

interface DecimalParts {
  readonly coefficient: bigint;
  readonly exponent: number;
}

function abs(value: DecimalParts): DecimalParts {
  return value.coefficient < 0n
    ? { coefficient: -value.coefficient, exponent: value.exponent }
    : value;
}

function normalise(coefficient: bigint, exponent: number): DecimalParts {
  if (coefficient === 0n) return { coefficient: 0n, exponent: 0 };
  // On the decimal text: linear in the digits, where repeated bigint division is quadratic.
  const digits = coefficient.toString();
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end -= 1;
  if (end === digits.length) return { coefficient, exponent };
  return { coefficient: BigInt(digits.slice(0, end)), exponent: exponent + digits.length - end };
}

function digitCount(value: bigint): number {
  return (value < 0n ? -value : value).toString().length;
}

/** Rounds away from zero to 10^-9, so a tiny non-zero request still asks for something. */
function roundToNano(value: DecimalParts): DecimalParts {
  if (value.exponent >= MIN_EXPONENT) return value;
  const sign = value.coefficient < 0n ? -1n : 1n;
  const shift = MIN_EXPONENT - value.exponent;
  if (shift > digitCount(value.coefficient)) return { coefficient: sign, exponent: MIN_EXPONENT };
  const divisor = 10n ** BigInt(shift);
  let quotient = value.coefficient / divisor;
  if (value.coefficient % divisor !== 0n) quotient += sign;
  return normalise(quotient, MIN_EXPONENT);
}

function compareParts(a: DecimalParts, b: DecimalParts): number {
  const signA = a.coefficient < 0n ? -1 : a.coefficient > 0n ? 1 : 0;
  const signB = b.coefficient < 0n ? -1 : b.coefficient > 0n ? 1 : 0;
  if (signA !== signB) return signA < signB ? -1 : 1;
  if (signA === 0) return 0;
  // Same sign: compare orders of magnitude first so huge exponents never build huge numbers.
  const magnitudeA = digitCount(a.coefficient) + a.exponent;
  const magnitudeB = digitCount(b.coefficient) + b.exponent;
  if (magnitudeA !== magnitudeB) return (magnitudeA < magnitudeB ? -1 : 1) * signA;
  const common = Math.min(a.exponent, b.exponent);
  const alignedA = a.coefficient * 10n ** BigInt(a.exponent - common);
  const alignedB = b.coefficient * 10n ** BigInt(b.exponent - common);
  return alignedA === alignedB ? 0 : alignedA < alignedB ? -1 : 1;
}

/** ceil(q / 10^scale) away from zero, as a float (exact up to 2^53). */
function scaledValue(q: Quantity, scale: number): number {
  const shift = q.exponent - scale;
  if (shift >= 0) {
    // Past ~10^400 a double is Infinity anyway; do not build the number.
    if (shift > 400) return q.coefficient < 0n ? -Infinity : q.coefficient > 0n ? Infinity : 0;
    return Number(q.coefficient * 10n ** BigInt(shift));
  }
  const divisor = 10n ** BigInt(-shift);
  let quotient = q.coefficient / divisor;
  if (q.coefficient % divisor !== 0n) quotient += q.coefficient < 0n ? -1n : 1n;
  return Number(quotient);
}
