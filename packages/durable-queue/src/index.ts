export { openStateStore } from './store.js';
export type { RequestsResult, StateStore, StateStoreOptions, WriteProblem } from './store.js';
export { UploadQueue } from './queue.js';
export type { DueOptions, DueOrder } from './queue.js';
export { FailedList } from './failed-list.js';
export { ProcessedRegistry } from './registry.js';
export type {
  FailedEntry,
  FailedEntryInput,
  FileRef,
  LastError,
  MultipartPart,
  MultipartState,
  QueueEntry,
  QueueEntryInput,
  QueueEntryPatch,
  RegistryEntry,
  RegistryMarkInput,
} from './entries.js';
export { identityKey } from './entries.js';
export { identityOf, sameVersion } from './identity.js';
export type { FileIdentity, VersionLike } from './identity.js';
export { writeFileAtomic } from './adapters/files.js';
export type { WriteFileAtomicOptions } from './adapters/files.js';
export { readStateSnapshot } from './snapshot.js';
export type { StateSnapshot } from './snapshot.js';
export {
  FORGET_SUFFIX,
  applyForgetRequests,
  forgetFiles,
  readPendingRequests,
  requestForget,
  requestRequeue,
} from './requests.js';
export type {
  ForgetRequest,
  ForgetResult,
  ForgetTarget,
  ForgottenFile,
  PendingRequest,
  RequeueRequest,
} from './requests.js';
export { LOCK_FILE_NAME, resolvePaths } from './options.js';
export type { StatePaths, StatePathsOptions } from './options.js';
export { QueueError } from './errors.js';
export type { QueueErrorCode } from './errors.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { stderrLogger } from './logger.js';
export type { Logger } from './logger.js';
