import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * s3rver 3.7 has no ListParts, ListMultipartUploads or AbortMultipartUpload, answers an unknown upload id with a
 * 500 (or silently creates it), and ignores `If-None-Match: *` on PutObject (S3's conditional write, answered with
 * 412 when the key exists). A resumable uploader needs S3's behaviour for all of them, so this HTTP
 * front answers those calls from s3rver's own upload directory (`<directory>/<bucket>/._S3rver_uploads/<id>/`) and
 * passes everything else through unchanged.
 *
 * s3rver also drops what an object is created with besides metadata: `x-amz-tagging`, the server-side encryption
 * headers, and the storage class of a multipart upload. The front remembers them (from PutObject, or from
 * CreateMultipartUpload until its CompleteMultipartUpload) and answers as S3 does: HeadObject/GetObject carry
 * `x-amz-server-side-encryption*`, `x-amz-storage-class` and `x-amz-tagging-count`, GetObjectTagging the tags.
 */
export interface MultipartShim {
  /** `http://127.0.0.1:<port>`: a path-style endpoint. */
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

/** Options of {@link startMultipartShim}: the local S3 server behind it. */
export interface MultipartShimOptions {
  /** The s3rver port (`LocalS3.port`). */
  port: number;
  /** The s3rver storage directory (`LocalS3.directory`). */
  directory: string;
}

const UPLOADS_DIR = '._S3rver_uploads';

/** Starts the front on 127.0.0.1 (a free port). */
export async function startMultipartShim(options: MultipartShimOptions): Promise<MultipartShim> {
  const uploadDir = (bucket: string, uploadId: string) =>
    join(options.directory, bucket, UPLOADS_DIR, uploadId);
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  // What objects were created with (by `bucket/key` path) and what pending multipart uploads will be.
  const attributesOf = new Map<string, ObjectAttributes>();
  const pendingAttributes = new Map<string, ObjectAttributes>();
  /** Records what the object at `objectPath` was (re)written with: a write without attributes clears them. */
  const keepAttributes = (objectPath: string, attributes: ObjectAttributes | undefined): void => {
    if (attributes) attributesOf.set(objectPath, attributes);
    else attributesOf.delete(objectPath);
  };
  /** Passes a PutObject to s3rver and keeps its attributes once s3rver stored the object. */
  const passPut = (req: IncomingMessage, res: ServerResponse, objectPath: string): void => {
    const attributes = attributesFrom(req);
    pass(req, res, {}, (status) => {
      if (status === 200) keepAttributes(objectPath, attributes);
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://shim');
    const [, bucket = '', ...keyParts] = url.pathname.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const uploadId = url.searchParams.get('uploadId');
    const objectPath = `${bucket}/${key}`;
    // The SDK names the operation in `x-id`; any other parameter is a subresource (tagging, acl, uploads ...).
    const plainObject = key !== '' && [...url.searchParams.keys()].every((name) => name === 'x-id');
    if (key !== '' && req.method === 'POST' && url.searchParams.has('uploads')) {
      // CreateMultipartUpload: s3rver forgets the attributes, so keep them for the upload id it answers with.
      const attributes = attributesFrom(req);
      const answer = await forward(options.port, req);
      const id = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.body.toString('utf8'))?.[1];
      if (answer.status === 200 && id !== undefined && attributes) pendingAttributes.set(id, attributes);
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return true;
    }
    if (uploadId !== null && key !== '' && req.method === 'POST') {
      const answer = await forward(options.port, req);
      const attributes = pendingAttributes.get(uploadId);
      if (answer.status === 200 && !/<Error>/.test(answer.body.toString('utf8'))) {
        pendingAttributes.delete(uploadId);
        keepAttributes(objectPath, attributes);
      }
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return true;
    }
    if (key !== '' && req.method === 'GET' && url.searchParams.has('tagging')) {
      const tags = attributesOf.get(objectPath)?.tags;
      if (tags === undefined) return false; // s3rver's own (PutObjectTagging)
      await drain(req);
      reply(res, 200, taggingXml(tags));
      return true;
    }
    if (plainObject && (req.method === 'HEAD' || req.method === 'GET')) {
      const attributes = attributesOf.get(objectPath);
      if (attributes) {
        pass(req, res, attributes.headers);
        return true;
      }
      return false;
    }
    if (
      plainObject &&
      req.method === 'PUT' &&
      req.headers['if-none-match'] !== '*' &&
      req.headers['x-amz-copy-source'] === undefined
    ) {
      passPut(req, res, objectPath);
      return true;
    }
    if (uploadId !== null && key !== '') {
      const dir = uploadDir(bucket, uploadId);
      if (!/^[0-9a-f]+$/i.test(uploadId) || !(await exists(join(dir, 'key')))) {
        await drain(req);
        reply(res, 404, errorXml('NoSuchUpload', 'The specified upload does not exist.'));
        return true;
      }
      if (req.method === 'GET') {
        await drain(req);
        reply(res, 200, await listPartsXml(dir, bucket, key, uploadId));
        return true;
      }
      if (req.method === 'DELETE') {
        await drain(req);
        await rm(dir, { recursive: true, force: true });
        res.writeHead(204).end();
        return true;
      }
      return false; // UploadPart and CompleteMultipartUpload of a known upload: s3rver handles them.
    }
    if (req.method === 'PUT' && key !== '' && req.headers['if-none-match'] === '*') {
      // A conditional write (S3 since 2024): refuse to overwrite an existing object.
      if (await objectExists(options.port, url.pathname)) {
        await drain(req);
        reply(
          res,
          412,
          errorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
        );
        return true;
      }
      passPut(req, res, objectPath);
      return true;
    }
    if (req.method === 'GET' && key === '' && url.searchParams.has('uploads')) {
      await drain(req);
      reply(
        res,
        200,
        await listUploadsXml(join(options.directory, bucket, UPLOADS_DIR), bucket, url.searchParams),
      );
      return true;
    }
    return false;
  };

  const pass = (
    req: IncomingMessage,
    res: ServerResponse,
    extraHeaders: Readonly<Record<string, string>> = {},
    onStatus: (status: number) => void = () => undefined,
  ): void => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port: options.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const status = answer.statusCode ?? 502;
        onStatus(status);
        res.writeHead(status, status === 200 ? { ...answer.headers, ...extraHeaders } : answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    handle(req, res).then(
      (handled) => {
        if (!handled) pass(req, res);
      },
      (error: unknown) => reply(res, 500, errorXml('InternalError', String(error))),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What an object was created with that s3rver does not keep, and the response headers S3 answers it with. */
interface ObjectAttributes {
  tags: Array<[string, string]> | undefined;
  headers: Record<string, string>;
}

const KEPT_HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-storage-class',
];

function attributesFrom(req: IncomingMessage): ObjectAttributes | undefined {
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const tagging = req.headers['x-amz-tagging'];
  const tags = typeof tagging === 'string' ? [...new URLSearchParams(tagging).entries()] : undefined;
  if (tags) headers['x-amz-tagging-count'] = String(tags.length);
  return tags || Object.keys(headers).length > 0 ? { tags, headers } : undefined;
}

function taggingXml(tags: ReadonlyArray<[string, string]>): string {
  const set = tags
    .map(([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`;
}

/** Sends a request to s3rver and buffers its (small, XML) answer. */
function forward(
  port: number,
  req: IncomingMessage,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('error', reject);
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          const headers = { ...answer.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          resolve({ status: answer.statusCode ?? 502, headers, body });
        });
      },
    );
    upstream.on('error', reject);
    req.pipe(upstream);
  });
}

function objectExists(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const head = httpRequest({ host: '127.0.0.1', port, method: 'HEAD', path }, (answer) => {
      answer.resume();
      resolve(answer.statusCode === 200);
    });
    head.on('error', () => resolve(false));
    head.end();
  });
}

async function listPartsXml(dir: string, bucket: string, key: string, uploadId: string): Promise<string> {
  const parts: string[] = [];
  const names = (await readdir(dir))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(a) - Number(b));
  for (const name of names) {
    // s3rver writes `<n>.md5` only once a part arrived whole: a part cut off mid-transfer is not listed, as in S3.
    const md5 = await readFile(join(dir, `${name}.md5`), 'utf8').catch(() => undefined);
    if (md5 === undefined) continue;
    const { size, mtime } = await stat(join(dir, name));
    parts.push(
      `<Part><PartNumber>${name}</PartNumber><LastModified>${mtime.toISOString()}</LastModified>` +
        `<ETag>"${md5}"</ETag><Size>${size}</Size></Part>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${uploadId}</UploadId>` +
    `<IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`
  );
}

async function listUploadsXml(root: string, bucket: string, query: URLSearchParams): Promise<string> {
  const prefix = query.get('prefix') ?? '';
  const uploads: string[] = [];
  const ids = await readdir(root).catch(() => [] as string[]);
  for (const id of ids.sort()) {
    const key = await readFile(join(root, id, 'key'), 'utf8').catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const { mtime } = await stat(join(root, id, 'key'));
    uploads.push(
      `<Upload><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId>` +
        `<Initiated>${mtime.toISOString()}</Initiated></Upload>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix>` +
    `<IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`
  );
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>SHIM</RequestId></Error>`;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** S3 reads a request's body before answering; a client still sending would otherwise see a reset. */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
    req.on('error', () => resolve());
  });
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
