/**
 * `.berthignore`: files of a source that are not manifests, in gitignore syntax (as Flux's
 * `.sourceignore`). The one at the root of the folder being read (the source root, or the
 * `--path` folder) applies to paths relative to that folder; an ignored file is never listed,
 * so never read or parsed.
 */
import ignore from 'ignore';

/** The file's name; only the one at the root of the folder being read counts. */
export const IGNORE_FILE_NAME = '.berthignore';

export interface IgnoreRules {
  /**
   * True when `relative` (posix, relative to the folder the rules belong to) is ignored, by a
   * rule or because a folder above it is. A folder is asked about with a trailing `/`.
   */
  ignores(relative: string): boolean;
}

/** Rules from a `.berthignore`'s bytes; undefined when it has no rule (blank, comments only). */
export function parseIgnoreRules(content: Uint8Array | string): IgnoreRules | undefined {
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
  const rules = ignore().add(text);
  // The rules object keeps what it parsed; an empty list ignores nothing.
  if (!text.split(/\r?\n/).some(isRule)) return undefined;
  return {
    ignores: (relative) => relative !== '' && relative !== '/' && rules.ignores(relative),
  };
}

/** A gitignore line that is a rule: not blank, not a comment (`\#` escapes a leading `#`). */
function isRule(line: string): boolean {
  const trimmed = line.trim();
  return trimmed !== '' && !trimmed.startsWith('#');
}

/** `candidate` relative to `root` (both posix repository paths, `candidate` below `root`). */
export function relativeTo(root: string, candidate: string): string {
  return root === '' ? candidate : candidate.slice(root.length + 1);
}
