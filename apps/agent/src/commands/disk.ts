import { createDiskGuard, type DiskGuard } from '@tvm/disk-guard';
import type { AgentConfig } from '../config.js';
import { diskGuardOptions } from '../disk-guard-options.js';
import { silentLogger, type Logger } from '../logger.js';

/** A disk guard over the config's log directories and deletion policies (what the daemon's housekeeping uses). */
export function diskGuardFor(config: AgentConfig, logger: Logger = silentLogger): DiskGuard {
  return createDiskGuard({ ...diskGuardOptions(config), logger });
}
