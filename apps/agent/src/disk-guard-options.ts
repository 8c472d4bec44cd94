import type { DiskGuardOptions } from '@tvm/disk-guard';
import type { AgentConfig } from './config.js';
import { fileNameEncoding } from './file-names.js';

/** The disk guard's options from the config: the log directories, the three deletion policies and the thresholds. */
export function diskGuardOptions(config: AgentConfig): DiskGuardOptions {
  return {
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
    // reserved_gb counts binary gigabytes, as `df -h` shows them.
    disk: {
      reservedBytes: config.disk.reserved_gb * 2 ** 30,
      warningThreshold: config.disk.warning_threshold,
      criticalThreshold: config.disk.critical_threshold,
    },
    // Paths in the state are in the agent's form (file-names.ts): names that are not UTF-8 keep their bytes.
    pathEncoding: fileNameEncoding,
  };
}
