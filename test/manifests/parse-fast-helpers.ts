/** Runs a text through the fast path and the full YAML reader and checks that they agree. */
import { expect } from 'vitest';
import { type FastDocument, readYamlFast } from '../../operator/manifests/parse-fast.js';
import { LineIndex } from '../../operator/manifests/parse-text.js';
import { fastYamlDocument, parseYamlText } from '../../operator/manifests/parse-yaml.js';
import { DEFAULT_PARSE_LIMITS, type RawDocument } from '../../operator/manifests/types.js';
import type { FieldPath } from '../../operator/model/problem.js';

const FILE = 'm.yaml';

function contextOf(text: string) {
  return { file: FILE, text, lines: new LineIndex(text) };
}

/** What the full reader (the `yaml` package) makes of `text`. */
export function readFull(text: string) {
  return parseYamlText(contextOf(text), DEFAULT_PARSE_LIMITS);
}

/** Every path into a JSON value (containers and leaves), plus one that leaves each container. */
function pathsOf(value: unknown, prefix: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      out.push([...prefix, index], ...pathsOf(item, [...prefix, index]));
    });
    out.push([...prefix, value.length]);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push([...prefix, key], ...pathsOf(item, [...prefix, key]));
    }
    out.push([...prefix, 'not-a-field']);
  }
  return out;
}

function origins(documents: readonly (RawDocument | FastDocument)[]) {
  return documents.map((document) =>
    'origin' in document
      ? { line: document.origin.line, column: document.origin.column }
      : { line: document.line, column: document.column },
  );
}

/**
 * `fast` when the fast path read `text` (and then agrees with the full reader on the values,
 * the root origins and every `locate`), `bail` when it stepped aside.
 */
export function compareWithFull(text: string, options: { locate?: boolean } = {}): 'fast' | 'bail' {
  const fast = readYamlFast(text);
  if (fast === undefined) return 'bail';
  const full = readFull(text);
  expect(full.problems, 'the full reader reports problems the fast path did not see').toEqual([]);
  expect(fast.map((document) => document.value)).toStrictEqual(
    full.documents.map((document) => document.value),
  );
  expect(origins(fast)).toEqual(origins(full.documents));
  if (options.locate !== false) {
    const context = contextOf(text);
    fast.forEach((document, index) => {
      const fastDocument = fastYamlDocument(context, document);
      const fullDocument = full.documents[index] as RawDocument;
      expect(fastDocument.origin).toEqual(fullDocument.origin);
      for (const path of pathsOf(document.value)) {
        expect(fastDocument.locate(path), JSON.stringify(path)).toEqual(fullDocument.locate(path));
      }
    });
  }
  return 'fast';
}
