import { describe, expect, it } from 'vitest';
import {
  formatGoFloat32,
  keyString,
  type Resolved,
  resolvePlain,
  resolveTagged,
} from '../../operator/manifests/parse-scalar.js';

/** A resolved scalar in a form tables can spell: `int 493`, `float 0.5`, `str "x"`. */
function show(resolved: Resolved): string {
  switch (resolved.type) {
    case 'null':
      return 'null';
    case 'bool':
      return `bool ${resolved.value}`;
    case 'int':
      return `${resolved.unsigned ? 'uint' : 'int'} ${resolved.exact ?? resolved.value}`;
    case 'float':
      return `float ${Object.is(resolved.value, -0) ? '-0' : resolved.value}`;
    case 'str':
      return `str ${JSON.stringify(resolved.value)}`;
  }
}

describe('resolvePlain mirrors go-yaml v2 resolve()', () => {
  // Expected values follow gopkg.in/yaml.v2 v2.4.0 resolve.go with Go's strconv (Go >= 1.13).
  const table: [string, string][] = [
    ['', 'null'],
    ['~', 'null'],
    ['null', 'null'],
    ['Null', 'null'],
    ['NULL', 'null'],
    ['nULL', 'str "nULL"'],
    ['y', 'bool true'],
    ['Y', 'bool true'],
    ['yes', 'bool true'],
    ['Yes', 'bool true'],
    ['YES', 'bool true'],
    ['on', 'bool true'],
    ['On', 'bool true'],
    ['ON', 'bool true'],
    ['true', 'bool true'],
    ['True', 'bool true'],
    ['TRUE', 'bool true'],
    ['n', 'bool false'],
    ['N', 'bool false'],
    ['no', 'bool false'],
    ['No', 'bool false'],
    ['NO', 'bool false'],
    ['off', 'bool false'],
    ['Off', 'bool false'],
    ['OFF', 'bool false'],
    ['false', 'bool false'],
    ['False', 'bool false'],
    ['FALSE', 'bool false'],
    ['yES', 'str "yES"'],
    ['tRUE', 'str "tRUE"'],
    ['Yes!', 'str "Yes!"'],
    ['0', 'int 0'],
    ['-0', 'int 0'],
    ['+12', 'int 12'],
    ['0755', 'int 493'],
    ['0o17', 'int 15'],
    ['0o8', 'str "0o8"'],
    ['0x1F', 'int 31'],
    ['0X1f', 'int 31'],
    ['0x_1F', 'int 31'],
    ['0b101', 'int 5'],
    ['-0b101', 'int -5'],
    ['1_000', 'int 1000'],
    ['1__0', 'int 10'],
    ['_1000', 'str "_1000"'],
    ['09', 'float 9'],
    ['0x', 'str "0x"'],
    ['9223372036854775807', 'int 9223372036854775807'],
    ['-9223372036854775808', 'int -9223372036854775808'],
    ['9223372036854775808', 'uint 9223372036854775808'],
    ['18446744073709551615', 'uint 18446744073709551615'],
    ['18446744073709551616', 'float 18446744073709552000'],
    ['-9223372036854775809', 'float -9223372036854776000'],
    ['1e3', 'float 1000'],
    ['1E3', 'float 1000'],
    ['1.', 'float 1'],
    ['1.5e-3', 'float 0.0015'],
    ['1_0.5', 'float 10.5'],
    ['-0.0', 'float -0'],
    ['1e400', 'str "1e400"'],
    ['.5', 'float 0.5'],
    ['+.5', 'float 0.5'],
    ['.5e1', 'float 5'],
    ['.', 'str "."'],
    ['.e3', 'str ".e3"'],
    ['._5', 'str "._5"'],
    ['.inf', 'float Infinity'],
    ['.Inf', 'float Infinity'],
    ['.INF', 'float Infinity'],
    ['+.inf', 'float Infinity'],
    ['-.Inf', 'float -Infinity'],
    ['.nan', 'float NaN'],
    ['.NaN', 'float NaN'],
    ['.nAn', 'str ".nAn"'],
    ['190:20:30', 'str "190:20:30"'],
    ['1:30', 'str "1:30"'],
    ['2001-12-14', 'str "2001-12-14"'],
    ['2001-12-14t21:59:43.10-05:00', 'str "2001-12-14t21:59:43.10-05:00"'],
    ['<<', 'str "<<"'],
    ['+', 'str "+"'],
    ['-', 'str "-"'],
    ['1.10', 'float 1.1'],
    ['v1', 'str "v1"'],
    ['100m', 'str "100m"'],
    ['64Mi', 'str "64Mi"'],
  ];
  it.each(table)('%j resolves to %s', (source, expected) => {
    expect(show(resolvePlain(source))).toBe(expected);
  });
});

describe('resolveTagged: explicit core tags, checked as go-yaml v2 checks them', () => {
  const ok: [Parameters<typeof resolveTagged>[0], string, string][] = [
    ['int', '12', 'int 12'],
    ['float', '3', 'float 3'],
    ['bool', 'yes', 'bool true'],
    ['null', '', 'null'],
    ['null', '~', 'null'],
    ['str', '80', 'str "80"'],
    ['str', 'yes', 'str "yes"'],
    ['timestamp', '2001-12-14', 'str "2001-12-14"'],
    ['timestamp', '2001-12-14t21:59:43.10-05:00', 'str "2001-12-14t21:59:43.10-05:00"'],
    ['timestamp', '2001-12-14 21:59:43.10', 'str "2001-12-14 21:59:43.10"'],
    ['binary', 'aGVsbG8gd29ybGQ=', 'str "hello world"'],
    ['binary', 'aGVs\nbG8=', 'str "hello"'],
  ];
  it.each(ok)('!!%s %j → %s', (tag, source, expected) => {
    const result = resolveTagged(tag, source);
    expect(result.ok).toBe(true);
    if (result.ok) expect(show(result.resolved)).toBe(expected);
  });

  const refused: [Parameters<typeof resolveTagged>[0], string, string][] = [
    ['int', 'twelve', '"twelve" is not a valid !!int value'],
    ['int', '1.5', '"1.5" is not a valid !!int value'],
    ['float', '18446744073709551615', 'is not a valid !!float value'],
    ['bool', '1', '"1" is not a valid !!bool value'],
    ['null', 'x', '"x" is not a valid !!null value'],
    ['timestamp', '2001-02-30', 'is not a valid !!timestamp value'],
    ['timestamp', 'soon', 'is not a valid !!timestamp value'],
    ['binary', 'not base64!', '!!binary value is not valid base64'],
    ['binary', '/w==', 'not UTF-8 text'],
  ];
  it.each(refused)('!!%s %j is refused', (tag, source, message) => {
    const result = resolveTagged(tag, source);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('formatGoFloat32 matches strconv.FormatFloat(f, g, -1, 32)', () => {
  const table: [number, string][] = [
    [1.5, '1.5'],
    [0.1, '0.1'],
    [100, '100'],
    [1000, '1000'],
    [123456, '123456'],
    [999999, '999999'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [16777217, '1.6777216e+07'],
    [1e21, '1e+21'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1234.5678, '1234.5677'],
    [-2, '-2'],
    [0, '0'],
    [-0, '-0'],
    [1e300, '+Inf'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
    [Number.NaN, 'NaN'],
  ];
  it.each(table)('%d → %s', (value, expected) => {
    expect(formatGoFloat32(value)).toBe(expected);
  });
});

describe('keyString: map keys as sigs.k8s.io/yaml turns them into JSON field names', () => {
  it('converts ints, bools and floats, with infinities spelled as YAML', () => {
    const keys = ['1', '0x10', 'true', 'no', '1.5', '1e6', '.inf', '-.inf', '.nan', 'name'].map(
      (source) => {
        const result = keyString(resolvePlain(source));
        return result.ok ? result.key : `error: ${result.message}`;
      },
    );
    expect(keys).toEqual([
      '1',
      '16',
      'true',
      'false',
      '1.5',
      '1e+06',
      '.inf',
      '-.inf',
      '.nan',
      'name',
    ]);
  });

  it('refuses null keys and integers beyond int64', () => {
    const nullKey = keyString(resolvePlain('~'));
    const bigKey = keyString(resolvePlain('18446744073709551615'));
    expect(nullKey.ok).toBe(false);
    expect(bigKey.ok).toBe(false);
    if (!nullKey.ok) expect(nullKey.message).toContain('null key');
    if (!bigKey.ok) expect(bigKey.message).toContain('beyond int64');
  });
});
