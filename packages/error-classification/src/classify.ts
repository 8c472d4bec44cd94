import { CATEGORIES, isCategory, type Category, type Classification } from './categories.js';
import {
  BUCKET_POLICY_HINTS,
  HTTP_STATUSES,
  MISSING_CREDENTIALS_HINTS,
  SERVICE_CODES,
  SYSTEM_CODES,
  TLS_CODES,
} from './tables.js';

/** Options of {@link classify}. */
export interface ClassifyOptions {
  /**
   * The current time in epoch milliseconds, used to turn an HTTP-date `Retry-After` into a delay.
   * @default Date.now()
   */
  now?: number;
}

// Errors nest (SDK wrappers, AggregateError from happy-eyeballs connects, our own UploadError). A bound keeps a
// cyclic `cause` chain from looping.
const MAX_DEPTH = 8;

type Bag = Record<string, unknown>;

/**
 * Says whether a failure is worth retrying, why, and what an operator should read.
 *
 * Recognises AWS SDK v3 service exceptions (`name`, `Code`, `$metadata.httpStatusCode`), bodiless HEAD
 * responses (`NotFound` / `Unknown` with only a status), Node.js system errors (`code`, `syscall`, `path`),
 * undici errors, plain HTTP statuses and errors wrapped in `cause` or `AggregateError`. An error that carries
 * its own `classification` (e.g. an `UploadError`) keeps it. Anything unrecognised is `unknown`, a temporary
 * category: the retry budget bounds it, so it can neither loop forever nor drop a file at once.
 *
 * Never throws.
 */
export function classify(error: unknown, options: ClassifyOptions = {}): Classification {
  const now = options.now ?? Date.now();
  const found = findCategory(error);
  if ('classification' in found) return found.classification;
  const { category, node } = found;
  const bag = asBag(node);
  const result: Classification = {
    ...kindAndScope(category),
    category,
    message: operatorMessage(category, node, error),
  };
  const code = codeOf(bag) ?? nameCode(bag);
  if (code !== undefined) result.code = code;
  const status = statusOf(bag) ?? firstStatus(error);
  if (status !== undefined) result.httpStatus = status;
  const retryAfterMs = retryAfterOf(error, now);
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  return result;
}

function kindAndScope(category: Category): Pick<Classification, 'kind' | 'scope'> {
  const { kind, scope } = CATEGORIES[category];
  return { kind, scope };
}

type Found = { classification: Classification } | { category: Category; node: unknown };

/** Breadth-first over the error and its causes: the outermost recognisable error decides. */
function findCategory(root: unknown): Found {
  for (const node of walk(root)) {
    const carried = carriedClassification(node);
    if (carried) return { classification: carried };
    const category = categoryOf(node);
    if (category) return { category, node };
  }
  return { category: 'unknown', node: root };
}

function childrenOf(node: unknown): unknown[] {
  const bag = asBag(node);
  if (!bag) return [];
  const children: unknown[] = [];
  if ('cause' in bag) children.push(bag['cause']);
  if (Array.isArray(bag['errors'])) children.push(...(bag['errors'] as unknown[]));
  // p-retry's AbortError keeps the real failure here.
  if ('originalError' in bag) children.push(bag['originalError']);
  return children;
}

function carriedClassification(node: unknown): Classification | undefined {
  const c = asBag(asBag(node)?.['classification']);
  if (c && isCategory(c['category']) && typeof c['message'] === 'string') {
    return c as unknown as Classification;
  }
  return undefined;
}

/** The category of one error object, not looking at its causes; undefined when it says nothing we know. */
function categoryOf(node: unknown): Category | undefined {
  const bag = asBag(node);
  if (!bag) return typeof node === 'number' ? HTTP_STATUSES[node] : undefined;

  const code = codeOf(bag);
  const name = typeof bag['name'] === 'string' ? bag['name'] : undefined;
  const message = typeof bag['message'] === 'string' ? bag['message'] : '';

  if (name === 'CredentialsProviderError' || code === 'CredentialsProviderError') {
    return MISSING_CREDENTIALS_HINTS.some((re) => re.test(message))
      ? 'invalid-credentials'
      : 'auth-temporary';
  }
  for (const key of [code, name]) {
    if (key === undefined) continue;
    const category = SYSTEM_CODES[key] ?? TLS_CODES[key] ?? SERVICE_CODES[key];
    if (category === 'access-denied' && BUCKET_POLICY_HINTS.some((re) => re.test(message))) {
      return 'bucket-forbidden';
    }
    if (category) return category;
  }
  if (bag['aborted'] === true && 'reason' in bag) return 'aborted'; // an AbortSignal passed as the error
  const status = statusOf(bag);
  if (status === undefined) return undefined;
  // A 404 that names its own code (NoSuchUpload, NoSuchKey) is about that object, not the bucket: only a bare 404
  // (a bodiless HEAD) may be read as "no such bucket".
  if (status === 404 && code !== undefined && !BODILESS_CODES.has(code)) return undefined;
  return HTTP_STATUSES[status];
}

// What the SDK calls an error whose response had no body to name it.
const BODILESS_CODES = new Set(['NotFound', 'Unknown', 'UnknownError']);

function codeOf(bag: Bag | undefined): string | undefined {
  if (!bag) return undefined;
  // SDK v3 service exceptions carry the wire code as `Code` (and as `name`); Node errors use `code`.
  for (const key of ['Code', 'code']) {
    const value = bag[key];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** SDK exceptions are named after their wire code; generic JS error names say nothing. */
function nameCode(bag: Bag | undefined): string | undefined {
  const name = bag?.['name'];
  if (typeof name !== 'string' || /^(Error|TypeError|RangeError|AggregateError|Unknown)$/.test(name)) {
    return undefined;
  }
  return name;
}

function statusOf(bag: Bag | undefined): number | undefined {
  if (!bag) return undefined;
  const candidates = [
    asBag(bag['$metadata'])?.['httpStatusCode'],
    asBag(bag['$response'])?.['statusCode'],
    bag['statusCode'],
    bag['status'],
    bag['httpStatus'],
  ];
  for (const value of candidates) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value < 600) return value;
  }
  return undefined;
}

function firstStatus(root: unknown): number | undefined {
  for (const node of walk(root)) {
    const status = statusOf(asBag(node));
    if (status !== undefined) return status;
  }
  return undefined;
}

function* walk(root: unknown): Generator<unknown> {
  let level: unknown[] = [root];
  const seen = new Set<unknown>();
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const node of level) {
      if (node === null || node === undefined || seen.has(node)) continue;
      seen.add(node);
      yield node;
      next.push(...childrenOf(node));
    }
    level = next;
  }
}

/** A `Retry-After` hint anywhere in the chain: delta-seconds or an HTTP-date, as RFC 9110 allows. */
function retryAfterOf(root: unknown, now: number): number | undefined {
  for (const node of walk(root)) {
    const bag = asBag(node);
    if (!bag) continue;
    if (typeof bag['retryAfterMs'] === 'number' && bag['retryAfterMs'] >= 0) return bag['retryAfterMs'];
    const headers = asBag(asBag(bag['$response'])?.['headers']) ?? asBag(bag['headers']);
    const raw = headers ? headerValue(headers, 'retry-after') : undefined;
    if (raw === undefined) continue;
    const parsed = parseRetryAfter(raw, now);
    if (parsed !== undefined) return parsed;
  }
  return undefined;
}

function headerValue(headers: Bag, name: string): string | undefined {
  const getter = headers['get'];
  if (typeof getter === 'function') {
    const value: unknown = (getter as (n: string) => unknown).call(headers, name);
    if (typeof value === 'string') return value;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}

/** Parses a `Retry-After` value (seconds or HTTP-date) into milliseconds from `now`. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function operatorMessage(category: Category, node: unknown, root: unknown): string {
  const bag = asBag(node);
  const path = typeof bag?.['path'] === 'string' ? bag['path'] : undefined;
  if (category === 'file-not-found' && path) return `File not found: ${path}`;
  if (category === 'permission-denied' && path) return `Permission denied: ${path}`;
  if (category === 'tls-certificate') {
    // Node's wording ("self-signed certificate in certificate chain") does not say what to do about it.
    const code = codeOf(bag) ?? 'TLS';
    const text = messageOf(node);
    return oneLine(`${code}: ${text || 'certificate verification failed'}: ${CATEGORIES[category].summary}`);
  }
  const code = codeOf(bag) ?? nameCode(bag);
  const text = messageOf(node) || messageOf(root);
  const status = statusOf(bag);
  let line: string;
  // A bodiless response (HEAD) leaves the SDK only "UnknownError": the status says more.
  const bodiless = code === undefined || BODILESS_CODES.has(code);
  if (status !== undefined && bodiless && (text === '' || text === 'UnknownError'))
    line = `HTTP ${status}: ${CATEGORIES[category].summary}`;
  else if (code && text && !text.startsWith(code)) line = `${code}: ${text}`;
  else if (text) line = text;
  else if (code) line = `${code}: ${CATEGORIES[category].summary}`;
  else if (status !== undefined) line = `HTTP ${status}: ${CATEGORIES[category].summary}`;
  else line = CATEGORIES[category].summary;
  return oneLine(line);
}

function messageOf(node: unknown): string {
  if (typeof node === 'string') return node;
  const bag = asBag(node);
  const message = bag?.['message'] ?? bag?.['Message'];
  return typeof message === 'string' ? message : '';
}

function oneLine(text: string): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

function asBag(value: unknown): Bag | undefined {
  return typeof value === 'object' && value !== null ? (value as Bag) : undefined;
}
