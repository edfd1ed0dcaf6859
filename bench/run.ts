/** `npm run bench`: every benchmark, each against a baseline measured in the same run. */
import { benchAgent } from './agent.js';
import { benchManifestLoad } from './manifest-load.js';

const verdicts = [...(await benchManifestLoad()), ...(await benchAgent())];
verdicts.push(...(await (await import('./plan.js')).benchPlan()));
verdicts.push(...(await (await import('./scheduler.js')).benchScheduler()));
const missed = verdicts.filter((v) => !v.met);
console.log(`\n${verdicts.length - missed.length} of ${verdicts.length} targets met`);
// dockerode keeps sockets open; the run is over.
process.exit(0);
