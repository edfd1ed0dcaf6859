/**
 * Names for pods a controller creates: `<controller>-<5 chars>`, as Kubernetes' generateName
 * does (apiserver storage names.SimpleNameGenerator), with its alphabet of consonants and
 * digits that cannot spell words or look alike.
 */

export const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export const NAME_SUFFIX_LENGTH = 5;
/** Kubernetes trims the base so the generated name stays within 63 characters. */
const MAX_GENERATED_NAME_LENGTH = 63;
const MAX_BASE_LENGTH = MAX_GENERATED_NAME_LENGTH - NAME_SUFFIX_LENGTH;

/** A source of numbers in [0, 1), like Math.random; passed in so decisions are reproducible. */
export type RandomSource = () => number;

export function randomSuffix(random: RandomSource): string {
  let suffix = '';
  for (let i = 0; i < NAME_SUFFIX_LENGTH; i += 1) {
    const index = Math.min(
      NAME_SUFFIX_ALPHABET.length - 1,
      Math.max(0, Math.floor(random() * NAME_SUFFIX_ALPHABET.length)),
    );
    suffix += NAME_SUFFIX_ALPHABET[index] ?? 'x';
  }
  return suffix;
}

/**
 * A generated pod name not in `taken`. Gives up after a bounded number of draws (a broken
 * random source returning one value forever) and returns undefined.
 */
export function generatePodName(
  controllerName: string,
  random: RandomSource,
  taken: ReadonlySet<string>,
): string | undefined {
  // The prefix is `<name>-`, trimmed like Kubernetes' generator does.
  const prefix = `${controllerName}-`.slice(0, MAX_BASE_LENGTH);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const name = `${prefix}${randomSuffix(random)}`;
    if (!taken.has(name)) return name;
  }
  return undefined;
}
