import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareQuantities,
  formatQuantity,
  isQuantityError,
  parseQuantity,
  type Quantity,
  quantityEquals,
  toBytes,
  toMillis,
  toNumber,
} from '../../operator/model/quantity.js';

function q(text: string | number): Quantity {
  const parsed = parseQuantity(text);
  if (isQuantityError(parsed)) throw new Error(`expected ${text} to parse: ${parsed.message}`);
  return parsed;
}

describe('parseQuantity', () => {
  it.each([
    ['0', 0],
    ['1', 1000],
    ['0.5', 500],
    ['500m', 500],
    ['.5', 500],
    ['1.', 1000],
    ['+2', 2000],
    ['-1', -1000],
    ['1k', 1_000_000],
    ['1e3', 1_000_000],
    ['1E3', 1_000_000],
    ['1e-3', 1],
    ['1e+3', 1_000_000],
    ['100u', 1],
    ['1n', 1],
    [0.25, 250],
    [2, 2000],
    [' 1 ', 1000],
  ])('accepts %j (%d millis)', (text, millis) => {
    expect(toMillis(q(text))).toBe(millis);
  });

  it.each([
    ['1Ki', 1024],
    ['1Mi', 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['128Mi', 128 * 1024 ** 2],
    ['1M', 1_000_000],
    ['1G', 1_000_000_000],
    ['1E', 1e18],
    ['0.5Ki', 512],
    ['1.1', 2],
  ])('reads %s as %d bytes (rounded up)', (text, bytes) => {
    expect(toBytes(q(text))).toBe(bytes);
  });

  it.each([
    [''],
    ['   '],
    ['abc'],
    ['1K'],
    ['1KiB'],
    ['1 Gi'],
    ['1.2.3'],
    ['1e'],
    ['1e3.5'],
    ['Mi'],
    ['.'],
    ['+'],
    ['1m2'],
    ['0x10'],
    ['1e99999999999'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
  ])('rejects %j with the accepted form', (text) => {
    const parsed = parseQuantity(text);
    expect(isQuantityError(parsed)).toBe(true);
    if (isQuantityError(parsed)) {
      expect(parsed.message).toContain('"500m", "0.5", "128Mi", "1Gi"');
    }
  });

  it('rounds values finer than nano away from zero, as Kubernetes does', () => {
    expect(formatQuantity(q('0.1n'))).toBe('1n');
    expect(formatQuantity(q('-0.1n'))).toBe('-1n');
    expect(formatQuantity(q('1.0000000001'))).toBe('1000000001n');
    expect(formatQuantity(q('1e-2147483647'))).toBe('1e-9');
  });

  it('caps binary quantities at 2^63-1 like apimachinery', () => {
    expect(quantityEquals(q('8Ei'), q('9223372036854775807'))).toBe(true);
    expect(quantityEquals(q('8E'), q('8000000000000000000'))).toBe(true);
  });

  it('keeps huge decimal exponents without building huge numbers', () => {
    const huge = q('1e2000000000');
    expect(compareQuantities(huge, q('1E'))).toBeGreaterThan(0);
    expect(toNumber(huge)).toBe(Number.POSITIVE_INFINITY);
    expect(toBytes(huge)).toBe(Number.POSITIVE_INFINITY);
    // Exponents print as multiples of three, as the API server prints them.
    expect(formatQuantity(huge)).toBe('100e1999999998');
  });
});

describe('quantityEquals and compareQuantities', () => {
  it.each([
    ['0.5', '500m'],
    ['1Gi', '1024Mi'],
    ['1', '1000m'],
    ['1k', '1000'],
    ['1e3', '1k'],
    ['0', '0Mi'],
    ['-0', '0'],
    ['1.5Gi', '1536Mi'],
    ['1000000n', '1m'],
  ])('%s equals %s', (a, b) => {
    expect(quantityEquals(q(a), q(b))).toBe(true);
    expect(compareQuantities(q(a), q(b))).toBe(0);
  });

  it.each([
    ['1k', '1Ki'],
    ['999m', '1'],
    ['-1', '0'],
    ['-2', '-1'],
    ['1Mi', '1.1M'],
    ['1n', '1u'],
  ])('%s is less than %s', (a, b) => {
    expect(quantityEquals(q(a), q(b))).toBe(false);
    expect(compareQuantities(q(a), q(b))).toBeLessThan(0);
    expect(compareQuantities(q(b), q(a))).toBeGreaterThan(0);
  });
});

describe('formatQuantity (the API server canonical form)', () => {
  it.each([
    ['1.5', '1500m'],
    ['1.5Gi', '1536Mi'],
    ['1024Mi', '1Gi'],
    ['1000', '1k'],
    ['1500', '1500'],
    ['0.1', '100m'],
    ['100m', '100m'],
    ['0', '0'],
    ['0Gi', '0'],
    ['512Ki', '512Ki'],
    ['0.5Ki', '512'],
    ['1023', '1023'],
    ['1e3', '1e3'],
    ['1.5e3', '1500'],
    ['12e6', '12e6'],
    ['1000E', '1e21'],
    ['-1.5', '-1500m'],
    ['0.5Mi', '512Ki'],
    ['1.0001Ki', '1024102400u'],
  ])('%s prints as %s', (text, canonical) => {
    expect(formatQuantity(q(text))).toBe(canonical);
  });
});

// Quantities written as users write them: digits, an optional fraction, a suffix or exponent.
const quantityText = fc
  .tuple(
    fc.constantFrom('', '-', '+'),
    fc.stringMatching(/^[0-9]{1,12}$/),
    fc.option(fc.stringMatching(/^[0-9]{0,9}$/), { nil: undefined }),
    fc.oneof(
      fc.constantFrom('', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E'),
      fc.constantFrom('Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'),
      fc.integer({ min: -20, max: 20 }).map((e) => `e${e}`),
    ),
  )
  .map(([sign, whole, fraction, suffix]) =>
    fraction === undefined ? `${sign}${whole}${suffix}` : `${sign}${whole}.${fraction}${suffix}`,
  );

describe('quantity properties', () => {
  it('parses every well-formed quantity', () => {
    fc.assert(fc.property(quantityText, (text) => !isQuantityError(parseQuantity(text))));
  });

  it('round-trips through the canonical form', () => {
    fc.assert(
      fc.property(quantityText, (text) => {
        const first = q(text);
        const printed = formatQuantity(first);
        const again = q(printed);
        expect(quantityEquals(first, again)).toBe(true);
        expect(formatQuantity(again)).toBe(printed);
      }),
    );
  });

  it('equals the same amount written in millis (0.5 == 500m for every value)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }), (millis) => {
        const asMillis = q(`${millis}m`);
        const asDecimal = q((millis / 1000).toFixed(3));
        expect(quantityEquals(asMillis, asDecimal)).toBe(true);
        expect(toMillis(asDecimal)).toBe(millis);
      }),
    );
  });

  it('equals the same amount one binary suffix down (1Gi == 1024Mi for every value)', () => {
    const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 1, max: 5 }), (n, i) => {
        const upper = q(`${n}${suffixes[i]}`);
        const lower = q(`${n * 1024}${suffixes[i - 1]}`);
        expect(quantityEquals(upper, lower)).toBe(true);
      }),
    );
  });

  it('orders quantities as their exact values order (a total order consistent with equality)', () => {
    fc.assert(
      fc.property(quantityText, quantityText, quantityText, (ta, tb, tc) => {
        const [a, b, c] = [q(ta), q(tb), q(tc)];
        // Antisymmetric (the sum, not Object.is, so that 0 and -0 agree).
        expect(Math.sign(compareQuantities(a, b)) + Math.sign(compareQuantities(b, a))).toBe(0);
        expect(compareQuantities(a, b) === 0).toBe(quantityEquals(a, b));
        if (compareQuantities(a, b) <= 0 && compareQuantities(b, c) <= 0) {
          expect(compareQuantities(a, c)).toBeLessThanOrEqual(0);
        }
      }),
    );
  });

  it('agrees with floating point where floating point is exact enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        (x, y) => {
          const cmp = compareQuantities(q(`${x}m`), q(`${y}Ki`));
          expect(Math.sign(cmp)).toBe(Math.sign(x / 1000 - y * 1024));
        },
      ),
    );
  });
});
