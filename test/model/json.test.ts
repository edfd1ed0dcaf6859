import { describe, expect, it } from 'vitest';
import { copyJson } from '../../operator/model/json.js';

describe('copyJson', () => {
  it('copies nested objects and arrays so changing the copy leaves the original alone', () => {
    const original = { a: [1, { b: 'x' }], c: { d: null, e: true } };
    const copy = copyJson(original);
    expect(copy).toEqual(original);
    (copy.a[1] as { b: string }).b = 'changed';
    copy.c.e = false;
    expect(original).toEqual({ a: [1, { b: 'x' }], c: { d: null, e: true } });
  });

  it('keeps a __proto__ key as data, never as the prototype', () => {
    const original = JSON.parse('{"__proto__": {"polluted": true}, "k": 1}') as Record<
      string,
      unknown
    >;
    const copy = copyJson(original);
    expect(Object.keys(copy)).toEqual(['__proto__', 'k']);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
