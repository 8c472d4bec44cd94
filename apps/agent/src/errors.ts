/** Why the agent stopped or refused something. */
export type AgentErrorCode = 'invalid-config' | 'config-unreadable' | 'already-running' | 'state-unreadable';

/** The agent's one error class. `problems` lists every config problem, one line each, naming the key path. */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  readonly code: AgentErrorCode;
  readonly problems: readonly string[];
  /** Config warnings found beside the problems (unknown keys, unset variables). */
  readonly warnings: readonly string[];

  constructor(
    code: AgentErrorCode,
    message: string,
    options: { cause?: unknown; problems?: readonly string[]; warnings?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.problems = options.problems ?? [];
    this.warnings = options.warnings ?? [];
  }

  /** A config error listing each problem. */
  static invalidConfig(problems: readonly string[], warnings: readonly string[] = []): AgentError {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    return new AgentError('invalid-config', `Invalid configuration (${problems.length} ${noun})`, {
      problems,
      warnings,
    });
  }
}
