/**
 * Mapping a request path onto the file system without ever leaving the root.
 *
 * The input is `new URL(request.url).pathname`, the path every fetch handler sees: the WHATWG URL parser has
 * resolved dot segments (also encoded ones, `%2e%2e`) without climbing above `/`, and turned `\` into `/` for
 * http(s). From there, defence in depth, because each layer alone has been bypassed in real servers:
 * 1. The path is percent-decoded exactly once, segment by segment, strictly (a stray `%` or invalid UTF-8 is a
 *    400), so `%252e%252e` stays the literal name `%2e%2e` and can never become `..` by a second decode.
 * 2. A decoded segment containing `/`, `\` or NUL is refused (CVE-2021-41773-style encoded separators, Windows
 *    separators, C-string truncation), as are `.` and `..` (the URL parser leaves none, but a path from
 *    elsewhere might).
 * 3. The joined path is canonicalised with realpath and must still lie inside the canonical root, which
 *    defeats symlinks pointing outside. Refusals are 404s: the response must not reveal what exists outside.
 */
import { stat } from 'node:fs/promises';
import { realpath as realpathCallback } from 'node:fs';
import type { Stats } from 'node:fs';
import { join, relative, sep, isAbsolute } from 'node:path';

export type DecodedPath =
  | { ok: true; segments: string[]; trailingSlash: boolean }
  | { ok: false; status: 400 | 404 };

const PERCENT_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** Longest request path considered; longer ones cannot name a real file anyway (PATH_MAX is 4096). */
const MAX_PATH_LENGTH = 8192;

/** Decodes an already-percent-encoded URL pathname into safe file-name segments. */
export function decodePathSegments(rawPathname: string, allowDotfiles: boolean): DecodedPath {
  if (!rawPathname.startsWith('/') || rawPathname.length > MAX_PATH_LENGTH) return { ok: false, status: 404 };
  const rawSegments = rawPathname.split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') continue; // `//` collapses; also keeps redirects from ever starting with `//`
    if (PERCENT_ESCAPE.test(raw)) return { ok: false, status: 400 };
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400 };
    }
    if (decoded.includes('/') || decoded.includes('\\') || decoded.includes('\0')) return { ok: false, status: 404 };
    if (decoded === '.' || decoded === '..') return { ok: false, status: 404 };
    if (!allowDotfiles && decoded.startsWith('.')) return { ok: false, status: 404 };
    segments.push(decoded);
  }
  return { ok: true, segments, trailingSlash: rawPathname.endsWith('/') };
}

/** Re-encodes decoded segments into a URL path (used for redirects and listing links). */
export function encodePathSegments(segments: readonly string[]): string {
  return '/' + segments.map((segment) => encodeURIComponent(segment)).join('/');
}

/** Whether `candidate` (canonical) is `root` (canonical) or inside it. */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return candidate.startsWith(prefix);
}

/** Whether any component of the canonical path below the root is a dotfile (e.g. a symlink `a.txt -> .env`). */
export function hasDotSegmentBelow(root: string, candidate: string): boolean {
  if (candidate !== root && isInside(root, candidate)) {
    // Both canonical and one inside the other: the part below the root is a plain suffix (no path.relative needed).
    const below = candidate.slice(root.endsWith(sep) ? root.length : root.length + 1);
    return below.startsWith('.') || below.includes(sep + '.');
  }
  const rel = relative(root, candidate);
  if (rel === '' || isAbsolute(rel)) return false;
  return rel.split(sep).some((part) => part.startsWith('.'));
}

export interface ResolvedEntry {
  /** Canonical path (symlinks resolved), inside the root. */
  realPath: string;
  stats: Stats;
}

/**
 * Resolves segments below a canonical root. Returns undefined when the entry does not exist, is unreadable,
 * or resolves outside the root (or onto a hidden name when dotfiles are off) — all of which look the same to a client.
 */
export async function resolveInsideRoot(
  realRoot: string,
  segments: readonly string[],
  allowDotfiles: boolean,
): Promise<ResolvedEntry | undefined> {
  const realPath = await realpathInside(realRoot, segments, allowDotfiles);
  if (realPath === undefined) return undefined;
  try {
    return { realPath, stats: await stat(realPath) };
  } catch {
    return undefined;
  }
}

/** realpath(3) of `path`, or the error that stopped it (its `code` tells a missing entry from a permission problem). */
export function canonicalPath(path: string): Promise<string | NodeJS.ErrnoException> {
  // The callback form of realpath(3): the promise API adds a wrapper per call, and this runs on every request.
  return new Promise((resolve) => realpathCallback.native(path, (error, resolved) => resolve(error ?? resolved)));
}

/** Whether a canonical path may be served: inside the canonical root and (dotfiles off) not below a hidden name. */
export function servableInside(realRoot: string, realPath: string, allowDotfiles: boolean): boolean {
  return isInside(realRoot, realPath) && (allowDotfiles || !hasDotSegmentBelow(realRoot, realPath));
}

/**
 * The canonical path for segments below a canonical root, or undefined when it does not exist, resolves outside
 * the root, or (dotfiles off) resolves onto a hidden name — cases a client cannot tell apart.
 */
export async function realpathInside(realRoot: string, segments: readonly string[], allowDotfiles: boolean): Promise<string | undefined> {
  const realPath = await canonicalPath(join(realRoot, ...segments));
  if (typeof realPath !== 'string' || !servableInside(realRoot, realPath, allowDotfiles)) return undefined;
  return realPath;
}
