/**
 * System directories nothing is ever deleted from, whatever the configuration says (the original daemon's list).
 * `/tmp` is deliberately absent: it is where tests and ad-hoc runs keep their trees.
 */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = Object.freeze([
  '/var',
  '/etc',
  '/usr',
  '/opt',
  '/sys',
  '/proc',
  '/boot',
  '/dev',
]);

/**
 * True when `path` is `parent` or lies below it, compared on whole path components: `/variant` is not inside
 * `/var` (the original daemon used a raw string prefix). Both must be normalized absolute paths.
 */
export function isInside(path: string, parent: string): boolean {
  if (parent === '/') return path.startsWith('/');
  return path === parent || path.startsWith(`${parent}/`);
}

/** True when `path` lies strictly below `parent` (component-wise). */
export function isStrictlyInside(path: string, parent: string): boolean {
  return path !== parent && isInside(path, parent);
}

/**
 * True for an absolute path in normal form: no `.` or `..` segments, no doubled or trailing slash, no NUL.
 * Anything else is refused rather than resolved, so `..` tricks never reach the later checks.
 */
export function isNormalizedAbsolute(path: string): boolean {
  if (!path.startsWith('/') || path.includes('\0')) return false;
  if (path.length > 1 && path.endsWith('/')) return false;
  // Same answer as `posix.normalize(path) === path`, without allocating a string per file.
  return !/\/\/|\/\.\.?(?:\/|$)/.test(path);
}
