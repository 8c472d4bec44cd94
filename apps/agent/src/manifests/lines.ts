/**
 * The lines of a delivery manifest (`{vehicle_id}/_manifests/{YYYY-MM-DD}.jsonl`): one per file uploaded that day and
 * one per file deleted that day without being uploaded. Pure: building, parsing and comparing lines.
 */

/** A file that reached S3. */
export interface UploadedLine {
  type: 'uploaded';
  key: string;
  /** The object's size in bytes. */
  size: number;
  /** Hex SHA-256 of the object's bytes (its `sha256` metadata). */
  sha256: string;
  /** The file's modification time, ISO 8601. */
  mtime: string;
  /** When the upload was verified, ISO 8601. */
  uploaded_at: string;
  /** The local file it came from. */
  path: string;
  /** Set when the object is a compressed form of the file: the original's size and SHA-256. */
  original_size?: number;
  original_sha256?: string;
}

/** A file a deletion policy removed before it was uploaded (data loss, recorded for the cloud side). */
export interface DeletedLine {
  type: 'deleted';
  path: string;
  size: number;
  /** The file's modification time, ISO 8601, when the agent knew it. */
  mtime?: string;
  /** The deletion policy (`emergency`) or the command that deleted it. */
  policy: string;
  reason: string;
  deleted_at: string;
}

export type ManifestLine = UploadedLine | DeletedLine;

/** The object key of a day's manifest. */
export function manifestKey(vehicleId: string, date: string): string {
  return `${vehicleId}/_manifests/${date}.jsonl`;
}

/** The one identity of a line: an object by its key, a deleted file by its path and mtime. */
function identity(line: ManifestLine): string {
  return line.type === 'uploaded' ? `u\0${line.key}` : `d\0${line.path}\0${line.mtime ?? ''}`;
}

/**
 * The manifest's text from a day's journal text, in recording order: a line recorded twice (an upload repeated after
 * a crash, a key written again by a newer version of its file) keeps its last form at its first place, so writing
 * the same journal again gives the same bytes. Lines are kept as the journal's own text (never re-serialised), and
 * a torn or malformed line (a power cut mid-append) is counted, not fatal.
 */
export function manifestText(journal: string): { body: string; lines: number; malformed: number } {
  const byIdentity = new Map<string, string>();
  let malformed = 0;
  for (const raw of journal.split('\n')) {
    if (raw.trim() === '') continue;
    const line = parseLine(raw);
    if (line === undefined) malformed++;
    // Map keeps the first insertion's position; set() with the newest text keeps that place.
    else byIdentity.set(identity(line), raw);
  }
  let body = '';
  for (const raw of byIdentity.values()) body += `${raw}\n`;
  return { body, lines: byIdentity.size, malformed };
}

/** The lines of a manifest or journal text; malformed lines are counted. */
export function parseLines(text: string): { lines: ManifestLine[]; malformed: number } {
  const lines: ManifestLine[] = [];
  let malformed = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const line = parseLine(raw);
    if (line === undefined) malformed++;
    else lines.push(line);
  }
  return { lines, malformed };
}

function parseLine(raw: string): ManifestLine | undefined {
  try {
    const value = JSON.parse(raw) as unknown;
    return isLine(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isLine(value: unknown): value is ManifestLine {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  if (line['type'] === 'uploaded') {
    return (
      typeof line['key'] === 'string' &&
      typeof line['size'] === 'number' &&
      typeof line['sha256'] === 'string'
    );
  }
  return line['type'] === 'deleted' && typeof line['path'] === 'string' && typeof line['size'] === 'number';
}

/** An object as a listing shows it. */
export interface ListedObject {
  key: string;
  size: number;
  /** Epoch ms. */
  lastModified: number;
}

/** What `tvm-upload audit` found for one day. */
export interface AuditReport {
  date: string;
  /** Objects the manifest lists that the bucket does not have. */
  missing: UploadedLine[];
  /** Objects of the day the bucket has that the manifest does not list. */
  extra: ListedObject[];
  /** Objects whose size in the bucket differs from the manifest's. */
  differing: Array<{ key: string; manifestSize: number; bucketSize: number }>;
  /** Uploaded lines that matched an object. */
  matched: number;
  /** Files the manifest records as deleted without being uploaded (not objects: listed for the reader). */
  deletedUnsent: number;
}

/**
 * Compares a day's manifest with a listing of the vehicle's objects. `inDay(ms)` says whether a listed object's
 * LastModified falls in the manifest's day: only those can be extra (an object of another day is another manifest's).
 */
export function auditDay(
  date: string,
  manifest: readonly ManifestLine[],
  listing: Iterable<ListedObject>,
  inDay: (epochMs: number) => boolean,
): AuditReport {
  const expected = new Map<string, UploadedLine>();
  let deletedUnsent = 0;
  for (const line of manifest) {
    if (line.type === 'uploaded') expected.set(line.key, line);
    else deletedUnsent++;
  }
  const seen = new Set<string>();
  const extra: ListedObject[] = [];
  const differing: AuditReport['differing'] = [];
  for (const object of listing) {
    const line = expected.get(object.key);
    if (!line) {
      if (inDay(object.lastModified) && !object.key.includes('/_manifests/')) extra.push(object);
      continue;
    }
    seen.add(object.key);
    if (line.size !== object.size)
      differing.push({ key: object.key, manifestSize: line.size, bucketSize: object.size });
  }
  const missing = [...expected.values()].filter((line) => !seen.has(line.key));
  return { date, missing, extra, differing, matched: seen.size - differing.length, deletedUnsent };
}
