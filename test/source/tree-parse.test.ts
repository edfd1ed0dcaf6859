import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTree, parseTreeAfter } from '../../operator/source/tree-parse.js';

interface Entry {
  readonly mode: string;
  readonly name: string;
  readonly oid: string;
}

/** A tree object's content, as git writes it (entries sorted by name; names are unique here). */
function treeBytes(entries: readonly Entry[]): Buffer {
  return Buffer.concat(
    entries.map((e) =>
      Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`, 'utf8'), Buffer.from(e.oid, 'hex')]),
    ),
  );
}

const entryArbitrary = fc.record({
  mode: fc.constantFrom('100644', '100755', '40000', '120000', '160000'),
  name: fc.stringMatching(/^[a-z0-9._-]{1,12}$/),
  oid: fc.stringMatching(/^[0-9a-f]{40}$/),
});

const treeArbitrary = fc
  .uniqueArray(entryArbitrary, { selector: (e) => e.name, maxLength: 60 })
  .map((entries) => [...entries].sort((a, b) => (a.name < b.name ? -1 : 1)));

/** One commit's worth of change to a folder: change, add or remove a few entries. */
const editArbitrary = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant('change' as const),
      at: fc.nat(),
      oid: fc.stringMatching(/^[0-9a-f]{40}$/),
    }),
    fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('add' as const), entry: entryArbitrary }),
  ),
  { maxLength: 4 },
);

type Edit =
  | { kind: 'change'; at: number; oid: string }
  | { kind: 'remove'; at: number }
  | { kind: 'add'; entry: Entry };

function applyEdits(entries: readonly Entry[], edits: readonly Edit[]): Entry[] {
  let next = [...entries];
  for (const edit of edits) {
    if (edit.kind === 'add') {
      if (!next.some((e) => e.name === edit.entry.name)) next.push(edit.entry);
    } else if (next.length > 0) {
      const at = edit.at % next.length;
      if (edit.kind === 'remove') next.splice(at, 1);
      else next[at] = { ...(next[at] as Entry), oid: edit.oid };
    }
  }
  next = next.sort((a, b) => (a.name < b.name ? -1 : 1));
  return next;
}

describe('tree parsing', () => {
  it('reads mode kinds, names and ids', () => {
    const raw = treeBytes([
      { mode: '100644', name: 'a.yaml', oid: 'a'.repeat(40) },
      { mode: '40000', name: 'dir', oid: 'b'.repeat(40) },
      { mode: '120000', name: 'link', oid: 'c'.repeat(40) },
      { mode: '160000', name: 'sub', oid: 'd'.repeat(40) },
      { mode: '100755', name: 'run.json', oid: 'e'.repeat(40) },
      { mode: '040000', name: 'zold', oid: 'f'.repeat(40) },
    ]);
    const tree = parseTree(raw, 'x');
    expect(tree.entries.map((e) => `${e.kind} ${e.name} ${e.oid.slice(0, 2)}`)).toEqual([
      'blob a.yaml aa',
      'tree dir bb',
      'symlink link cc',
      'submodule sub dd',
      'blob run.json ee',
      'tree zold ff',
    ]);
  });

  it('refuses a truncated tree', () => {
    const raw = treeBytes([{ mode: '100644', name: 'a.yaml', oid: 'a'.repeat(40) }]);
    expect(() => parseTree(raw.subarray(0, raw.length - 3), 'x')).toThrow(/malformed/);
  });

  it('parses a changed folder incrementally to exactly what a full parse gives', () => {
    fc.assert(
      fc.property(treeArbitrary, editArbitrary, (before, edits) => {
        const after = applyEdits(before, edits);
        const previous = parseTree(treeBytes(before), 'before');
        const raw = treeBytes(after);
        const { tree, samePrefix, sameSuffix } = parseTreeAfter(raw, 'after', previous);
        const full = parseTree(raw, 'after');
        expect(tree.entries).toEqual(full.entries);
        expect(tree.starts).toEqual(full.starts);
        // What is claimed shared is really the same entry objects of the previous tree.
        for (let i = 0; i < samePrefix; i += 1) expect(tree.entries[i]).toBe(previous.entries[i]);
        for (let j = 1; j <= sameSuffix; j += 1) {
          expect(tree.entries[tree.entries.length - j]).toBe(
            previous.entries[previous.entries.length - j],
          );
        }
        expect(samePrefix + sameSuffix).toBeLessThanOrEqual(Math.min(before.length, after.length));
      }),
      { numRuns: 500 },
    );
  });

  it('shares all but the changed entry of a large folder', () => {
    const entries: Entry[] = [];
    for (let i = 0; i < 5000; i += 1) {
      entries.push({
        mode: '100644',
        name: `app-${String(i).padStart(5, '0')}.yaml`,
        oid: i.toString(16).padStart(40, '0'),
      });
    }
    const previous = parseTree(treeBytes(entries), 'before');
    const changed = [...entries];
    changed[2500] = { ...(changed[2500] as Entry), oid: 'f'.repeat(40) };
    const { samePrefix, sameSuffix } = parseTreeAfter(treeBytes(changed), 'after', previous);
    expect(samePrefix).toBe(2500);
    expect(sameSuffix).toBe(2499);
  });
});
