/**
 * The config every daemon bench runs `tvm-upload run` with (s3rver's credentials, one `ros` directory, no deletion),
 * and the vehicle build they run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { bundleAgent } from '../scripts/bundle.js';

export interface BenchConfigOptions {
  /** Where the config file goes. */
  file: string;
  /** The directory of the shared AWS files (profile `bench`). */
  awsDir: string;
  /** The state directory (queue.json, the registry). */
  state: string;
  /** The `ros` log directory. */
  logs: string;
  endpoint: string;
  vehicleId?: string;
  /** Extra `s3` keys (concurrency ...). */
  s3?: Record<string, unknown>;
  /** Extra `upload` keys (bandwidth_limit ...). */
  upload?: Record<string, unknown>;
}

/** Writes the credentials and the config; resolves to the config's path. */
export async function writeBenchConfig(options: BenchConfigOptions): Promise<string> {
  await mkdir(options.awsDir, { recursive: true });
  await writeFile(
    join(options.awsDir, 'credentials'),
    '[bench]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
  );
  await writeFile(
    options.file,
    stringify({
      vehicle_id: options.vehicleId ?? 'bench-vehicle',
      log_directories: [{ path: options.logs, source: 'ros' }],
      s3: {
        bucket: 'bench',
        region: 'cn-north-1',
        profile: 'bench',
        credentials_path: options.awsDir,
        endpoint: options.endpoint,
        force_path_style: true,
        checksum_mode: 'when_required',
        ...options.s3,
      },
      upload: {
        file_stable_seconds: 1,
        operational_hours: { enabled: false },
        queue_file: join(options.state, 'queue.json'),
        processed_files_registry: { registry_file: join(options.state, 'processed_files.json') },
        ...options.upload,
      },
      deletion: { after_upload: { enabled: false }, age_based: { enabled: false } },
      monitoring: { cloudwatch_enabled: false },
    }),
  );
  return options.file;
}

/**
 * Builds the vehicle build (scripts/bundle.ts) into `dir` and resolves to its launcher, `bin/tvm-upload`: the daemon
 * as vehicles run it (one bundled module, the launcher's node flags). Run it with `TVM_UPLOAD_NODE` set to the node
 * to use (`process.execPath`).
 */
export async function vehicleLauncher(dir: string): Promise<string> {
  return join(dirname(await bundleAgent(dir)), 'bin', 'tvm-upload');
}
