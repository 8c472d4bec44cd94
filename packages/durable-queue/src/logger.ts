/** Where the store says the few things it must say (recovered files, stale locks, skipped entries). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The default logger: warnings and errors to stderr, debug and info dropped. */
export const stderrLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => process.stderr.write(`durable-queue warn: ${message}\n`),
  error: (message) => process.stderr.write(`durable-queue error: ${message}\n`),
};
