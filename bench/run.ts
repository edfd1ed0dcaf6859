/** `npm run bench`: every benchmark, each against a baseline measured in the same run. */
import { benchManifestLoad } from './manifest-load.js';

const verdicts = [...(await benchManifestLoad())];
const missed = verdicts.filter((v) => !v.met);
console.log(`\n${verdicts.length - missed.length} of ${verdicts.length} targets met`);
