import type { ObjectSettings } from '@tvm/s3-uploader';
import type { AgentConfig } from './config.js';
import { encodeFileName } from './file-names.js';
import { VERSION } from './version.js';

/**
 * What every object carries besides its bytes, for the cloud side's lifecycle, compliance and search: the storage
 * class and encryption (`s3.storage_class`, `s3.sse`), the tags (`s3.tags`) and the agent's user metadata.
 */

/** `s3.storage_class` and `s3.sse` as the uploader takes them. */
export function objectSettingsOf(config: AgentConfig): ObjectSettings {
  const { storage_class: storageClass, sse } = config.s3;
  return {
    ...(storageClass === undefined ? {} : { storageClass }),
    ...(sse === undefined ? {} : { serverSideEncryption: sse.mode }),
    ...(sse?.kms_key_id === undefined ? {} : { sseKmsKeyId: sse.kms_key_id }),
    ...(sse?.bucket_key === undefined ? {} : { bucketKeyEnabled: sse.bucket_key }),
  };
}

/** What naming an object's tags needs of the config. */
export type TagConfig = Pick<AgentConfig, 'vehicle_id'> & { s3: Pick<AgentConfig['s3'], 'tags'> };

/** `s3.tags` for an object of `source`: `{vehicle}` and `{source}` replaced. */
export function objectTags(config: TagConfig, source: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.s3.tags)) {
    tags[name] = value.replace(/\{(vehicle|source)\}/g, (_, which: string) =>
      which === 'vehicle' ? config.vehicle_id : source,
    );
  }
  return tags;
}

/** The user metadata names the agent writes (`x-amz-meta-<name>`); `sha256` is the uploader's. */
export const METADATA = {
  vehicle: 'tvm-vehicle',
  source: 'tvm-source',
  path: 'tvm-path',
  mtime: 'tvm-mtime',
  agentVersion: 'tvm-agent-version',
} as const;

// S3 allows 2 KB of user metadata in all; a longer path is left out (the key has it relative to its directory).
const MAX_PATH_METADATA = 1024;

/**
 * The agent's user metadata of an object: vehicle, source, the original path (its bytes percent-encoded where not
 * printable ASCII, as HTTP headers must be), the file's mtime (ISO 8601) and the agent version.
 */
export function objectMetadata(input: {
  vehicleId: string;
  source: string;
  filePath: string;
  mtimeMs: number;
}): Record<string, string> {
  const path = percentEncodeBytes(input.filePath);
  return {
    [METADATA.vehicle]: input.vehicleId,
    [METADATA.source]: input.source,
    ...(path.length <= MAX_PATH_METADATA ? { [METADATA.path]: path } : {}),
    [METADATA.mtime]: new Date(input.mtimeMs).toISOString(),
    [METADATA.agentVersion]: VERSION,
  };
}

/** A path's bytes as header-safe ASCII: `%XX` for `%`, space, controls and every byte outside ASCII. */
export function percentEncodeBytes(path: string): string {
  const fsName = encodeFileName(path);
  const bytes = typeof fsName === 'string' ? Buffer.from(fsName, 'utf8') : fsName;
  let out = '';
  for (const byte of bytes) {
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
