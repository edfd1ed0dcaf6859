/**
 * The hash of a controller's pod template, kept on each pod it creates so that a template
 * changed in git is seen as "these pods are from an older template" (Kubernetes' Deployment
 * uses the `pod-template-hash` label the same way). Pure: FNV-1a over canonical JSON, no
 * crypto module needed for a change detector.
 */
import type { PodTemplateSpec } from '../model/generated/types.js';

export const TEMPLATE_HASH_ANNOTATION = 'berth.io/template-hash';

/** JSON with object keys sorted, so equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** 64-bit FNV-1a of the text's UTF-16 code units, as 16 hex digits. */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & mask;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * Hash of what a template makes a pod from: its labels, annotations and spec. Takes the
 * template as defaulted by the loader, so a default written out or left out hashes the same.
 */
export function templateHash(template: PodTemplateSpec): string {
  return fnv1a64(
    canonicalJson({
      labels: template.metadata?.labels ?? {},
      annotations: template.metadata?.annotations ?? {},
      spec: template.spec,
    }),
  );
}
