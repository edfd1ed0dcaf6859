/**
 * berth's git host: `git push` to `/git/<app>.git` over smart HTTP, checked before refs move.
 */
export {
  basicUser,
  createGitServer,
  GIT_PATH_PREFIX,
  type GitServer,
  type GitServerOptions,
  HOOK_PATH,
  isLoopback,
  type PushCheck,
  type PushedRef,
  type PushVerdict,
} from './git-server.js';
export { isZeroSha, type RefUpdate } from './hooks.js';
export {
  type PushedFile,
  type PushObjects,
  type ReadPushedFilesOptions,
  readPushedFiles,
} from './pushed-files.js';
export { appNameProblem, repoPathOf } from './repos.js';
