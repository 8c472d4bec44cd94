import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { CATEGORIES, classify, type Category } from '../src/index.js';

/** An error shaped as Node's libuv layer raises it. */
function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${path ? ` '${path}'` : ''}`);
  error.code = code;
  error.syscall = syscall;
  if (path) error.path = path;
  return error;
}

/** A service exception as the AWS SDK v3 deserialiser builds it. */
function serviceError(
  name: string,
  status: number,
  message = `${name} message`,
  fault: 'client' | 'server' = status >= 500 ? 'server' : 'client',
) {
  const error = new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message,
  });
  return Object.assign(error, { Code: name });
}

/** A bodiless HEAD failure: the SDK only knows the status. */
function headError(name: 'NotFound' | 'Unknown' | 'Forbidden', status: number) {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: 'UnknownError',
  });
}

describe('classify', () => {
  const cases: Array<[string, unknown, Category]> = [
    // temporary, connectivity
    ['ECONNRESET', systemError('ECONNRESET', 'read'), 'network'],
    ['ECONNREFUSED', systemError('ECONNREFUSED', 'connect'), 'network'],
    ['EPIPE', systemError('EPIPE', 'write'), 'network'],
    ['ECONNABORTED', systemError('ECONNABORTED', 'connect'), 'network'],
    ['EHOSTUNREACH', systemError('EHOSTUNREACH', 'connect'), 'network'],
    ['ENETUNREACH', systemError('ENETUNREACH', 'connect'), 'network'],
    ['ENETDOWN', systemError('ENETDOWN', 'connect'), 'network'],
    ['EHOSTDOWN', systemError('EHOSTDOWN', 'connect'), 'network'],
    [
      'undici socket error',
      Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' }),
      'network',
    ],
    [
      'fetch failed wrapping a reset',
      new TypeError('fetch failed', { cause: systemError('ECONNRESET', 'read') }),
      'network',
    ],
    ['ENOTFOUND', systemError('ENOTFOUND', 'getaddrinfo'), 'dns'],
    ['EAI_AGAIN', systemError('EAI_AGAIN', 'getaddrinfo'), 'dns'],
    ['ETIMEDOUT', systemError('ETIMEDOUT', 'connect'), 'timeout'],
    [
      'SDK TimeoutError',
      Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }),
      'timeout',
    ],
    ['S3 RequestTimeout', serviceError('RequestTimeout', 400), 'timeout'],
    [
      'undici connect timeout',
      Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
      'timeout',
    ],
    // temporary, service
    ['HTTP 429 without a code', headError('Unknown', 429), 'throttled'],
    ['SlowDown', serviceError('SlowDown', 503), 'throttled'],
    ['Throttling', serviceError('Throttling', 400), 'throttled'],
    ['ThrottlingException', serviceError('ThrottlingException', 400), 'throttled'],
    ['TooManyRequestsException', serviceError('TooManyRequestsException', 429), 'throttled'],
    ['RequestLimitExceeded', serviceError('RequestLimitExceeded', 503), 'throttled'],
    ['BandwidthLimitExceeded', serviceError('BandwidthLimitExceeded', 509), 'throttled'],
    ['ServiceUnavailable', serviceError('ServiceUnavailable', 503), 'service-unavailable'],
    ['bare 503', headError('Unknown', 503), 'service-unavailable'],
    ['InternalError', serviceError('InternalError', 500), 'server-error'],
    ['bare 500', headError('Unknown', 500), 'server-error'],
    ['bare 502', { statusCode: 502 }, 'server-error'],
    ['bare 504', { $metadata: { httpStatusCode: 504 } }, 'server-error'],
    ['RequestTimeTooSkewed', serviceError('RequestTimeTooSkewed', 403), 'clock-skew'],
    ['RequestExpired', serviceError('RequestExpired', 400), 'clock-skew'],
    [
      'credential source unreachable',
      Object.assign(new Error('Failed to load credentials from the instance metadata service'), {
        name: 'CredentialsProviderError',
      }),
      'auth-temporary',
    ],
    // permanent, file
    ['ENOENT', systemError('ENOENT', 'open', '/var/log/test.log'), 'file-not-found'],
    ['EACCES', systemError('EACCES', 'open', '/var/log/secure'), 'permission-denied'],
    ['EPERM', systemError('EPERM', 'open', '/var/log/secure'), 'permission-denied'],
    ['EIO', systemError('EIO', 'read'), 'disk-read-error'],
    ['EISDIR', systemError('EISDIR', 'read'), 'disk-read-error'],
    ['EILSEQ', systemError('EILSEQ', 'open', '/var/log/caf\udce9.log'), 'disk-read-error'],
    ['EFBIG', systemError('EFBIG', 'read'), 'file-too-large'],
    ['EntityTooLarge', serviceError('EntityTooLarge', 400), 'file-too-large'],
    ['KeyTooLongError', serviceError('KeyTooLongError', 400), 'invalid-object-key'],
    ['ENOSPC', systemError('ENOSPC', 'write'), 'disk-full'],
    // permanent, destination
    ['InvalidAccessKeyId', serviceError('InvalidAccessKeyId', 403), 'invalid-credentials'],
    [
      'missing profile',
      Object.assign(
        new Error(
          'Could not resolve credentials using profile: [china] in configuration/credentials file(s).',
        ),
        {
          name: 'CredentialsProviderError',
        },
      ),
      'invalid-credentials',
    ],
    ['ExpiredToken', serviceError('ExpiredToken', 400), 'expired-credentials'],
    ['TokenRefreshRequired', serviceError('TokenRefreshRequired', 400), 'expired-credentials'],
    ['InvalidToken', serviceError('InvalidToken', 400), 'expired-credentials'],
    ['SignatureDoesNotMatch', serviceError('SignatureDoesNotMatch', 403), 'signature-mismatch'],
    ['AccessDenied', serviceError('AccessDenied', 403, 'Access Denied'), 'access-denied'],
    ['bare 403 on HEAD', headError('Forbidden', 403), 'access-denied'],
    ['AllAccessDisabled', serviceError('AllAccessDisabled', 403), 'bucket-forbidden'],
    [
      'AccessDenied by an explicit deny in a bucket policy',
      serviceError(
        'AccessDenied',
        403,
        'User is not authorized to perform: s3:PutObject with an explicit deny in a resource-based policy',
      ),
      'bucket-forbidden',
    ],
    [
      'NoSuchBucket',
      serviceError('NoSuchBucket', 404, 'The specified bucket does not exist'),
      'bucket-not-found',
    ],
    ['HeadBucket 404 (NotFound, no body)', headError('NotFound', 404), 'bucket-not-found'],
    ['PermanentRedirect (wrong region)', serviceError('PermanentRedirect', 301), 'bucket-not-found'],
    ['InvalidBucketName', serviceError('InvalidBucketName', 400), 'invalid-bucket-name'],
    ...(
      [
        ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
        ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
        ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
        ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'],
        ['CERT_HAS_EXPIRED', 'certificate has expired'],
        ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
      ] as const
    ).map(
      ([code, message]) =>
        [code, Object.assign(new Error(message), { code }), 'tls-certificate'] as [string, unknown, Category],
    ),
    [
      'CERT_NOT_YET_VALID (the vehicle clock runs behind)',
      Object.assign(new Error('certificate is not yet valid'), { code: 'CERT_NOT_YET_VALID' }),
      'clock-skew',
    ],
    // neither
    ['an unrecognised error', new Error('something odd happened'), 'unknown'],
    ['NoSuchUpload (a 404 about an upload, not the bucket)', serviceError('NoSuchUpload', 404), 'unknown'],
    ['NoSuchKey (a 404 about an object, not the bucket)', serviceError('NoSuchKey', 404), 'unknown'],
    ['a thrown string', 'boom', 'unknown'],
    ['undefined', undefined, 'unknown'],
    ['AbortError', new DOMException('This operation was aborted', 'AbortError'), 'aborted'],
    ['an aborted signal reason', AbortSignal.abort(), 'aborted'],
    ['ABORT_ERR', Object.assign(new Error('The operation was aborted'), { code: 'ABORT_ERR' }), 'aborted'],
  ];

  it.each(cases)('classifies %s', (_name, error, category) => {
    const result = classify(error);
    expect(result.category).toBe(category);
    expect(result.kind).toBe(CATEGORIES[category].kind);
    expect(result.scope).toBe(CATEGORIES[category].scope);
    expect(result.message).not.toMatch(/[\r\n]/);
    expect(result.message.length).toBeGreaterThan(0);
  });

  it('words a bodiless HEAD failure by its status, not as "UnknownError"', () => {
    expect(classify(headError('Unknown', 503)).message).toBe('HTTP 503: Service temporarily unavailable');
    expect(classify(headError('NotFound', 404)).message).toBe('HTTP 404: Bucket not found');
  });

  it('tells the operator how to trust a TLS endpoint', () => {
    const error = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(classify(new Error('request failed', { cause: error }))).toMatchObject({
      kind: 'permanent',
      scope: 'destination',
      category: 'tls-certificate',
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(classify(error).message).toMatch(
      /^SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain: TLS certificate .*AWS_CA_BUNDLE/,
    );
  });

  it('covers every category in the table above', () => {
    const covered = new Set(cases.map(([, , category]) => category));
    expect([...covered].sort()).toEqual(Object.keys(CATEGORIES).sort());
  });

  it('uses the runbook wording for missing files and AWS errors', () => {
    expect(classify(systemError('ENOENT', 'open', '/var/log/old.log')).message).toBe(
      'File not found: /var/log/old.log',
    );
    expect(classify(serviceError('AccessDenied', 403, 'Access Denied')).message).toBe(
      'AccessDenied: Access Denied',
    );
    expect(
      classify(
        serviceError(
          'InvalidAccessKeyId',
          403,
          'The AWS Access Key Id you provided does not exist in our records.',
        ),
      ).message,
    ).toBe('InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.');
  });

  it('reports the code and the HTTP status', () => {
    const result = classify(serviceError('NoSuchBucket', 404));
    expect(result).toMatchObject({
      code: 'NoSuchBucket',
      httpStatus: 404,
      kind: 'permanent',
      scope: 'destination',
    });
  });

  it('walks cause chains and AggregateError members', () => {
    const wrapped = new Error('upload failed', {
      cause: new Error('request failed', { cause: serviceError('SlowDown', 503) }),
    });
    expect(classify(wrapped).category).toBe('throttled');
    const aggregate = new AggregateError(
      [new Error('first'), systemError('ENETUNREACH', 'connect')],
      'connect failed',
    );
    expect(classify(aggregate).category).toBe('network');
  });

  it('lets the outermost recognisable error decide', () => {
    const error = Object.assign(new Error('EACCES on open', { cause: systemError('ECONNRESET', 'read') }), {
      code: 'EACCES',
    });
    expect(classify(error).category).toBe('permission-denied');
  });

  it('stops on a cyclic cause chain', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classify(a).category).toBe('unknown');
  });

  it('keeps a classification an error already carries', () => {
    const carried = {
      kind: 'permanent',
      category: 'invalid-object-key',
      scope: 'file',
      message: 'bad key',
    } as const;
    const error = Object.assign(new Error('upload failed', { cause: systemError('ECONNRESET', 'read') }), {
      classification: carried,
    });
    expect(classify(error)).toEqual(carried);
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    const now = Date.UTC(2025, 10, 6, 12, 0, 0);
    const seconds = Object.assign(serviceError('SlowDown', 503), {
      $response: { statusCode: 503, headers: { 'retry-after': '7' } },
    });
    expect(classify(seconds, { now }).retryAfterMs).toBe(7000);
    const date = { statusCode: 429, headers: { 'Retry-After': new Date(now + 30_000).toUTCString() } };
    expect(classify(date, { now }).retryAfterMs).toBe(30_000);
    expect(classify(serviceError('SlowDown', 503)).retryAfterMs).toBeUndefined();
  });

  it('never throws, whatever it is given', () => {
    for (const value of [
      null,
      0,
      42,
      Symbol('x'),
      () => 1,
      { name: 5 },
      Object.create(null),
      new Proxy({}, {}),
    ]) {
      expect(() => classify(value)).not.toThrow();
    }
  });
});
