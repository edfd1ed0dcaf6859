import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatChangeHeader,
  formatRef,
  formatSummary,
  planHasChanges,
  planToJson,
  renderChangeDiff,
  renderPlanText,
  toSortedYaml,
} from '../../operator/diff/render.js';
import type { Pod } from '../../operator/model/generated/types.js';
import type { Change, Plan } from '../../operator/plan/types.js';

const pod = (image: string, extra: Record<string, string> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', ...extra } },
  spec: { containers: [{ name: 'main', image }] },
});

const ref = { kind: 'Pod', namespace: 'default', name: 'web' } as const;

const summary = (counts: Partial<Plan['summary']>): Plan['summary'] => ({
  create: 0,
  update: 0,
  replace: 0,
  delete: 0,
  unchanged: 0,
  ...counts,
});

describe('headers and summary', () => {
  it('names objects as kubectl does, with the namespace outside default', () => {
    expect(formatRef(ref)).toBe('pod/web');
    expect(formatRef({ kind: 'ReplicationController', namespace: 'staging', name: 'fe' })).toBe(
      'replicationcontroller/fe in staging',
    );
  });

  it('marks each action and carries the reason', () => {
    const change = (action: Change['action'], reason: string): Change => ({ action, ref, reason });
    expect(formatChangeHeader(change('create', 'new in git'))).toBe(
      '+ pod/web (create: new in git)',
    );
    expect(formatChangeHeader(change('update', 'spec.x 1 → 2'))).toBe(
      '~ pod/web (update: spec.x 1 → 2)',
    );
    expect(formatChangeHeader(change('replace', 'r'))).toBe('-/+ pod/web (replace: r)');
    expect(formatChangeHeader(change('delete', 'left git'))).toBe('- pod/web (delete: left git)');
    expect(formatChangeHeader(change('unchanged', ''))).toBe('= pod/web (unchanged)');
  });

  it('counts each action, or says how many objects are in sync', () => {
    expect(formatSummary(summary({ create: 3, update: 1, delete: 2, unchanged: 4 }))).toBe(
      '3 to create, 1 to update, 0 to replace, 2 to delete',
    );
    expect(formatSummary(summary({ unchanged: 4 }))).toBe('in sync: 4 objects');
    expect(formatSummary(summary({ unchanged: 1 }))).toBe('in sync: 1 object');
    expect(formatSummary(summary({}))).toBe('in sync: 0 objects');
  });
});

describe('toSortedYaml', () => {
  it('sorts the keys of every map, so key order in git does not show as a change', () => {
    expect(toSortedYaml({ b: 1, a: { d: 2, c: [{ f: 1, e: 2 }] } })).toBe(
      'a:\n  c:\n    - e: 2\n      f: 1\n  d: 2\nb: 1\n',
    );
    expect(toSortedYaml({ x: 1, y: 2 })).toBe(toSortedYaml({ y: 2, x: 1 }));
  });
});

describe('renderChangeDiff', () => {
  it('shows a created object as all additions and a deleted one as all removals', () => {
    const yamlLines = toSortedYaml(pod('nginx')).trimEnd().split('\n');
    const created = renderChangeDiff(
      { action: 'create', ref, reason: '', desired: pod('nginx') },
      { color: false },
    );
    expect(created).toEqual([
      `@@ -0,0 +1,${yamlLines.length} @@`,
      ...yamlLines.map((l) => `+${l}`),
    ]);
    const deleted = renderChangeDiff(
      { action: 'delete', ref, reason: '', live: pod('nginx') },
      { color: false },
    );
    expect(deleted).toEqual([
      `@@ -1,${yamlLines.length} +0,0 @@`,
      ...yamlLines.map((l) => `-${l}`),
    ]);
  });

  it('shows an update as the changed lines with context, live before desired', () => {
    const lines = renderChangeDiff(
      { action: 'update', ref, reason: '', live: pod('nginx:1'), desired: pod('nginx:2') },
      { color: false, context: 1 },
    );
    expect(lines).toEqual([
      '@@ -9,3 +9,3 @@',
      '   containers:',
      '-    - image: nginx:1',
      '+    - image: nginx:2',
      '       name: main',
    ]);
  });

  it('keeps every added line and every kept line of the desired object (property)', () => {
    const labels = fc.dictionary(
      fc.stringMatching(/^[a-z]{1,6}$/),
      fc.stringMatching(/^[a-z0-9]{1,6}$/),
      { maxKeys: 6 },
    );
    fc.assert(
      fc.property(labels, labels, (before, after) => {
        const live = pod('nginx', before);
        const desired = pod('nginx', after);
        const lines = renderChangeDiff(
          { action: 'update', ref, reason: '', live, desired },
          { color: false, context: 1_000 },
        ).slice(1);
        const rebuilt = lines.filter((l) => !l.startsWith('-')).map((l) => l.slice(1));
        const original = lines.filter((l) => !l.startsWith('+')).map((l) => l.slice(1));
        if (lines.length === 0) return toSortedYaml(live) === toSortedYaml(desired);
        return (
          `${rebuilt.join('\n')}\n` === toSortedYaml(desired) &&
          `${original.join('\n')}\n` === toSortedYaml(live)
        );
      }),
    );
  });
});

describe('renderPlanText', () => {
  const plan: Plan = {
    changes: [
      {
        action: 'unchanged',
        ref: { ...ref, name: 'same' },
        reason: '',
        desired: pod('a'),
        live: pod('a'),
      },
      {
        action: 'update',
        ref,
        reason: 'spec.containers[0].image a → b',
        live: pod('a'),
        desired: pod('b'),
      },
    ],
    summary: summary({ update: 1, unchanged: 1 }),
  };

  it('prints changing objects only, then the summary, with no colour codes when plain', () => {
    const text = renderPlanText(plan, { color: false });
    expect(text).not.toContain('same');
    expect(text).not.toContain('\u001b[');
    expect(text.startsWith('~ pod/web (update: spec.containers[0].image a → b)\n@@ ')).toBe(true);
    expect(text.endsWith('\n\n0 to create, 1 to update, 0 to replace, 0 to delete\n')).toBe(true);
    expect(planHasChanges(plan)).toBe(true);
  });

  it('colours removals red, additions green, headers cyan, and leaves context plain', () => {
    const text = renderPlanText(plan, { color: true });
    expect(text).toContain(
      '\u001b[36m~ pod/web (update: spec.containers[0].image a → b)\u001b[0m\n',
    );
    expect(text).toContain('\u001b[31m-    - image: a\u001b[0m\n');
    expect(text).toContain('\u001b[32m+    - image: b\u001b[0m\n');
    expect(text).toContain('\n   containers:\n');
  });

  it('lists the objects the plan leaves alone before the summary', () => {
    const withConflict: Plan = {
      ...plan,
      conflicts: [{ ref: { ...ref, kind: 'Service' }, reason: 'not created by berth; left alone' }],
    };
    expect(renderPlanText(withConflict, { color: false })).toContain(
      '\n! service/web (left alone: not created by berth; left alone)\n\n0 to create, 1 to update',
    );
    expect(planToJson(withConflict)).toMatchObject({
      conflicts: [{ kind: 'Service', name: 'web', reason: 'not created by berth; left alone' }],
    });
  });

  it('prints only the in-sync line when nothing changes', () => {
    const inSync: Plan = { changes: plan.changes.slice(0, 1), summary: summary({ unchanged: 1 }) };
    expect(renderPlanText(inSync, { color: true })).toBe('in sync: 1 object\n');
    expect(planHasChanges(inSync)).toBe(false);
  });

  it('gives the plan as data, unchanged objects included', () => {
    expect(planToJson(plan)).toEqual({
      summary: plan.summary,
      conflicts: [],
      changes: [
        expect.objectContaining({ action: 'unchanged', kind: 'Pod', name: 'same', origin: null }),
        expect.objectContaining({
          action: 'update',
          name: 'web',
          desired: pod('b'),
          live: pod('a'),
        }),
      ],
    });
  });
});
