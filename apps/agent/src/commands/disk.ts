import { createDiskGuard, type DiskGuard } from '@tvm/disk-guard';
import type { AgentConfig } from '../config.js';
import { silentLogger, type Logger } from '../logger.js';

/** A disk guard over the config's log directories and deletion policies (what the daemon's housekeeping uses). */
export function diskGuardFor(config: AgentConfig, logger: Logger = silentLogger): DiskGuard {
  return createDiskGuard({
    directories: config.log_directories.map((d) => ({
      path: d.path,
      source: d.source,
      pattern: d.pattern,
      recursive: d.recursive,
      allowDeletion: d.allow_deletion,
    })),
    afterUpload: {
      enabled: config.deletion.after_upload.enabled,
      keepDays: config.deletion.after_upload.keep_days,
    },
    ageBased: {
      enabled: config.deletion.age_based.enabled,
      maxAgeDays: config.deletion.age_based.max_age_days,
    },
    emergency: { enabled: config.deletion.emergency.enabled, threshold: config.deletion.emergency.threshold },
    disk: {
      reservedBytes: config.disk.reserved_gb * 2 ** 30,
      warningThreshold: config.disk.warning_threshold,
      criticalThreshold: config.disk.critical_threshold,
    },
    logger,
  });
}
