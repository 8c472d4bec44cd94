/** Whether retrying can help: the runbook's two classes. */
export type Kind = 'temporary' | 'permanent';

/**
 * What is broken, which tells a caller how far the failure reaches:
 * - `connectivity`: the path to the destination (every upload will fail alike until it returns);
 * - `service`: the destination service, for a moment;
 * - `destination`: the destination's configuration (credentials, permissions, bucket): every upload will fail
 *   alike until an operator acts;
 * - `file`: this one file or operation; the others are unaffected.
 */
export type Scope = 'connectivity' | 'service' | 'destination' | 'file';

/** Every category `classify()` can return. The names are part of the public contract. */
export const CATEGORIES = {
  // Temporary, the network path.
  network: { kind: 'temporary', scope: 'connectivity', summary: 'Network connectivity issue' },
  dns: { kind: 'temporary', scope: 'connectivity', summary: 'DNS resolution failure' },
  timeout: { kind: 'temporary', scope: 'connectivity', summary: 'Connection or request timeout' },
  // Temporary, the service.
  throttled: { kind: 'temporary', scope: 'service', summary: 'Rate limiting / throttling' },
  'service-unavailable': { kind: 'temporary', scope: 'service', summary: 'Service temporarily unavailable' },
  'server-error': { kind: 'temporary', scope: 'service', summary: 'Internal server error' },
  'clock-skew': { kind: 'temporary', scope: 'service', summary: 'Request time too skewed or expired' },
  'auth-temporary': {
    kind: 'temporary',
    scope: 'connectivity',
    summary: 'Temporary authentication failure (credential source unreachable)',
  },
  // Permanent, this file.
  'file-not-found': { kind: 'permanent', scope: 'file', summary: 'File not found' },
  'permission-denied': { kind: 'permanent', scope: 'file', summary: 'Permission denied' },
  'disk-read-error': { kind: 'permanent', scope: 'file', summary: 'Disk read error' },
  'file-too-large': { kind: 'permanent', scope: 'file', summary: 'File too large' },
  'invalid-object-key': { kind: 'permanent', scope: 'file', summary: 'Invalid object key' },
  'disk-full': { kind: 'permanent', scope: 'file', summary: 'No space left on device' },
  // Permanent, the destination's configuration.
  'invalid-credentials': { kind: 'permanent', scope: 'destination', summary: 'Invalid access key' },
  'expired-credentials': { kind: 'permanent', scope: 'destination', summary: 'Access key expired' },
  'signature-mismatch': { kind: 'permanent', scope: 'destination', summary: 'Signature mismatch' },
  'access-denied': { kind: 'permanent', scope: 'destination', summary: 'Access denied' },
  'bucket-forbidden': { kind: 'permanent', scope: 'destination', summary: 'Bucket access forbidden' },
  'bucket-not-found': { kind: 'permanent', scope: 'destination', summary: 'Bucket not found' },
  'invalid-bucket-name': { kind: 'permanent', scope: 'destination', summary: 'Invalid bucket name' },
  'tls-certificate': {
    kind: 'permanent',
    scope: 'destination',
    summary:
      "TLS certificate not trusted (give the endpoint's CA with AWS_CA_BUNDLE or the profile's ca_bundle)",
  },
  // Neither: an error nobody recognises is retried within the budget; a cancellation is not an attempt.
  unknown: { kind: 'temporary', scope: 'service', summary: 'Unrecognised error' },
  aborted: { kind: 'temporary', scope: 'file', summary: 'Operation cancelled' },
} as const satisfies Record<string, { kind: Kind; scope: Scope; summary: string }>;

/** A category name, e.g. `'throttled'` or `'bucket-not-found'`. */
export type Category = keyof typeof CATEGORIES;

/** The answer to "should this failure be retried?". */
export interface Classification {
  kind: Kind;
  category: Category;
  scope: Scope;
  /** The error's own code, e.g. `'ECONNRESET'` or `'NoSuchBucket'`, when it has one. */
  code?: string;
  /** The HTTP status of the response that failed, when there was one. */
  httpStatus?: number;
  /** One line an operator can act on, e.g. `NoSuchBucket: The specified bucket does not exist`. */
  message: string;
  /** How long the server asked us to wait (a `Retry-After` hint), in milliseconds. */
  retryAfterMs?: number;
}

/** True when `name` is one of the categories above. */
export function isCategory(name: unknown): name is Category {
  return typeof name === 'string' && Object.hasOwn(CATEGORIES, name);
}
