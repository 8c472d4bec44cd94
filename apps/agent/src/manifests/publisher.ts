import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { auditDay, manifestKey, parseLines, type AuditReport, type ListedObject } from './lines.js';
import type { ManifestJournal } from './journal.js';

/** What writing one day's manifest did. */
export interface PublishedManifest {
  date: string;
  key: string;
  /** Lines in the manifest. */
  lines: number;
  bytes: number;
  /** Torn lines of the local journal that were skipped (a power cut mid-append). */
  malformed: number;
}

/**
 * Writes a day's manifest object from the local journal: the whole day so far, deduplicated, so writing it again
 * (a retry after an outage, `tvm-upload manifest` twice) puts the same bytes under the same key.
 */
export async function publishManifest(
  s3: S3Client,
  bucket: string,
  vehicleId: string,
  journal: ManifestJournal,
  date: string,
  signal?: AbortSignal,
): Promise<PublishedManifest> {
  await journal.flush();
  const { body, lines, malformed } = await journal.body(date);
  const key = manifestKey(vehicleId, date);
  const bytes = Buffer.from(body, 'utf8');
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentType: 'application/x-ndjson',
      ContentMD5: createHash('md5').update(bytes).digest('base64'),
      Metadata: { lines: String(lines), sha256: createHash('sha256').update(bytes).digest('hex') },
    }),
    signal ? { abortSignal: signal } : {},
  );
  return { date, key, lines, bytes: bytes.length, malformed };
}

/**
 * Writes the manifest of every ended day whose manifest is not in S3 yet (oldest first; one that fails is tried
 * again next time, the later days still go), marks each as sent, and prunes sent journals older than `keepFrom`.
 * @returns the manifests written and the errors met, by day.
 */
export async function publishEndedDays(options: {
  s3: S3Client;
  bucket: string;
  vehicleId: string;
  journal: ManifestJournal;
  today: string;
  keepFrom: string;
  now: () => number;
  signal?: AbortSignal;
}): Promise<{ written: PublishedManifest[]; failed: Array<{ date: string; error: Error }> }> {
  const written: PublishedManifest[] = [];
  const failed: Array<{ date: string; error: Error }> = [];
  for (const { date, sent } of await options.journal.days()) {
    if (sent || date >= options.today) continue;
    try {
      const result = await publishManifest(
        options.s3,
        options.bucket,
        options.vehicleId,
        options.journal,
        date,
        options.signal,
      );
      await options.journal.markSent(date, result.key, options.now());
      written.push(result);
    } catch (error) {
      failed.push({ date, error: error as Error });
    }
  }
  await options.journal.prune(options.keepFrom);
  return { written, failed };
}

/** Every object under `prefix` (paginated). */
export async function* listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): AsyncGenerator<ListedObject> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? 0 };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/**
 * Audits a day: reads its manifest object and lists the date folders its keys live in plus the day's own folder
 * (`{vehicle}/{date}/`), never the whole vehicle prefix.
 * @throws the S3 error when the manifest object cannot be read (`NoSuchKey`: no manifest for that day).
 */
export async function auditManifest(
  s3: S3Client,
  bucket: string,
  vehicleId: string,
  date: string,
  inDay: (epochMs: number) => boolean,
): Promise<AuditReport> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(vehicleId, date) }));
  const { lines } = parseLines((await object.Body?.transformToString('utf8')) ?? '');
  const folders = new Set<string>([`${vehicleId}/${date}/`]);
  for (const line of lines) {
    if (line.type !== 'uploaded') continue;
    const [vehicle, day] = line.key.split('/');
    if (vehicle !== undefined && day !== undefined) folders.add(`${vehicle}/${day}/`);
  }
  const listing: ListedObject[] = [];
  for (const folder of [...folders].sort()) {
    for await (const listed of listObjects(s3, bucket, folder)) listing.push(listed);
  }
  return auditDay(date, lines, listing, inDay);
}
