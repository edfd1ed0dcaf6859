import { describe, expect, it } from 'vitest';
import {
  compareObjects,
  describeChanges,
  formatFieldChange,
  formatValue,
} from '../../operator/diff/compare.js';

describe('compareObjects', () => {
  const cases: { name: string; before: unknown; after: unknown; expected: string[] }[] = [
    {
      name: 'equal objects',
      before: { a: 1, b: [1, 2] },
      after: { b: [1, 2], a: 1 },
      expected: [],
    },
    {
      name: 'a changed leaf',
      before: { spec: { containers: [{ image: 'nginx:1.24' }] } },
      after: { spec: { containers: [{ image: 'nginx:1.25' }] } },
      expected: ['spec.containers[0].image: nginx:1.24 → nginx:1.25'],
    },
    {
      name: 'an added and a removed field',
      before: { a: 1, gone: 'x' },
      after: { a: 1, added: true },
      expected: ['added: (unset) → true', 'gone: x → (unset)'],
    },
    {
      name: 'a longer list',
      before: { args: ['a'] },
      after: { args: ['a', 'b'] },
      expected: ['args[1]: (unset) → b'],
    },
    {
      name: 'a named item added first is one addition',
      before: { containers: [{ name: 'app', image: 'a' }] },
      after: {
        containers: [
          { name: 'side', image: 's' },
          { name: 'app', image: 'b' },
        ],
      },
      expected: ['containers[0]: (unset) → side {"image":"s"}', 'containers[1].image: a → b'],
    },
    {
      name: 'a named item removed, by its live index',
      before: {
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
      after: { env: [{ name: 'B', value: '2' }] },
      expected: ['env[0]: A {"value":"1"} → (unset)'],
    },
    {
      name: 'named items in another order',
      before: { env: [{ name: 'A' }, { name: 'B' }] },
      after: { env: [{ name: 'B' }, { name: 'A' }] },
      expected: ['env: ["A","B"] → ["B","A"]'],
    },
    {
      name: 'lists with a repeated name compare by position',
      before: {
        args: [
          { name: 'x', v: 1 },
          { name: 'x', v: 2 },
        ],
      },
      after: {
        args: [
          { name: 'x', v: 1 },
          { name: 'x', v: 3 },
        ],
      },
      expected: ['args[1].v: 2 → 3'],
    },
    {
      name: 'an object replaced by a scalar',
      before: { x: { y: 1 } },
      after: { x: 2 },
      expected: ['x: {"y":1} → 2'],
    },
    {
      name: 'quantities of equal value in different words',
      before: { resources: { limits: { memory: '1Gi', cpu: '0.5' } }, sizeLimit: '1000' },
      after: { resources: { limits: { memory: '1073741824', cpu: '500m' } }, sizeLimit: '1k' },
      expected: [],
    },
    {
      name: 'quantities of different value',
      before: { resources: { requests: { memory: '1Gi' } } },
      after: { resources: { requests: { memory: '1G' } } },
      expected: ['resources.requests.memory: 1Gi → 1G'],
    },
    {
      name: 'equal-looking numbers outside quantity fields',
      before: { replicas: '1' },
      after: { replicas: 1 },
      expected: ['replicas: 1 → 1'],
    },
  ];
  for (const row of cases) {
    it(row.name, () => {
      expect(compareObjects(row.before, row.after).map(formatFieldChange)).toEqual(row.expected);
    });
  }
});

describe('reasons in words', () => {
  it('cuts long values', () => {
    const text = formatValue('x'.repeat(200));
    expect(text.length).toBe(60);
    expect(text.endsWith('…')).toBe(true);
  });

  it('shows at most a few changes and counts the rest', () => {
    const changes = compareObjects({}, { a: 1, b: 2, c: 3, d: 4 });
    expect(describeChanges(changes, 2)).toBe('a: (unset) → 1; b: (unset) → 2; and 2 more');
  });
});
