import { parseArgs } from 'node:util';
import { loadManifests } from '../manifests/load.js';
import { objectRef } from '../manifests/types.js';
import { BerthError } from '../model/errors.js';
import { formatProblem } from '../model/problem.js';
import { parseByteSize } from './byte-size.js';
import { type CliIo, EXIT, writeLine } from './io.js';
import { openSourceFromFlags, SOURCE_FLAGS_HELP, sourceOptions } from './source-flags.js';

export const VALIDATE_HELP = `Usage: berth validate SOURCE [--ref REF] [--path PATH] [-o text|json]

Check every manifest in SOURCE as a Kubernetes v1 API server would, and apply its defaults.
Prints each problem as  file:line:col: kind/name: field.path: message  sorted by file and line.

${SOURCE_FLAGS_HELP}
  -o, --output FORMAT     text or json (@default text)
      --max-file-size N   refuse manifest files larger than N bytes; accepts 512Ki, 5Mi
                          (@default 5Mi)

Exit status: 0 valid, 2 invalid or the source could not be read.`;

export async function runValidate(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...sourceOptions,
      output: { type: 'string', short: 'o', default: 'text' },
      'max-file-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, VALIDATE_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new BerthError('CLI_USAGE', 'berth validate takes exactly one SOURCE', {
      hint: 'berth validate guestbook/   (see berth validate --help)',
    });
  }
  const output = values.output;
  if (output !== 'text' && output !== 'json') {
    throw new BerthError('CLI_USAGE', `unknown output format "${output}"`, {
      hint: 'use -o text or -o json',
    });
  }
  const maxFileBytes =
    values['max-file-size'] === undefined
      ? undefined
      : parseByteSize(values['max-file-size'], '--max-file-size');

  const snapshot = await openSourceFromFlags(positionals[0]!, values, io);
  const set = await loadManifests(snapshot.files, {
    limits: maxFileBytes === undefined ? {} : { maxFileBytes },
  });
  const problems = [...snapshot.problems, ...set.problems];
  const valid = problems.length === 0;

  if (output === 'json') {
    const report = {
      valid,
      source: { kind: snapshot.kind, location: snapshot.location, commit: snapshot.commit ?? null },
      files: set.fileCount,
      objects: set.objects.map((o) => ({
        kind: o.kind,
        namespace: o.object.metadata?.namespace ?? 'default',
        name: o.object.metadata?.name ?? null,
        file: o.origin.file,
        line: o.origin.line,
        column: o.origin.column,
      })),
      problems: problems.map((p) => ({
        file: p.origin.file,
        line: p.origin.line,
        column: p.origin.column,
        object: p.object ?? null,
        field: p.field ?? null,
        code: p.code,
        message: p.message,
      })),
    };
    writeLine(io.stdout, JSON.stringify(report, null, 2));
    return valid ? EXIT.ok : EXIT.error;
  }

  for (const problem of problems) writeLine(io.stdout, formatProblem(problem));
  const fileWord = set.fileCount === 1 ? 'file' : 'files';
  const objectWord = set.objects.length === 1 ? 'object' : 'objects';
  if (valid) {
    const refs = set.objects.map((o) => objectRef(o.kind, o.object.metadata?.name));
    writeLine(
      io.stderr,
      `valid: ${set.objects.length} ${objectWord} in ${set.fileCount} ${fileWord}${refs.length > 0 ? ` (${summarize(refs)})` : ''}`,
    );
    return EXIT.ok;
  }
  const problemWord = problems.length === 1 ? 'problem' : 'problems';
  const badFiles = new Set(problems.map((p) => p.origin.file)).size;
  writeLine(
    io.stderr,
    `invalid: ${problems.length} ${problemWord} in ${badFiles} of ${set.fileCount} ${fileWord}`,
  );
  return EXIT.error;
}

/** "3 pods, 2 replicationcontrollers, 1 service" */
function summarize(refs: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const ref of refs) {
    const kind = ref.slice(0, ref.indexOf('/'));
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : 's'}`).join(', ');
}
