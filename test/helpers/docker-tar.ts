/** Test images are written with the agent's own tar writer (operator/agent/images.ts). */
export { TAR_FIXED_MTIME_SECONDS, type TarEntry, tarArchive } from '../../operator/agent/images.js';
