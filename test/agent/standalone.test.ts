import { describe, expect, it } from 'vitest';
import {
  EMPTY_STANDALONE_STATE,
  type FileManifests,
  groupByFile,
  nextDesiredSet,
  podSetVersion,
} from '../../operator/agent/standalone.js';
import type { Problem } from '../../operator/model/problem.js';
import { testPod } from './fake-node-agent.js';

function file(name: string, pods: string[], problems: string[] = []): FileManifests {
  return {
    file: name,
    pods: pods.map((p) => testPod(p)),
    ignored: [],
    problems: problems.map((message) => problem(name, message)),
  };
}

function problem(fileName: string, message: string): Problem {
  return { code: 'yaml.syntax', origin: { file: fileName, line: 1, column: 1 }, message };
}

const names = (set: { pods: readonly { metadata?: { name?: string } }[] }) =>
  set.pods.map((p) => p.metadata?.name);

describe('nextDesiredSet', () => {
  it('unions the pods of every good file, sorted by namespace and name', () => {
    const set = nextDesiredSet(EMPTY_STANDALONE_STATE, [
      file('b.yaml', ['zeta', 'alpha']),
      file('a.yaml', ['mid']),
    ]);
    expect(names(set)).toEqual(['alpha', 'mid', 'zeta']);
    expect(set.problems).toEqual([]);
    expect(set.keptFiles).toEqual([]);
  });

  it('keeps the last good version of a file that went bad, and only of that file', () => {
    const first = nextDesiredSet(EMPTY_STANDALONE_STATE, [
      file('a.yaml', ['web']),
      file('b.yaml', ['db']),
    ]);
    const second = nextDesiredSet(first.state, [
      file('a.yaml', [], ['half-written']),
      file('b.yaml', ['db', 'cache']),
    ]);
    expect(names(second)).toEqual(['cache', 'db', 'web']);
    expect(second.keptFiles).toEqual(['a.yaml']);
    expect(second.problems.map((p) => p.message)).toEqual(['half-written']);
    // Still bad on the next load: the same last good version stays.
    const third = nextDesiredSet(second.state, [
      file('a.yaml', [], ['still bad']),
      file('b.yaml', ['db', 'cache']),
    ]);
    expect(names(third)).toEqual(['cache', 'db', 'web']);
    // Fixed: the fixed content replaces it.
    const fourth = nextDesiredSet(third.state, [
      file('a.yaml', ['web2']),
      file('b.yaml', ['db', 'cache']),
    ]);
    expect(names(fourth)).toEqual(['cache', 'db', 'web2']);
    expect(fourth.keptFiles).toEqual([]);
  });

  it('gives a file that never loaded cleanly no pods, and drops a deleted file at once', () => {
    const first = nextDesiredSet(EMPTY_STANDALONE_STATE, [
      file('a.yaml', ['web']),
      file('new.yaml', ['half'], ['bad pod']),
    ]);
    expect(names(first)).toEqual(['web']);
    expect(first.keptFiles).toEqual([]);
    const second = nextDesiredSet(first.state, [file('new.yaml', ['half'], ['bad pod'])]);
    expect(names(second)).toEqual([]);
    expect(second.state.goodPods.size).toBe(0);
  });

  it('versions equal sets equally, whatever the file order, and different sets differently', () => {
    const a = nextDesiredSet(EMPTY_STANDALONE_STATE, [
      file('a.yaml', ['x']),
      file('b.yaml', ['y']),
    ]);
    const b = nextDesiredSet(EMPTY_STANDALONE_STATE, [
      file('b.yaml', ['x']),
      file('a.yaml', ['y']),
    ]);
    expect(a.version).toBe(b.version);
    const c = nextDesiredSet(EMPTY_STANDALONE_STATE, [file('a.yaml', ['x'])]);
    expect(c.version).not.toBe(a.version);
    expect(podSetVersion([testPod('x', 'default', 'nginx')])).not.toBe(
      podSetVersion([testPod('x', 'default', 'redis')]),
    );
  });
});

describe('groupByFile', () => {
  it('splits pods from ignored kinds and puts problems with their file, listing clean empty files too', () => {
    const grouped = groupByFile(
      ['a.yaml', 'empty.yaml', 'rc.yaml'],
      [
        { kind: 'Pod', object: testPod('web'), origin: { file: 'a.yaml' } },
        {
          kind: 'ReplicationController',
          object: { metadata: { name: 'frontend' } },
          origin: { file: 'rc.yaml' },
        },
        { kind: 'Service', object: { metadata: { name: 'redis' } }, origin: { file: 'rc.yaml' } },
      ],
      [problem('rc.yaml', 'bad selector')],
    );
    expect(grouped).toEqual([
      { file: 'a.yaml', pods: [testPod('web')], ignored: [], problems: [] },
      { file: 'empty.yaml', pods: [], ignored: [], problems: [] },
      {
        file: 'rc.yaml',
        pods: [],
        ignored: ['replicationcontroller/frontend', 'service/redis'],
        problems: [problem('rc.yaml', 'bad selector')],
      },
    ]);
  });
});
