import { describe, expect, it } from 'vitest';
import {
  formatSelector,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isPortName,
  isSelectorError,
  mapSelectorMatches,
  parseSelector,
  type Selector,
  selectorFromMap,
  selectorMatches,
  validateAnnotations,
  validateDns1123Label,
  validateEnvVarName,
  validateLabelKey,
  validateLabels,
  validateLabelValue,
  validatePortName,
} from '../../operator/model/labels.js';

const long = (n: number, ch = 'a') => ch.repeat(n);

describe('DNS names', () => {
  it.each([
    ['a', true],
    ['my-name', true],
    ['123-abc', true],
    ['0', true],
    [long(63), true],
    [long(64), false],
    ['', false],
    ['My-Name', false],
    ['-a', false],
    ['a-', false],
    ['a.b', false],
    ['a_b', false],
  ])('DNS-1123 label %j → %s', (value, ok) => {
    expect(isDns1123Label(value)).toBe(ok);
  });

  it.each([
    ['example.com', true],
    ['a', true],
    ['a.b-c.d', true],
    [`${long(63)}.${long(63)}.${long(63)}.${long(61)}`, true],
    [`${long(63)}.${long(63)}.${long(63)}.${long(62)}`, false],
    ['a..b', false],
    ['.a', false],
    ['a.', false],
    ['a.-b', false],
    ['A.com', false],
    ['', false],
  ])('DNS-1123 subdomain %j → %s', (value, ok) => {
    expect(isDns1123Subdomain(value)).toBe(ok);
  });

  it.each([
    ['my-name', true],
    ['abc-123', true],
    ['1abc', false],
    ['a', true],
    [long(64), false],
    ['a-', false],
  ])('DNS-1035 label %j → %s', (value, ok) => {
    expect(isDns1035Label(value)).toBe(ok);
  });

  it('explains the expected form and the length', () => {
    expect(validateDns1123Label('My_Name')).toBe(
      `must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. "my-name")`,
    );
    expect(validateDns1123Label(long(70))).toMatch(/this one has 70 characters$/);
    expect(validateDns1123Label('ok')).toBeUndefined();
  });
});

describe('port names (IANA_SVC_NAME)', () => {
  it.each([
    ['http', true],
    ['web-8080', true],
    ['a1', true],
    [long(15), true],
    [long(16), false],
    ['8080', false],
    ['HTTP', false],
    ['-http', false],
    ['http-', false],
    ['ht--tp', false],
    ['h_t', false],
    ['', false],
  ])('%j → %s', (value, ok) => {
    expect(isPortName(value)).toBe(ok);
  });

  it('says what a service name is', () => {
    expect(validatePortName('8080')).toContain('at least one letter');
  });
});

describe('environment variable names', () => {
  it.each([
    ['HOME', true],
    ['my.env-name', true],
    ['_x', true],
    ['.x', true],
    ['a1', true],
    ['1a', false],
    ['', false],
    ['a b', false],
    ['.', false],
    ['..', false],
    ['..a', false],
    ['a=b', false],
  ])('%j → %s', (value, ok) => {
    expect(validateEnvVarName(value) === undefined).toBe(ok);
  });
});

describe('label keys and values', () => {
  it.each([
    ['app', true],
    ['App.Name_1', true],
    ['example.com/tier', true],
    ['kubernetes.io/hostname', true],
    [long(63), true],
    [long(64), false],
    [`${long(253)}/a`, true],
    [`${long(254)}/a`, false],
    ['/a', false],
    ['a/', false],
    ['a/b/c', false],
    ['Example.com/a', false],
    ['-app', false],
    ['app.', false],
    ['', false],
    ['a b', false],
  ])('key %j → %s', (key, ok) => {
    expect(validateLabelKey(key) === undefined).toBe(ok);
  });

  it('names the part of a key that is wrong', () => {
    expect(validateLabelKey('Example.com/a')).toContain('the prefix "Example.com"');
    expect(validateLabelKey('a/b/c')).toContain("more than one '/'");
    expect(validateLabelKey(long(64))).toContain('the name part has 64 characters');
  });

  it.each([
    ['', true],
    ['frontend', true],
    ['v1.2_3-x', true],
    ['Z', true],
    [long(63), true],
    [long(64), false],
    ['-x', false],
    ['x-', false],
    ['a/b', false],
    ['a b', false],
  ])('value %j → %s', (value, ok) => {
    expect(validateLabelValue(value) === undefined).toBe(ok);
  });

  it('collects every key and value problem of a map', () => {
    const problems = validateLabels({
      ok: 'fine',
      'bad key': 'fine',
      good: 'bad value',
      '-x': '-y',
    });
    expect(problems.map((p) => [p.key, p.part])).toEqual([
      ['bad key', 'key'],
      ['good', 'value'],
      ['-x', 'key'],
      ['-x', 'value'],
    ]);
  });
});

describe('annotations', () => {
  it('checks keys lowercased and leaves values free', () => {
    expect(validateAnnotations({ 'Example.COM/Note': 'any text at all / !' })).toEqual([]);
    const problems = validateAnnotations({ 'a b': 'x' });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.key).toBe('a b');
    expect(problems[0]?.message).toContain('annotation key');
  });

  it('bounds the total size of keys and values at 256 KiB', () => {
    const atLimit = { a: 'x'.repeat(256 * 1024 - 1) };
    expect(validateAnnotations(atLimit)).toEqual([]);
    const over = { a: 'x'.repeat(256 * 1024 - 1), b: '' };
    const problems = validateAnnotations(over);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.part).toBe('map');
    expect(problems[0]?.message).toContain('262145');
  });

  it('counts bytes, not characters', () => {
    // 'é' is two bytes in UTF-8.
    const problems = validateAnnotations({ a: 'é'.repeat(128 * 1024) });
    expect(problems).toHaveLength(1);
  });
});

function parse(text: string): Selector {
  const parsed = parseSelector(text);
  if (isSelectorError(parsed)) throw new Error(parsed.message);
  return parsed;
}

describe('parseSelector', () => {
  it('reads every operator', () => {
    const selector = parse('a=b,c!=d,e in (y,x),f notin (z),g,!h,i==j,k>1,l<2');
    expect(selector.requirements).toEqual([
      { key: 'a', operator: 'Equals', values: ['b'] },
      { key: 'c', operator: 'NotEquals', values: ['d'] },
      { key: 'e', operator: 'In', values: ['x', 'y'] },
      { key: 'f', operator: 'NotIn', values: ['z'] },
      { key: 'g', operator: 'Exists', values: [] },
      { key: 'h', operator: 'DoesNotExist', values: [] },
      { key: 'i', operator: 'Equals', values: ['j'] },
      { key: 'k', operator: 'GreaterThan', values: ['1'] },
      { key: 'l', operator: 'LessThan', values: ['2'] },
    ]);
  });

  it('ignores whitespace and sorts requirements by key', () => {
    const selector = parse('  tier = frontend ,  env in ( prod , qa ) ');
    expect(formatSelector(selector)).toBe('env in (prod,qa),tier=frontend');
  });

  it('reads an empty value after = and an empty slot in a set', () => {
    expect(parse('a=').requirements[0]?.values).toEqual(['']);
    expect(parse('a in ()').requirements[0]?.values).toEqual(['']);
    expect(parse('a in (x,)').requirements[0]?.values).toEqual(['', 'x']);
  });

  it('treats the empty selector as matching everything', () => {
    const selector = parse('');
    expect(selector.requirements).toEqual([]);
    expect(selectorMatches(selector, { any: 'thing' })).toBe(true);
    expect(selectorMatches(selector, undefined)).toBe(true);
  });

  it('keeps keys with prefixes', () => {
    expect(parse('example.com/tier=web').requirements[0]?.key).toBe('example.com/tier');
  });

  it.each([
    ['a=b,', 'expected a key'],
    [',a', 'expected a key'],
    ['a b', 'expected an operator'],
    ['a in x', "expected '('"],
    ['a in (x', "expected ',' or ')'"],
    ['a=b c', "expected ',' or the end"],
    ['a==(', 'expected a value'],
    ['a>x', 'needs an integer'],
    ['!', 'expected a key'],
    ['a=-b', 'value "-b"'],
    ['-a=b', 'key "-a"'],
    ['a in (x y)', "expected ',' or ')'"],
    ['a!', 'expected an operator'],
  ])('rejects %j (%s)', (text, reason) => {
    const parsed = parseSelector(text);
    expect(isSelectorError(parsed)).toBe(true);
    if (isSelectorError(parsed)) expect(parsed.message).toContain(reason);
  });
});

describe('selectorMatches', () => {
  const labels = { app: 'web', tier: 'frontend', version: '3', empty: '' };
  it.each([
    ['app=web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (web,db)', true],
    ['app in (db)', false],
    ['missing in (x)', false],
    ['app notin (db)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['version>2', true],
    ['version>3', false],
    ['version<4', true],
    ['app>1', false],
    ['missing<9', false],
    ['empty=', true],
    ['empty', true],
    ['app=web,tier=frontend', true],
    ['app=web,tier=backend', false],
  ])('%j → %s', (text, ok) => {
    expect(selectorMatches(parse(text), labels)).toBe(ok);
  });

  it('does not match inherited object properties', () => {
    expect(selectorMatches(parse('toString'), {})).toBe(false);
    expect(mapSelectorMatches({ constructor: 'x' }, {})).toBe(false);
  });
});

describe('map selectors', () => {
  it('match when every pair is present', () => {
    expect(mapSelectorMatches({ app: 'web' }, { app: 'web', tier: 'x' })).toBe(true);
    expect(mapSelectorMatches({ app: 'web', tier: 'y' }, { app: 'web', tier: 'x' })).toBe(false);
    expect(mapSelectorMatches({ app: 'web' }, undefined)).toBe(false);
    expect(mapSelectorMatches({}, { app: 'web' })).toBe(true);
  });

  it('agree with the equivalent parsed selector', () => {
    const map = { tier: 'frontend', app: 'web' };
    const selector = selectorFromMap(map);
    expect(formatSelector(selector)).toBe('app=web,tier=frontend');
    const cases: Record<string, string>[] = [{ app: 'web', tier: 'frontend' }, { app: 'web' }, {}];
    for (const labels of cases) {
      expect(selectorMatches(selector, labels)).toBe(mapSelectorMatches(map, labels));
    }
  });
});
