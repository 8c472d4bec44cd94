export { createAgent } from './agent.js';
export type { Agent, AgentOptions } from './agent.js';
export {
  DEFAULT_CONFIG_PATH,
  formatPath,
  loadConfig,
  parseBandwidth,
  parseConfig,
  statePaths,
} from './config.js';
export type { AgentConfig, LoadedConfig, ParseConfigOptions, StatePaths } from './config.js';
export { describeConfig } from './config-summary.js';
export { diskGuardOptions } from './disk-guard-options.js';
export { AgentError } from './errors.js';
export type { AgentErrorCode } from './errors.js';
export { createLogger, isLogLevel, redact, silentLogger } from './logger.js';
export type { AgentLogger, Logger, LoggerOptions, LogLevel } from './logger.js';
export { buildObjectKey, dateIn } from './object-key.js';
export type { ObjectKeyInput } from './object-key.js';
export { VERSION } from './version.js';
