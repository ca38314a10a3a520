/**
 * Conditional requests (RFC 9110 §13): validators and the precondition evaluation order of §13.2.2.
 */

export interface Validators {
  /** A quoted entity tag, strong (`"..."`) or weak (`W/"..."`). */
  etag: string;
  /** Last modification time, whole seconds since the epoch (HTTP dates have one-second resolution). */
  lastModifiedSeconds: number;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/** Splits an If-Match / If-None-Match list into entity tags; `*` comes back as ['*']. Bounded. */
export function parseEntityTagList(header: string): string[] {
  const trimmed = header.trim();
  if (trimmed === '*') return ['*'];
  const tags: string[] = [];
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc excludes DQUOTE, so a regex scan is exact.
  const pattern = /(W\/)?"[^"]*"/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(trimmed)) !== null && tags.length < 128) tags.push(match[0]);
  return tags;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** RFC 9110 §8.8.3.2 strong comparison: both strong and identical. */
export function strongMatch(a: string, b: string): boolean {
  return !a.startsWith('W/') && !b.startsWith('W/') && a === b;
}

/** RFC 9110 §8.8.3.2 weak comparison: opaque tags identical, weakness ignored. */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b);
}

/** Parses an HTTP-date into whole seconds, or undefined when invalid (an invalid date means "ignore the field"). */
export function parseHttpDateSeconds(value: string | null): number | undefined {
  if (!value || value.length > 64) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * RFC 9110 §13.2.2, for a GET/HEAD on an existing representation:
 * 1. If-Match (strong comparison) false → 412;
 * 2. else If-Unmodified-Since, when If-Match is absent, false → 412;
 * 3. If-None-Match (weak comparison) false → 304 for GET/HEAD;
 * 4. else If-Modified-Since, when If-None-Match is absent, false → 304.
 * Step 5 (If-Range) is evaluated by the range code with `ifRangeAllows`.
 */
export function evaluatePreconditions(headers: Headers, validators: Validators, method: string): PreconditionOutcome {
  const ifMatch = headers.get('if-match');
  if (ifMatch !== null) {
    const tags = parseEntityTagList(ifMatch);
    const matched = tags[0] === '*' || tags.some((tag) => strongMatch(tag, validators.etag));
    if (!matched) return 'precondition-failed';
  } else {
    const since = parseHttpDateSeconds(headers.get('if-unmodified-since'));
    if (since !== undefined && validators.lastModifiedSeconds > since) return 'precondition-failed';
  }
  const isRead = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers.get('if-none-match');
  if (ifNoneMatch !== null) {
    const tags = parseEntityTagList(ifNoneMatch);
    const matched = tags[0] === '*' || tags.some((tag) => weakMatch(tag, validators.etag));
    if (matched) return isRead ? 'not-modified' : 'precondition-failed';
  } else if (isRead) {
    const since = parseHttpDateSeconds(headers.get('if-modified-since'));
    if (since !== undefined && validators.lastModifiedSeconds <= since) return 'not-modified';
  }
  return 'proceed';
}

/**
 * RFC 9110 §13.1.5: If-Range holds when its entity tag strongly matches, or its date exactly equals
 * Last-Modified (a date is only a strong validator when it is exact, so no "earlier than" here).
 */
export function ifRangeAllows(ifRange: string | null, validators: Validators): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, validators.etag);
  const date = parseHttpDateSeconds(value);
  return date !== undefined && date === validators.lastModifiedSeconds;
}
