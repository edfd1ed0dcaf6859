/**
 * The hash of a controller's pod template, kept on each pod it creates so that a template
 * changed in git is seen as "these pods are from an older template" (Kubernetes' Deployment
 * uses the `pod-template-hash` label the same way). Pure: an FNV-1a style hash over canonical
 * JSON, no crypto module needed for a change detector.
 */

import type { PodTemplateSpec } from '../model/generated/types.js';
import { canonicalJson } from '../model/json.js';

export const TEMPLATE_HASH_ANNOTATION = 'berth.io/template-hash';

/**
 * 64 bits from two 32-bit FNV-1a lanes with different offset bases, the second one mixed
 * further; Math.imul keeps it in fast 32-bit integer arithmetic.
 */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193) ^ (b >>> 15);
  }
  b = Math.imul(b ^ (b >>> 16), 0x85ebca6b);
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * Hash of what a template makes a pod from: its labels, annotations and spec. Takes the
 * template as defaulted by the loader, so a default written out or left out hashes the same.
 */
export function templateHash(template: PodTemplateSpec): string {
  return hash64(
    canonicalJson({
      labels: template.metadata?.labels ?? {},
      annotations: template.metadata?.annotations ?? {},
      spec: template.spec,
    }),
  );
}

export { canonicalJson };
