import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { BodyChecksum, PartChecksumAlgorithm } from '../checksums.js';
import type { CompletedPart } from '../multipart-state.js';
import type { ObjectSettings } from '../options.js';

/** What a HEAD says about an existing object. */
export interface ObjectHead {
  size: number;
  etag: string | undefined;
  metadata: Record<string, string>;
  /** S3's SHA-256 checksum of the object: full (`base64`) or composite (`base64-N`), when the server keeps one. */
  checksumSha256: string | undefined;
  /** S3's CRC32 of the object (full-object for uploads made so), when the server keeps one. */
  checksumCrc32: string | undefined;
}

/** One part S3 holds, as ListParts reports it. */
export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
  /** The part's CRC32 (base64), for uploads made with CRC32 checksums. */
  checksumCrc32: string | undefined;
}

/** One multipart upload S3 still holds. */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiatedAt: number | undefined;
}

/** What an object is created with besides its bytes: user metadata and tags (the uploader's settings come too). */
export interface ObjectAttributes {
  metadata: Record<string, string>;
  tags?: Readonly<Record<string, string>> | undefined;
}

/** The PutObject / CreateMultipartUpload fields of an object's attributes and the uploader's object settings. */
export function objectFields(settings: ObjectSettings, attributes: ObjectAttributes) {
  const tags = Object.entries(attributes.tags ?? {});
  return {
    Metadata: attributes.metadata,
    ...(settings.storageClass === undefined ? {} : { StorageClass: settings.storageClass as StorageClass }),
    ...(settings.serverSideEncryption === undefined
      ? {}
      : { ServerSideEncryption: settings.serverSideEncryption }),
    ...(settings.sseKmsKeyId === undefined ? {} : { SSEKMSKeyId: settings.sseKmsKeyId }),
    ...(settings.bucketKeyEnabled === undefined ? {} : { BucketKeyEnabled: settings.bucketKeyEnabled }),
    // x-amz-tagging is a URL query string.
    ...(tags.length === 0 ? {} : { Tagging: new URLSearchParams(tags).toString() }),
  };
}

/** A body with what proves it: a checksum header, a known SHA-256 for the signature, or both. */
export interface ChecksummedBody {
  body: Buffer | Readable;
  length: number;
  /** The checksum header to send; none when the signed payload hash is the proof. */
  checksum?: BodyChecksum | undefined;
  /** The hex SHA-256 of the body when the caller already has it: SigV4 signs it instead of hashing the body again. */
  sha256Hex?: string | undefined;
}

/** SigV4's payload hash header. */
export const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

/**
 * Saves SigV4 from hashing a body the uploader already hashed: the known SHA-256 is given to the signer (which then
 * signs it as it would its own), and over HTTPS a body without one (it carries a checksum header instead) is sent as
 * `UNSIGNED-PAYLOAD`, TLS protecting it in transit and the signed `x-amz-checksum-*` / `Content-MD5` header letting S3
 * prove the bytes. Over plain HTTP a body without a known SHA-256 keeps the SDK's own payload hash.
 */
function payloadHash<C extends PutObjectCommand | UploadPartCommand>(command: C, body: ChecksummedBody): C {
  type Handler = (args: { request: unknown }) => Promise<unknown>;
  const stack = command.middlewareStack as unknown as {
    addRelativeTo(middleware: (next: Handler) => Handler, options: object): void;
  };
  stack.addRelativeTo(
    (next) => async (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (request.headers) {
        if (body.sha256Hex !== undefined) request.headers[PAYLOAD_HASH_HEADER] = body.sha256Hex;
        else if (request.protocol === 'https:') request.headers[PAYLOAD_HASH_HEADER] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'tvmPayloadHash', override: true },
  );
  return command;
}

/**
 * The S3 calls the uploader makes, one function each, on an injected client. Errors are the SDK's own; the
 * uploader wraps and classifies them.
 */
export function s3Port(client: S3Client, bucket: string, settings: ObjectSettings = {}) {
  const options = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { abortSignal: signal });
  const checksumFields = ({ checksum }: ChecksummedBody) => {
    switch (checksum?.algorithm) {
      case undefined:
        return {};
      case 'CRC32':
        return { ChecksumAlgorithm: 'CRC32' as const, ChecksumCRC32: checksum.value };
      case 'SHA256':
        return { ChecksumAlgorithm: 'SHA256' as const, ChecksumSHA256: checksum.value };
      case 'MD5':
        return { ContentMD5: checksum.value };
    }
  };
  // A CRC32 upload is a full-object one: S3 combines the part CRC32s into the whole object's and checks it.
  const fullObjectCrc32 = (algorithm: PartChecksumAlgorithm) =>
    algorithm === 'CRC32'
      ? { ChecksumAlgorithm: 'CRC32' as const, ChecksumType: 'FULL_OBJECT' as const }
      : {};

  return {
    async headBucket(signal?: AbortSignal): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }), options(signal));
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 400 && status !== 403) throw error;
        // A HEAD response has no body, so a 403 cannot tell a wrong access key from a missing permission. The same
        // question as a GET (same permission, s3:ListBucket) gets S3's error document, whose code operators need
        // (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied ...).
        await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }), options(signal));
        throw error;
      }
    },

    /** The object at `key`, or undefined when there is none. */
    async headObject(
      key: string,
      withChecksum: boolean,
      signal?: AbortSignal,
    ): Promise<ObjectHead | undefined> {
      try {
        const head = await client.send(
          new HeadObjectCommand({
            Bucket: bucket,
            Key: key,
            ...(withChecksum ? { ChecksumMode: 'ENABLED' } : {}),
          }),
          options(signal),
        );
        return {
          size: head.ContentLength ?? 0,
          etag: head.ETag,
          metadata: head.Metadata ?? {},
          checksumSha256: head.ChecksumSHA256,
          checksumCrc32: head.ChecksumCRC32,
        };
      } catch (error) {
        // A HEAD response has no body, so a missing object is only a bare 404 (`NotFound`).
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
          return undefined;
        }
        throw error;
      }
    },

    /** `onlyIfAbsent` sends `If-None-Match: *`: S3 then answers 412 instead of overwriting an existing object. */
    async putObject(
      key: string,
      body: ChecksummedBody,
      attributes: ObjectAttributes,
      onlyIfAbsent: boolean,
      signal?: AbortSignal,
    ): Promise<{ etag: string | undefined }> {
      const result = await client.send(
        payloadHash(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body.body,
            ContentLength: body.length,
            ...objectFields(settings, attributes),
            ...(onlyIfAbsent ? { IfNoneMatch: '*' } : {}),
            ...checksumFields(body),
          }),
          body,
        ),
        options(signal),
      );
      return { etag: result.ETag };
    },

    async createMultipartUpload(
      key: string,
      algorithm: PartChecksumAlgorithm,
      attributes: ObjectAttributes,
      signal?: AbortSignal,
    ): Promise<string> {
      const result = await client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...objectFields(settings, attributes),
          ...fullObjectCrc32(algorithm),
        }),
        options(signal),
      );
      if (!result.UploadId)
        throw new Error(`CreateMultipartUpload for ${JSON.stringify(key)} returned no UploadId`);
      return result.UploadId;
    },

    async uploadPart(
      key: string,
      uploadId: string,
      partNumber: number,
      body: ChecksummedBody,
      signal?: AbortSignal,
    ): Promise<string> {
      const result = await client.send(
        payloadHash(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body.body,
            ContentLength: body.length,
            ...checksumFields(body),
          }),
          body,
        ),
        options(signal),
      );
      if (!result.ETag)
        throw new Error(`UploadPart ${partNumber} of ${JSON.stringify(key)} returned no ETag`);
      return result.ETag;
    },

    /** Every part S3 holds for the upload, across pages. */
    async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<ListedPart[]> {
      const parts: ListedPart[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListPartsCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker === undefined ? {} : { PartNumberMarker: marker }),
          }),
          options(signal),
        );
        for (const part of page.Parts ?? []) {
          if (part.PartNumber === undefined || part.ETag === undefined) continue;
          parts.push({
            partNumber: part.PartNumber,
            etag: part.ETag,
            size: part.Size ?? -1,
            checksumCrc32: part.ChecksumCRC32,
          });
        }
        if (!page.IsTruncated || page.NextPartNumberMarker === undefined) return parts;
        marker = page.NextPartNumberMarker;
      }
    },

    async completeMultipartUpload(
      key: string,
      uploadId: string,
      algorithm: PartChecksumAlgorithm,
      parts: readonly CompletedPart[],
      /** The whole file's CRC32 (base64), for a CRC32 upload: S3 refuses to complete an object that differs. */
      objectCrc32: string | undefined,
      signal?: AbortSignal,
    ): Promise<{ etag: string | undefined }> {
      const result = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          ...(algorithm === 'CRC32' && objectCrc32 !== undefined
            ? { ChecksumCRC32: objectCrc32, ChecksumType: 'FULL_OBJECT' as const }
            : {}),
          MultipartUpload: {
            Parts: parts.map((part) => ({
              PartNumber: part.partNumber,
              ETag: part.etag,
              ...(algorithm === 'CRC32' ? { ChecksumCRC32: part.checksum } : {}),
            })),
          },
        }),
        options(signal),
      );
      return { etag: result.ETag };
    },

    async abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
        options(signal),
      );
    },

    /** Every multipart upload under `prefix` that S3 still holds, across pages. */
    async listMultipartUploads(prefix: string | undefined, signal?: AbortSignal): Promise<PendingUpload[]> {
      const uploads: PendingUpload[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            ...(prefix === undefined ? {} : { Prefix: prefix }),
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
          }),
          options(signal),
        );
        for (const upload of page.Uploads ?? []) {
          if (upload.Key === undefined || upload.UploadId === undefined) continue;
          uploads.push({
            key: upload.Key,
            uploadId: upload.UploadId,
            initiatedAt: upload.Initiated?.getTime(),
          });
        }
        if (!page.IsTruncated) return uploads;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
        if (keyMarker === undefined && uploadIdMarker === undefined) return uploads;
      }
    },
  };
}

/** Options of `uploadStream` in {@link s3Port}. */
export interface StreamUploadOptions {
  partSize: number;
  queueSize: number;
  /** S3's flexible checksum for each part (computed by the SDK), or none. */
  algorithm: 'SHA256' | undefined;
  attributes: ObjectAttributes;
  settings: ObjectSettings;
  signal: AbortSignal | undefined;
  onProgress: (loaded: number) => void;
}

/**
 * Uploads a stream of unknown length with lib-storage: it buffers each part (a Buffer body, which the SDK can retry
 * and s3rver stores byte for byte), uses one PutObject for short streams, and aborts the upload on failure.
 */
export async function uploadStream(
  client: S3Client,
  bucket: string,
  key: string,
  body: Readable,
  options: StreamUploadOptions,
): Promise<{ etag: string | undefined }> {
  // Loaded on first use: only streams of unknown length need it, and most uploaders never send one.
  const { Upload } = await import('@aws-sdk/lib-storage');
  const upload = new Upload({
    client,
    params: {
      Bucket: bucket,
      Key: key,
      Body: body,
      ...objectFields(options.settings, options.attributes),
      ...(options.algorithm === undefined ? {} : { ChecksumAlgorithm: options.algorithm }),
    },
    queueSize: options.queueSize,
    partSize: options.partSize,
    leavePartsOnError: false,
  });
  upload.on('httpUploadProgress', (progress) => options.onProgress(progress.loaded ?? 0));
  const onAbort = (): void => void upload.abort().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await upload.done();
    return { etag: result.ETag };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The S3 calls of one uploader. */
export type S3Port = ReturnType<typeof s3Port>;
