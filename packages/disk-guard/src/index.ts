export { createDiskGuard } from './guard.js';
export type {
  ApplyResult,
  DeletableVerdict,
  DeletedFile,
  DiskGuard,
  FilesystemUsage,
  OpenFileCheck,
  Plan,
  PlanEntry,
  PlanInput,
  SkippedFile,
  UsageReport,
} from './guard.js';
export type { Refusal, RefusalCode } from './gate.js';
export { DiskGuardError } from './errors.js';
export type { DiskGuardErrorCode } from './errors.js';
export { defaultLogger, systemClock, utf8PathEncoding } from './options.js';
export type {
  Clock,
  DirectoryOptions,
  DiskGuardFs,
  DiskGuardOptions,
  FileStats,
  Logger,
  OpenForWritingProbe,
  PathEncoding,
  StatfsFunction,
} from './options.js';
export { POLICY_NAMES, isUploaded, orderForPressure, selectAfterUpload, selectAgeBased } from './policies.js';
export type { Candidate, PolicyName, Selection } from './policies.js';
export { assessPressure } from './pressure.js';
export type { DiskThresholds, Pressure, PressureLevel, StatfsSample } from './pressure.js';
export { DEFAULT_PROTECTED_PATHS, isInside } from './paths.js';
export { compileGlob } from './glob.js';
export { scanProcForWriters } from './adapters/open-files.js';
