import { describe, expect, it } from 'vitest';
import { processFile } from '../../operator/manifests/load.js';
import { DEFAULT_PARSE_LIMITS } from '../../operator/manifests/types.js';
import { validateAcross } from '../../operator/manifests/validate.js';
import { formatProblem } from '../../operator/model/problem.js';

function load(file: string, text: string) {
  return processFile(file, new TextEncoder().encode(text), DEFAULT_PARSE_LIMITS);
}

describe('semantic problems on real YAML', () => {
  it('points at the offending key, value or item in the file', () => {
    const text = [
      'apiVersion: v1', // 1
      'kind: Pod', // 2
      'metadata:', // 3
      '  name: web', // 4
      '  labels:', // 5
      '    "bad key": x', // 6
      'spec:', // 7
      '  volumes:', // 8
      '  - name: data', // 9
      '    emptyDir: {}', // 10
      '  containers:', // 11
      '  - name: web', // 12
      '    image: nginx', // 13
      '    resources:', // 14
      '      limits:', // 15
      '        memory: 1GB', // 16
      '    volumeMounts:', // 17
      '    - name: date', // 18
      '      mountPath: /data', // 19
    ].join('\n');
    const result = load('site/pod.yaml', text);
    expect(result.problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /^site\/pod\.yaml:6:5: pod\/web: metadata\.labels\.bad key: label key "bad key" must be a label key/,
      ),
      expect.stringMatching(
        /^site\/pod\.yaml:16:9: pod\/web: spec\.containers\[0\]\.resources\.limits\.memory: "1GB" is not a valid quantity/,
      ),
      'site/pod.yaml:18:7: pod/web: spec.containers[0].volumeMounts[0].name: no volume named "date" in spec.volumes; defined: data',
    ]);
    // The object is kept (defaulted) so that cross-object rules still see it.
    expect(result.objects).toHaveLength(1);
  });

  it('reports a duplicate across files at both places', () => {
    const service = (port: number) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: redis\nspec:\n  ports:\n  - port: ${port}\n`;
    const a = load('guestbook/a.yaml', service(6379));
    const b = load('guestbook/b.yaml', `# another copy\n---\n${service(6380)}`);
    expect([...a.problems, ...b.problems]).toEqual([]);
    const problems = validateAcross([...a.objects, ...b.objects]).map(formatProblem);
    expect(problems).toEqual([
      'guestbook/a.yaml:4:3: service/redis: metadata.name: duplicate service "redis" in namespace "default": also defined at guestbook/b.yaml:6:3',
      'guestbook/b.yaml:6:3: service/redis: metadata.name: duplicate service "redis" in namespace "default": also defined at guestbook/a.yaml:4:3',
    ]);
  });
});
