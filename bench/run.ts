/** `npm run bench`: every benchmark, each against a baseline measured in the same run. */
import { benchAgent } from './agent.js';
import { benchDaemon } from './daemon.js';
import { benchManifestLoad } from './manifest-load.js';
import { benchOperatorMemory } from './operator-memory.js';
import { benchPlan } from './plan.js';
import { benchScheduler } from './scheduler.js';
import { benchServices } from './services.js';
import { benchSwarm } from './swarm.js';

const verdicts = [
  ...(await benchManifestLoad()),
  ...(await benchScheduler()),
  ...(await benchPlan()),
  ...(await benchOperatorMemory()),
  ...(await benchAgent()),
  ...(await benchSwarm()),
  ...(await benchServices()),
  ...(await benchDaemon()),
];
const missed = verdicts.filter((v) => !v.met);
console.log(`\n${verdicts.length - missed.length} of ${verdicts.length} targets met`);
// dockerode keeps sockets open; the run is over.
process.exit(0);
