export { Pipeline } from './pipeline.js';
export type { PipelineOptions, PipelineStatus, PauseState } from './pipeline.js';
export { PauseControl, meansUnreachable, pauseProbeDelayMs } from './pause.js';
export { transition, formatDelay, rawMessage, RETRIES_EXHAUSTED } from './transition.js';
export type { Effect, Outcome, RetryPolicy, SentVersion, TransitionPolicy } from './transition.js';
export type {
  Admission,
  FileFacts,
  FileProbe,
  ObjectRequest,
  ObjectStore,
  PipelineStore,
  Placement,
  StoredObject,
} from './ports.js';
