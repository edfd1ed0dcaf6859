import { describe, expect, it } from 'vitest';
import { generatePodName, randomSuffix } from '../../operator/controllers/pod-names.js';
import { templateHash } from '../../operator/controllers/template-hash.js';
import { makeRc, seededRandom } from './helpers.js';

describe('templateHash', () => {
  it('is the same for the same template whatever the key order', () => {
    const template = makeRc().spec.template;
    const reordered = { spec: template.spec, metadata: { labels: { tier: 'front', app: 'web' } } };
    expect(templateHash(reordered)).toBe(templateHash(template));
    expect(templateHash(template)).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each([
    ['the image', makeRc({ image: 'nginx:1.26' }).spec.template],
    [
      'a label',
      {
        ...makeRc().spec.template,
        metadata: { labels: { app: 'web', tier: 'back' } },
      },
    ],
    [
      'an annotation',
      {
        ...makeRc().spec.template,
        metadata: { labels: { app: 'web', tier: 'front' }, annotations: { a: 'b' } },
      },
    ],
  ])('changes with %s', (_what, changed) => {
    expect(templateHash(changed)).not.toBe(templateHash(makeRc().spec.template));
  });

  it('does not change with replicas (scaling is not a rollout)', () => {
    expect(templateHash(makeRc({ replicas: 9 }).spec.template)).toBe(
      templateHash(makeRc().spec.template),
    );
  });
});

describe('pod names', () => {
  it('uses the Kubernetes alphabet only, even for edge random values', () => {
    expect(randomSuffix(() => 0)).toBe('bbbbb');
    expect(randomSuffix(() => 0.999_999_999)).toBe('99999');
    // A random source outside [0, 1) is clamped, never indexes past the alphabet.
    expect(randomSuffix(() => 1)).toBe('99999');
  });

  it('trims a long controller name so the pod name stays within 63 characters', () => {
    const name = generatePodName('a'.repeat(80), seededRandom(5), new Set());
    expect(name).toHaveLength(63);
    expect(name?.startsWith('a'.repeat(58))).toBe(true);
  });
});
