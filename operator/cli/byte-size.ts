import { BerthError } from '../model/errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  k: 1000,
  K: 1000,
  Ki: 1024,
  M: 1000 ** 2,
  Mi: 1024 ** 2,
  G: 1000 ** 3,
  Gi: 1024 ** 3,
};

/** `5Mi`, `512Ki`, `1000000` → bytes; the flag name goes into the error. */
export function parseByteSize(text: string, flag: string): number {
  const match = /^(\d+)([kKMG]i?|)$/.exec(text.trim());
  const unit = match === null ? undefined : UNITS[match[2] ?? ''];
  if (match === null || unit === undefined) {
    throw new BerthError('CLI_USAGE', `${flag} "${text}" is not a size`, {
      hint: `write a number of bytes with an optional unit: ${flag} 5Mi (units Ki, Mi, Gi, k, M, G)`,
    });
  }
  return Number(match[1]) * unit;
}
