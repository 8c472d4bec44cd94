import type { Category } from './categories.js';

/**
 * Node.js system error codes (`error.code`, set by libuv on fs and socket calls) and undici's error codes.
 * Each row says why it belongs where it is.
 */
export const SYSTEM_CODES: Readonly<Record<string, Category>> = {
  ECONNRESET: 'network', // the peer or a middlebox dropped the TCP connection (WiFi hand-over, proxy restart)
  ECONNREFUSED: 'network', // nothing listens at the address yet (endpoint restarting, captive portal)
  EPIPE: 'network', // we wrote to a socket the peer had already closed
  ECONNABORTED: 'network', // the local stack gave up on the connection
  EHOSTUNREACH: 'network', // no route to the host: the link is down
  ENETUNREACH: 'network', // no route to the network: no default gateway while WiFi is gone
  ENETDOWN: 'network', // the interface itself is down
  EHOSTDOWN: 'network', // the host is known to be down
  EADDRNOTAVAIL: 'network', // the local address vanished (DHCP lease lost mid-connection)
  ERR_STREAM_PREMATURE_CLOSE: 'network', // the response stream ended before it was complete
  UND_ERR_SOCKET: 'network', // undici: the socket failed under a request
  UND_ERR_CLOSED: 'network', // undici: the client was closed with requests in flight
  ENOTFOUND: 'dns', // the name did not resolve; on a vehicle usually "no DNS server reachable yet"
  EAI_AGAIN: 'dns', // the resolver itself timed out: a temporary failure by definition
  ETIMEDOUT: 'timeout', // connect or read timed out at the socket layer
  ESOCKETTIMEDOUT: 'timeout', // older http clients' read timeout
  ERR_SOCKET_CONNECTION_TIMEOUT: 'timeout', // Node's happy-eyeballs connect attempt timed out
  UND_ERR_CONNECT_TIMEOUT: 'timeout', // undici: connect timeout
  UND_ERR_HEADERS_TIMEOUT: 'timeout', // undici: the server accepted the request but never answered
  UND_ERR_BODY_TIMEOUT: 'timeout', // undici: the body stalled
  ENOENT: 'file-not-found', // the file was deleted (logrotate, cleanup) before we read it
  EACCES: 'permission-denied', // the service user has no read access
  EPERM: 'permission-denied', // the operation is forbidden whatever the mode bits say
  EIO: 'disk-read-error', // the device reported a read error: retrying reads the same bad sector
  EISDIR: 'disk-read-error', // a directory stands where a file was expected
  ENOTDIR: 'disk-read-error', // a path component is not a directory: the path is wrong, not the network
  ELOOP: 'disk-read-error', // a symlink loop, or open(O_NOFOLLOW) met a symlink the uploader refuses to follow: never readable as asked
  ENAMETOOLONG: 'disk-read-error', // the path cannot be opened as written
  EILSEQ: 'disk-read-error', // the name holds a byte sequence the filesystem (or the caller's name encoding) refuses
  ESTALE: 'disk-read-error', // stale NFS handle: the file is gone from under us
  EFBIG: 'file-too-large', // the file exceeds what the filesystem or process allows
  ERR_FS_FILE_TOO_LARGE: 'file-too-large', // Node refused to read a file over 2 GiB into one buffer
  ENOSPC: 'disk-full', // the runbook's scenario 5: an operator must free space
  EDQUOT: 'disk-full', // the user's quota is full: same remedy as a full disk
  CERT_NOT_YET_VALID: 'clock-skew', // the vehicle's clock runs behind the certificate's notBefore (no NTP yet)
  ABORT_ERR: 'aborted', // an AbortSignal fired: the caller cancelled, nothing failed
  UND_ERR_ABORTED: 'aborted', // undici's form of the same
};

/**
 * TLS certificate verification failures (OpenSSL's X509 verify results, as Node names them in `error.code`).
 * Retrying cannot help: the same certificate comes back on every attempt, so ten retries of "unknown" would only
 * delay the message an operator needs. They are a destination configuration error, like wrong credentials: the
 * endpoint (an S3-compatible store, a TLS-inspecting proxy) signs with a CA the agent was not given, or its name or
 * dates are wrong. The pipeline pauses, says so, and re-checks; a captive portal that intercepts HTTPS ends such a
 * pause by itself once the vehicle is on a real network again.
 */
export const TLS_CODES: Readonly<Record<string, Category>> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'tls-certificate', // the chain ends in a CA nobody gave us (a private CA, a proxy's CA)
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls-certificate', // the server's certificate signs itself
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls-certificate', // the issuer of the server's certificate is unknown
  UNABLE_TO_GET_ISSUER_CERT: 'tls-certificate', // an intermediate is missing from the chain and from our CAs
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls-certificate', // the same, as OpenSSL reports it for the local store
  CERT_HAS_EXPIRED: 'tls-certificate', // the certificate's notAfter has passed: the endpoint must renew it
  CERT_REVOKED: 'tls-certificate', // the CA revoked the certificate
  CERT_UNTRUSTED: 'tls-certificate', // the root is not trusted for this purpose
  CERT_REJECTED: 'tls-certificate', // the root is marked to reject this purpose
  CERT_SIGNATURE_FAILURE: 'tls-certificate', // the signature does not verify: a broken or forged chain
  INVALID_CA: 'tls-certificate', // a CA certificate in the chain is not valid as a CA
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls-certificate', // the certificate does not name the host we asked for
  HOSTNAME_MISMATCH: 'tls-certificate', // the same, older Node spelling
  // Not listed: CERT_NOT_YET_VALID. On a vehicle that has no NTP yet after boot, the clock (not the certificate) is
  // wrong; see CERT_NOT_YET_VALID in SYSTEM_CODES.
};

/**
 * AWS service error codes (`name` / `Code` of an SDK v3 service exception, or the `<Code>` of S3's error XML),
 * plus the names of the SDK's own client-side errors.
 */
export const SERVICE_CODES: Readonly<Record<string, Category>> = {
  TimeoutError: 'timeout', // the SDK's NodeHttpHandler gave up waiting for a connection or a response
  RequestTimeout: 'timeout', // S3: "Your socket connection to the server was not read from or written to within the timeout period"
  RequestTimeoutException: 'timeout', // the same, as other AWS services spell it
  SlowDown: 'throttled', // S3 asks us to reduce the request rate
  Throttling: 'throttled', // query-protocol services (CloudWatch, STS) throttling
  ThrottlingException: 'throttled', // JSON-protocol services throttling
  TooManyRequestsException: 'throttled', // API Gateway style throttling
  RequestLimitExceeded: 'throttled', // EC2 style throttling
  BandwidthLimitExceeded: 'throttled', // the account's bandwidth quota, refilled over time
  RequestThrottled: 'throttled', // SQS/SES style throttling
  ProvisionedThroughputExceededException: 'throttled', // DynamoDB style throttling
  ServiceUnavailable: 'service-unavailable', // S3 503: the service is overloaded or in maintenance
  ServiceUnavailableException: 'service-unavailable', // the same, JSON-protocol spelling
  Unavailable: 'service-unavailable', // CloudWatch's short spelling
  InternalError: 'server-error', // S3 500: "We encountered an internal error. Please try again."
  InternalFailure: 'server-error', // other services' 500
  InternalServerError: 'server-error', // the same
  RequestTimeTooSkewed: 'clock-skew', // the vehicle clock drifted (no NTP yet after boot); the SDK corrects its offset
  RequestExpired: 'clock-skew', // a signed request arrived after its validity window, usually the same drift
  InvalidAccessKeyId: 'invalid-credentials', // the access key id does not exist in this partition (aws-cn keys differ)
  InvalidClientTokenId: 'invalid-credentials', // the same, from STS and CloudWatch
  UnrecognizedClientException: 'invalid-credentials', // the same, from JSON-protocol services
  ExpiredToken: 'expired-credentials', // temporary credentials have expired
  ExpiredTokenException: 'expired-credentials', // the same, JSON-protocol spelling
  TokenRefreshRequired: 'expired-credentials', // S3 asks for new temporary credentials
  InvalidToken: 'expired-credentials', // the session token is malformed or no longer valid
  SignatureDoesNotMatch: 'signature-mismatch', // wrong secret key, or a proxy that rewrote the request
  IncompleteSignature: 'signature-mismatch', // the signature is malformed: a credential configuration error
  AccessDenied: 'access-denied', // IAM does not allow the action (e.g. no s3:PutObject)
  AccessDeniedException: 'access-denied', // the same, JSON-protocol spelling
  Forbidden: 'access-denied', // a bare 403 on a HEAD request, which has no body to carry a code
  AllAccessDisabled: 'bucket-forbidden', // all access to this bucket has been disabled
  AccountProblem: 'bucket-forbidden', // the account is suspended or blocked
  NoSuchBucket: 'bucket-not-found', // the bucket does not exist
  PermanentRedirect: 'bucket-not-found', // the bucket lives in another region (the runbook's "wrong region")
  AuthorizationHeaderMalformed: 'bucket-not-found', // usually the request was signed for another region
  InvalidBucketName: 'invalid-bucket-name', // the configured name breaks S3's naming rules
  KeyTooLongError: 'invalid-object-key', // the key exceeds 1024 UTF-8 bytes
  InvalidObjectName: 'invalid-object-key', // S3-compatible servers' spelling of an illegal key
  EntityTooLarge: 'file-too-large', // over 5 GiB in one PutObject, or over 5 TiB in all
  AbortError: 'aborted', // an AbortSignal fired (DOMException name, also used by p-retry and the SDK)
};

/**
 * HTTP statuses of responses that carry no recognised code (HEAD responses have no body, proxies answer
 * with bare statuses). Only statuses whose meaning does not depend on the operation are listed.
 */
export const HTTP_STATUSES: Readonly<Record<number, Category>> = {
  301: 'bucket-not-found', // S3 redirects requests sent to the wrong region
  403: 'access-denied', // forbidden; with no body we cannot tell more
  404: 'bucket-not-found', // a bare 404 is HeadBucket's "no such bucket"; object HEADs handle their own 404
  408: 'timeout', // the server timed out waiting for our request
  429: 'throttled', // Too Many Requests
  500: 'server-error', // Internal Server Error
  502: 'server-error', // Bad Gateway: a proxy could not reach S3 this time
  503: 'service-unavailable', // Service Unavailable (also S3's SlowDown status)
  504: 'server-error', // Gateway Timeout from a proxy in the path
};

/**
 * Message fragments of AccessDenied responses that blame the bucket's own policy rather than the caller's IAM
 * policy: the fix is on the bucket, so operators look elsewhere.
 */
export const BUCKET_POLICY_HINTS: readonly RegExp[] = [
  /bucket policy/i,
  /explicit deny/i,
  /resource-based policy/i,
];

/**
 * Message fragments of the SDK's CredentialsProviderError that mean "there are no such credentials"
 * (a configuration error) rather than "the credential source could not be reached" (temporary).
 */
export const MISSING_CREDENTIALS_HINTS: readonly RegExp[] = [
  /could not resolve credentials using profile/i,
  /profile .* (could not be found|not found)/i,
  /could not load credentials from any providers/i,
  /unable to find a valid profile/i,
];
