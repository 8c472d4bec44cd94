import { checkProfile } from '../adapters/aws-clients.js';
import type { AgentConfig } from '../config.js';
import { AgentError } from '../errors.js';
import { loadCommandConfig, type CommandIo } from './shared.js';

/**
 * The config of a command that talks to AWS: loaded and validated like every command's, plus the check the daemon
 * makes at start-up (a named `s3.profile` must exist in the shared files), so a command never succeeds, or fails
 * differently, where the daemon would refuse to start. Problems go to stderr; undefined means "exit 1".
 */
export async function loadAwsCommandConfig(path: string, io: CommandIo): Promise<AgentConfig | undefined> {
  const config = await loadCommandConfig(path, io);
  if (!config) return undefined;
  try {
    checkProfile(config);
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    io.stderr(`${error.message}: ${path}\n`);
    return undefined;
  }
  return config;
}
