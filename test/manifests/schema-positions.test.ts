import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../operator/manifests/parse.js';
import { extractObjects } from '../../operator/manifests/schema.js';
import { formatProblem } from '../../operator/model/problem.js';

/** Schema problems of YAML text read by the real parser, as `berth validate` prints them. */
function problemsOf(text: string): string[] {
  const parsed = parseManifestFile('app.yaml', new TextEncoder().encode(text));
  expect(parsed.problems).toEqual([]);
  return parsed.documents.flatMap((doc) => extractObjects(doc).problems.map(formatProblem));
}

describe('schema problems at real YAML positions', () => {
  it('points at the offending key, or at the mapping that lacks a required field', () => {
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      '  name: web',
      'spec:',
      '  contaners: []',
      '  containers:',
      '    - name: web',
      '      env:',
      '        - name: PORT',
      '          value: 8080',
      '      ports:',
      '        - containerPort: "80"',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'app.yaml:6:3: pod/web: spec.contaners: unknown field "contaners" (did you mean "containers"?)',
      'app.yaml:8:7: pod/web: spec.containers[0].image: required field "image" is missing',
      'app.yaml:11:11: pod/web: spec.containers[0].env[0].value: must be a string, got number 8080: quote it ("8080")',
      'app.yaml:13:11: pod/web: spec.containers[0].ports[0].containerPort: must be an integer, got string "80": write it without quotes (80)',
    ]);
  });

  it('locates the items of a List in the file and reads YAML 1.1 booleans as Kubernetes does', () => {
    const text = [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '  - apiVersion: v1',
      '    kind: Service',
      '    metadata: {name: web}',
      '    spec:',
      '      ports:',
      '        - port: 80',
      '          targetPort: yes',
      '  - apiVersion: v1',
      '    kind: Pod',
      '    metadata: {name: db}',
      '    spec:',
      '      containers: [{name: db, image: mysql}]',
      '',
    ].join('\n');
    const parsed = parseManifestFile('app.yaml', new TextEncoder().encode(text));
    const [doc] = parsed.documents;
    expect(doc).toBeDefined();
    if (doc === undefined) return;
    const result = extractObjects(doc);
    expect(result.problems.map(formatProblem)).toEqual([
      'app.yaml:10:11: service/web: spec.ports[0].targetPort: must be an integer or a string, got boolean true: unquoted yes/no/on/off/true/false are booleans in YAML; quote it if you meant the word',
    ]);
    expect(result.objects.map((o) => [o.kind, o.origin.line, o.origin.column])).toEqual([
      ['Pod', 11, 5],
    ]);
    expect(result.objects[0]?.locate(['spec', 'containers', 0, 'image'])).toMatchObject({
      line: 15,
    });
  });
});
